#!/usr/bin/env python3
"""Make the small ONNX test fixtures in tests/fixtures/models/.

Random weights, fixed seeds, re-runnable: running it twice gives the same
files. Needs numpy, onnx and onnxruntime (no PyTorch: the graphs are built
with onnx.helper). Every model carries its manifest as JSON in the ONNX
`metadata_props` under the key `dfd.manifest`.

    python3 scripts/make_test_models.py            # writes the fixtures
    python3 scripts/make_test_models.py --check    # rebuilds in a temp dir, compares

What it writes (all under tests/fixtures/models/):
  tiny-mel/manifest.json            package manifest with "variants"
  tiny-mel/model.{fp32,fp16,int8}.onnx
      small CNN on log-mel [N,1,40,101] -> one logit [N,1]; fp16 = f16
      initializers followed by Cast-to-f32; int8 = onnxruntime quantize_static,
      QOperator (QLinearConv / QLinearMatMul), per-channel, Conv+MatMul only.
  tiny-raw.onnx                     raw waveform [N,16000] -> two-class logits [N,2]
  fixed-batch.onnx                  tiny-mel fp32 weights with a fixed batch of 1
  truncated.onnx                    first half of tiny-mel/model.fp32.onnx
  not-onnx.onnx                     text
  no-manifest.onnx                  tiny-mel fp32 without metadata
  unsupported-op.onnx               a made-up op (com.example WaveletPool)
  unsupported-lppool.onnx           a real ONNX op tract 0.23 lacks (LpPool)
  dropout.onnx                      tiny-mel fp32 with an inference-mode Dropout
                                    (identity; the rten backend refuses it)
  wrong-shape.onnx                  manifest input_shape [1,40,100], graph [N,1,40,101]
  inconsistent.onnx                 conv2 weights expect 4 input channels, conv1 gives 8
  inputs/*.f32le.bin                seeded batches of 4 inputs, little-endian f32
  expected.json                     onnxruntime outputs for those batches, and
                                    the measured precision deviations / tolerances
"""

import argparse
import copy
import filecmp
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import (
    CalibrationDataReader,
    QuantFormat,
    QuantType,
    quantize_static,
)

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "tests" / "fixtures" / "models"
OPSET = 17
IR_VERSION = 8
SCRIPT = "scripts/make_test_models.py"

MEL_ITEM = [1, 40, 101]
RAW_ITEM = [16000]
EXPECTED_BATCH = 4
STATS_N = 256  # inputs used to measure output spread and precision deviations

F32 = np.float32


# --------------------------------------------------------------------------
# manifests


def mel_manifest(name, precision=None, input_shape=None, window=16000, hop=8000):
    m = {
        "format": "dfd-model/1",
        "name": name,
        "precision": precision,
        "sample_rate": 16000,
        "window": window,
        "hop": hop,
        "frontend": {
            "type": "logmel",
            "n_fft": 512,
            "win_length": 400,
            "hop_length": 160,
            "window": "hann",
            "center": True,
            "n_mels": 40,
            "log": "ln",
            "log_offset": 1e-6,
            "mean": -6.0,
            "std": 4.0,
        },
        "input_shape": input_shape or MEL_ITEM,
        "output": {"kind": "logit"},
        "calibration": {"scale": 1.0, "bias": 0.0},
        "threshold": 0.5,
        "gate": {"min_dbfs": -50.0},
        "provenance": {"note": "random weights, test fixture only", "script": SCRIPT},
    }
    if precision is None:
        del m["precision"]
    return m


def raw_manifest(name):
    return {
        "format": "dfd-model/1",
        "name": name,
        "precision": "fp32",
        "sample_rate": 16000,
        "window": 16000,
        "hop": 8000,
        "frontend": {"type": "raw", "normalize": "zscore"},
        "input_shape": RAW_ITEM,
        "output": {"kind": "logits", "fake_index": 1},
        "calibration": {"scale": 1.0, "bias": 0.0},
        "threshold": 0.5,
        "gate": {"min_dbfs": -50.0},
        "provenance": {"note": "random weights, test fixture only", "script": SCRIPT},
    }


