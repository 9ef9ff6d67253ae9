#!/usr/bin/env python3
"""Channel copies of the test split for the evaluation protocol.

Every test clip is taken from `<corpus>/clean/test` (the clip after trimming
and loudness normalisation, BEFORE the corpus's random channel chain) and
sent through one fixed channel, the same for both classes. Output in
`dfd eval`'s layout (real/, fake/<system>/), 16 kHz PCM16, so `evaluate.py`
and `dfd eval` read them like `eval/test`:

  eval/test_g711      8 kHz G.711 mu-law (build_corpus.py makes it too)
  eval/test_g711a     8 kHz G.711 A-law
  eval/test_gsm       8 kHz GSM 06.10 (200-3600 Hz band, ffmpeg libgsm)
  eval/test_mp3_32k   MP3 32 kbit/s (build_corpus.py makes it too)
  eval/test_opus_12k  Opus 12 kbit/s (libopus, 16 kHz in)
  eval/test_g722      G.722 64 kbit/s at 16 kHz (ffmpeg's g722: wideband calls)

    python3 models/recipe/channels.py --corpus /work/corpus [--jobs 2]

Existing files are kept (re-running is cheap). The codec chains are
build_corpus.py's own functions, so training and evaluation share them.
"""

import argparse
import csv
import os
import sys
import time
from multiprocessing import Pool
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import build_corpus as bc  # noqa: E402

CHANNELS = ("g711", "g711a", "gsm", "mp3_32k", "opus_12k", "g722")


def apply(x, channel):
    """One fixed channel on a 16 kHz float signal; returns 16 kHz."""
    if channel == "g711":
        return bc.g711_roundtrip(x, "ulaw")
    if channel == "g711a":
        return bc.g711_roundtrip(x, "alaw")
    if channel == "gsm":
        return bc.codec_roundtrip(x, ["-ar", "8000", "-c:a", "libgsm"], "gsm",
                                  af="highpass=f=200,lowpass=f=3600", dec_extra=["-ar", "8000"])
    if channel == "mp3_32k":
        return bc.codec_roundtrip(x, ["-c:a", "libmp3lame", "-b:a", "32k"], "mp3")
    if channel == "opus_12k":
        return bc.codec_roundtrip(x, ["-c:a", "libopus", "-b:a", "12k"], "ogg")
    if channel == "g722":
        return bc.codec_roundtrip(x, ["-c:a", "g722"], "wav")
    raise ValueError(channel)


def job(args):
    import soundfile as sf
    src, dst, channel = args
    if os.path.exists(dst):
        return
    x, sr = sf.read(src, dtype="float64")
    assert sr == bc.SR, (src, sr)
    y = apply(x, channel)
    pk = abs(y).max()
    if pk > 0.99:
        y = y * 0.99 / pk
    bc.write_wav(dst, y)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--channels", default=",".join(CHANNELS))
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    corpus = Path(a.corpus)
    with open(corpus / "manifest.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["split"] == "test"]
    jobs = []
    for ch in a.channels.split(","):
        for r in rows:
            sub = "real" if r["label"] == "bonafide" else f"fake/{r['system']}"
            src = corpus / "clean" / r["path"]
            if src.exists():
                jobs.append((str(src), str(corpus / "eval" / f"test_{ch}" / sub /
                                           os.path.basename(r["path"])), ch))
    t0 = time.time()
    with Pool(a.jobs) as pool:
        for _ in pool.imap_unordered(job, jobs, chunksize=16):
            pass
    print(f"{len(jobs)} channel copies ({len(rows)} test clips) in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
