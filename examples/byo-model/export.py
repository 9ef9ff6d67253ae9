#!/usr/bin/env python3
"""The walkthrough of docs/bring-your-own-model.md, end to end.

1. A PyTorch detector (here a small CNN with seeded random weights; in your
   project: your class and `model.load_state_dict(torch.load(checkpoint))`).
2. Its preprocessing exactly as the training code computes it (librosa).
3. Export to ONNX with a dynamic batch axis.
4. The sidecar manifest that tells libdfd that same preprocessing.
5. Reference scores: the Python preprocessing + onnxruntime on a WAV file,
   window by window as libdfd's stream cuts it, for `dfd scan` to match.

Run from the repository root:  python3 examples/byo-model/export.py
Needs: torch, librosa, onnx, onnxruntime, soundfile (not needed by CI).
"""
import json
from pathlib import Path

import librosa
import numpy as np
import onnxruntime as ort
import soundfile as sf
import torch
from torch import nn

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
WAV = ROOT / "tests/fixtures/audio/speech_16k.wav"

# ---- 1. the detector ---------------------------------------------------
SR, WINDOW, HOP = 16000, 32000, 8000           # 2 s windows every 0.5 s
N_FFT, WIN, HOP_LENGTH, N_MELS = 512, 400, 160, 64
MEAN, STD = -40.0, 20.0                        # global stats of the training features


class Detector(nn.Module):
    """log-mel [1, 64, 201] -> two logits (0: bona fide, 1: synthetic)."""

    def __init__(self):
        super().__init__()
        chans = [1, 16, 32, 64]
        layers = []
        for a, b in zip(chans, chans[1:]):
            layers += [nn.Conv2d(a, b, 3, padding=1), nn.BatchNorm2d(b), nn.ReLU(), nn.MaxPool2d(2)]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(64, 2)

    def forward(self, x):
        return self.head(self.body(x).mean(dim=(2, 3)))


torch.manual_seed(0)
model = Detector().eval()   # yours: model.load_state_dict(torch.load("ckpt.pt"))
with torch.no_grad():       # untrained logits are tiny; spread them so the
    model.head.weight *= 200.0   # parity check below means something


# ---- 2. the preprocessing the model was trained with -------------------
def features(window: np.ndarray) -> np.ndarray:
    mel = librosa.feature.melspectrogram(
        y=window, sr=SR, n_fft=N_FFT, win_length=WIN, hop_length=HOP_LENGTH,
        window="hann", center=True, pad_mode="constant", power=2.0,
        n_mels=N_MELS, htk=False, norm="slaney")
    db = librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=80.0)
    return ((db - MEAN) / STD).astype(np.float32)[None]      # [1, 64, 201]


# ---- 3. export ----------------------------------------------------------
frames = 1 + WINDOW // HOP_LENGTH
dummy = torch.zeros(1, 1, N_MELS, frames)
torch.onnx.export(model, (dummy,), HERE / "detector.onnx", input_names=["features"],
                  output_names=["logits"], dynamic_axes={"features": {0: "N"}, "logits": {0: "N"}},
                  opset_version=17, dynamo=False)

# ---- 4. the sidecar manifest: detector.json beside detector.onnx --------
manifest = {
    "format": "dfd-model/1",
    "name": "byo-logmel-cnn",
    "sample_rate": SR,
    "window": WINDOW,
    "hop": HOP,
    "frontend": {
        "type": "logmel", "n_fft": N_FFT, "win_length": WIN, "hop_length": HOP_LENGTH,
        "window": "hann", "periodic": True, "center": True, "pad_mode": "constant",
        "power": 2.0, "n_mels": N_MELS, "mel_scale": "slaney", "mel_norm": "slaney",
        "log": "db", "amin": 1e-10, "db_ref": 1.0, "top_db": 80.0,
        "mean": MEAN, "std": STD,
    },
    "input_shape": [1, N_MELS, frames],
    "output": {"kind": "logits", "fake_index": 1},
    "calibration": {"scale": 1.0, "bias": 0.0},
    "threshold": 0.5,
    "provenance": {"note": "random weights: a walkthrough, not a detector",
                   "script": "examples/byo-model/export.py"},
}
(HERE / "detector.json").write_text(json.dumps(manifest, indent=2) + "\n")

# ---- 5. reference scores ------------------------------------------------
audio, rate = sf.read(WAV, dtype="float32")
assert rate == SR, "use a file at the model's rate, or resampling differs"
starts = list(range(0, len(audio) - WINDOW + 1, HOP))  # whole windows, then
if len(audio) - (starts[-1] + WINDOW) >= (HOP + 1) // 2:  # one aligned to the end
    starts.append(len(audio) - WINDOW)                 # (manifest end_window)
x = np.stack([features(audio[s:s + WINDOW]) for s in starts])
logits = ort.InferenceSession(str(HERE / "detector.onnx")).run(None, {"features": x})[0]
with torch.no_grad():
    torch_logits = model(torch.from_numpy(x)).numpy()
assert np.abs(logits - torch_logits).max() < 1e-4, "ONNX export differs from PyTorch"
z = logits[:, 1] - logits[:, 0]
reference = {
    "wav": str(WAV.relative_to(ROOT)),
    "windows": [{"start": s / SR, "end": (s + WINDOW) / SR, "p_fake": float(1 / (1 + np.exp(-v)))}
                for s, v in zip(starts, z)],
}
(HERE / "reference.json").write_text(json.dumps(reference, indent=2) + "\n")
print(json.dumps(reference, indent=2))