def set_manifest(model, manifest):
    del model.metadata_props[:]
    if manifest is not None:
        onnx.helper.set_model_props(
            model, {"dfd.manifest": json.dumps(manifest, separators=(",", ":"))}
        )
    return model


# --------------------------------------------------------------------------
# inputs that look like what the front ends produce


def smooth(rng, n, width):
    v = rng.normal(0.0, 1.0, n + width - 1)
    return np.convolve(v, np.ones(width) / np.sqrt(width), "valid")


def mel_inputs(seed, n, spread=1.0):
    """Normalised log-mel ((ln(mel + 1e-6) + 6) / 4): roughly zero mean, unit
    spread, with per-clip level, spectral tilt, band shape and a temporal
    envelope, so that different clips give different logits. `spread` widens
    the per-clip level and tilt (the int8 calibration set uses 2.0 so that
    its min/max cover the tails of the test distribution)."""
    rng = np.random.default_rng(seed)
    x = np.empty((n, *MEL_ITEM), F32)
    bands = np.linspace(0.0, 1.0, 40)[:, None]
    for i in range(n):
        level = rng.normal(0.0, 0.8 * spread)
        tilt = rng.normal(-1.0, 0.7 * spread) * bands
        band = 0.5 * smooth(rng, 40, 5)[:, None]
        env = 0.5 * smooth(rng, 101, 7)[None, :]
        noise = rng.normal(0.0, 0.4, (40, 101))
        x[i, 0] = level + tilt + band + env + noise
    return x


def raw_inputs(seed, n):
    """Z-scored 1 s waveforms at 16 kHz: a few (amplitude-modulated) tones in
    noise, different per clip."""
    rng = np.random.default_rng(seed)
    t = np.arange(16000) / 16000.0
    x = np.empty((n, 16000), F32)
    for i in range(n):
        s = rng.normal(0.0, rng.uniform(0.05, 1.0), 16000)
        for _ in range(rng.integers(1, 5)):
            f = rng.uniform(80.0, 4000.0)
            am = 1.0 + 0.5 * np.sin(2 * np.pi * rng.uniform(1.0, 8.0) * t)
            s += rng.uniform(0.2, 1.0) * am * np.sin(2 * np.pi * f * t + rng.uniform(0, 6.28))
        x[i] = (s - s.mean()) / (s.std() + 1e-8)
    return x


# --------------------------------------------------------------------------
# graphs


def he(rng, shape, fan_in):
    return (rng.normal(0.0, 1.0, shape) * np.sqrt(2.0 / fan_in)).astype(F32)


def mel_weights(seed=10):
    rng = np.random.default_rng(seed)
    return {
        "conv1.w": he(rng, (8, 1, 3, 3), 9),
        "conv1.b": rng.normal(0.0, 0.1, 8).astype(F32),
        "conv2.w": he(rng, (16, 8, 3, 3), 72),
        "conv2.b": rng.normal(0.0, 0.1, 16).astype(F32),
        "fc.w": (rng.normal(0.0, 1.0, (16, 1)) / 4.0).astype(F32),
        "fc.b": np.zeros(1, F32),
    }


POOL_NODE = {"MaxPool": "pool1", "LpPool": "lp_pool", "WaveletPool": "wavelet_pool"}


