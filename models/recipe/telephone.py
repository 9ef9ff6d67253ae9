#!/usr/bin/env python3
"""Telephone (8 kHz) corpus for the telephone model, made from the recipe
corpus: every clip of every split, both classes, goes through ONE
telephone channel drawn from the same distribution (seed = hash of the
clip path), on top of whatever channel the clip already had:

  16 kHz -> 8 kHz (soxr HQ), 300-3400 Hz band-pass on half the clips, then
  G.711 mu-law 25 % / A-law 20 % (in-process, audioop), GSM 06.10 20 %,
  Opus narrowband 8 or 12 kbit/s 15 %, G.726 ADPCM 32 kbit/s 10 %,
  linear PCM 10 %; white/pink noise at 30-50 dB SNR on 20 %; -70 dBFS
  dither; PCM16 at 8 kHz.

    python3 models/recipe/telephone.py --corpus /work/corpus --out /work/corpus_tel [--jobs 2]

Writes <out>/clips/... (the corpus's paths) and <out>/manifest.csv (the
corpus's rows, `channel` extended with ">tel-<codec>"). Existing clips are
kept, so a re-run resumes. Train the telephone model on it with
`prepare.py --profile tel` / `train.py --profile tel`.
"""

import argparse
import csv
import os
import subprocess
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import build_corpus as bc  # noqa: E402

TEL_SR = 8000
CODECS = [("g711u", 0.25), ("g711a", 0.20), ("gsm", 0.20), ("opus", 0.15), ("g726", 0.10),
          ("pcm", 0.10)]


def ff_roundtrip8k(x, enc_args, fmt):
    """8 kHz float -> ffmpeg encoder -> decoder -> 8 kHz float, same length."""
    cmd = ["ffmpeg", "-v", "error", "-nostdin", "-f", "f32le", "-ar", str(TEL_SR), "-ac", "1",
           "-i", "pipe:0"] + enc_args + ["-f", fmt, "pipe:1"]
    r = subprocess.run(cmd, input=x.astype(np.float32).tobytes(), capture_output=True)
    if r.returncode != 0:
        raise RuntimeError("encode: " + r.stderr.decode()[-300:])
    y = bc.ff_decode(r.stdout, fmt, sr=TEL_SR)
    return np.pad(y, (0, max(0, len(x) - len(y))))[:len(x)]


def g711_8k(x, law):
    import audioop  # deprecated but present in Python 3.11/3.12
    pcm = np.clip(np.round(x * 32767), -32768, 32767).astype("<i2").tobytes()
    if law == "u":
        pcm = audioop.ulaw2lin(audioop.lin2ulaw(pcm, 2), 2)
    else:
        pcm = audioop.alaw2lin(audioop.lin2alaw(pcm, 2), 2)
    return np.frombuffer(pcm, dtype="<i2").astype(np.float64) / 32768.0


def telephone(x16, key):
    """One telephone channel on a 16 kHz clip -> (8 kHz signal, tag)."""
    import soxr
    from scipy.signal import butter, sosfilt
    rng = bc.rng_for("tel", key)
    x = soxr.resample(x16, bc.SR, TEL_SR, "HQ")
    tag = []
    if rng.random() < 0.5:
        x = sosfilt(butter(4, [300, 3400], btype="bandpass", fs=TEL_SR, output="sos"), x)
        tag.append("band")
    names = [c for c, _ in CODECS]
    codec = names[int(rng.choice(len(names), p=[w for _, w in CODECS]))]
    pk = np.max(np.abs(x)) + 1e-12
    if pk > 0.99:
        x = x * 0.99 / pk
    if codec == "g711u":
        y = g711_8k(x, "u")
    elif codec == "g711a":
        y = g711_8k(x, "a")
    elif codec == "gsm":
        y = ff_roundtrip8k(x, ["-c:a", "libgsm"], "gsm")
    elif codec == "opus":
        br = int(rng.choice([8, 12]))
        y = ff_roundtrip8k(x, ["-c:a", "libopus", "-b:a", f"{br}k"], "ogg")
        codec = f"opus-{br}k"
    elif codec == "g726":
        y = ff_roundtrip8k(x, ["-c:a", "g726", "-b:a", "32k"], "wav")
    else:
        y = x
    tag.append(codec)
    if rng.random() < 0.2:
        snr = rng.uniform(30, 50)
        n = rng.standard_normal(len(y))
        if rng.random() < 0.5:
            X = np.fft.rfft(n)
            f = np.arange(len(X))
            f[0] = 1
            n = np.fft.irfft(X / np.sqrt(f), n=len(y))
        p = np.sqrt(np.mean(y ** 2)) + 1e-9
        y = y + n / (np.sqrt(np.mean(n ** 2)) + 1e-12) * p * 10 ** (-snr / 20)
        tag.append(f"noise{int(round(snr))}db")
    pk = np.max(np.abs(y))
    if pk > 0.99:
        y = y * 0.99 / pk
    y = y + rng.standard_normal(len(y)) * 10 ** (-70 / 20)
    return y, "tel-" + "+".join(tag)


def job(args):
    import soundfile as sf
    src, dst, key = args
    x, sr = sf.read(src, dtype="float64")
    assert sr == bc.SR, (src, sr)
    y, tag = telephone(x, key)
    if not os.path.exists(dst):
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        q = np.clip(np.round(y * 32767), -32768, 32767).astype(np.int16)
        sf.write(dst + ".tmp.wav", q, TEL_SR, subtype="PCM_16")
        os.replace(dst + ".tmp.wav", dst)
    return key, tag


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    t0 = time.time()
    corpus, out = Path(a.corpus), Path(a.out)
    with open(corpus / "manifest.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    jobs = [(str(corpus / r["path"]), str(out / r["path"]), r["path"]) for r in rows]
    with Pool(a.jobs) as pool:
        tags = dict(pool.imap_unordered(job, jobs, chunksize=16))
    for r in rows:
        r["channel"] = r["channel"] + ">" + tags[r["path"]]
    with open(out / "manifest.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"{len(rows)} telephone clips in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
