#!/usr/bin/env python3
"""Shortcut audit: can a trivial classifier tell the classes apart from a
nuisance alone?

For every clip of the chosen splits, one number per nuisance is measured
from the finished WAV (what the detector sees):

  lead_sil_s / trail_sil_s  leading / trailing time below (clip peak frame
                            energy - 40 dB), 10 ms frames
  rms_dbfs                  loudness
  dc                        mean sample value (DC offset)
  rolloff95_hz              95 % spectral roll-off (bandwidth)
  hf_4k8k_db                energy share above 4 kHz (band-limiting)
  hf_5k5_db                 energy share above 5.5 kHz (an 11 kHz MP3
                            source has none)
  floor_db                  5th percentile of 20 ms frame energies (noise
                            floor, digital silence)
  hole_frac                 fraction of STFT cells below -90 dB re. the
                            clip peak (perceptual-codec spectral holes)
  zero_run                  longest run of exact zero samples

A one-feature classifier is a threshold on that feature; its EER is
computed both ways (feature up = spoof, feature down = spoof) and the
better one is reported, so 50 % means no cue and 0 % a perfect shortcut.
"all nuisances" is a class-balanced logistic regression on all of them,
fitted on the train split and scored on the evaluation split.

    python3 models/recipe/shortcut_audit.py --corpus /work/corpus [--split test] [--json out.json]
"""

import argparse
import csv
import json
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import metrics  # noqa: E402

NAMES = ["lead_sil_s", "trail_sil_s", "rms_dbfs", "dc", "rolloff95_hz", "hf_4k8k_db",
         "hf_5k5_db", "floor_db", "hole_frac", "zero_run"]


def nuisances(path):
    import soundfile as sf
    x, sr = sf.read(path, dtype="int16")
    zr = np.concatenate([[0], (x == 0).astype(np.int8), [0]])
    d = np.diff(zr)
    runs = np.flatnonzero(d == -1) - np.flatnonzero(d == 1)
    x = x.astype(np.float64) / 32768.0
    hop = sr // 100
    fr = x[:len(x) // hop * hop].reshape(-1, hop)
    e = 10 * np.log10(np.mean(fr ** 2, axis=1) + 1e-20)
    loud = np.flatnonzero(e > e.max() - 40)
    lead = loud[0] * hop / sr
    trail = (len(e) - 1 - loud[-1]) * hop / sr
    P = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(x), 1 / sr)
    c = np.cumsum(P) / (P.sum() + 1e-20)
    roll = f[min(np.searchsorted(c, 0.95), len(f) - 1)]
    hf4 = 10 * np.log10(P[f >= 4000].sum() / (P.sum() + 1e-20) + 1e-20)
    hf55 = 10 * np.log10(P[f >= 5500].sum() / (P.sum() + 1e-20) + 1e-20)
    fr20 = x[:len(x) // (2 * hop) * 2 * hop].reshape(-1, 2 * hop)
    floor = np.percentile(10 * np.log10(np.mean(fr20 ** 2, axis=1) + 1e-20), 5)
    n = 512
    frames = np.lib.stride_tricks.sliding_window_view(x, n)[::160] * np.hanning(n)
    S = 10 * np.log10(np.abs(np.fft.rfft(frames, axis=1)) ** 2 + 1e-20)
    holes = float(np.mean(S < S.max() - 90))
    return [lead, trail, 10 * np.log10(np.mean(x ** 2) + 1e-20), float(x.mean()), roll, hf4,
            hf55, floor, holes, int(runs.max()) if len(runs) else 0]


def one_feature_eer(v, y):
    up = metrics.eer(v[y == 1], v[y == 0])[0]
    down = metrics.eer(-v[y == 1], -v[y == 0])[0]
    return min(up, down), ("spoof higher" if up <= down else "spoof lower")


def logreg(X, y, iters=300, l2=1e-3):
    """Class-balanced L2 logistic regression by Newton steps (z-scored X)."""
    Xb = np.concatenate([X, np.ones((len(X), 1))], 1)
    w = np.where(y > 0.5, 0.5 / y.sum(), 0.5 / (1 - y).sum())
    th = np.zeros(Xb.shape[1])
    for _ in range(iters):
        p = metrics.sigmoid(Xb @ th)
        g = Xb.T @ (w * (p - y)) + l2 * th
        H = (Xb * (w * p * (1 - p))[:, None]).T @ Xb + l2 * np.eye(len(th))
        step = np.linalg.solve(H, g)
        th -= step
        if np.abs(step).max() < 1e-9:
            break
    return th


def table(corpus, split, jobs):
    with open(Path(corpus) / "manifest.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["split"] == split]
    with Pool(jobs) as pool:
        X = np.array(pool.map(nuisances, [str(Path(corpus) / r["path"]) for r in rows],
                              chunksize=32), np.float64)
    y = np.array([r["label"] == "spoof" for r in rows], np.float64)
    return X, y


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--split", default="test")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--json")
    a = ap.parse_args()
    t0 = time.time()
    Xe, ye = table(a.corpus, a.split, a.jobs)
    Xt, yt = table(a.corpus, "train", a.jobs)
    res = {"split": a.split, "files": int(len(ye)), "spoof": int(ye.sum()), "features": {}}
    print(f"| nuisance | mean bona fide | mean spoof | one-feature EER ({a.split}) | direction |")
    print("|---|---:|---:|---:|---|")
    for i, n in enumerate(NAMES):
        e, d = one_feature_eer(Xe[:, i], ye)
        mb, ms = float(Xe[ye == 0, i].mean()), float(Xe[ye == 1, i].mean())
        res["features"][n] = {"eer": e, "direction": d, "mean_bonafide": mb, "mean_spoof": ms}
        print(f"| {n} | {mb:.4g} | {ms:.4g} | {e * 100:.1f} % | {d} |")
    mu, sd = Xt.mean(0), Xt.std(0) + 1e-12
    th = logreg((Xt - mu) / sd, yt)
    z = np.concatenate([(Xe - mu) / sd, np.ones((len(Xe), 1))], 1) @ th
    e_all = metrics.eer(z[ye == 1], z[ye == 0])[0]
    res["all_logreg_eer"] = e_all
    print(f"| all nuisances (logistic regression, fit on train) | | | {e_all * 100:.1f} % | |")
    res["seconds"] = round(time.time() - t0, 1)
    print(f"({res['files']} files, {time.time() - t0:.0f} s)")
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
