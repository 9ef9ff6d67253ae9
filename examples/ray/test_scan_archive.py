"""The archive job on a real Ray cluster: a head and two worker nodes started
by ``ray start`` on 127.0.0.1 (local_cluster.py), scanning samples/ and a
generated tree of a few hundred short clips (with undecodable files among
them). One scoring actor's process is killed mid-job; the job must still
finish with every file, and each Parquet row must equal the line
``dfd scan --json`` prints for that file.

Needs the dfd package installed (the wheel), Ray Data, and ``DFD_BIN``: the
``dfd`` tool to compare with, and ``DFD_PLUGIN_DIR`` where its plugin is.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path
from typing import Dict, Iterator, List, Set

import numpy as np
import pyarrow.parquet as pq
import pytest

from local_cluster import LocalCluster

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SAMPLES = ROOT / "samples"

#: Longest the scan job may take on the cluster.
JOB_TIMEOUT_S = 300


def write_wav(path: Path, rate: int, pcm: np.ndarray, width: int = 2) -> None:
    """``pcm``: float (frames, channels) in [-1, 1], stored at ``width`` bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if width == 2:
        data = np.clip(np.round(pcm * 32767), -32768, 32767).astype("<i2").tobytes()
    else:  # 24-bit
        v = np.clip(np.round(pcm * 8388607), -8388608, 8388607).astype("<i4")
        data = v.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(pcm.shape[1])
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(data)


def read_sample(name: str) -> tuple:
    with wave.open(str(SAMPLES / name)) as w:
        rate = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
    return rate, pcm


def make_archive(root: Path, count: int) -> None:
    """``count`` clips of 0.5 to 3 s cut from the samples (mono and stereo,
    16- and 24-bit, at the samples' rates) in nested directories, plus
    files no decoder reads."""
    rng = np.random.default_rng(7)
    sources = [read_sample(n) for n in ("bonafide_fr_june.wav", "synthetic_piper_joe.wav")]
    for i in range(count):
        rate, pcm = sources[i % 2]
        seconds = [0.5, 1.5, 2.0, 2.5, 3.0][i % 5]
        n = int(seconds * rate)
        start = int(rng.integers(0, len(pcm) - n))
        clip = pcm[start : start + n, None]
        if i % 7 == 3:
            clip = np.concatenate([clip, 0.5 * clip], axis=1)
        path = root / f"batch{i % 6}" / f"day{i % 4}" / f"call{i:04d}.wav"
        write_wav(path, rate, clip, width=3 if i % 11 == 5 else 2)
    (root / "batch0" / "empty.wav").write_bytes(b"")
    (root / "batch1" / "noise.wav").write_bytes(rng.integers(0, 256, 5000, dtype=np.uint8).tobytes())
    (root / "batch2" / "day0" / "text.wav").write_bytes(b"not audio at all\n" * 40)


def dfd_scan(paths: List[Path]) -> Dict[str, dict]:
    """``dfd scan --json`` of ``paths``, by absolute file path."""
    out = subprocess.run(
        [os.environ["DFD_BIN"], "scan", "--json", "--backend", "cpu", "--plugin-dir", os.environ["DFD_PLUGIN_DIR"], *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=JOB_TIMEOUT_S,
    )
    assert out.returncode in (0, 1), out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    return {os.path.abspath(r["file"]): r for r in lines}


def descendants(roots: Set[int]) -> Iterator[int]:
    """PIDs of the processes below ``roots`` (by parent chain in /proc)."""
    parent = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parent[int(entry)] = int(stat.rpartition(")")[2].split()[1])
    for pid in parent:
        p = pid
        while p in parent and p not in roots:
            p = parent[p]
        if p in roots and pid not in roots:
            yield pid


def scoring_actors(cluster: LocalCluster) -> List[int]:
    """PIDs of the cluster's scoring actors (Ray titles them ``ray::MapWorker(...)``)."""
    pids = []
    for pid in descendants({n.pid for n in cluster.nodes}):
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
        except OSError:
            continue
        if title.startswith(b"ray::MapWorker"):
            pids.append(pid)
    return sorted(pids)


@pytest.fixture
def scratch() -> Iterator[Path]:
    # Short: Ray's socket paths under it must fit in 107 bytes.
    d = Path(tempfile.mkdtemp(prefix="dfdray"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_archive_scan_on_a_local_cluster_survives_a_killed_actor(scratch: Path) -> None:
    archive = scratch / "archive"
    make_archive(archive, 300)
    expected = dfd_scan([archive, SAMPLES])
    assert len(expected) == 300 + 3 + 2
    assert sum("error" in r for r in expected.values()) == 3

    out = scratch / "results"
    started = time.monotonic()
    with LocalCluster(scratch / "ray", workers=2, cpus=1, head_cpus=1) as cluster:
        print(f"cluster up in {time.monotonic() - started:.1f} s", file=sys.stderr)
        job_started = time.monotonic()
        job = subprocess.Popen(
            [sys.executable, str(HERE / "scan_archive.py"), str(archive), str(SAMPLES)]
            + ["--out", str(out), "--address", cluster.address, "--actors", "2", "--batch-size", "4", "--backend", "cpu"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=cluster.env,
        )
        # Once results are being written, kill one scoring actor's process.
        killed = None
        while killed is None and job.poll() is None and time.monotonic() - job_started < JOB_TIMEOUT_S:
            actors = scoring_actors(cluster)
            if actors and out.exists() and any(out.glob("*.parquet")):
                killed = actors[0]
                os.kill(killed, signal.SIGKILL)
            else:
                time.sleep(0.05)
        try:
            log, _ = job.communicate(timeout=max(1.0, JOB_TIMEOUT_S - (time.monotonic() - job_started)))
        except subprocess.TimeoutExpired:
            job.kill()
            log, _ = job.communicate()
            pytest.fail(f"the job took over {JOB_TIMEOUT_S} s:\n{log.decode(errors='replace')}")
        print(f"job took {time.monotonic() - job_started:.1f} s", file=sys.stderr)
        assert job.returncode == 0, log.decode(errors="replace")
        assert killed is not None, "the job ended before an actor could be killed"

    rows = pq.read_table(out).to_pylist()
    got = {os.path.abspath(r["path"]): r for r in rows}
    assert len(rows) == len(got), "a file was scored twice"
    assert got.keys() == expected.keys()
    for path, want in expected.items():
        row = got[path]
        if "error" in want:
            assert row["error"], path
            assert row["p_fake"] is None and row["verdict"] is None, path
            continue
        assert row["error"] is None, (path, row["error"])
        assert row["verdict"] == want["verdict"], path
        assert row["windows"] == want["windows"], path
        assert row["seconds"] == want["seconds"], path
        assert (row["model"], row["backend"], row["precision"]) == (want["model"], want["backend"], want["precision"])
        if want["p_fake"] is None:
            assert row["p_fake"] is None, path
        else:
            assert np.float32(row["p_fake"]) == np.float32(want["p_fake"]), path
        timeline = [(w["start"], w["end"], np.float32(w["p_fake"])) for w in row["timeline"]]
        assert timeline == [(w["start"], w["end"], np.float32(w["p_fake"])) for w in want["timeline"]], path
