#!/usr/bin/env python3
"""Reference outputs for the front-end parity test (tests/frontend_parity.rs).

Every spectral case is computed with librosa (the reference the Rust front end
must match), except `lfb`, which librosa lacks: it is computed here in plain
numpy with the ASVspoof-baseline construction (trimf over linearly spaced edges),
written independently of the Rust code.

Usage:
    python3 scripts/make_frontend_fixtures.py
        re-computes tests/fixtures/frontend/ from the committed WAVs.
    python3 scripts/make_frontend_fixtures.py --audio-from DIR
        first re-creates tests/fixtures/audio/*.wav from the Debian packages
        extracted under DIR (see tests/fixtures/audio/README.md):
            apt-get download asterisk-core-sounds-en-wav fillets-ng-data
            dpkg-deb -x asterisk-core-sounds-en-wav_*.deb DIR
            dpkg-deb -x fillets-ng-data_*.deb DIR

Outputs: tests/fixtures/frontend/cases.json and one little-endian f32 .bin per
case (row-major, shape `output_shape`, frequency-major like librosa's (n, t)).
Deterministic: no randomness; inputs are the committed 16-bit WAVs.
"""
import argparse
import json
import os
import sys

import librosa
import numpy as np
import scipy.signal
import soundfile as sf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AUDIO = os.path.join(ROOT, "tests", "fixtures", "audio")
OUT = os.path.join(ROOT, "tests", "fixtures", "frontend")

FILLETS_CLIP = "usr/share/games/fillets-ng/sound/elk/en/deu-p-trinken0.ogg"
ASTERISK_CLIP = "usr/share/asterisk/sounds/en_US_f_Allison/vm-nobodyavail.wav"


def write_pcm16(path, x, sr):
    sf.write(path, x, sr, subtype="PCM_16")


def make_audio(src):
    """Re-create the committed clips from the extracted Debian packages."""
    os.makedirs(AUDIO, exist_ok=True)
    x, sr = sf.read(os.path.join(src, FILLETS_CLIP), dtype="float64")
    assert sr == 22050 and x.ndim == 1
    # Vorbis decoding overshoots full scale (peak 1.024): scale to a 0.9 peak
    # before quantising to 16 bits so nothing clips.
    x = 0.9 * x / np.max(np.abs(x))
    write_pcm16(os.path.join(AUDIO, "speech_22k05.wav"), x, sr)
    y = librosa.resample(x, orig_sr=sr, target_sr=16000, res_type="soxr_hq")
    y = 0.9 * y / np.max(np.abs(y))
    write_pcm16(os.path.join(AUDIO, "speech_16k.wav"), y, 16000)
    # The telephone prompt is already 8 kHz 16-bit mono: copied sample-exact.
    t, sr = sf.read(os.path.join(src, ASTERISK_CLIP), dtype="int16")
    assert sr == 8000 and t.ndim == 1
    sf.write(os.path.join(AUDIO, "telephone_8k.wav"), t, sr, subtype="PCM_16")


def load(name):
    # int16 / 32768 as float32: exactly what the Rust test's reader produces.
    x, sr = sf.read(os.path.join(AUDIO, name), dtype="int16")
    return x.astype(np.float32) / np.float32(32768.0), sr


# ---------------------------------------------------------------------------
# Cases. `config` is exactly the JSON the Rust side deserialises; fields left
# out take the Rust defaults, which the reference spells out in SPECTRAL_DEFAULTS.

EPS_F32 = float(np.finfo(np.float32).eps)  # ASVspoof LFCC baseline's log floor

