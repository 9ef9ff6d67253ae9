"""Real SIP calls on loopback: a caller agent plays the repository's two
sample clips into calls forced to each codec; the softphone under test
answers and scores the remote party live.

Run by examples/voip/tests/softphone_calls.rs (``cargo test``), which sets
DFD_LIBRARY, DFD_PLUGIN_PATH, DFD_CLI (the ``dfd`` tool) and
DFD_SOFTPHONE_TABLE (where the measured per-codec table is written).
"""

from __future__ import annotations

import csv
import functools
import json
import os
import socket
import subprocess
import sys
import threading
import wave
from pathlib import Path
from typing import Dict, Tuple

import pytest

HERE = Path(__file__).resolve().parent
SOFTPHONE = HERE.parent / "softphone.py"
REPO = HERE.parents[2]
sys.path.insert(0, str(HERE.parent))
import softphone  # noqa: E402
from codec_eval import Callee, call_each, place, scan, user_of  # noqa: E402

BONAFIDE = REPO / "samples" / "bonafide_fr_june.wav"
SYNTHETIC = REPO / "samples" / "synthetic_piper_joe.wav"
# Eight clips of the detector's test split (draw_clips.py: a seeded draw,
# one per real package and synthetic system), 16 kHz, 3-4 s each.
CLIPS = HERE / "clips"
CLIP_ROWS = list(csv.DictReader(open(CLIPS / "clips.csv")))
CLIP_CODECS = ["PCMU", "GSM", "G722"]
# --codecs names (pjsua codec ids start with them) and the clock rate each runs at.
CODECS = {"PCMU": 8000, "PCMA": 8000, "GSM": 8000, "iLBC": 8000, "speex/8000": 8000, "G722": 16000}
# The callee takes every codec above and nothing else (L16 is the failed call's).
CALLEE_CODECS = ",".join(CODECS)
WINDOW_S = 2.0  # the default model's analysis window (manifest: 32000 samples at 16 kHz)
# The model calls get by default, by codec rate, as `dfd scan --model` names it.
MODEL_REF = {8000: "builtin:telephone", 16000: "builtin:default"}
TELEPHONE = MODEL_REF[8000]
# How far a call's p_fake moves with the clip's offset in the call (measured, see below).
OFFSET_SPREAD = 0.1
# How far a call over each codec moved a test-split clip's p_fake towards the
# wrong verdict, the most among 40 real (up) and 40 synthetic (down) clips, one
# call each, with the model calls at that rate get:
#   python3 examples/softphone/codec_eval.py --set <v2 corpus>/eval/test \
#       --codec GSM --per-class 40 --out /tmp/gsm --model builtin:telephone
# (2026-12-05, printed as "largest move towards the wrong verdict").
CODEC_SHIFT = {"PCMU": {"bonafide": 0.080, "synthetic": 0.373},
               "GSM": {"bonafide": 0.310, "synthetic": 0.446},
               "G722": {"bonafide": 0.319, "synthetic": 0.084}}
# Each model's threshold, by the codec's clock rate.
THRESHOLD = {8000: softphone.dfd.Model.builtin("telephone").info.threshold,
             16000: softphone.dfd.Model.builtin().info.threshold}
MODEL_NAME = {8000: "dfd-lfb-cnn-tel-v2", 16000: "dfd-lfb-cnn-v2"}


def clip_seconds(path: Path) -> float:
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


def dfd_scan(wav: str, model: str) -> dict:
    return scan(os.environ["DFD_CLI"], [Path(wav)], model, timeout=60)[0]


@pytest.fixture(scope="module")
def callee(tmp_path_factory: pytest.TempPathFactory):
    record_dir = tmp_path_factory.mktemp("calls")
    # The CPU backend by name: these tests are about SIP and the media path.
    # With the onnxruntime wheel installed `auto` would pick ort, and one run
    # of this suite (1 in 3, 2026-12-03) saw the callee stop answering after
    # ~24 calls that way; probably the freed-port crash that RETIRE_S in
    # softphone.py fixes (found later), not re-checked with ort.
    c = Callee(record_dir, CALLEE_CODECS,
               ["--backend", "cpu", "--sip-log-level", "2",
                "--on-synthetic", f"echo \"$LOCAL $P_FAKE\" >> '{record_dir}/hook.log'"])
    yield c
    log = c.stop()
    # The agent served every call and was never taken down by one.
    assert "Traceback" not in log, log


