#!/usr/bin/env python3
"""Cut every corpus clip into 2 s windows (hop 1 s, partial tail dropped, as
libdfd's stream does), compute the `lfb` log energies with features.py once,
and cache them per split:

  <cache>/<split>.feats.npy   float16 [n_windows, F, 201] (F = 60, or 30 for --profile tel), ln(E + 1e-6)
                              (before the global mean/std normalisation)
  <cache>/<split>.meta.npz    per window: file (index into files), start
                              sample, rms_dbfs; per file: path, label (1 =
                              spoof), system, source, speaker, channel
  <cache>/info.json           counts, corpus manifest hash

    python3 models/recipe/prepare.py --corpus /work/corpus --cache <dir> [--jobs 2]

Re-running with an unchanged corpus manifest reuses the cache.
"""

import argparse
import csv
import hashlib
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import features as F  # noqa: E402

SPLITS = ("train", "val", "test")


def read_manifest(corpus):
    with open(Path(corpus) / "manifest.csv", newline="") as f:
        return list(csv.DictReader(f))


def manifest_hash(corpus):
    return hashlib.sha256((Path(corpus) / "manifest.csv").read_bytes()).hexdigest()


_FE = None


def _features_of(args):
    """Worker: windows + log energies of a list of clips."""
    global _FE
    corpus, paths, profile = args
    pr = F.PROFILES[profile]
    if _FE is None:
        _FE = F.Frontend(pr["frontend"], pr["sample_rate"], pr["window"])
    out = []
    for p in paths:
        full = p if os.path.isabs(p) else os.path.join(corpus, p)
        sr, x = F.read_wav(full)
        if sr != pr["sample_rate"]:
            raise SystemExit(f"{full}: {sr} Hz, expected {pr['sample_rate']}")
        w = F.frame_windows(x, pr["window"], pr["hop"])
        if len(w) == 0:
            out.append((np.zeros((0, *_FE.shape), np.float16), np.zeros(0), 0))
            continue
        e = _FE.log_energies(w).astype(np.float16)
        out.append((e, F.window_rms_dbfs(w), len(x)))
    return out


def compute_files(corpus, paths, jobs, profile="wide", log_every=2000):
    """Features of every clip in `paths`, in order: list of (feats, rms, n)."""
    chunks = [paths[i:i + 64] for i in range(0, len(paths), 64)]
    results = []
    t0 = time.time()
    if jobs <= 1:
        it = map(_features_of, [(corpus, c, profile) for c in chunks])
    else:
        ex = ProcessPoolExecutor(jobs)
        it = ex.map(_features_of, [(corpus, c, profile) for c in chunks])
    done = 0
    for r in it:
        results.extend(r)
        done += len(r)
        if done // log_every != (done - len(r)) // log_every:
            print(f"  {done}/{len(paths)} clips, {time.time() - t0:.0f} s", flush=True)
    if jobs > 1:
        ex.shutdown()
    return results


def prepare(corpus, cache, jobs=2, force=False, profile="wide"):
    cache = Path(cache)
    cache.mkdir(parents=True, exist_ok=True)
    h = manifest_hash(corpus)
    info_path = cache / "info.json"
    if not force and info_path.exists():
        info = json.loads(info_path.read_text())
        if info.get("manifest_sha256") == h and info.get("profile", "wide") == profile and all(
                (cache / f"{s}.feats.npy").exists() for s in SPLITS):
            print(f"feature cache {cache} is current")
            return info
    t0 = time.time()
    rows = read_manifest(corpus)
    pr = F.PROFILES[profile]
    shape = F.Frontend(pr["frontend"], pr["sample_rate"], pr["window"]).shape
    info = {"corpus": str(corpus), "manifest_sha256": h, "profile": profile,
            "frontend": pr["frontend"], "sample_rate": pr["sample_rate"],
            "window": pr["window"], "hop": pr["hop"], "splits": {}}
    for split in SPLITS:
        srows = [r for r in rows if r["split"] == split]
        print(f"{split}: {len(srows)} clips", flush=True)
        res = compute_files(corpus, [r["path"] for r in srows], jobs, profile)
        n_win = sum(len(e) for e, _, _ in res)
        feats = np.lib.format.open_memmap(cache / f"{split}.feats.npy.tmp", mode="w+",
                                          dtype=np.float16, shape=(n_win, *shape))
        wfile = np.empty(n_win, np.int32)
        wstart = np.empty(n_win, np.int32)
        wrms = np.empty(n_win, np.float32)
        k = 0
        for i, (e, rms, _) in enumerate(res):
            n = len(e)
            feats[k:k + n] = e
            wfile[k:k + n] = i
            wstart[k:k + n] = np.arange(n) * pr["hop"]
            wrms[k:k + n] = rms
            k += n
        feats.flush()
        del feats
        os.replace(cache / f"{split}.feats.npy.tmp", cache / f"{split}.feats.npy")
        col = lambda c: np.array([r.get(c, "") for r in srows])  # noqa: E731
        np.savez(cache / f"{split}.meta.npz", win_file=wfile, start=wstart, rms_dbfs=wrms,
                 path=col("path"), label=(col("label") == "spoof").astype(np.int8),
                 system=col("system"), source=col("source"), speaker=col("speaker"),
                 channel=col("channel"), language=col("language"),
                 n_samples=np.array([n for _, _, n in res], np.int64))
        lab = (col("label") == "spoof")
        info["splits"][split] = {
            "files": len(srows), "spoof_files": int(lab.sum()),
            "bonafide_files": int((~lab).sum()), "windows": int(n_win),
            "spoof_windows": int(lab[wfile].sum()) if n_win else 0,
            "hours": round(float(sum(float(r["seconds"]) for r in srows)) / 3600, 3),
            "systems": sorted(set(col("system")[lab].tolist())),
        }
        print(f"  {split}: {n_win} windows", flush=True)
    info["seconds"] = round(time.time() - t0, 1)
    info_path.write_text(json.dumps(info, indent=2) + "\n")
    return info


def load_split(cache, split):
    """(feats memmap f16 [N,60,201], meta dict)."""
    cache = Path(cache)
    feats = np.load(cache / f"{split}.feats.npy", mmap_mode="r")
    meta = dict(np.load(cache / f"{split}.meta.npz"))
    return feats, meta


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--cache", required=True)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--force", action="store_true")
    ap.add_argument("--profile", default="wide", choices=sorted(F.PROFILES),
                    help="front end: wide = 16 kHz default model, tel = 8 kHz telephone model")
    a = ap.parse_args()
    info = prepare(a.corpus, a.cache, a.jobs, a.force, a.profile)
    print(json.dumps({k: v for k, v in info.items() if k != "frontend"}, indent=2))


if __name__ == "__main__":
    main()