CASES = [
    # Raw waveform, half a second of speech.
    dict(name="raw_none", audio="speech_16k.wav", offset=16000, window=8000,
         config={"type": "raw"}),
    dict(name="raw_peak", audio="speech_16k.wav", offset=16000, window=8000,
         config={"type": "raw", "normalize": "peak"}),
    dict(name="raw_zscore", audio="speech_16k.wav", offset=16000, window=8000,
         config={"type": "raw", "normalize": "zscore"}),
    # n_fft 2048 magnitude spectrogram in dB on a 3 s window (the popular CNN
    # detectors' input): amplitude_to_db, top_db 80.
    dict(name="spec_mag_db_top80", audio="speech_16k.wav", offset=4000, window=48000,
         config={"type": "spectrogram", "n_fft": 2048, "hop_length": 512,
                 "power": 1.0, "log": "db", "top_db": 80.0}),
    # Linear values (no log): magnitude spectrogram and power mel energies.
    dict(name="spec_mag_linear_8k", audio="telephone_8k.wav", offset=6000, window=8000,
         config={"type": "spectrogram", "n_fft": 256, "hop_length": 80, "power": 1.0,
                 "log": "none"}),
    dict(name="logmel_power_linear_22k", audio="speech_22k05.wav", offset=30000, window=22050,
         config={"type": "logmel", "n_fft": 1024, "hop_length": 256, "n_mels": 64,
                 "log": "none"}),
    # Power spectrogram, natural log, reflect padding.
    dict(name="spec_pow_ln_reflect", audio="speech_16k.wav", offset=20000, window=16000,
         config={"type": "spectrogram", "n_fft": 512, "hop_length": 160,
                 "pad_mode": "reflect", "log": "ln"}),
    # librosa defaults at the clip's native 22.05 kHz: Slaney mel + Slaney norm, dB.
    dict(name="logmel_slaney_db_22k", audio="speech_22k05.wav", offset=11025, window=44100,
         config={"type": "logmel", "n_fft": 2048, "hop_length": 512, "n_mels": 128}),
    # HTK mel, no norm, ln(x + 1e-6), 20-7600 Hz.
    dict(name="logmel_htk_ln", audio="speech_16k.wav", offset=12000, window=16000,
         config={"type": "logmel", "n_fft": 512, "hop_length": 160, "n_mels": 80,
                 "fmin": 20.0, "fmax": 7600.0, "mel_scale": "htk", "mel_norm": "none",
                 "log": "ln", "log_offset": 1e-6}),
    # 25 ms symmetric Hamming zero-padded into n_fft 512, no centring,
    # magnitude mel in dB (amplitude_to_db).
    dict(name="logmel_hamming_sym_nocenter", audio="speech_16k.wav", offset=8000, window=16000,
         config={"type": "logmel", "n_fft": 512, "win_length": 400, "hop_length": 160,
                 "window": "hamming", "periodic": False, "center": False,
                 "power": 1.0, "n_mels": 40}),
    # Pre-emphasis 0.97, n_fft 400 (not a power of two), reflect padding.
    dict(name="logmel_preemph", audio="speech_16k.wav", offset=24000, window=16000,
         config={"type": "logmel", "n_fft": 400, "hop_length": 160, "n_mels": 64,
                 "pre_emphasis": 0.97, "pad_mode": "reflect"}),
    # Telephone band at its native 8 kHz.
    dict(name="logmel_8k_db_top80", audio="telephone_8k.wav", offset=2000, window=16000,
         config={"type": "logmel", "n_fft": 256, "hop_length": 80, "n_mels": 40,
                 "fmin": 60.0, "fmax": 3800.0, "top_db": 80.0}),
    # Global normalisation (x - mean) / std after log10.
    dict(name="logmel_log10_meanstd", audio="speech_16k.wav", offset=16000, window=32000,
         config={"type": "logmel", "n_fft": 400, "hop_length": 160, "n_mels": 80,
                 "log": "log10", "log_offset": 1e-10, "mean": -4.5, "std": 2.5}),
    # ASVspoof 2019/2021 LFCC baseline front end without the DCT: 20 ms
    # periodic Hamming in n_fft 512, 10 ms hop, pre-emphasis 0.97, 20 linear
    # filters, log10(x + float32 eps).
    dict(name="lfb20_asvspoof", audio="speech_16k.wav", offset=8000, window=32000,
         config={"type": "lfb", "n_fft": 512, "win_length": 320, "hop_length": 160,
                 "window": "hamming", "pre_emphasis": 0.97, "n_filters": 20,
                 "log": "log10", "log_offset": EPS_F32}),
    # 60 linear filters over 100-3800 Hz of telephone speech, dB.
    dict(name="lfb60_8k_db", audio="telephone_8k.wav", offset=4000, window=16000,
         config={"type": "lfb", "n_fft": 512, "hop_length": 128, "n_filters": 60,
                 "fmin": 100.0, "fmax": 3800.0}),
    # 60 filters over the whole band with global normalisation, power 1, ln.
    dict(name="lfb60_16k_mag_ln_meanstd", audio="speech_16k.wav", offset=0, window=48000,
         config={"type": "lfb", "n_fft": 1024, "hop_length": 256, "n_filters": 60,
                 "power": 1.0, "log": "ln", "mean": 1.0, "std": 3.0}),
]

