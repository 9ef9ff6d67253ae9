#!/usr/bin/env python3
"""One command that measures libdfd against the Python script it replaces.

Prints, in one run, on the same generated file (default 10 minutes of
16 kHz speech, the committed speech clip tiled):

1. end to end, whole process, interleaved runs: `dfd scan` on each backend
   that runs here (cpu = tract; ort = onnxruntime, with the wheel's
   libonnxruntime.so; rten = the compact CPU plugin), as it runs (with
   two cores, the network on a second thread beside the front end) and
   pinned to one core (`taskset -c 0`);
   and the Python pipeline a user would write instead (soundfile + the
   recipe's features.py + onnxruntime, batch 1), with onnxruntime on one
   thread and with its default threads;
2. the network alone, per window, batch 1, one thread: tract, onnxruntime
   and rten (RTEN_NUM_THREADS=1) through libdfd (`cargo bench --workspace
   --bench backend_batch`, `network/1`; `--workspace` keeps the release
   build's feature set, so nothing rebuilds);
3. the floor: the default model's MACs over this CPU's single-thread sgemm
   rate (numpy, OPENBLAS_NUM_THREADS=1, 1024^2 f32).

Needs: a release build (`cargo build --release --workspace`), numpy,
soundfile, onnx, onnxruntime (`pip install numpy soundfile onnx
onnxruntime`). Run:

    python3 scripts/side_by_side.py [--minutes 10] [--runs 3] [--no-bench]

The README's performance table comes from this output.
"""

import argparse
import glob
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(ROOT, "models", "dfd-lfb-cnn")
CLIP = os.path.join(ROOT, "tests", "fixtures", "audio", "speech_16k.wav")


def wheel_library():
    import onnxruntime

    d = os.path.join(os.path.dirname(onnxruntime.__file__), "capi")
    return sorted(glob.glob(os.path.join(d, "libonnxruntime.so*")))[0]


