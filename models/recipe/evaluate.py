#!/usr/bin/env python3
"""Evaluate a libdfd model package with onnxruntime, the way libdfd scores a
file: full 2 s windows at hop 1 s, windows below the manifest's gate
skipped, features computed from the WAV with features.py and the manifest's
front end (not the training cache), file p_fake = sigmoid(mean calibrated
window logit). Reports file-level EER (ASVspoof DET-based), AUC, the error
rates at the manifest threshold, and the EER of each spoof system (its fake
files vs all bona fide files of the set), for every precision variant.

    python3 models/recipe/evaluate.py --package models/dfd-lfb-cnn \
        --corpus /work/corpus [--split test] [--json out.json]

Sets: the corpus split (manifest.csv rows with split == --split), plus every
other directory under <corpus>/eval/ (e.g. eval/test_g711, eval/test_mp3_32k)
in `dfd eval`'s layout (real/, fake/<system>/) or with a manifest.csv. `dfd eval` (Rust) is the authoritative evaluator; this
is the cross-check.
"""

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import soxr

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import features as F  # noqa: E402
import metrics  # noqa: E402


def read_rows(manifest):
    with open(manifest, newline="") as f:
        return list(csv.DictReader(f))


def folder_rows(d):
    """`dfd eval` layout: <d>/real/**/*.wav (bona fide) and
    <d>/fake/<system>/**/*.wav (or <d>/fake/*.wav, system "fake")."""
    d = Path(d)
    rows = [{"path": str(p), "label": "bonafide", "system": "bonafide"}
            for p in sorted((d / "real").rglob("*.wav"))]
    for p in sorted((d / "fake").rglob("*.wav")):
        rel = p.relative_to(d / "fake").parts
        rows.append({"path": str(p), "label": "spoof",
                     "system": rel[0] if len(rel) > 1 else "fake"})
    return rows


def resolve(path, *bases):
    if os.path.isabs(path):
        return path
    for b in bases:
        p = os.path.join(b, path)
        if os.path.exists(p):
            return p
    raise FileNotFoundError(path)


def file_windows(rows, bases, manifest):
    """Normalised features of every gated window: (x [n,1,F,T], win_file)."""
    fe = F.Frontend(manifest["frontend"], manifest["sample_rate"], manifest["window"])
    gate = manifest.get("gate", {}).get("min_dbfs", -60.0)
    xs, wf = [], []
    for i, r in enumerate(rows):
        sr, x = F.read_wav(resolve(r["path"], *bases))
        if sr != manifest["sample_rate"]:
            # libdfd resamples to the model rate with soxr (HQ) as well
            x = soxr.resample(x, sr, manifest["sample_rate"], "HQ").astype(np.float32)
        w = F.frame_windows(x, manifest["window"], manifest["hop"])
        if len(w) == 0 and len(x) * 2 >= manifest["window"]:
            # libdfd scores a clip shorter than a window (>= half) zero-padded.
            w = np.zeros((1, manifest["window"]), np.float32)
            w[0, :len(x)] = x
            rms = F.window_rms_dbfs(x[None])
        else:
            rms = F.window_rms_dbfs(w)
        w = w[rms >= gate]
        if len(w):
            xs.append(fe.compute_batch(w)[:, None])
            wf.append(np.full(len(w), i, np.int64))
    if not xs:
        return np.zeros((0, 1, *fe.shape), np.float32), np.zeros(0, np.int64)
    return np.concatenate(xs), np.concatenate(wf)


def session(path):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    so.log_severity_level = 3
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def logits(sess, x, batch=256):
    out = [sess.run(None, {sess.get_inputs()[0].name: x[i:i + batch]})[0]
           for i in range(0, len(x), batch)]
    return np.concatenate(out)[:, 0] if out else np.zeros(0, np.float32)


