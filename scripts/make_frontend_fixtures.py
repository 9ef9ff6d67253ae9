#!/usr/bin/env python3
"""Reference outputs for the front-end parity test (tests/frontend_parity.rs).

Every spectral case is computed with librosa (the reference the Rust front end
must match), except where librosa is not the reference, computed here in
plain numpy independently of the Rust code:
  * `lfb` / `lfcc`: the ASVspoof 2019/2021 baseline's `LFCC` module
    (project-NN-Pytorch-scripts, sandbox/util_frontend.py): pre-emphasis 0.97,
    torch.stft (centred, zero padded, periodic Hamming), trimf linear
    filterbank, log10(x + float32 eps), DCT-II ortho, `with_energy`, and its
    `delta` (x[t+1] - x[t-1], edges replicated; delta-delta = delta of delta);
  * `whisper`: openai-whisper's `log_mel_spectrogram`, written from its
    formula (torch.stft centre/reflect, periodic Hann 400, hop 160, last frame
    dropped, librosa Slaney mel filters as in mel_filters.npz,
    log10(clamp(x, 1e-10)), max(x, max - 8), (x + 4) / 4);
  * `mfcc`: librosa.feature.mfcc on the mel spectrogram + librosa.feature.delta;
  * `raw` with `fill: repeat`: the AASIST / ASVspoof 2021 loaders' `pad`
    (np.tile, then crop).
With --check-torch (needs torch), the baseline LFCC and Whisper's log-mel are
also run as the original torch code and compared with the numpy references.

Usage:
    python3 scripts/make_frontend_fixtures.py
        re-computes tests/fixtures/frontend/ from the committed WAVs.
    python3 scripts/make_frontend_fixtures.py --check-torch
        also compares the numpy references with torch versions of the
        original code (prints the max differences; writes nothing more).
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
import scipy.fft
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


def lin(a, b, n):
    """A per-row statistic vector for the JSON (short decimals)."""
    return [round(float(v), 3) for v in np.linspace(a, b, n)]


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
    # --- issue 4: the full set of front ends ---------------------------------
    # A 1 s slice of the popular 1025 x 94 CNN input: n_fft 2048 magnitude in
    # dB with ref=np.max, amin 1e-4, top_db 80, global mean/std.
    dict(name="spec_mag_db_refmax_amin", audio="speech_16k.wav", offset=30000, window=16000,
         config={"type": "spectrogram", "n_fft": 2048, "hop_length": 512, "power": 1.0,
                 "db_ref": "max", "amin": 1e-4, "top_db": 80.0, "mean": -45.0, "std": 18.0}),
    # power_to_db with ref 0.5, amin 1e-8, per-bin mean/std vectors.
    dict(name="spec_pow_db_perbin_stats", audio="telephone_8k.wav", offset=3000, window=8000,
         config={"type": "spectrogram", "n_fft": 256, "hop_length": 128, "db_ref": 0.5,
                 "amin": 1e-8, "mean": lin(-70.0, -30.0, 129), "std": lin(8.0, 16.0, 129)}),
    # torch-style log mel: log10(clamp(x, 1e-10)), reflect, HTK, no norm, with
    # librosa deltas of width 9 (orders 1 and 2).
    dict(name="logmel_log10_floor_deltas", audio="speech_16k.wav", offset=6000, window=16000,
         config={"type": "logmel", "n_fft": 400, "hop_length": 160, "n_mels": 40,
                 "pad_mode": "reflect", "mel_scale": "htk", "mel_norm": "none",
                 "log": "log10", "log_floor": 1e-10, "deltas": 2}),
    # ASVspoof 2021 LFCC-LCNN baseline front end: LFCC(320, 160, 512, 16000, 20,
    # with_energy=True), deltas, output (frames, 60) as the model consumes it.
    dict(name="lfcc_asvspoof2021", audio="speech_16k.wav", offset=10000, window=32000,
         config={"type": "lfcc", "n_fft": 512, "win_length": 320, "hop_length": 160,
                 "window": "hamming", "pre_emphasis": 0.97, "n_filters": 20,
                 "with_energy": True, "deltas": 2, "log": "log10", "log_offset": EPS_F32,
                 "layout": "time_major"}),
    # LFCC without energy, 30 coefficients of 60 filters, no deltas, 8 kHz.
    dict(name="lfcc_8k_30of60", audio="telephone_8k.wav", offset=1000, window=16000,
         config={"type": "lfcc", "n_fft": 256, "win_length": 200, "hop_length": 80,
                 "window": "hamming", "pre_emphasis": 0.97, "n_filters": 60, "n_lfcc": 30,
                 "log": "log10", "log_offset": EPS_F32}),
    # The baseline's LFB class with energy and deltas.
    dict(name="lfb20_asvspoof_energy_deltas", audio="speech_16k.wav", offset=20000, window=16000,
         config={"type": "lfb", "n_fft": 512, "win_length": 320, "hop_length": 160,
                 "window": "hamming", "pre_emphasis": 0.97, "n_filters": 20,
                 "with_energy": True, "deltas": 2, "log": "log10", "log_offset": EPS_F32}),
    # librosa.feature.mfcc defaults at 22.05 kHz (n_mfcc 20, 128 Slaney mels,
    # power_to_db top_db 80) + delta and delta-delta (width 9).
    dict(name="mfcc_librosa_deltas_22k", audio="speech_22k05.wav", offset=5000, window=22050,
         config={"type": "mfcc", "n_fft": 2048, "hop_length": 512, "n_mels": 128,
                 "deltas": 2}),
    # 13 MFCCs of 40 HTK mels of a magnitude spectrogram, lifter 22, 25 ms
    # Hamming, 20-7600 Hz, delta width 5.
    dict(name="mfcc_htk_lifter_mag", audio="speech_16k.wav", offset=4000, window=16000,
         config={"type": "mfcc", "n_fft": 512, "win_length": 400, "hop_length": 160,
                 "window": "hamming", "power": 1.0, "n_mels": 40, "n_mfcc": 13,
                 "fmin": 20.0, "fmax": 7600.0, "mel_scale": "htk", "mel_norm": "none",
                 "lifter": 22.0, "deltas": 1, "delta_width": 5}),
    # torchaudio.transforms.MFCC(log_mels=True) style: ln(mel + 1e-6), reflect,
    # HTK mels without norm, n_fft 400.
    dict(name="mfcc_ln_reflect", audio="speech_16k.wav", offset=14000, window=16000,
         config={"type": "mfcc", "n_fft": 400, "hop_length": 200, "n_mels": 64,
                 "n_mfcc": 40, "pad_mode": "reflect", "mel_scale": "htk",
                 "mel_norm": "none", "log": "ln"}),
    # Whisper log-mel: 80 bins on a 2 s window, and 128 bins on 0.5 s of audio
    # zero-padded to 2 s (pad_to; 480000 = 30 s in a real Whisper manifest).
    dict(name="whisper80", audio="speech_16k.wav", offset=16000, window=32000,
         config={"type": "whisper", "n_mels": 80}),
    dict(name="whisper128_pad_to", audio="speech_16k.wav", offset=20000, window=8000,
         config={"type": "whisper", "n_mels": 128, "pad_to": 32000}),
    # A short stream (7000 samples) completed to a 16000-sample window by
    # repetition (AASIST's pad), then z-scored.
    dict(name="raw_repeat_short", audio="speech_16k.wav", offset=9000, window=16000,
         input_samples=7000, config={"type": "raw", "normalize": "zscore", "fill": "repeat"}),
]

SPECTRAL_DEFAULTS = dict(window="hann", periodic=True, center=True, pad_mode="constant",
                         power=2.0, pre_emphasis=None, log="db", log_offset=1e-6,
                         db_ref=1.0, top_db=None, mean=0.0, std=1.0, fmin=0.0, fmax=None,
                         mel_scale="slaney", mel_norm="slaney")


def defaults(c):
    """The config with the Rust defaults filled in (log_offset is 0 when a
    log_floor is given)."""
    p = dict(SPECTRAL_DEFAULTS, **c)
    if "log_floor" in c and "log_offset" not in c:
        p["log_offset"] = 0.0
    return p


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


def prepare(p, x):
    """Pre-emphasis and librosa.stft's keyword arguments."""
    n_fft, hop = p["n_fft"], p["hop_length"]
    win_length = p.get("win_length", n_fft)
    y = x
    if p["pre_emphasis"] is not None:
        a = p["pre_emphasis"]
        y = np.concatenate([y[:1], y[1:] - a * y[:-1]])
    win = scipy.signal.get_window(p["window"], win_length, fftbins=p["periodic"])
    stft = dict(n_fft=n_fft, hop_length=hop, win_length=win_length, window=win,
                center=p["center"], pad_mode=p["pad_mode"])
    return y, stft