def mel_graph(w, batch="N", pool_op="MaxPool", pool_domain=None, check=True):
    """Conv3x3(8)+ReLU, 2x2 pool, Conv3x3(16)+ReLU, GlobalAveragePool,
    Flatten, MatMul+Add -> [N,1] logit."""
    pool_attrs = {"kernel_shape": [2, 2], "strides": [2, 2]}
    if pool_op == "LpPool":
        pool_attrs["p"] = 2
    nodes = [
        helper.make_node("Conv", ["features", "conv1.w", "conv1.b"], ["c1"], name="conv1",
                         kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node(pool_op, ["r1"], ["p1"], name=POOL_NODE[pool_op], domain=pool_domain,
                         **pool_attrs),
        helper.make_node("Conv", ["p1", "conv2.w", "conv2.b"], ["c2"], name="conv2",
                         kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
        helper.make_node("GlobalAveragePool", ["r2"], ["gap"], name="gap"),
        helper.make_node("Flatten", ["gap"], ["flat"], name="flatten", axis=1),
        helper.make_node("MatMul", ["flat", "fc.w"], ["mm"], name="fc_matmul"),
        helper.make_node("Add", ["mm", "fc.b"], ["logit"], name="fc_add"),
    ]
    inits = [numpy_helper.from_array(v, k) for k, v in w.items()]
    graph = helper.make_graph(
        nodes,
        "tiny_mel",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [batch, *MEL_ITEM])],
        [helper.make_tensor_value_info("logit", TensorProto.FLOAT, [batch, 1])],
        inits,
    )
    opsets = [helper.make_opsetid("", OPSET)]
    if pool_domain is not None:
        opsets.append(helper.make_opsetid(pool_domain, 1))
    return finish(helper.make_model(graph, opset_imports=opsets), check)


def raw_weights(seed=20):
    rng = np.random.default_rng(seed)
    return {
        "shape": np.array([-1, 1, 16000], np.int64),
        "conv1.w": he(rng, (8, 1, 16), 16),
        "conv1.b": rng.normal(0.0, 0.1, 8).astype(F32),
        "conv2.w": he(rng, (16, 8, 8), 64),
        "conv2.b": rng.normal(0.0, 0.1, 16).astype(F32),
        "fc.w": (rng.normal(0.0, 1.0, (16, 2)) / 4.0).astype(F32),
        "fc.b": np.zeros(2, F32),
    }


def raw_graph(w):
    """Reshape [N,16000] -> [N,1,16000], Conv1d(k16,s4)+ReLU, Conv1d(k8,s4)+ReLU,
    GlobalAveragePool, Flatten, MatMul+Add -> [N,2] logits."""
    nodes = [
        helper.make_node("Reshape", ["waveform", "shape"], ["x"], name="reshape"),
        helper.make_node("Conv", ["x", "conv1.w", "conv1.b"], ["c1"], name="conv1",
                         kernel_shape=[16], strides=[4]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "conv2.w", "conv2.b"], ["c2"], name="conv2",
                         kernel_shape=[8], strides=[4]),
        helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
        helper.make_node("GlobalAveragePool", ["r2"], ["gap"], name="gap"),
        helper.make_node("Flatten", ["gap"], ["flat"], name="flatten", axis=1),
        helper.make_node("MatMul", ["flat", "fc.w"], ["mm"], name="fc_matmul"),
        helper.make_node("Add", ["mm", "fc.b"], ["logits"], name="fc_add"),
    ]
    inits = [numpy_helper.from_array(v, k) for k, v in w.items()]
    graph = helper.make_graph(
        nodes,
        "tiny_raw",
        [helper.make_tensor_value_info("waveform", TensorProto.FLOAT, ["N", *RAW_ITEM])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 2])],
        inits,
    )
    return finish(helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)]))


def with_dropout(model):
    """`model` with an inference-mode Dropout after relu1 (an identity a
    PyTorch export can leave behind; RTen without its `random` feature
    refuses the operator)."""
    m = copy.deepcopy(model)
    nodes = list(m.graph.node)
    i = next(k for k, n in enumerate(nodes) if n.name == "relu1")
    after = nodes[i].output[0]
    nodes[i].output[0] = "r1_pre_dropout"
    nodes.insert(i + 1, helper.make_node("Dropout", ["r1_pre_dropout"], [after], name="dropout1"))
    del m.graph.node[:]
    m.graph.node.extend(nodes)
    return finish(m)


def finish(model, check=True):
    model.ir_version = IR_VERSION
    model.producer_name = "dfd-make-test-models"
    model.producer_version = "1"
    if check:
        onnx.checker.check_model(model, full_check=True)
    return model