SPECTRAL_DEFAULTS = dict(window="hann", periodic=True, center=True, pad_mode="constant",
                         power=2.0, pre_emphasis=None, log="db", log_offset=1e-6,
                         db_ref=1.0, top_db=None, mean=0.0, std=1.0, fmin=0.0, fmax=None,
                         mel_scale="slaney", mel_norm="slaney")


def raw(c, x):
    mode = c.get("normalize", "none")
    if mode == "peak":
        peak = np.max(np.abs(x))
        return x / peak if peak > 0 else x
    if mode == "zscore":
        # transformers' Wav2Vec2FeatureExtractor.zero_mean_unit_var_norm
        return (x - x.mean()) / np.sqrt(x.var() + 1e-7)
    return x


def lfb_matrix(sr, n_fft, n_filters, fmin, fmax):
    """ASVspoof LFCC baseline `linear_fb`/`trimf`, generalised to [fmin, fmax]."""
    f = (sr / 2) * np.linspace(0, 1, n_fft // 2 + 1)
    bands = np.linspace(fmin, fmax, n_filters + 2)
    fb = np.zeros((n_filters, f.size))
    for i in range(n_filters):
        a, b, c = bands[i], bands[i + 1], bands[i + 2]
        rise = (f > a) & (f < b)
        fb[i, rise] = (f[rise] - a) / (b - a)
        fall = (f > b) & (f < c)
        fb[i, fall] = (c - f[fall]) / (c - b)
        fb[i, f == b] = 1.0
    return fb.astype(np.float32)


def spectral(c, x, sr):
    p = dict(SPECTRAL_DEFAULTS, **c)
    n_fft, hop = p["n_fft"], p["hop_length"]
    win_length = p.get("win_length", n_fft)
    y = x
    if p["pre_emphasis"] is not None:
        a = p["pre_emphasis"]
        y = np.concatenate([y[:1], y[1:] - a * y[:-1]])
    win = scipy.signal.get_window(p["window"], win_length, fftbins=p["periodic"])
    stft = dict(n_fft=n_fft, hop_length=hop, win_length=win_length, window=win,
                center=p["center"], pad_mode=p["pad_mode"])
    fmax = p["fmax"] if p["fmax"] is not None else sr / 2
    if c["type"] == "spectrogram":
        S = np.abs(librosa.stft(y, **stft)) ** p["power"]
    elif c["type"] == "logmel":
        S = librosa.feature.melspectrogram(
            y=y, sr=sr, power=p["power"], n_mels=p["n_mels"], fmin=p["fmin"], fmax=fmax,
            htk=p["mel_scale"] == "htk", norm="slaney" if p["mel_norm"] == "slaney" else None,
            **stft)
    else:  # lfb
        S = np.abs(librosa.stft(y, **stft)) ** p["power"]
        S = lfb_matrix(sr, n_fft, p["n_filters"], p["fmin"], fmax) @ S
    if p["log"] == "db":
        if p["power"] == 2.0:
            S = librosa.power_to_db(S, ref=p["db_ref"], amin=1e-10, top_db=p["top_db"])
        else:
            S = librosa.amplitude_to_db(S, ref=p["db_ref"], amin=1e-5, top_db=p["top_db"])
    elif p["log"] == "ln":
        S = np.log(S + p["log_offset"])
    elif p["log"] == "log10":
        S = np.log10(S + p["log_offset"])
    return (S - p["mean"]) / p["std"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--audio-from", metavar="DIR")
    args = ap.parse_args()
    if args.audio_from:
        make_audio(args.audio_from)
    os.makedirs(OUT, exist_ok=True)
    index = []
    for case in CASES:
        x, sr = load(case["audio"])
        off, n = case["offset"], case["window"]
        assert off + n <= x.size, case["name"]
        w = x[off:off + n]
        c = case["config"]
        y = raw(c, w) if c["type"] == "raw" else spectral(c, w, sr)
        y = np.ascontiguousarray(y, dtype="<f4")
        assert np.all(np.isfinite(y)), case["name"]
        fname = case["name"] + ".bin"
        y.tofile(os.path.join(OUT, fname))
        index.append(dict(name=case["name"], config=c, sample_rate=sr, window_samples=n,
                          audio=case["audio"], offset=off, output_shape=list(y.shape),
                          expected=fname))
        print(f"{case['name']:32s} {str(y.shape):14s} range [{y.min():.4g}, {y.max():.4g}]")
    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump(dict(generator="scripts/make_frontend_fixtures.py",
                       librosa=librosa.__version__, numpy=np.__version__, cases=index),
                  f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    sys.exit(main())