def spectral(c, x, sr):
    p = defaults(c)
    y, stft = prepare(p, x)
    n_fft = p["n_fft"]
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
    S = log_scale(p, S, db_of_power=False)
    return finish(p, S)


def log_scale(p, S, db_of_power):
    """librosa power_to_db / amplitude_to_db (ref, amin, top_db), or ln / log10
    of x + log_offset, of max(x, log_floor) + log_offset with a floor."""
    if p["log"] == "db":
        ref = np.max if p["db_ref"] == "max" else p["db_ref"]
        if p["power"] == 2.0 or db_of_power:
            return librosa.power_to_db(S, ref=ref, amin=p.get("amin", 1e-10), top_db=p["top_db"])
        return librosa.amplitude_to_db(S, ref=ref, amin=p.get("amin", 1e-5), top_db=p["top_db"])
    if p["log"] == "none":
        return S
    log = np.log if p["log"] == "ln" else np.log10
    if "log_floor" in p:
        return log(np.maximum(S, p["log_floor"]) + p["log_offset"])
    return log(S + p["log_offset"])


def finish(p, S):
    """Deltas (librosa.feature.delta or the ASVspoof baseline's), global
    mean/std (scalars or one value per row), then the layout."""
    S = with_deltas(p, S)
    mean, std = p["mean"], p["std"]
    if isinstance(mean, list):
        mean = np.asarray(mean, dtype=np.float32)[:, None]
    if isinstance(std, list):
        std = np.asarray(std, dtype=np.float32)[:, None]
    S = (S - mean) / std
    return S.T if p.get("layout") == "time_major" else S


