from __future__ import annotations

import wave
from pathlib import Path
from typing import Tuple

import numpy as np
import pytest

import dfd

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = sorted((ROOT / "samples").glob("*.wav"))


def read_wav(path: Path) -> Tuple[int, int, np.ndarray]:
    """(rate, channels, int16 samples shaped (frames, channels))."""
    with wave.open(str(path), "rb") as w:
        assert w.getsampwidth() == 2, f"{path}: 16-bit PCM only"
        rate, channels = w.getframerate(), w.getnchannels()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.int16)
    return rate, channels, pcm.reshape(-1, channels)


@pytest.fixture(scope="session")
def model() -> dfd.Model:
    # The CPU backend by name: with the onnxruntime wheel installed, `auto`
    # may pick ort, and these tests compare with the Rust API and `dfd scan`
    # on cpu.
    return dfd.Model.builtin(backend="cpu")