def make_file(path, minutes):
    import numpy as np
    import soundfile as sf

    x, sr = sf.read(CLIP, dtype="int16")
    n = int(minutes * 60 * sr)
    reps = -(-n // len(x))
    sf.write(path, np.tile(x, reps)[:n], sr, subtype="PCM_16")
    return n / sr


def python_pipeline(path, threads):
    """The script a user writes: soundfile + features.py + onnxruntime, batch 1
    (`threads` 0: onnxruntime's default)."""
    import json

    import numpy as np
    import onnxruntime as ort
    import soundfile as sf

    sys.path.insert(0, os.path.join(ROOT, "models", "recipe"))
    import features

    with open(os.path.join(MODEL, "manifest.json")) as f:
        manifest = json.load(f)
    fe = features.Frontend(manifest["frontend"], manifest["sample_rate"], manifest["window"])
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = threads
    sess = ort.InferenceSession(os.path.join(MODEL, "model.fp32.onnx"), opts,
                                providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    x, sr = sf.read(path, dtype="float32")
    assert sr == manifest["sample_rate"]
    cal = manifest["calibration"]
    probs = []
    for w in features.frame_windows(x, manifest["window"], manifest["hop"]):
        z = sess.run(None, {name: fe.compute(w)[None, None]})[0].ravel()[0]
        probs.append(1.0 / (1.0 + np.exp(-(z * cal["scale"] + cal["bias"]))))
    print(f"{len(probs)} windows, mean p_fake {float(np.mean(probs)):.4f}")


def timed(cmd, env=None):
    t = time.perf_counter()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    dt = time.perf_counter() - t
    if out.returncode not in (0, 1):  # dfd scan exits 1 when it flags fakes
        sys.exit(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stdout}{out.stderr}")
    return dt


def sgemm_gmacs():
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    code = ("import numpy as np, time; a = np.random.rand(1024, 1024).astype(np.float32); "
            "b = a.copy(); a @ b; best = 1e9\n"
            "for _ in range(10):\n t = time.perf_counter(); a @ b; best = min(best, time.perf_counter() - t)\n"
            "print(1024 ** 3 / best / 1e9)")
    return float(subprocess.check_output([sys.executable, "-c", code], env=env))


def model_macs(path):
    import onnx
    from onnx import shape_inference

    m = shape_inference.infer_shapes(onnx.load(path))
    g = m.graph
    shapes = {}
    for v in list(g.value_info) + list(g.input) + list(g.output):
        dims = [d.dim_value or 1 for d in v.type.tensor_type.shape.dim]
        shapes[v.name] = dims
    for t in g.initializer:
        shapes[t.name] = list(t.dims)
    macs = 0
    for n in g.node:
        if n.op_type == "Conv":
            out, w = shapes[n.output[0]], shapes[n.input[1]]
            macs += math.prod(out) * math.prod(w[1:])
        elif n.op_type in ("MatMul", "Gemm"):
            a, b = shapes[n.input[0]], shapes[n.input[1]]
            macs += math.prod(a) * b[-1]
    return macs


# Backends compared: (name for --backend, engine).
BACKENDS = (("cpu", "tract"), ("ort", "onnxruntime"), ("rten", "rten"))


def bench_network(backend, env):
    """Median ms per window at batch 1 from criterion's `network/1`."""
    env = dict(env, DFD_BENCH_BACKEND=backend, DFD_BENCH_PRECISION="fp32", RTEN_NUM_THREADS="1")
    out = subprocess.run(
        ["cargo", "bench", "--workspace", "--bench", "backend_batch", "--", "network/1$"],
        cwd=ROOT, env=env, capture_output=True, text=True)
    m = re.search(r"network/1\s+time:\s+\[\S+ \S+ (\S+) (\S+)", out.stdout)
    if not m:
        sys.exit(f"backend_batch bench ({backend}) gave no time:\n{out.stdout[-2000:]}{out.stderr[-2000:]}")
    value, unit = float(m.group(1)), m.group(2)
    return value * {"ns": 1e-6, "µs": 1e-3, "us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--runs", type=int, default=3)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    ap.add_argument("--dfd", default=os.path.join(target, "release", "dfd"))
    ap.add_argument("--no-bench", action="store_true", help="skip the per-window criterion runs")
    ap.add_argument("--python-pipeline", metavar="WAV", help=argparse.SUPPRESS)
    ap.add_argument("--python-threads", type=int, default=1, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.python_pipeline:
        return python_pipeline(a.python_pipeline, a.python_threads)

    plugins = os.path.dirname(a.dfd)
    lib = wheel_library()
    env = dict(os.environ, ORT_DYLIB_PATH=lib)
    wav = os.path.join(tempfile.gettempdir(), f"dfd-side-by-side-{a.minutes:g}min.wav")
    seconds = make_file(wav, a.minutes)
    print(f"file: {wav} ({seconds / 60:.1f} min, 16 kHz); onnxruntime {lib}")
    print(f"cpu: {open('/proc/cpuinfo').read().split('model name')[1].split(':')[1].splitlines()[0].strip()}, "
          f"{os.cpu_count()} logical cores; load average {os.getloadavg()[0]:.1f}")

    runs = {}
    configs = []
    for b, _ in BACKENDS:
        scan = [a.dfd, "scan", "--backend", b, "--plugin-dir", plugins, wav]
        configs.append((f"dfd scan --backend {b}", scan))
        configs.append((f"dfd scan --backend {b}, one core (taskset -c 0)", ["taskset", "-c", "0"] + scan))
    script = [sys.executable, os.path.abspath(__file__), "--python-pipeline", wav]
    configs.append(("python, onnxruntime default threads", script + ["--python-threads", "0"]))
    configs.append(("python: soundfile + features.py + onnxruntime (batch 1)", script))
    for r in range(a.runs):  # interleaved: load changes hit every config alike
        for name, cmd in configs:
            runs.setdefault(name, []).append(timed(cmd, env))
    py = statistics.median(runs[configs[-1][0]])
    print(f"\n1. end to end, whole process, median of {a.runs} interleaved runs (min):")
    for name, _ in configs:
        t = runs[name]
        print(f"   {name:58s} {statistics.median(t):6.2f} s ({min(t):.2f})  "
              f"{py / statistics.median(t):4.2f}x the Python script's speed")

    if not a.no_bench:
        print("\n2. network per window, default model fp32, batch 1, 1 thread (criterion median):")
        ms = {b: bench_network(b, env) for b, _ in BACKENDS}
        for b, name in BACKENDS:
            print(f"   {name:12s} {ms[b]:.3f} ms")
        print(f"   tract / onnxruntime: {ms['cpu'] / ms['ort']:.2f}x; rten / onnxruntime: {ms['rten'] / ms['ort']:.2f}x")

    macs = model_macs(os.path.join(MODEL, "model.fp32.onnx"))
    peak = sgemm_gmacs()
    floor = macs / peak / 1e6
    print(f"\n3. floor: {macs / 1e6:.1f} M MACs per window / {peak:.1f} GMAC/s "
          f"(single-thread sgemm, numpy) = {floor:.3f} ms per window")
    if not a.no_bench:
        for b, name in BACKENDS:
            print(f"   {name:12s} reaches {100 * floor / ms[b]:.0f} % of it")


if __name__ == "__main__":
    main()