def to_fp16_with_cast(model):
    """Every float initializer X becomes X.f16 (FLOAT16) plus a Cast-to-f32
    node producing X. Graph inputs and outputs stay f32, and tract folds the
    casts at load (half the file, fp32 kernels)."""
    m = copy.deepcopy(model)
    g = m.graph
    casts, inits = [], []
    for t in g.initializer:
        if t.data_type == TensorProto.FLOAT:
            a = numpy_helper.to_array(t).astype(np.float16)
            inits.append(numpy_helper.from_array(a, t.name + ".f16"))
            casts.append(helper.make_node("Cast", [t.name + ".f16"], [t.name],
                                          name="cast_" + t.name, to=TensorProto.FLOAT))
        else:
            inits.append(copy.deepcopy(t))
    del g.initializer[:]
    g.initializer.extend(inits)
    old = list(g.node)
    del g.node[:]
    g.node.extend(casts + old)
    onnx.checker.check_model(m)
    return m


class Reader(CalibrationDataReader):
    def __init__(self, name, data):
        self.items = iter([{name: data[i:i + 1]} for i in range(len(data))])

    def get_next(self):
        return next(self.items, None)


def quantize_int8(fp32_model, calib, input_name, tmp):
    src = Path(tmp) / "fp32.onnx"
    dst = Path(tmp) / "int8.onnx"
    onnx.save(fp32_model, src)
    quantize_static(
        str(src), str(dst), Reader(input_name, calib),
        quant_format=QuantFormat.QOperator,
        op_types_to_quantize=["Conv", "MatMul"],
        per_channel=True,
        activation_type=QuantType.QInt8,
        weight_type=QuantType.QInt8,
    )
    m = onnx.load(dst)
    m.producer_name = "dfd-make-test-models (onnxruntime quantize_static)"
    m.producer_version = "1"
    return m


# --------------------------------------------------------------------------
# onnxruntime reference


def ort_run(model, x):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    if model.graph.input[0].type.tensor_type.shape.dim[0].HasField("dim_value"):
        return np.concatenate([sess.run(None, {name: x[i:i + 1]})[0] for i in range(len(x))])
    return sess.run(None, {name: x})[0]


def scale_head(build, w, x, target_std, pair=False):
    """Rescale the final MatMul so the output (or the logit difference of a
    two-class head) has std `target_std` and mean 0 over `x`."""
    w = dict(w)
    w["fc.b"] = np.zeros_like(w["fc.b"])
    out = ort_run(build(w), x)
    s = out[:, 1] - out[:, 0] if pair else out[:, 0]
    k = target_std / s.std()
    w["fc.w"] = (w["fc.w"] * k).astype(F32)
    if pair:
        w["fc.b"] = np.array([0.0, -s.mean() * k], F32)
    else:
        w["fc.b"] = np.array([-s.mean() * k], F32)
    return w


def out_summary(x):
    return [float(v) for v in np.asarray(x, np.float32).reshape(-1)]


# --------------------------------------------------------------------------