def with_deltas(p, S):
    """S: (rows, frames). Appends orders 1..deltas below the rows."""
    n = p.get("deltas", 0)
    if n == 0:
        return S
    asvspoof = p["type"] in ("lfb", "lfcc")
    if p.get("delta_method", "asvspoof" if asvspoof else "librosa") == "asvspoof":
        d1 = asvspoof_delta(S.T).T
        blocks = [S, d1, asvspoof_delta(d1.T).T]
    else:
        w = p.get("delta_width", 9)
        blocks = [S] + [librosa.feature.delta(S, width=w, order=o, mode="interp")
                        for o in (1, 2)]
    return np.concatenate(blocks[:n + 1], axis=0)


def asvspoof_delta(x):
    """The baseline's `delta` on (frames, dim): pad one frame each side by
    replication, then x[t+1] - x[t-1] (written as -x[t-1] + x[t+1] like it)."""
    xp = np.concatenate([x[:1], x, x[-1:]], axis=0)
    return -1 * xp[:-2] + xp[2:]


def baseline_lfcc(c, x, sr):
    """ASVspoof 2019/2021 baseline `LFCC.forward` (flag_for_LFB for `lfb`) in
    f64 numpy: pre-emphasis on the window, torch.stft(n_fft, hop, win_length,
    window=torch.hamming_window(win_length)) - centred, zero padded, window
    zero-padded centrally to n_fft -, |X|^2, trimf filterbank, log10(x + eps),
    DCT-II ortho (lfcc), energy log10(sum |X|^2 / n_fft + eps) into dim 0,
    delta and delta-delta. Returns (dim, frames)."""
    p = defaults(c)
    assert p["log"] == "log10" and p["log_offset"] == EPS_F32 and p["power"] == 2.0
    assert p["pad_mode"] == "constant" and p["center"]
    n_fft, hop = p["n_fft"], p["hop_length"]
    fl = p.get("win_length", n_fft)
    y = x.astype(np.float64)
    if p["pre_emphasis"] is not None:
        y = np.concatenate([y[:1], y[1:] - p["pre_emphasis"] * y[:-1]])
    win = np.zeros(n_fft)
    left = (n_fft - fl) // 2
    win[left:left + fl] = scipy.signal.get_window(p["window"], fl, fftbins=p["periodic"])
    yp = np.pad(y, n_fft // 2)
    n_frames = 1 + y.size // hop
    frames = np.stack([yp[t * hop:t * hop + n_fft] for t in range(n_frames)])
    sp = np.abs(np.fft.rfft(frames * win, axis=1)) ** 2  # (frames, bins)
    fmax = p["fmax"] if p["fmax"] is not None else sr / 2
    fb = lfb_matrix(sr, n_fft, p["n_filters"], p["fmin"], fmax).astype(np.float64)
    feat = np.log10(sp @ fb.T + EPS_F32)
    if c["type"] == "lfcc":
        feat = scipy.fft.dct(feat, type=2, norm="ortho", axis=1)
        feat = feat[:, :p.get("n_lfcc", p["n_filters"])]
    if p.get("with_energy", False):
        feat[:, 0] = np.log10((sp / n_fft).sum(axis=1) + EPS_F32)
    return finish(p, feat.T)


def mfcc(c, x, sr):
    """librosa.feature.mfcc(S=log-mel) (DCT-II ortho, n_mfcc, lifter) of the
    mel spectrogram, with power_to_db (top_db 80 as librosa's default)."""
    p = defaults(c)
    if p["log"] == "db" and "top_db" not in c:
        p["top_db"] = 80.0
    y, stft = prepare(p, x)
    fmax = p["fmax"] if p["fmax"] is not None else sr / 2
    S = librosa.feature.melspectrogram(
        y=y, sr=sr, power=p["power"], n_mels=p["n_mels"], fmin=p["fmin"], fmax=fmax,
        htk=p["mel_scale"] == "htk", norm="slaney" if p["mel_norm"] == "slaney" else None,
        **stft)
    L = log_scale(p, S, db_of_power=True)
    M = librosa.feature.mfcc(S=L, n_mfcc=p.get("n_mfcc", 20), dct_type=2, norm="ortho",
                             lifter=p.get("lifter", 0))
    return finish(p, M)


def whisper(c, x, sr):
    """openai-whisper audio.log_mel_spectrogram, from its formula, in f64."""
    assert sr == 16000
    n_mels, pad_to = c.get("n_mels", 80), c.get("pad_to")
    a = x.astype(np.float64)
    if pad_to:
        a = np.pad(a, (0, pad_to - a.size))  # zeros after the audio
    window = np.hanning(401)[:-1]  # torch.hann_window(400): periodic
    ap = np.pad(a, 200, mode="reflect")  # torch.stft(center=True), reflect
    n_frames = 1 + a.size // 160
    frames = np.stack([ap[t * 160:t * 160 + 400] for t in range(n_frames)])
    stft = np.fft.rfft(frames * window, axis=1)
    magnitudes = np.abs(stft[:-1]).T ** 2  # stft[..., :-1]: last frame dropped
    filters = librosa.filters.mel(sr=16000, n_fft=400, n_mels=n_mels)  # mel_filters.npz
    mel_spec = filters @ magnitudes
    log_spec = np.log10(np.maximum(mel_spec, 1e-10))
    log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
    log_spec = (log_spec + 4.0) / 4.0
    return log_spec.T if c.get("layout") == "time_major" else log_spec


def aasist_pad(x, max_len):
    """The AASIST / ASVspoof 2021 data_utils `pad`: tile, then crop."""
    x_len = x.shape[0]
    if x_len >= max_len:
        return x[:max_len]
    num_repeats = int(max_len / x_len) + 1
    return np.tile(x, (1, num_repeats))[:, :max_len][0]


def reference(c, w, sr):
    t = c["type"]
    if t == "raw":
        return raw(c, w)
    if t == "whisper":
        return whisper(c, w, sr)
    if t == "mfcc":
        return mfcc(c, w, sr)
    if t == "lfcc" or (t == "lfb" and ("with_energy" in c or "deltas" in c)):
        return baseline_lfcc(c, w, sr)
    return spectral(c, w, sr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--audio-from", metavar="DIR")
    ap.add_argument("--check-torch", action="store_true")
    args = ap.parse_args()
    if args.audio_from:
        make_audio(args.audio_from)
    os.makedirs(OUT, exist_ok=True)
    index = []
    for case in CASES:
        x, sr = load(case["audio"])
        off, n = case["offset"], case["window"]
        have = case.get("input_samples", n)
        assert off + n <= x.size, case["name"]
        c = case["config"]
        w = x[off:off + have]
        if have < n:
            assert c.get("fill") == "repeat"
            w = aasist_pad(w, n)
        y = reference(c, w, sr)
        y = np.ascontiguousarray(y, dtype="<f4")
        assert np.all(np.isfinite(y)), case["name"]
        fname = case["name"] + ".bin"
        y.tofile(os.path.join(OUT, fname))
        entry = dict(name=case["name"], config=c, sample_rate=sr, window_samples=n,
                     audio=case["audio"], offset=off, output_shape=list(y.shape),
                     expected=fname)
        if have < n:
            entry["input_samples"] = have
        index.append(entry)
        print(f"{case['name']:32s} {str(y.shape):14s} range [{y.min():.4g}, {y.max():.4g}]")
    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump(dict(generator="scripts/make_frontend_fixtures.py",
                       librosa=librosa.__version__, numpy=np.__version__, cases=index),
                  f, indent=1)
        f.write("\n")
    if args.check_torch:
        check_torch()


def check_torch():
    """The original torch code of the baseline LFCC and of Whisper against the
    numpy references above, on every lfcc / whisper case."""
    import torch
    import torch.nn.functional as F

    def t_delta(x):  # baseline delta, (batch, length, dim)
        length = x.shape[1]
        x_temp = F.pad(x.unsqueeze(1), (0, 0, 1, 1), "replicate").squeeze(1)
        return -1 * x_temp[:, 0:length] + x_temp[:, 2:]

    def t_lfcc(c, x, sr):
        p = defaults(c)
        fl, fs, fn = p["win_length"], p["hop_length"], p["n_fft"]
        f = (sr / 2) * torch.linspace(0, 1, fn // 2 + 1)
        bands = torch.linspace(min(f), max(f), p["n_filters"] + 2)
        fb = torch.zeros([fn // 2 + 1, p["n_filters"]])
        for i in range(p["n_filters"]):
            a, b, cc = bands[i], bands[i + 1], bands[i + 2]
            y = torch.zeros_like(f)
            idx = torch.logical_and(a < f, f < b)
            y[idx] = (f[idx] - a) / (b - a)
            idx = torch.logical_and(b < f, f < cc)
            y[idx] = (cc - f[idx]) / (cc - b)
            y[f == b] = 1
            fb[:, i] = y
        xt = torch.from_numpy(x.copy())[None]
        xt[:, 1:] = xt[:, 1:] - 0.97 * xt[:, 0:-1]
        st = torch.stft(xt, fn, fs, fl, window=torch.hamming_window(fl), onesided=True,
                        pad_mode="constant", return_complex=True)
        sp = st.abs().pow(2).permute(0, 2, 1).contiguous()
        feat = torch.log10(torch.matmul(sp, fb) + torch.finfo(torch.float32).eps)
        if c["type"] == "lfcc":
            n = p["n_filters"]
            k = torch.arange(n, dtype=torch.float64)[:, None]
            m = torch.arange(n, dtype=torch.float64)[None, :]
            dct = torch.cos(np.pi * k * (2 * m + 1) / (2 * n)) * np.sqrt(2.0 / n)
            dct[0] /= np.sqrt(2.0)
            feat = (feat @ dct.T.float())[:, :, :p.get("n_lfcc", n)]
        if p.get("with_energy"):
            feat[:, :, 0] = torch.log10((sp / fn).sum(axis=2) + torch.finfo(torch.float32).eps)
        if p.get("deltas"):
            d1 = t_delta(feat)
            feat = torch.cat((feat, d1, t_delta(d1)), 2)
        out = feat[0].numpy()  # (frames, dim)
        return out if p.get("layout") == "time_major" else out.T

    def t_whisper(c, x, sr):
        audio = torch.from_numpy(x.copy())
        if c.get("pad_to"):
            audio = F.pad(audio, (0, c["pad_to"] - audio.shape[0]))
        window = torch.hann_window(400)
        stft = torch.stft(audio, 400, 160, window=window, return_complex=True)
        magnitudes = stft[..., :-1].abs() ** 2
        filters = torch.from_numpy(librosa.filters.mel(sr=16000, n_fft=400,
                                                       n_mels=c.get("n_mels", 80)))
        mel_spec = filters @ magnitudes
        log_spec = torch.clamp(mel_spec, min=1e-10).log10()
        log_spec = torch.maximum(log_spec, log_spec.max() - 8.0)
        return ((log_spec + 4.0) / 4.0).numpy()

    for case in CASES:
        c = case["config"]
        if c["type"] not in ("lfcc", "whisper") and "with_energy" not in c:
            continue
        x, sr = load(case["audio"])
        w = x[case["offset"]:case["offset"] + case["window"]]
        ref = reference(c, w, sr)
        got = (t_whisper if c["type"] == "whisper" else t_lfcc)(c, w, sr)
        err = np.max(np.abs(got - ref))
        print(f"torch vs numpy {case['name']:32s} max abs diff {err:.2e} "
              f"(peak {np.max(np.abs(ref)):.3g})")


if __name__ == "__main__":
    sys.exit(main())