def report(rows, z, wf, manifest):
    cal = manifest.get("calibration", {})
    _, p, n = metrics.file_scores(z, wf, len(rows), cal.get("scale", 1.0), cal.get("bias", 0.0))
    ok = n > 0
    lab = np.array([r["label"] == "spoof" for r in rows])
    system = np.array([r["system"] for r in rows])
    e, _ = metrics.eer(p[ok & lab], p[ok & ~lab])
    thr = manifest["threshold"]
    res = {
        "files": int(len(rows)), "scored_files": int(ok.sum()),
        "spoof_files": int((ok & lab).sum()), "bonafide_files": int((ok & ~lab).sum()),
        "windows": int(len(z)),
        "eer": e, "auc": metrics.auc(p[ok & lab], p[ok & ~lab]),
        "at_threshold": {
            "threshold": thr,
            "bonafide_flagged": float((p[ok & ~lab] >= thr).mean()) if (ok & ~lab).any() else None,
            "spoof_missed": float((p[ok & lab] < thr).mean()) if (ok & lab).any() else None,
        },
        "per_system": {},
    }
    for s in sorted(set(system[lab])):
        m = ok & (system == s)
        res["per_system"][s] = {"files": int(m.sum()),
                                "eer": metrics.eer(p[m], p[ok & ~lab])[0],
                                "auc": metrics.auc(p[m], p[ok & ~lab])}
    # false alarms per real source at the threshold: a few packages (one
    # voice, one channel) can carry most of them
    src = np.array([r.get("source", "") for r in rows])
    res["bonafide_flagged_per_source"] = {
        s: {"files": int(m.sum()), "flagged": float((p[m] >= thr).mean())}
        for s in sorted(set(src[~lab]) - {""}) for m in [ok & ~lab & (src == s)] if m.any()}
    ch = np.array([r.get("channel", "") for r in rows])
    if len(set(ch)) > 1:
        res["per_channel"] = {}
        for c in sorted(set(ch)):
            m = ok & (ch == c)
            if (m & lab).any() and (m & ~lab).any():
                res["per_channel"][c] = {"files": int(m.sum()),
                                         "eer": metrics.eer(p[m & lab], p[m & ~lab])[0]}
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--package", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--split", default="test")
    ap.add_argument("--variants", default="fp32,fp16,int8")
    ap.add_argument("--no-extra", action="store_true", help="skip <corpus>/eval/*")
    ap.add_argument("--json", help="write the results here")
    a = ap.parse_args()
    pkg = Path(a.package)
    manifest = json.loads((pkg / "manifest.json").read_text())
    corpus = Path(a.corpus)
    split_rows = [r for r in read_rows(corpus / "manifest.csv") if r["split"] == a.split]
    sets = {a.split: (split_rows, [str(corpus)])} if split_rows else {}
    if not a.no_extra and (corpus / "eval").is_dir():
        for d in sorted((corpus / "eval").iterdir()):
            if d.name in (a.split, "val", "train"):
                continue  # the same files as the corpus split
            if (d / "manifest.csv").exists():
                sets[f"eval/{d.name}"] = (read_rows(d / "manifest.csv"), [str(d), str(corpus)])
            elif (d / "real").is_dir():
                sets[f"eval/{d.name}"] = (folder_rows(d), [str(d)])
    sessions = {}
    for v in a.variants.split(","):
        path = pkg / manifest["variants"][v]
        meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
        emb = json.loads(meta["dfd.manifest"])
        assert emb.get("precision") == v, (path, emb.get("precision"))
        sessions[v] = session(path)
    results = {"package": str(pkg), "name": manifest["name"], "sets": {}}
    for name, (rows, bases) in sets.items():
        t0 = time.time()
        x, wf = file_windows(rows, bases, manifest)
        t_feat = time.time() - t0
        out = {}
        zs = {}
        for v, sess in sessions.items():
            t1 = time.time()
            zs[v] = logits(sess, x)
            out[v] = report(rows, zs[v], wf, manifest)
            out[v]["inference_s"] = round(time.time() - t1, 1)
            if v != "fp32" and "fp32" in zs:
                d = np.abs(zs[v] - zs["fp32"])
                out[v]["logit_dev_vs_fp32"] = {"max_abs": float(d.max()) if len(d) else 0.0,
                                               "mean_abs": float(d.mean()) if len(d) else 0.0}
        results["sets"][name] = {"features_s": round(t_feat, 1), "variants": out}
        for v, r in out.items():
            ps = ", ".join(f"{s} {q['eer'] * 100:.1f}" for s, q in r["per_system"].items())
            print(f"{name} {v}: files {r['scored_files']}/{r['files']} EER {r['eer'] * 100:.2f}% "
                  f"AUC {r['auc']:.4f}; at threshold: bona fide flagged "
                  f"{(r['at_threshold']['bonafide_flagged'] or 0) * 100:.1f}%, spoof missed "
                  f"{(r['at_threshold']['spoof_missed'] or 0) * 100:.1f}% | per system EER %: {ps}",
                  flush=True)
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
