#!/usr/bin/env python3
"""Time per window of net.py architectures in tract and in onnxruntime,
side by side (issue 16, "tract near its best": does a network shape exist
that tract runs within 2x of onnxruntime?).

    python3 models/recipe/arch_speed.py                      # cnn, cnns, cnns wide
    python3 models/recipe/arch_speed.py --arch cnn --arch cnns:32,48,96,128,128

Each architecture is built untrained (speed does not depend on the weights)
and exported with export.py's own graph code (BN folded, the shipped op
set), so the ONNX is what a trained model of that shape would ship. Then,
in interleaved rounds, onnxruntime (1 thread, batch 1, this Python) and
tract (the CPU plugin's plan, batch 1, 1 thread: `cargo bench --bench
tract_profile`, built once in release) time each file. Prints the medians
and the tract / onnxruntime ratio. Accuracy of the shapes is the
protocol's job (protocol.py --arch).
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
import torch  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
import export  # noqa: E402
import net as netmod  # noqa: E402

DEFAULT_ARCHS = ["cnn", "cnns", "cnns:32,48,96,128,128"]


def build(spec, path):
    arch, _, ch = spec.partition(":")
    torch.manual_seed(0)
    model = netmod.Net(arch, [int(c) for c in ch.split(",")] if ch else None)
    blocks, head = export.fold(model)
    onnx.save(export.build_graph(blocks, head, netmod.INPUT), str(path))
    return netmod.macs_per_window(model)


def ort_ms(path, runs):
    o = ort.SessionOptions()
    o.intra_op_num_threads = o.inter_op_num_threads = 1
    s = ort.InferenceSession(str(path), o, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).standard_normal((1, *netmod.INPUT)).astype(np.float32)
    for _ in range(20):
        s.run(None, {"features": x})
    t = []
    for _ in range(runs):
        t0 = time.perf_counter()
        s.run(None, {"features": x})
        t.append(time.perf_counter() - t0)
    return statistics.median(t) * 1e3


def tract_bench():
    """Builds the tract_profile bench once; returns its executable."""
    out = subprocess.run(["cargo", "bench", "--workspace", "--bench", "tract_profile", "--no-run"],
                         cwd=ROOT, capture_output=True, text=True, check=True)
    m = re.search(r"\((\S+tract_profile-[0-9a-f]+)\)", out.stderr)
    if not m:
        sys.exit("arch_speed: cannot find the tract_profile executable in cargo's output")
    return ROOT / m.group(1)


def tract_ms(exe, path, runs):
    env = dict(os.environ, DFD_PROFILE_MODEL=str(path), DFD_PROFILE_RUNS=str(runs))
    out = subprocess.run([str(exe)], env=env, capture_output=True, text=True, check=True).stdout
    m = re.search(r"batch fixed at 1.*?([0-9.]+) ms per window", out)
    return float(m.group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", action="append",
                    help="ARCH or ARCH:C1,C2,... (net.py); repeatable (default: "
                         + ", ".join(DEFAULT_ARCHS) + ")")
    ap.add_argument("--runs", type=int, default=300, help="timed windows per engine and round")
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(1)
    specs = a.arch or DEFAULT_ARCHS
    exe = tract_bench()
    with tempfile.TemporaryDirectory() as tmp:
        paths = {s: Path(tmp) / f"{s.replace(':', '_').replace(',', '-')}.onnx" for s in specs}
        macs = {s: build(s, paths[s]) for s in specs}
        times = {s: {"tract": [], "ort": []} for s in specs}
        for _ in range(a.rounds):
            for s in specs:
                times[s]["ort"].append(ort_ms(paths[s], a.runs))
                times[s]["tract"].append(tract_ms(exe, paths[s], a.runs))
    print(f"{'architecture':<28} {'M MACs':>7} {'tract ms':>9} {'ort ms':>7} {'ratio':>6}")
    for s in specs:
        t = statistics.median(times[s]["tract"])
        o = statistics.median(times[s]["ort"])
        print(f"{s:<28} {macs[s] / 1e6:7.1f} {t:9.3f} {o:7.3f} {t / o:6.2f}")


if __name__ == "__main__":
    main()