@pytest.fixture(scope="module")
def single_calls(callee: Callee) -> Dict[Tuple[str, str], dict]:
    """Each clip over each codec, one call at a time."""
    results: Dict[Tuple[str, str], dict] = {}
    for codec in CODECS:
        for name, clip in (("bonafide", BONAFIDE), ("synthetic", SYNTHETIC)):
            _, (end,) = place(callee, codec, [(name, clip)])
            assert end["event"] == "end", end
            assert end["local"].startswith(f"<sip:{name}@") or end["local"].startswith(f"sip:{name}@"), end
            results[(codec, name)] = end
    table = {f"{c}/{n}": {k: e[k] for k in ("codec", "rate", "verdict", "p_fake", "seconds", "windows", "model", "max_push_ms")}
             for (c, n), e in results.items()}
    path = os.environ.get("DFD_SOFTPHONE_TABLE")
    if path:
        Path(path).write_text(json.dumps(table, indent=1, sort_keys=True))
    for (c, n), e in results.items():
        print(f"{c:11} {n:9} {e['codec']:12} {e['verdict']:9} p_fake {e['p_fake']:.4f} {e['seconds']:.2f} s "
              f"{e['windows']} windows, model {e['model']}, max push {e['max_push_ms']:.1f} ms")
    return results


@pytest.mark.parametrize("codec", list(CODECS))
def test_codec_negotiated_and_whole_call_scored(single_calls: dict, codec: str) -> None:
    for name, clip in (("bonafide", BONAFIDE), ("synthetic", SYNTHETIC)):
        e = single_calls[(codec, name)]
        assert e["codec"].lower().startswith(codec.lower().split("/")[0]), e
        assert e["rate"] == CODECS[codec], e
        assert e["model"] == MODEL_NAME[e["rate"]], e
        # The audio scored is the clip plus call set-up and hang-up: within one window.
        assert abs(e["seconds"] - clip_seconds(clip)) <= WINDOW_S, (e, clip_seconds(clip))
        assert e["seconds"] >= clip_seconds(clip) - 0.1, e
        assert e["windows"] >= 2, e


@pytest.mark.parametrize("codec", list(CODECS))
def test_live_score_equals_dfd_scan_of_the_recording(single_calls: dict, codec: str) -> None:
    for name in ("bonafide", "synthetic"):
        e = single_calls[(codec, name)]
        scan = dfd_scan(e["recording"], MODEL_REF[CODECS[codec]])
        assert scan["windows"] == e["windows"], (scan, e)
        assert scan["p_fake"] == pytest.approx(e["p_fake"], abs=1e-5), (scan, e)
        assert scan["seconds"] == pytest.approx(e["seconds"], abs=1e-3), (scan, e)


@pytest.mark.parametrize("codec", list(CODECS))
def test_synthetic_caller_is_caught(single_calls: dict, codec: str) -> None:
    e = single_calls[(codec, "synthetic")]
    assert e["verdict"] == "synthetic", e


def test_on_synthetic_hook_ran_for_every_synthetic_call(callee: Callee, single_calls: dict) -> None:
    hooked = (callee.record_dir / "hook.log").read_text().splitlines()
    flagged = [e for e in single_calls.values() if e["verdict"] == "synthetic"]
    assert len([h for h in hooked if "synthetic@" in h]) >= len(CODECS), hooked
    assert len(hooked) >= len(flagged), (hooked, flagged)


# Over G.722 the 8 kHz sample is upsampled by the caller's PJSIP, and the
# default model scores that higher (v2: 0.22; v1: 0.25-0.33; calls move by
# 0.08): an expected failure at the validation-EER thresholds of before
# (v1 0.303, v2 0.305), bona fide at v2's threshold since 2026-12-05 (0.494).
@pytest.mark.parametrize("codec", list(CODECS))
def test_bonafide_caller_is_not_accused(single_calls: dict, codec: str) -> None:
    e = single_calls[(codec, "bonafide")]
    assert e["verdict"] == "bonafide", e


