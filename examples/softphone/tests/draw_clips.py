#!/usr/bin/env python3
"""Draws the real-call test's clips from the detector's test split (seeded,
not picked by score): one clean clip of 2-4 s from each of four bona fide
packages and four synthetic systems of different kinds, copied byte for byte
into clips/ with their manifest rows (clips/clips.csv).

    python3 examples/softphone/tests/draw_clips.py --corpus /work/corpus

--corpus is models/recipe/build_corpus.py's output (manifest.csv, clips/).
"""

from __future__ import annotations

import argparse
import csv
import random
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "clips"
# Wideband real sources (played into 16 kHz G.722 calls as recorded) and one
# 8 kHz telephone prompt package; TTS (neural, formant, unit selection) and
# an LPC vocoder (WORLD has no clean 2-4 s test clip).
REAL = ["tuxpaint-stamps-default", "klettres-data", "ktuberling-data", "asterisk-prompt-es-co"]
SYNTHETIC = ["piper", "espeak", "flite-rms", "lpc"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", required=True, type=Path)
    p.add_argument("--seed", type=int, default=21)
    a = p.parse_args()
    rows = [r for r in csv.DictReader(open(a.corpus / "manifest.csv"))
            if r["split"] == "test" and r["channel"] == "clean" and 2.0 <= float(r["seconds"]) <= 4.0]
    rng = random.Random(a.seed)
    picked = []
    for label, key, names in (("bonafide", "source", REAL), ("spoof", "system", SYNTHETIC)):
        for name in names:
            pool = sorted((r for r in rows if r["label"] == label and r[key] == name), key=lambda r: r["path"])
            if not pool:
                raise SystemExit(f"no clean 2-4 s test clip of {name}")
            picked.append(rng.choice(pool))
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir()
    for r in picked:
        shutil.copyfile(a.corpus / r["path"], OUT / Path(r["path"]).name)
        r["path"] = Path(r["path"]).name
    with open(OUT / "clips.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(picked[0].keys()))
        w.writeheader()
        w.writerows(picked)
    for r in picked:
        print(r["label"], r["source"], r["system"], r["path"], r["seconds"])


if __name__ == "__main__":
    main()
