"""numpy reimplementation of libdfd's `lfb` front end (src/frontend/), per
analysis window, exactly as the Rust code computes it.

Model config (models/recipe): 16 kHz, window 32000 samples (2.0 s), hop
16000; per window: periodic Hann (f64) of n_fft = win_length = 512, centre
padding of n_fft/2 zeros on each side *inside the window*, hop 160 ->
1 + 32000/160 = 201 frames; |X|^2 computed in f64 and rounded to f32;
linear triangular filterbank of 60 filters over 0..8000 Hz (peak 1, no area
normalisation, weights f32); ln(x + 1e-6) in f32; (x - mean) / std.
Layout [n_filters, n_frames] (frequency major), like the Rust front end.

Rounding follows the Rust code: windowing + FFT in f64, power to f32,
filterbank sums and log in f32. Agreement with Rust is checked to 1e-4 by
tests/recipe_features.rs (fixture from make_feature_fixture.py).
"""

import numpy as np

SAMPLE_RATE = 16000
WINDOW = 32000
HOP = 16000

# Keys as src/frontend/config.rs accepts them; `mean`/`std` are filled in by
# train.py from the training windows.
FRONTEND = {
    "type": "lfb",
    "n_fft": 512,
    "win_length": 512,
    "hop_length": 160,
    "window": "hann",
    "periodic": True,
    "center": True,
    "pad_mode": "constant",
    "power": 2.0,
    "n_filters": 60,
    "fmin": 0.0,
    "fmax": 8000.0,
    "log": "ln",
    "log_offset": 1e-6,
    "mean": 0.0,
    "std": 1.0,
}


# The telephone model's front end: the same analysis at 8 kHz (n_fft 256 =
# 32 ms, hop 80 = 10 ms, 30 linear filters over 0..4000 Hz: the same 66.7 Hz
# filter spacing as the wideband model's) -> [30, 201] per 2 s window.
TEL_FRONTEND = dict(FRONTEND, n_fft=256, win_length=256, hop_length=80, n_filters=30,
                    fmax=4000.0)

# Issue 14's lever 3: the full-resolution log power spectrum, as `lfb` with
# 255 filters over 0..8000 Hz. Their edges fall on the 31.25 Hz bins of the
# 512-point FFT, so filter k is bin k alone (bins 1..255): the harmonic fine
# structure that vocoders and Griffin-Lim disturb, which 60 bands average.
FINE_FRONTEND = dict(FRONTEND, n_filters=255)

# Issue 14's lever 3, phase: the wideband `lfb` rows, then as many rows of
# phase coherence over the same filters (`"phase": "coherence"`, see
# `phase_coherence`): [120, 201], which net.py's arch cnnp reads as two
# channels of [60, 201]. A recipe-only experiment: libdfd has no such front
# end (the protocol found no gain, so none ships; the model card's lever 3).
PHASE_FRONTEND = dict(FRONTEND, phase="coherence")

# Feature profiles: one per shipped model (prepare.py --profile), and the
# lever-3 candidates "fine" (net.py arch cnnf) and "phase" (arch cnnp).
PROFILES = {
    "wide": {"sample_rate": SAMPLE_RATE, "window": WINDOW, "hop": HOP, "frontend": FRONTEND},
    "tel": {"sample_rate": 8000, "window": 16000, "hop": 8000, "frontend": TEL_FRONTEND},
    "fine": {"sample_rate": SAMPLE_RATE, "window": WINDOW, "hop": HOP, "frontend": FINE_FRONTEND},
    "phase": {"sample_rate": SAMPLE_RATE, "window": WINDOW, "hop": HOP, "frontend": PHASE_FRONTEND},
}


def n_frames(cfg=FRONTEND, window=WINDOW):
    pad = cfg["n_fft"] // 2 if cfg["center"] else 0
    return 1 + (window + 2 * pad - cfg["n_fft"]) // cfg["hop_length"]


def hann(n, periodic=True):
    """scipy.signal.get_window('hann', n, fftbins=periodic), f64 (window.rs)."""
    if n <= 1:
        return np.ones(n)
    denom = n if periodic else n - 1
    k = np.arange(n, dtype=np.float64)
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * k / denom)


def linear_filterbank(sr, n_fft, n_filters, fmin, fmax):
    """Filterbank::linear in filterbank.rs: triangles on numpy-linspace edges,
    evaluated at rfftfreq bins, built in f64 and stored as f32."""
    edges = np.linspace(fmin, fmax, n_filters + 2)
    step = 1.0 / (n_fft * (1.0 / sr))
    freqs = np.arange(n_fft // 2 + 1, dtype=np.float64) * step
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = -(lo - freqs[None, :]) / (mid - lo)
    falling = (hi - freqs[None, :]) / (hi - mid)
    return np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)