def test_four_concurrent_calls_score_as_one_at_a_time(callee: Callee, single_calls: dict) -> None:
    """Two callers at once, two calls each: the agent's limit of 4 calls."""
    clips = [("bonafide", BONAFIDE), ("synthetic", SYNTHETIC)]

    def run(codec: str) -> None:
        cmd = [sys.executable, str(SOFTPHONE), "--listen", "127.0.0.1:0", "--score", "none", "--codecs", codec, "--sip-log-level", "1"]
        for user, clip in clips:
            cmd += ["--call", callee.uri(f"{user}-{codec}"), "--play", str(clip)]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr

    threads = [threading.Thread(target=run, args=(c,)) for c in ("PCMU", "G722")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ends = callee.ends(4)
    assert all(e["event"] == "end" for e in ends), ends
    for e in ends:
        name, codec = user_of(e).split("-")
        one = single_calls[(codec, name)]
        print(f"concurrent {codec} {name}: p_fake {e['p_fake']:.4f} (alone {one['p_fake']:.4f}), "
              f"{e['seconds']:.2f} s (alone {one['seconds']:.2f}), max push {e['max_push_ms']:.1f} ms")
        assert e["codec"] == one["codec"] and e["rate"] == one["rate"], (e, one)
        # Calls start scoring when their media is up, so the clip's offset in
        # the stream varies by a few packets between runs and the 2 s windows
        # fall elsewhere: single calls of the same clip moved by up to 0.08
        # (G.722 bona fide: 0.252 and 0.332). Within that, the same score; the
        # same verdict wherever the score is clear of the threshold by more.
        assert e["p_fake"] == pytest.approx(one["p_fake"], abs=OFFSET_SPREAD), (e, one)
        if abs(one["p_fake"] - THRESHOLD[e["rate"]]) > OFFSET_SPREAD:
            assert e["verdict"] == one["verdict"], (e, one)
        assert abs(e["seconds"] - one["seconds"]) <= WINDOW_S / 2, (e, one)
        scan = dfd_scan(e["recording"], MODEL_REF[e["rate"]])
        assert scan["p_fake"] == pytest.approx(e["p_fake"], abs=1e-5), (scan, e)


def test_reinvite_to_a_new_codec_keeps_the_stream_and_the_caller_scores_its_own_side(
        callee: Callee, tmp_path: Path) -> None:
    """The caller starts on PCMU and re-INVITEs to G.722 one second into the
    media; it scores its own (local) party, the file it plays."""
    cmd = [sys.executable, str(SOFTPHONE), "--listen", "127.0.0.1:0", "--score", "local", "--backend", "cpu",
           "--codecs", "PCMU", "--reinvite-after", "1.0", "--reinvite-codecs", "G722",
           "--record-dir", str(tmp_path), "--sip-log-level", "1",
           "--call", callee.uri("reinvite"), "--play", str(SYNTHETIC)]
    caller = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert caller.returncode == 0, caller.stderr
    assert "re-INVITE offering G722" in caller.stderr, caller.stderr
    (end,) = callee.ends(1)
    print(f"re-INVITE: {end['codecs']}, p_fake {end['p_fake']:.4f}, {end['seconds']:.2f} s, {end['windows']} windows")
    assert end["event"] == "end" and end["party"] == "remote", end
    # One stream for the whole call, at the first codec's rate.
    assert end["codecs"] == ["PCMU/8000", "G722/16000"], end
    assert end["rate"] == 8000, end
    assert abs(end["seconds"] - clip_seconds(SYNTHETIC)) <= WINDOW_S, end
    assert end["seconds"] >= clip_seconds(SYNTHETIC) - 0.1, end
    scan = dfd_scan(end["recording"], TELEPHONE)
    assert scan["windows"] == end["windows"], (scan, end)
    assert scan["p_fake"] == pytest.approx(end["p_fake"], abs=1e-5), (scan, end)
    assert end["verdict"] == "synthetic", end

    # The caller's own side: what it sent (the file, before any codec).
    events = [json.loads(l) for l in caller.stdout.splitlines()]
    ends = [e for e in events if e["event"] == "end"]
    assert len(ends) == 1 and ends[0]["party"] == "local", events
    mine = ends[0]
    assert mine["codecs"] == ["PCMU/8000", "G722/16000"], mine
    assert abs(mine["seconds"] - clip_seconds(SYNTHETIC)) <= WINDOW_S, mine
    scan = dfd_scan(mine["recording"], TELEPHONE)
    assert scan["windows"] == mine["windows"], (scan, mine)
    assert scan["p_fake"] == pytest.approx(mine["p_fake"], abs=1e-5), (scan, mine)
    assert mine["verdict"] == "synthetic", mine


@pytest.fixture(scope="module")
def clip_calls(callee: Callee) -> Dict[Tuple[str, str], dict]:
    """Each test-split clip over each of CLIP_CODECS, four calls at a time."""
    results: Dict[Tuple[str, str], dict] = {}
    for codec in CLIP_CODECS:
        for r, e in zip(CLIP_ROWS, call_each(callee, codec, [CLIPS / r["path"] for r in CLIP_ROWS])):
            assert e["event"] == "end", e
            results[(codec, r["path"])] = e
    return results


@functools.lru_cache(maxsize=None)
def clip_p_fake(path: str, model: str) -> float:
    """`dfd scan` of a clip itself, before any call (PCMU and GSM share a model)."""
    return dfd_scan(str(CLIPS / path), model)["p_fake"]


@pytest.mark.parametrize("codec", CLIP_CODECS)
def test_test_split_clips_keep_their_verdict_over_the_codec(clip_calls: dict, codec: str) -> None:
    """A call moves each clip's p_fake towards the wrong verdict by no more
    than the codec did to 40 clips of its class (CODEC_SHIFT) plus a call's
    offset spread, and so keeps the clip's verdict wherever the model is
    right about the clip itself by more than that; the live score is `dfd
    scan`'s of the call's recording. (A call over GSM moved a real clip from
    0.281 to 0.499, past the threshold: the codec, not the call path.)"""
    rate = CODECS[codec]
    for r in CLIP_ROWS:
        e = clip_calls[(codec, r["path"])]
        assert e["rate"] == rate and e["model"] == MODEL_NAME[rate], e
        scan = dfd_scan(e["recording"], MODEL_REF[rate])
        assert scan["p_fake"] == pytest.approx(e["p_fake"], abs=1e-5), (scan, e)
        before = clip_p_fake(r["path"], MODEL_REF[rate])
        label = "bonafide" if r["label"] == "bonafide" else "synthetic"
        print(f"{codec:5} {r['system']:9} {r['source']:24} p_fake {before:.3f} before the call, "
              f"{e['p_fake']:.3f} in it: {e['verdict']}")
        towards_wrong = (e["p_fake"] - before) if label == "bonafide" else (before - e["p_fake"])
        allowed = CODEC_SHIFT[codec][label] + OFFSET_SPREAD
        assert towards_wrong <= allowed, (r, before, e)
        margin = (THRESHOLD[rate] - before) if label == "bonafide" else (before - THRESHOLD[rate])
        if margin > allowed:
            assert e["verdict"] == label, (r, before, e)


def test_malformed_sip_and_a_failed_call_leave_the_agent_serving(callee: Callee, single_calls: dict) -> None:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(b"\x00\xffnot sip at all\r\n\r\n", ("127.0.0.1", callee.port))
    s.sendto(b"INVITE sip:x@127.0.0.1 SIP/2.0\r\nVia: broken\r\nContent-Length: 99999\r\n\r\n", ("127.0.0.1", callee.port))
    s.close()
    # A call whose only codec the callee does not take: refused, logged.
    caller = subprocess.run(
        [sys.executable, str(SOFTPHONE), "--listen", "127.0.0.1:0", "--score", "none", "--codecs", "L16/44100/1",
         "--call", callee.uri("nocodec"), "--sip-log-level", "1"],
        capture_output=True, text=True, timeout=60,
    )
    assert caller.returncode == 0, caller.stderr
    failed = [json.loads(l) for l in caller.stdout.splitlines()]
    assert [e["event"] for e in failed] == ["call_failed"], caller.stdout
    assert failed[0]["status"] == 488, failed
    # Still serving: a good call right after scores as before.
    _, (end,) = place(callee, "PCMU", [("synthetic", SYNTHETIC)])
    assert end["event"] == "end" and end["verdict"] == "synthetic", end
    assert callee.proc.poll() is None


def test_sound_device_without_one_is_refused_clearly() -> None:
    """pjsua2-python's wheel has no audio driver: --sound-device says so and
    exits instead of placing calls with no microphone."""
    out = subprocess.run([sys.executable, str(SOFTPHONE), "--listen", "127.0.0.1:0", "--sound-device",
                          "--sip-log-level", "0", "--duration", "5"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1, (out.returncode, out.stderr)
    assert "--sound-device: this PJSIP build has no sound device" in out.stderr, out.stderr
    assert out.stdout == "", out.stdout
