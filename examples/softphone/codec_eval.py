#!/usr/bin/env python3
"""An evaluation set sent through real SIP calls: each clip is played by a
PJSIP caller into a call forced to one codec, the softphone answers and
records what it received (the decoded audio it scores), and `dfd eval`
scores those recordings with each model given.

    python3 examples/softphone/codec_eval.py --set /work/corpus/eval/test \\
        --codec G722 --per-class 40 --out /tmp/g722 \\
        --model builtin:default --model builtin:telephone

--set is a `dfd eval` directory (real/ and fake/<system>/); --per-class
clips of each class are drawn from it (seeded). The recordings land in
--out in the same layout, so `dfd eval OUT` can be re-run on them
(`--rescore`: no calls, score what --out holds). Per model it prints the
EER, the error rates at the model's threshold and the largest move of a
clip's p_fake towards the wrong verdict between the clip and its call
(what the real-call test's CODEC_SHIFT holds). Calls run in real time, 4 at a time (pjsua2-python's limit per agent). Needs
pjsua2-python and libdfd's Python binding (DFD_LIBRARY, DFD_PLUGIN_PATH as
for the softphone) and the `dfd` tool (--dfd or $DFD_CLI).
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import List, Optional, Tuple

HERE = Path(__file__).resolve().parent
SOFTPHONE = HERE / "softphone.py"
sys.path.insert(0, str(HERE))
from softphone import MAX_CALLS  # noqa: E402


class Callee:
    """A softphone answering every call and recording each leg in
    `record_dir`; its JSON events are read by a thread so the pipe never
    fills. `extra` is appended to its command line."""

    def __init__(self, record_dir: Path, codecs: str, extra: List[str] = ()) -> None:
        self.record_dir = record_dir
        self.proc = subprocess.Popen(
            [sys.executable, str(SOFTPHONE), "--listen", "127.0.0.1:0", "--codecs", codecs,
             "--record-dir", str(record_dir), *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.events: "queue.Queue[dict]" = queue.Queue()
        self.all: List[dict] = []
        self.log: List[str] = []
        self.port = 0
        started = threading.Event()

        def read_err() -> None:
            for line in self.proc.stderr:
                self.log.append(line)
                if "listening on sip:" in line and not self.port:
                    self.port = int(line.split("sip:")[1].split()[0].rsplit(":", 1)[1])
                    started.set()

        def read_out() -> None:
            for line in self.proc.stdout:
                self.events.put(json.loads(line))

        threading.Thread(target=read_err, daemon=True).start()
        threading.Thread(target=read_out, daemon=True).start()
        if not started.wait(20):
            raise RuntimeError("softphone did not start: " + "".join(self.log))

    def uri(self, user: str) -> str:
        return f"sip:{user}@127.0.0.1:{self.port}"

    def ends(self, n: int, timeout: float = 30) -> List[dict]:
        """The next n call-end events (verdict events are kept aside)."""
        out: List[dict] = []
        deadline = time.monotonic() + timeout
        while len(out) < n:
            try:
                e = self.events.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                state = "running" if self.proc.poll() is None else f"exited with {self.proc.returncode}"
                raise AssertionError(
                    f"{len(out)} of {n} call ends within {timeout} s; the callee is {state}; "
                    "its log ends with:\n" + "".join(self.log[-40:])
                ) from None
            self.all.append(e)
            if e["event"] in ("end", "call_failed", "error"):
                out.append(e)
        return out

    def stop(self) -> str:
        self.proc.terminate()
        self.proc.wait(10)
        return "".join(self.log)


def place(callee: Callee, codec: str, clips: List[Tuple[str, Path]],
          timeout: float = 60) -> Tuple[subprocess.CompletedProcess, List[dict]]:
    """Runs a caller agent that offers only `codec` and plays each clip into
    its own call (at once); returns it and the callee's end events."""
    cmd = [sys.executable, str(SOFTPHONE), "--listen", "127.0.0.1:0", "--score", "none", "--codecs", codec,
           "--sip-log-level", "1"]
    for user, clip in clips:
        cmd += ["--call", callee.uri(user), "--play", str(clip)]
    caller = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if caller.returncode != 0:
        raise RuntimeError(f"caller failed ({caller.returncode}):\n{caller.stderr[-2000:]}")
    return caller, callee.ends(len(clips))


def user_of(end: dict) -> str:
    """The called user of an end event ("<sip:c12@127.0.0.1:5060>" -> "c12")."""
    return end["local"].strip("<>").split(":")[1].split("@")[0]


def call_each(callee: Callee, codec: str, clips: List[Path]) -> List[dict]:
    """Plays each clip into its own call over `codec`, MAX_CALLS calls at a
    time; the callee's end events in the clips' order."""
    ends: List[dict] = [{}] * len(clips)
    for i in range(0, len(clips), MAX_CALLS):
        batch = range(i, min(i + MAX_CALLS, len(clips)))
        _, got = place(callee, codec, [(f"c{k}", clips[k]) for k in batch])
        for e in got:
            ends[int(user_of(e)[1:])] = e
    return ends