class Frontend:
    """Features of whole windows; `compute_batch` takes [B, window] f32."""

    def __init__(self, cfg=FRONTEND, sample_rate=SAMPLE_RATE, window=WINDOW):
        assert cfg["type"] == "lfb" and cfg["window"] == "hann"
        assert cfg["pad_mode"] == "constant" and cfg["power"] == 2.0 and cfg["log"] == "ln"
        assert cfg.get("pre_emphasis") is None
        assert cfg.get("phase") in (None, "coherence")
        self.phase = cfg.get("phase") == "coherence"
        self.cfg = dict(cfg)
        self.window = window
        self.n_fft = cfg["n_fft"]
        self.hop = cfg["hop_length"]
        self.pad = self.n_fft // 2 if cfg["center"] else 0
        self.n_frames = n_frames(cfg, window)
        wl = cfg.get("win_length", self.n_fft)
        w = hann(wl, cfg.get("periodic", True))
        left = (self.n_fft - wl) // 2
        self.win = np.zeros(self.n_fft)
        self.win[left:left + wl] = w
        fmax = cfg.get("fmax") or sample_rate / 2
        self.fb = linear_filterbank(sample_rate, self.n_fft, cfg["n_filters"], cfg["fmin"], fmax)
        self.offset = np.float32(cfg["log_offset"])
        self.mean = np.float32(cfg["mean"])
        self.std = np.float32(cfg["std"])

    @property
    def shape(self):
        return (self.fb.shape[0] * (2 if self.phase else 1), self.n_frames)

    def log_energies(self, x, chunk=16):
        """ln(filterbank energies + offset), then with `phase` the phase
        coherence rows, before mean/std: [B, F, T] f32."""
        x = np.asarray(x, np.float32)
        if x.ndim == 1:
            x = x[None]
        assert x.shape[1] == self.window, x.shape
        if len(x) > chunk:  # small batches stay in cache
            return np.concatenate([self.log_energies(x[i:i + chunk], chunk)
                                   for i in range(0, len(x), chunk)])
        padded = np.zeros((x.shape[0], self.window + 2 * self.pad), np.float32)
        padded[:, self.pad:self.pad + self.window] = x
        view = np.lib.stride_tricks.sliding_window_view(padded, self.n_fft, axis=-1)
        frames = view[:, ::self.hop][:, :self.n_frames] * self.win  # [B, T, n_fft] f64
        spec = np.fft.rfft(frames, axis=-1)
        power = (spec.real ** 2 + spec.imag ** 2).astype(np.float32)  # [B, T, bins]
        e = np.einsum("fk,btk->bft", self.fb, power, dtype=np.float32, optimize=True)
        e = np.log(e + self.offset, dtype=np.float32)
        if self.phase:
            e = np.concatenate([e, phase_coherence(spec, self.fb)], axis=1)
        return e

    def compute_batch(self, x):
        e = self.log_energies(x)
        return ((e - self.mean) / self.std).astype(np.float32)

    def compute(self, window):
        return self.compute_batch(window[None])[0]


# Added to the denominator of the coherence: a band whose weight is below
# it (digital silence) reads as 0, neither coherent nor random.
COHERENCE_FLOOR = 1e-12


def phase_coherence(spec, fb):
    """How steadily each filter's partials advance in phase: [B, F, T] f32.

    Per bin, z_t = X_t * conj(X_{t-1})^2 * X_{t-2} has the phase's second
    difference over frames as its angle (a steady partial advances by the
    same angle every hop, so it reads 0 whatever its frequency) and
    |X_t| |X_{t-1}|^2 |X_{t-2}| as its weight. A filter's row is
    sum_k w_fk Re z_k / (sum_k w_fk |z_k| + COHERENCE_FLOOR), in [-1, 1]:
    near 1 where strong partials run on, near 0 where the phase is random
    (phase randomisation, noise); frames 0 and 1, which lack two
    predecessors in the window, repeat frame 2. In f64, rounded to f32.
    spec: [B, T, bins] complex128 (the window's STFT); fb: [F, bins]."""
    z = spec[:, 2:] * np.conj(spec[:, 1:-1]) ** 2 * spec[:, :-2]  # [B, T-2, bins]
    w = fb.astype(np.float64)
    num = np.einsum("fk,btk->bft", w, z.real, optimize=True)
    den = np.einsum("fk,btk->bft", w, np.abs(z), optimize=True)
    c = num / (den + COHERENCE_FLOOR)
    c = np.concatenate([c[:, :, :1], c[:, :, :1], c], axis=2)
    return c.astype(np.float32)


def frame_windows(samples, window=WINDOW, hop=HOP):
    """Full windows at 0, hop, 2*hop, ... as libdfd's stream forms them (a
    partial tail is dropped; files shorter than a window: none)."""
    n = 0 if len(samples) < window else 1 + (len(samples) - window) // hop
    if n == 0:
        return np.zeros((0, window), np.float32)
    idx = np.arange(n)[:, None] * hop + np.arange(window)[None, :]
    return np.asarray(samples, np.float32)[idx]


def window_rms_dbfs(w):
    """RMS of each window in dBFS (the stream's gate uses f32 RMS)."""
    rms = np.sqrt(np.mean(np.asarray(w, np.float32) ** 2, axis=-1, dtype=np.float32))
    return 20.0 * np.log10(np.maximum(rms, 1e-12))


def read_wav(path):
    """16-bit PCM mono WAV -> (rate, f32 samples / 32768)."""
    import soundfile as sf
    x, sr = sf.read(path, dtype="int16", always_2d=True)
    return sr, (x[:, 0].astype(np.float32) / np.float32(32768.0))
