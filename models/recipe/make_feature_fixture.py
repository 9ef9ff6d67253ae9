#!/usr/bin/env python3
"""Fixture proving that models/recipe/features.py (what the model was trained
on) and libdfd's Rust `lfb` front end compute the same features.

Writes tests/fixtures/recipe/:
  features.json          config, cases, shapes
  input.f32le.bin        speech_16k.wav samples 0..48000 (f32 = i16 / 32768)
  <case>.f32le.bin       features.py output per case, [60, 201] row-major

Cases: window 0 (samples 0..32000), window 1 (16000..48000), and window 1
scaled by 1e-3 in f32 (quiet input, where log_offset matters). Checked by
tests/recipe_features.rs (max |diff| <= 1e-4).

    python3 models/recipe/make_feature_fixture.py
"""

import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
import features as F  # noqa: E402

OUT = ROOT / "tests" / "fixtures" / "recipe"
# Normalisation of the shipped model's order of magnitude (the exact values
# come from training; any values exercise the same code).
MEAN, STD = -6.5, 3.25


def main():
    sr, x = F.read_wav(ROOT / "tests" / "fixtures" / "audio" / "speech_16k.wav")
    assert sr == F.SAMPLE_RATE
    seg = x[:48000].astype(np.float32)
    cfg = dict(F.FRONTEND, mean=MEAN, std=STD)
    fe = F.Frontend(cfg)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "input.f32le.bin").write_bytes(seg.astype("<f4").tobytes())
    cases = []
    for name, off, gain in [("window0", 0, 1.0), ("window1", 16000, 1.0),
                            ("window1_quiet", 16000, 1e-3)]:
        w = seg[off:off + F.WINDOW]
        if gain != 1.0:
            w = w * np.float32(gain)
        feats = fe.compute(w)
        assert feats.shape == (60, 201)
        (OUT / f"{name}.f32le.bin").write_bytes(feats.astype("<f4").tobytes())
        cases.append({"name": name, "offset": off, "gain": gain,
                      "expected": f"{name}.f32le.bin",
                      "min": float(feats.min()), "max": float(feats.max())})
    index = {
        "generator": "models/recipe/make_feature_fixture.py",
        "audio": "audio/speech_16k.wav",
        "input": "input.f32le.bin",
        "input_samples": int(len(seg)),
        "sample_rate": F.SAMPLE_RATE,
        "window_samples": F.WINDOW,
        "frontend": cfg,
        "output_shape": list(fe.shape),
        "tolerance": 1e-4,
        "cases": cases,
    }
    (OUT / "features.json").write_text(json.dumps(index, indent=2) + "\n")
    print(f"wrote {OUT}: {[c['name'] for c in cases]}")


if __name__ == "__main__":
    main()