def draw(root: Path, per_class: int, seed: int) -> List[Tuple[Path, Path]]:
    """(clip, its path relative to the set) for per_class real and per_class
    synthetic clips of a `dfd eval` directory."""
    rng = random.Random(seed)
    out = []
    for cls in ("real", "fake"):
        files = sorted((root / cls).rglob("*.wav"))
        if not files:
            raise SystemExit(f"{root / cls}: no .wav files")
        for f in rng.sample(files, min(per_class, len(files))):
            out.append((f, f.relative_to(root)))
    return out


def evaluate(dfd: str, out: Path, model: str) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json") as j:
        r = subprocess.run([dfd, "eval", str(out), "--backend", "cpu", "--model", model, "--json", j.name],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"dfd eval --model {model} failed:\n{r.stderr}")
        return json.loads(Path(j.name).read_text())


def scan(dfd: str, files: List[Path], model: str, timeout: Optional[float] = None) -> List[dict]:
    """`dfd scan --json`'s result for each file, in order."""
    r = subprocess.run([dfd, "scan", "--json", "--backend", "cpu", "--model", model, *map(str, files)],
                       capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"dfd scan --model {model} failed:\n{r.stderr}")
    by_file = {j["file"]: j for j in map(json.loads, r.stdout.splitlines())}
    return [by_file[str(f)] for f in files]


def shift_against_label(dfd: str, root: Path, out: Path, model: str) -> dict:
    """How far the call moved each clip's p_fake towards the wrong verdict
    (real clips: up; synthetic: down), the largest per class: a verdict
    before the call survives the call when it is clear of the threshold by
    more than that."""
    res = {}
    for cls, sign in (("real", 1.0), ("fake", -1.0)):
        recorded = sorted((out / cls).rglob("*.wav"))
        before = scan(dfd, [root / f.relative_to(out) for f in recorded], model)
        after = scan(dfd, recorded, model)
        res[cls] = max(sign * (b["p_fake"] - a["p_fake"]) for a, b in zip(before, after))
    return res


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--set", required=True, type=Path, help="dfd eval directory (real/, fake/<system>/)")
    p.add_argument("--codec", required=True, help="the one codec the calls offer (softphone --codecs), e.g. G722")
    p.add_argument("--per-class", type=int, default=40)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", required=True, type=Path, help="recordings, in the set's layout")
    p.add_argument("--model", action="append", default=[], help="scored with `dfd eval --model` (repeatable)")
    p.add_argument("--dfd", default=os.environ.get("DFD_CLI", "dfd"))
    p.add_argument("--json", type=Path, help="write the results here")
    p.add_argument("--rescore", action="store_true", help="no calls: score the recordings already in --out")
    a = p.parse_args(argv)
    res = {"set": str(a.set), "models": {}}
    if not a.rescore:
        res.update(record(a))
    for m in a.model:
        r = evaluate(a.dfd, a.out, m)
        c = r["confusion"]
        q = res["models"][m] = {k: r[k] for k in ("eer", "auc", "threshold", "n_real", "n_fake")}
        q["real_flagged"] = c["fp"] / max(1, c["fp"] + c["tn"])
        q["fake_missed"] = c["fn"] / max(1, c["fn"] + c["tp"])
        q["shift_against_label"] = shift_against_label(a.dfd, a.set, a.out, m)
        print(f"{m:20} EER {q['eer'] * 100:5.1f} %  AUC {q['auc']:.3f}  at {q['threshold']:.3f}: "
              f"real flagged {q['real_flagged'] * 100:.1f} %, synthetic missed {q['fake_missed'] * 100:.1f} %; "
              f"largest move towards the wrong verdict: real +{q['shift_against_label']['real']:.3f}, "
              f"synthetic -{q['shift_against_label']['fake']:.3f}")
    if a.json:
        a.json.write_text(json.dumps(res, indent=1) + "\n")
    return 0


def record(a: argparse.Namespace) -> dict:
    """Plays the drawn clips through calls and moves the recordings into --out."""
    clips = draw(a.set, a.per_class, a.seed)
    if a.out.exists():
        shutil.rmtree(a.out)
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory() as rec:
        callee = Callee(Path(rec), a.codec, ["--backend", "cpu", "--sip-log-level", "1"])
        try:
            codecs = set()
            for (_, rel), e in zip(clips, call_each(callee, a.codec, [f for f, _ in clips])):
                if e["event"] != "end" or "recording" not in e:
                    raise RuntimeError(f"call did not end with a recording: {e}")
                dst = a.out / rel
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(e["recording"], dst)
                codecs.add(e["codec"])
        finally:
            log = callee.stop()
    if "Traceback" in log:
        raise RuntimeError("the callee failed:\n" + log[-3000:])
    res = {"codec": sorted(codecs), "clips": len(clips), "calls_s": round(time.monotonic() - t0, 1)}
    print(f"{len(clips)} calls over {', '.join(sorted(codecs))} in {res['calls_s']} s -> {a.out}")
    return res


if __name__ == "__main__":
    sys.exit(main())