def save(model, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(model.SerializeToString())


def build(out: Path):
    out.mkdir(parents=True, exist_ok=True)
    (out / "inputs").mkdir(exist_ok=True)
    expected = {
        "generator": SCRIPT,
        "onnxruntime": ort.__version__,
        "note": "inputs are little-endian f32, row-major [batch, *item_shape]; "
                "outputs are onnxruntime CPU (1 thread) per variant",
        "models": {},
    }

    # ---- tiny-mel: fp32, fp16, int8 ------------------------------------
    stats_x = mel_inputs(3, STATS_N)
    w = scale_head(lambda w: mel_graph(w), mel_weights(), stats_x, target_std=2.0)
    fp32 = mel_graph(w)
    fp16 = to_fp16_with_cast(fp32)
    with tempfile.TemporaryDirectory() as tmp:
        int8 = quantize_int8(fp32, mel_inputs(1, 64, spread=2.0), "features", tmp)
    variants = {"fp32": fp32, "fp16": fp16, "int8": int8}
    pkg = mel_manifest("tiny-mel")
    pkg["variants"] = {p: f"model.{p}.onnx" for p in variants}
    (out / "tiny-mel").mkdir(exist_ok=True)
    (out / "tiny-mel" / "manifest.json").write_text(json.dumps(pkg, indent=2) + "\n")
    for p, m in variants.items():
        save(set_manifest(m, mel_manifest("tiny-mel", p)), out / "tiny-mel" / f"model.{p}.onnx")

    x4 = mel_inputs(2, EXPECTED_BATCH)
    (out / "inputs" / "tiny-mel.batch4.f32le.bin").write_bytes(x4.astype("<f4").tobytes())
    ref = ort_run(fp32, stats_x)
    std = float(ref.std())
    dev = {p: float(np.abs(ort_run(m, stats_x) - ref).max()) for p, m in variants.items() if p != "fp32"}
    mel_entry = {
        "input": "inputs/tiny-mel.batch4.f32le.bin",
        "batch": EXPECTED_BATCH,
        "item_shape": MEL_ITEM,
        "output_len": 1,
        "variants": {
            p: {"file": f"tiny-mel/model.{p}.onnx", "output": out_summary(ort_run(m, x4))}
            for p, m in variants.items()
        },
        "stats": {
            "n_inputs": STATS_N,
            "fp32_output_std": round(std, 6),
            "ort_max_abs_dev_vs_fp32": {p: round(d, 7) for p, d in dev.items()},
        },
        # fp32 vs onnxruntime: float rounding only. fp16: weights rounded to
        # 11 bits, measured ~1e-3. int8: measured max |dev| / std, bound set at
        # 0.1 x std (tract int8 may round differently from onnxruntime's).
        "tolerance": {"fp32_vs_ort": 1e-4, "fp16_vs_fp32": 0.01, "int8_vs_fp32": round(0.1 * std, 4)},
    }
    expected["models"]["tiny-mel"] = mel_entry

    # ---- fixed-batch: tiny-mel fp32 with batch 1 -------------------------
    fixed = set_manifest(mel_graph(w, batch=1), mel_manifest("fixed-batch", "fp32"))
    save(fixed, out / "fixed-batch.onnx")
    expected["models"]["fixed-batch"] = {
        "input": "inputs/tiny-mel.batch4.f32le.bin",
        "batch": EXPECTED_BATCH,
        "item_shape": MEL_ITEM,
        "output_len": 1,
        "variants": {"fp32": {"file": "fixed-batch.onnx", "output": out_summary(ort_run(fixed, x4))}},
        "tolerance": {"fp32_vs_ort": 1e-4},
    }

    # ---- tiny-raw ---------------------------------------------------------
    raw_stats = raw_inputs(3, 64)
    rw = scale_head(raw_graph, raw_weights(), raw_stats, target_std=2.0, pair=True)
    raw = set_manifest(raw_graph(rw), raw_manifest("tiny-raw"))
    save(raw, out / "tiny-raw.onnx")
    r4 = raw_inputs(2, EXPECTED_BATCH)
    (out / "inputs" / "tiny-raw.batch4.f32le.bin").write_bytes(r4.astype("<f4").tobytes())
    rref = ort_run(raw, raw_stats)
    expected["models"]["tiny-raw"] = {
        "input": "inputs/tiny-raw.batch4.f32le.bin",
        "batch": EXPECTED_BATCH,
        "item_shape": RAW_ITEM,
        "output_len": 2,
        "variants": {"fp32": {"file": "tiny-raw.onnx", "output": out_summary(ort_run(raw, r4))}},
        "stats": {"n_inputs": 64,
                  "fp32_logit_diff_std": round(float((rref[:, 1] - rref[:, 0]).std()), 6)},
        "tolerance": {"fp32_vs_ort": 1e-4},
    }

    # ---- broken fixtures --------------------------------------------------
    good = (out / "tiny-mel" / "model.fp32.onnx").read_bytes()
    (out / "truncated.onnx").write_bytes(good[: len(good) // 2])
    (out / "not-onnx.onnx").write_text(
        "This is not an ONNX model: it is a text file used as a test fixture.\n" * 4)
    save(set_manifest(copy.deepcopy(fp32), None), out / "no-manifest.onnx")
    custom = mel_graph(w, pool_op="WaveletPool", pool_domain="com.example")
    m = mel_manifest("unsupported-op", "fp32")
    m["provenance"]["note"] = "uses a made-up operator com.example WaveletPool (node wavelet_pool)"
    save(set_manifest(custom, m), out / "unsupported-op.onnx")
    lp = mel_graph(w, pool_op="LpPool")
    m = mel_manifest("unsupported-lppool", "fp32")
    m["provenance"]["note"] = "uses LpPool (node lp_pool): standard ONNX, runs in onnxruntime, not in tract 0.23"
    save(set_manifest(lp, m), out / "unsupported-lppool.onnx")
    ort_run(lp, x4)  # make sure it is a valid model that onnxruntime runs
    save(set_manifest(with_dropout(fp32), mel_manifest("dropout", "fp32")), out / "dropout.onnx")
    # Self-consistent manifest (window 15840 -> 1 + 15840/160 = 100 frames)
    # that disagrees with the graph's [N,1,40,101].
    m = mel_manifest("wrong-shape", "fp32", input_shape=[1, 40, 100], window=15840, hop=7920)
    save(set_manifest(copy.deepcopy(fp32), m), out / "wrong-shape.onnx")

    # Loads and runs, but the manifest says logits where the graph ends in
    # Softmax: `dfd inspect` must warn (its exit status 1 is tested).
    soft = raw_graph(rw)
    soft.graph.node[-1].output[0] = "pre_softmax"
    soft.graph.node.append(helper.make_node("Softmax", ["pre_softmax"], ["logits"], name="softmax", axis=1))
    soft = finish(soft)
    m = raw_manifest("softmax-as-logits")
    m["provenance"]["note"] = "graph ends in Softmax but the manifest says logits (a manifest mistake)"
    save(set_manifest(soft, m), out / "softmax-as-logits.onnx")

    # Valid protobuf, every op known, but the shapes contradict each other.
    bad = dict(w)
    bad["conv2.w"] = np.random.default_rng(30).normal(0.0, 0.1, (16, 4, 3, 3)).astype(F32)
    g = mel_graph(bad, check=False)
    m = mel_manifest("inconsistent", "fp32")
    m["provenance"]["note"] = "conv2 weights have 4 input channels but conv1 produces 8"
    save(set_manifest(g, m), out / "inconsistent.onnx")

    (out / "expected.json").write_text(json.dumps(expected, indent=2) + "\n")
    return expected


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--check", action="store_true",
                    help="rebuild into a temp dir and compare with --out byte for byte")
    a = ap.parse_args()
    if a.check:
        with tempfile.TemporaryDirectory() as tmp:
            build(Path(tmp))
            cmp = filecmp.dircmp(tmp, a.out)
            bad = []

            def walk(c, prefix=""):
                bad.extend(prefix + f for f in c.diff_files + c.left_only + c.funny_files)
                for name, sub in c.subdirs.items():
                    walk(sub, prefix + name + "/")
            walk(cmp)
            if bad:
                print("differ:", ", ".join(bad))
                sys.exit(1)
            print("fixtures are up to date")
        return
    e = build(a.out)
    total = sum(p.stat().st_size for p in a.out.rglob("*") if p.is_file())
    st = e["models"]["tiny-mel"]["stats"]
    print(f"wrote {a.out} ({total} bytes); tiny-mel fp32 std {st['fp32_output_std']}, "
          f"max |dev| vs fp32 {st['ort_max_abs_dev_vs_fp32']}")


if __name__ == "__main__":
    main()
