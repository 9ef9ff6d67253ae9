#!/usr/bin/env python3
"""Make the architecture fixtures in tests/fixtures/arch/: small, randomly
initialised versions of the detector architectures researchers bring to
libdfd, exported to ONNX with a sidecar manifest, plus the scores their own
Python pipelines give on real speech.

Heavy dependencies (never needed by CI, only to re-make the fixtures):
torch (CPU), transformers, librosa, soxr, soundfile, onnx, onnxruntime.

    pip install transformers            # keeps the installed torch
    python3 scripts/make_arch_models.py                 # all models
    python3 scripts/make_arch_models.py wav2vec2 aasist # some of them
    python3 scripts/make_arch_models.py --clips nb_vit  # re-make the clips too

Nothing is downloaded: every model is built from a small config with fixed
seeds (random weights), so a re-run gives the same numbers (the ONNX bytes
may differ between torch versions).

For each model NAME it writes tests/fixtures/arch/NAME/:
  NAME.onnx       the graph, fixed batch of 1, opset 17
  NAME.json       its sidecar manifest (docs/model-format.md)
  expected.json   per analysis window of tests/fixtures/audio/speech_16k.wav:
                  start sample, raw onnxruntime outputs, the calibrated logit
                  of "synthetic" and p_fake, plus the stream's p_fake

The expected scores come from each model's *own* Python preprocessing
(transformers feature extractors, librosa, the ASVspoof baseline's torch
LFCC, numpy), never from libdfd's code, applied window by window exactly as
libdfd's stream windows audio (src/stream/mod.rs): whole windows at 0, hop,
2·hop, ... while they fit, then one window aligned to the end of the audio
when at least half a hop follows the last (`end_window`); a stream shorter
than one window but at least half of one is completed by the front end's
`fill` rule; windows
whose RMS is below the gate (−60 dBFS) are not scored. tests/architectures.rs
streams the same WAV through libdfd and compares.

The final linear layer of each random network is rescaled (per output unit,
from its inputs on these windows) so that the scores spread over a useful
range instead of sitting at p = 0.5; this is part of making the fixture and
is what gets exported.
"""

import argparse
import json
import math
import sys
from pathlib import Path

import librosa
import numpy as np
import onnx
import onnxruntime as ort
import soundfile as sf
import soxr
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "fixtures" / "arch"
AUDIO = "tests/fixtures/audio/speech_16k.wav"
SR = 16000
OPSET = 17
GATE_DBFS = -60.0
SCRIPT = "scripts/make_arch_models.py"


# --------------------------------------------------------------------------
# Stream windowing, as src/stream/mod.rs does it.

def stream_windows(audio, window, hop, fill):
    """(start, window samples, real samples) of each window libdfd scores."""
    out = []
    n = len(audio)
    min_rms = np.float32(10.0 ** (GATE_DBFS / 20.0))
    if n >= window:
        for s in range(0, n - window + 1, hop):
            out.append((s, audio[s:s + window].copy(), window))
        # end_window: one more window aligned to the end when at least half
        # a hop of audio follows the last one.
        if n - (out[-1][0] + window) >= (hop + 1) // 2:
            out.append((n - window, audio[n - window:].copy(), window))
    elif 2 * n >= window and fill != "none":
        w = np.zeros(window, dtype=np.float32)
        if fill == "repeat":  # np.tile then crop (AASIST / ASVspoof loaders' pad)
            w[:] = np.tile(audio, window // n + 1)[:window]
        else:
            w[:n] = audio
        out.append((0, w, n))
    kept = []
    for s, w, have in out:
        rms = np.sqrt(np.mean(w[:have].astype(np.float32) ** 2))
        if rms >= min_rms:
            kept.append((s, w, have))
    return kept


def fake_logit(output, values):
    kind = output["kind"]
    if kind == "logit":
        return float(values[0])
    if kind == "bonafide_score":
        return -float(values[0])
    f = output["fake_index"]
    if kind == "logits":
        return float(values[f]) - float(values[1 - f])
    if kind == "probs":
        p = min(max(float(values[f]), 1e-7), 1 - 1e-7)
        return math.log(p / (1 - p))
    raise ValueError(kind)


def sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


# --------------------------------------------------------------------------
# Python preprocessing, each in its model's own convention.

def pre_wav2vec2(w):
    """HF Wav2Vec2FeatureExtractor(do_normalize=True): zero mean, unit var."""
    from transformers import Wav2Vec2FeatureExtractor
    fe = Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=SR, padding_value=0.0,
                                  do_normalize=True, return_attention_mask=True)
    return fe(w, sampling_rate=SR, return_tensors="np").input_values[0].astype(np.float32)


def pre_whisper(w):
    """HF WhisperFeatureExtractor with 2 s chunks (pads each window to 32000)."""
    from transformers import WhisperFeatureExtractor
    fe = WhisperFeatureExtractor(feature_size=80, sampling_rate=SR, hop_length=160,
                                 chunk_length=2, n_fft=400)
    return fe(w, sampling_rate=SR, return_tensors="np").input_features[0].astype(np.float32)


def pre_aasist(w):
    # AASIST feeds the raw (repeat-padded) waveform, no normalisation.
    return w.astype(np.float32)


SPEC_MEAN, SPEC_STD = -40.0, 20.0


def pre_spec_db(w):
    """librosa: |STFT| (n_fft 2048, hop 512), amplitude_to_db(ref=np.max,
    top_db=80), then a global mean / std."""
    S = np.abs(librosa.stft(w.astype(np.float32), n_fft=2048, hop_length=512))
    db = librosa.amplitude_to_db(S, ref=np.max, top_db=80.0)
    return ((db - SPEC_MEAN) / SPEC_STD)[None].astype(np.float32)


def pre_effnet(w):
    """librosa log-mel: melspectrogram(n_fft 1024, hop 256, 64 mels) then
    power_to_db(ref=1.0, top_db=80)."""
    M = librosa.feature.melspectrogram(y=w.astype(np.float32), sr=SR, n_fft=1024,
                                       hop_length=256, n_mels=64)
    db = librosa.power_to_db(M, ref=1.0, top_db=80.0)
    return db[None].astype(np.float32)


def pre_peak(w):
    m = np.max(np.abs(w))
    return (w / m if m > 0 else w).astype(np.float32)


def baseline_lfcc(w, fn=512, max_freq=1.0):
    """ASVspoof 2021 LFCC-LCNN front end, the baseline's own torch code
    (project-NN-Pytorch-scripts sandbox/util_frontend.py LFCC: frame 320,
    shift 160, n_fft `fn`, 20 linear filters, with_energy, delta +
    delta-delta, `max_freq`: only the first int(max_freq * (fn/2 + 1)) bins,
    on the grid sr/2 * linspace(0, max_freq, that many), and the energy of
    those bins), on one window. Returns (frames, 60)."""
    fl, fs, nf = 320, 160, 20
    kept = int(max_freq * (fn // 2 + 1))
    f = (SR / 2) * torch.linspace(0, max_freq, kept)
    bands = torch.linspace(min(f), max(f), nf + 2)
    fb = torch.zeros([kept, nf])
    for i in range(nf):
        a, b, c = bands[i], bands[i + 1], bands[i + 2]
        y = torch.zeros_like(f)
        idx = torch.logical_and(a < f, f < b)
        y[idx] = (f[idx] - a) / (b - a)
        idx = torch.logical_and(b < f, f < c)
        y[idx] = (c - f[idx]) / (c - b)
        y[f == b] = 1
        fb[:, i] = y
    x = torch.from_numpy(w.astype(np.float32).copy())[None]
    x[:, 1:] = x[:, 1:] - 0.97 * x[:, 0:-1]
    st = torch.stft(x, fn, fs, fl, window=torch.hamming_window(fl), onesided=True,
                    pad_mode="constant", return_complex=True)
    sp = st.abs().pow(2).permute(0, 2, 1).contiguous()[:, :, :kept]
    fb_feat = torch.log10(torch.matmul(sp, fb) + torch.finfo(torch.float32).eps)
    # baseline LinearDCT(type 'dct', norm 'ortho')
    n = nf
    k = torch.arange(n, dtype=torch.float64)[:, None]
    m = torch.arange(n, dtype=torch.float64)[None, :]
    dct = torch.cos(math.pi * k * (2 * m + 1) / (2 * n)) * math.sqrt(2.0 / n)
    dct[0] /= math.sqrt(2.0)
    feat = fb_feat @ dct.T.float()
    feat[:, :, 0] = torch.log10((sp / fn).sum(axis=2) + torch.finfo(torch.float32).eps)

    def delta(v):
        length = v.shape[1]
        t = F.pad(v.unsqueeze(1), (0, 0, 1, 1), "replicate").squeeze(1)
        return -1 * t[:, 0:length] + t[:, 2:]

    d1 = delta(feat)
    feat = torch.cat((feat, d1, delta(d1)), 2)
    return feat[0].numpy().astype(np.float32)


# --------------------------------------------------------------------------
# Networks.

class HFClassifier(nn.Module):
    """transformers *ForSequenceClassification -> its logits."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.head = model.classifier

    def forward(self, x):
        return self.model(input_values=x).logits


# Both SSL models use the large / XLS-R style feature encoder (layer norm,
# conv bias, pre-norm transformer), as the SSL front ends of deepfake
# detectors (wav2vec2 XLS-R, WavLM Large) do. (The base style's GroupNorm
# without conv bias makes the network blind to the input's scale, so a
# fixture could not tell zscore from no normalisation.)
def build_wav2vec2():
    from transformers import Wav2Vec2Config, Wav2Vec2ForSequenceClassification
    cfg = Wav2Vec2Config(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        conv_dim=(32,) * 7, conv_stride=(5, 2, 2, 2, 2, 2, 2),
        conv_kernel=(10, 3, 3, 3, 3, 2, 2), num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=4, classifier_proj_size=16, num_labels=2,
        feat_extract_norm="layer", do_stable_layer_norm=True, conv_bias=True,
        mask_time_prob=0.0, layerdrop=0.0, attn_implementation="eager")
    return HFClassifier(Wav2Vec2ForSequenceClassification(cfg))


def build_wavlm():
    from transformers import WavLMConfig, WavLMForSequenceClassification
    cfg = WavLMConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        conv_dim=(32,) * 7, conv_stride=(5, 2, 2, 2, 2, 2, 2),
        conv_kernel=(10, 3, 3, 3, 3, 2, 2), num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=4, classifier_proj_size=16, num_labels=2,
        feat_extract_norm="layer", do_stable_layer_norm=True, conv_bias=True,
        num_buckets=32, max_bucket_distance=100, mask_time_prob=0.0, layerdrop=0.0,
        attn_implementation="eager")
    return HFClassifier(WavLMForSequenceClassification(cfg))


class WhisperClassifier(nn.Module):
    """Whisper encoder (from a tiny WhisperModel) + mean over time + linear."""

    def __init__(self, max_source_positions=100):
        super().__init__()
        from transformers import WhisperConfig, WhisperModel
        cfg = WhisperConfig(
            vocab_size=64, num_mel_bins=80, d_model=64, encoder_layers=2,
            encoder_attention_heads=2, encoder_ffn_dim=128, decoder_layers=1,
            decoder_attention_heads=2, decoder_ffn_dim=128,
            max_source_positions=max_source_positions,
            max_target_positions=16, pad_token_id=0, bos_token_id=1, eos_token_id=2,
            decoder_start_token_id=1, attn_implementation="eager")
        self.encoder = WhisperModel(cfg).encoder
        self.head = nn.Linear(64, 1)

    def forward(self, x):
        h = self.encoder(input_features=x).last_hidden_state
        return self.head(h.mean(dim=1))


class SincConv(nn.Module):
    """AASIST's CONV: fixed mel-spaced band-pass sinc filters (Hamming)."""

    def __init__(self, out_channels=30, kernel_size=129, sr=SR):
        super().__init__()
        nfft = 512
        f = int(sr / 2) * np.linspace(0, 1, int(nfft / 2) + 1)
        fmel = 2595 * np.log10(1 + f / 700)
        mel = np.linspace(fmel.min(), fmel.max(), out_channels + 1)
        hz = 700 * (10 ** (mel / 2595) - 1)
        hsupp = np.arange(-(kernel_size - 1) / 2, (kernel_size - 1) / 2 + 1)
        bp = np.zeros((out_channels, kernel_size))
        win = np.hamming(kernel_size)
        for i in range(out_channels):
            fmin, fmax = hz[i], hz[i + 1]
            h_high = (2 * fmax / sr) * np.sinc(2 * fmax * hsupp / sr)
            h_low = (2 * fmin / sr) * np.sinc(2 * fmin * hsupp / sr)
            bp[i] = win * (h_high - h_low)
        self.register_buffer("filters", torch.tensor(bp, dtype=torch.float32)[:, None, :])

    def forward(self, x):
        return F.conv1d(x, self.filters)


class ResBlock(nn.Module):
    """AASIST Residual_block."""

    def __init__(self, cin, cout, first=False):
        super().__init__()
        self.first = first
        if not first:
            self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, cout, (2, 3), padding=(1, 1))
        self.bn2 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, (2, 3), padding=(0, 1))
        self.down = nn.Conv2d(cin, cout, (1, 3), padding=(0, 1)) if cin != cout else None
        self.mp = nn.MaxPool2d((1, 3))

    def forward(self, x):
        identity = x
        out = x if self.first else F.selu(self.bn1(x))
        out = self.conv1(out)
        out = F.selu(self.bn2(out))
        out = self.conv2(out)
        if self.down is not None:
            identity = self.down(identity)
        return self.mp(out + identity)


class GraphAttention(nn.Module):
    """AASIST GraphAttentionLayer."""

    def __init__(self, din, dout, temp=2.0):
        super().__init__()
        self.att_proj = nn.Linear(din, dout)
        self.att_weight = nn.Parameter(torch.randn(dout, 1) * 0.5)
        self.with_att = nn.Linear(din, dout)
        self.without_att = nn.Linear(din, dout)
        self.bn = nn.BatchNorm1d(dout)
        self.temp = temp

    def forward(self, x):  # (B, N, D)
        att = x.unsqueeze(2) * x.unsqueeze(1)
        att = torch.tanh(self.att_proj(att))
        att = torch.matmul(att, self.att_weight)
        att = F.softmax(att / self.temp, dim=-2)
        out = self.with_att(torch.matmul(att.squeeze(-1), x)) + self.without_att(x)
        out = self.bn(out.transpose(1, 2)).transpose(1, 2)
        return F.selu(out)


class GraphPool(nn.Module):
    """AASIST GraphPool: sigmoid node scores, keep the top k nodes."""

    def __init__(self, k, dim):
        super().__init__()
        self.k = k
        self.proj = nn.Linear(dim, 1)

    def forward(self, h):
        scores = torch.sigmoid(self.proj(h))
        h = h * scores
        _, idx = torch.topk(scores, self.k, dim=1)
        return torch.gather(h, 1, idx.expand(-1, -1, h.size(2)))


class AASISTSmall(nn.Module):
    """AASIST-style: sinc front layer on 64600 samples, residual 2-D encoder,
    spectral and temporal graph attention with top-k graph pooling, readout
    to two logits [spoof, bonafide] (AASIST's order: index 1 is bona fide).
    Like AASIST's `Model.forward`, it returns `(last_hidden, output)`: the
    ONNX graph has two outputs and the manifest's `graph_output` picks."""

    def __init__(self):
        super().__init__()
        self.sinc = SincConv(30, 129)
        self.bn0 = nn.BatchNorm2d(1)
        self.encoder = nn.Sequential(ResBlock(1, 8, first=True), ResBlock(8, 8),
                                     ResBlock(8, 16), ResBlock(16, 16))
        self.pos_s = nn.Parameter(torch.randn(1, 10, 16) * 0.1)
        self.gat_s = GraphAttention(16, 16)
        self.gat_t = GraphAttention(16, 16)
        self.pool_s = GraphPool(5, 16)
        self.pool_t = GraphPool(64, 16)
        self.head = nn.Linear(64, 2)

    def forward(self, x):  # (B, 64600)
        x = self.sinc(x.unsqueeze(1))  # (B, 30, T)
        x = F.max_pool2d(torch.abs(x.unsqueeze(1)), (3, 3))  # (B, 1, 10, T/3)
        x = F.selu(self.bn0(x))
        e = self.encoder(x)  # (B, 16, 10, T')
        e_s = torch.max(torch.abs(e), dim=3)[0].transpose(1, 2) + self.pos_s  # (B, 10, 16)
        e_t = torch.max(torch.abs(e), dim=2)[0].transpose(1, 2)  # (B, T', 16)
        s = self.pool_s(self.gat_s(e_s))
        t = self.pool_t(self.gat_t(e_t))
        r = torch.cat([torch.max(torch.abs(s), dim=1)[0], s.mean(dim=1),
                       torch.max(torch.abs(t), dim=1)[0], t.mean(dim=1)], dim=1)
        return r, self.head(r)


class SpecCNN(nn.Module):
    """Small 2-D CNN on a [1, 1025, 94] dB spectrogram -> one logit."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(32, 1)

    def forward(self, x):
        return self.head(self.body(x))


def make_divisible(v, d=8):
    new_v = max(d, int(v + d / 2) // d * d)
    if new_v < 0.9 * v:
        new_v += d
    return new_v


class MBConv(nn.Module):
    """EfficientNet MBConv (torchvision's layout): expand 1x1, depthwise kxk,
    squeeze-excitation (SiLU / sigmoid), project 1x1; residual when the
    shape is kept (stochastic depth is the identity at inference)."""

    def __init__(self, cin, cout, expand, k, stride):
        super().__init__()
        mid = make_divisible(cin * expand)
        layers = []
        if mid != cin:
            layers += [nn.Conv2d(cin, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.SiLU()]
        layers += [nn.Conv2d(mid, mid, k, stride, (k - 1) // 2, groups=mid, bias=False),
                   nn.BatchNorm2d(mid), nn.SiLU()]
        self.pre = nn.Sequential(*layers)
        sq = max(1, cin // 4)
        self.se1 = nn.Conv2d(mid, sq, 1)
        self.se2 = nn.Conv2d(sq, mid, 1)
        self.post = nn.Sequential(nn.Conv2d(mid, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.res = stride == 1 and cin == cout

    def forward(self, x):
        h = self.pre(x)
        s = torch.sigmoid(self.se2(F.silu(self.se1(F.adaptive_avg_pool2d(h, 1)))))
        h = self.post(h * s)
        return h + x if self.res else h


class EfficientNetB0(nn.Module):
    """EfficientNet-B0 (all 16 MBConv blocks, B0 kernels/strides/expansions)
    with width multiplier WIDTH, one input channel (log-mel), two logits."""

    WIDTH = 0.25
    STAGES = [(1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2),
              (6, 3, 2, 40, 80, 3), (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4),
              (6, 3, 1, 192, 320, 1)]

    def __init__(self):
        super().__init__()
        w = self.WIDTH
        stem = make_divisible(32 * w)
        layers = [nn.Conv2d(1, stem, 3, 2, 1, bias=False), nn.BatchNorm2d(stem), nn.SiLU()]
        cin = stem
        for expand, k, stride, _, cout, n in self.STAGES:
            cout = make_divisible(cout * w)
            for i in range(n):
                layers.append(MBConv(cin, cout, expand, k, stride if i == 0 else 1))
                cin = cout
        last = make_divisible(1280 * w)
        layers += [nn.Conv2d(cin, last, 1, bias=False), nn.BatchNorm2d(last), nn.SiLU(),
                   nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(last, 2)

    def forward(self, x):
        return self.head(self.features(x))


class RawCNN(nn.Module):
    """1-D CNN on one second of raw audio -> one bona fide score."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv1d(1, 16, 64, stride=8), nn.BatchNorm1d(16), nn.ReLU(), nn.MaxPool1d(4),
            nn.Conv1d(16, 32, 8, stride=2), nn.BatchNorm1d(32), nn.ReLU(), nn.MaxPool1d(4),
            nn.Conv1d(32, 64, 3), nn.ReLU(), nn.AdaptiveAvgPool1d(1), nn.Flatten())
        self.head = nn.Linear(64, 1)

    def forward(self, x):  # (B, 16000)
        return self.head(self.body(x.unsqueeze(1)))


class MFM(nn.Module):
    """Max-Feature-Map: max of the two channel halves."""

    def forward(self, x):
        a, b = torch.chunk(x, 2, dim=1)
        return torch.max(a, b)


class LCNN(nn.Module):
    """ASVspoof 2021 LFCC-LCNN baseline layout, narrower: MFM CNN, two
    BLSTM layers with the baseline's residual, mean over time, two-class
    softmax. Input (B, frames, 60) LFCC + deltas, time major."""

    def __init__(self):
        super().__init__()
        self.cnn = nn.Sequential(
            nn.Conv2d(1, 16, 5, padding=2), MFM(), nn.MaxPool2d(2, 2),
            nn.Conv2d(8, 16, 1), MFM(), nn.BatchNorm2d(8, affine=False),
            nn.Conv2d(8, 24, 3, padding=1), MFM(), nn.MaxPool2d(2, 2), nn.BatchNorm2d(12, affine=False),
            nn.Conv2d(12, 24, 1), MFM(), nn.BatchNorm2d(12, affine=False),
            nn.Conv2d(12, 32, 3, padding=1), MFM(), nn.MaxPool2d(2, 2))
        dim = 16 * (60 // 8)
        self.lstm1 = nn.LSTM(dim, dim // 2, batch_first=True, bidirectional=True)
        self.lstm2 = nn.LSTM(dim, dim // 2, batch_first=True, bidirectional=True)
        self.head = nn.Linear(dim, 2)

    def forward(self, x):  # (B, T, 60)
        h = self.cnn(x.unsqueeze(1))  # (B, C, T/8, 7)
        b, c, t, f = h.shape
        h = h.permute(0, 2, 1, 3).reshape(b, t, c * f)
        y, _ = self.lstm1(h)
        y, _ = self.lstm2(y)
        z = (y + h).mean(dim=1)
        return F.softmax(self.head(z), dim=1)


class SplitMFM(nn.Module):
    """MFM with the channel split fixed at `half` (torch's ONNX export loses
    the channel count of `torch.chunk` once the time axis is dynamic)."""

    def __init__(self, half):
        super().__init__()
        self.half = half

    def forward(self, x):
        return torch.max(x[:, :self.half], x[:, self.half:])


def lcnn_utterance():
    """The LCNN above (same weights for the same seed) for a dynamic number
    of frames: MFM splits fixed, time mean over all frames."""
    net = LCNN()
    for i, m in enumerate(net.cnn):
        if isinstance(m, MFM):
            net.cnn[i] = SplitMFM(net.cnn[i - 1].out_channels // 2)
    return net


# --------------------------------------------------------------------------
# The models.

def manifest(name, window, hop, frontend, input_shape, output, provenance,
             calibration=None, threshold=0.5, graph_output=None):
    m = {"format": "dfd-model/1", "name": name, "precision": "fp32", "sample_rate": SR,
         "window": window, "hop": hop, "frontend": frontend, "input_shape": input_shape,
         "output": output}
    if graph_output is not None:
        m["graph_output"] = graph_output
    if calibration:
        m["calibration"] = calibration
    m["threshold"] = threshold
    m["provenance"] = dict(provenance, made_by=SCRIPT, weights="random (fixed seed); not a detector")
    return m


MODELS = {
    "wav2vec2": dict(
        build=build_wav2vec2, pre=pre_wav2vec2,
        manifest=manifest(
            "wav2vec2-tiny-cls", 16000, 8000, {"type": "raw", "normalize": "zscore"}, [16000],
            {"kind": "logits", "fake_index": 1},
            {"architecture": "transformers Wav2Vec2ForSequenceClassification (tiny config, XLS-R style feature encoder)",
             "preprocessing": "Wav2Vec2FeatureExtractor(do_normalize=True)"})),
    "wavlm": dict(
        build=build_wavlm, pre=pre_wav2vec2,
        manifest=manifest(
            "wavlm-tiny-cls", 24000, 12000, {"type": "raw", "normalize": "zscore"}, [24000],
            {"kind": "logits", "fake_index": 0},
            {"architecture": "transformers WavLMForSequenceClassification (tiny config, WavLM Large style feature encoder)",
             "preprocessing": "Wav2Vec2FeatureExtractor(do_normalize=True)"})),
    "whisper": dict(
        build=WhisperClassifier, pre=pre_whisper,
        manifest=manifest(
            "whisper-enc-tiny-cls", 24000, 16000, {"type": "whisper", "n_mels": 80, "pad_to": 32000},
            [80, 200], {"kind": "logit"},
            {"architecture": "transformers WhisperModel encoder (tiny config, "
                             "max_source_positions 100) + mean pool + linear",
             "preprocessing": "WhisperFeatureExtractor(chunk_length=2): 1.5 s windows padded to 2 s"},
            calibration={"scale": 0.8, "bias": -0.25})),
    "aasist": dict(
        build=AASISTSmall, pre=pre_aasist,
        manifest=manifest(
            "aasist-small", 64600, 64600, {"type": "raw", "fill": "repeat"}, [64600],
            {"kind": "logits", "fake_index": 0},
            {"architecture": "AASIST-style: sinc conv, residual 2-D encoder, graph attention, top-k graph pooling",
             "preprocessing": "raw 64600 samples, repeat-padded (ASVspoof 2021 loader pad)"},
            graph_output="output"),
        outputs=["last_hidden", "output"]),
    "spec_cnn": dict(
        build=SpecCNN, pre=pre_spec_db,
        manifest=manifest(
            "spec-db-cnn", 48000, 8000,
            {"type": "spectrogram", "n_fft": 2048, "hop_length": 512, "power": 1.0, "log": "db",
             "db_ref": "max", "top_db": 80.0, "mean": SPEC_MEAN, "std": SPEC_STD},
            [1, 1025, 94], {"kind": "logit"},
            {"architecture": "2-D CNN on a 1025x94 dB spectrogram",
             "preprocessing": "librosa amplitude_to_db(|stft(n_fft=2048, hop=512)|, ref=np.max, top_db=80), "
                              "(x - mean) / std"})),
    "efficientnet_b0": dict(
        build=EfficientNetB0, pre=pre_effnet,
        manifest=manifest(
            "efficientnet-b0-w025-logmel", 32000, 16000,
            {"type": "logmel", "n_fft": 1024, "hop_length": 256, "n_mels": 64, "log": "db", "top_db": 80.0},
            [1, 64, 126], {"kind": "logits", "fake_index": 1},
            {"architecture": "EfficientNet-B0 blocks (MBConv + SE, torchvision layout), width 0.25, 1 input channel",
             "preprocessing": "librosa power_to_db(melspectrogram(n_fft=1024, hop=256, n_mels=64), top_db=80)"})),
    "raw_cnn": dict(
        build=RawCNN, pre=pre_peak,
        manifest=manifest(
            "raw-1d-cnn", 16000, 8000, {"type": "raw", "normalize": "peak"}, [16000],
            {"kind": "bonafide_score"},
            {"architecture": "1-D CNN on 1 s of raw 16 kHz audio",
             "preprocessing": "peak normalised (x / max|x|)"})),
    "lfcc_lcnn": dict(
        build=LCNN, pre=baseline_lfcc,
        manifest=manifest(
            "lfcc-lcnn", 24000, 12000,
            {"type": "lfcc", "n_fft": 512, "win_length": 320, "hop_length": 160, "window": "hamming",
             "pre_emphasis": 0.97, "n_filters": 20, "with_energy": True, "deltas": 2, "log": "log10",
             "log_offset": float(np.finfo(np.float32).eps), "layout": "time_major"},
            [151, 60], {"kind": "probs", "fake_index": 1},
            {"architecture": "ASVspoof 2021 LFCC-LCNN baseline layout (MFM CNN + 2 BLSTM), narrower",
             "preprocessing": "baseline LFCC (20 + deltas, with energy), torch"})),
}


def calibrate_bn(net, inputs):
    """Sets BatchNorm running statistics from these windows (a forward pass
    in training mode, everything else in eval mode), as after training:
    with the default statistics (mean 0, var 1) a random deep CNN's
    activations vanish or saturate and every window scores the same."""
    bns = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
        m.train()
    with torch.no_grad():
        if len({x.shape for x in inputs}) == 1:
            net(torch.from_numpy(np.stack(inputs)))
        else:  # utterances of several lengths: one batch each
            for x in inputs:
                net(torch.from_numpy(x[None]))
    net.eval()


def rescale_head(net, head, inputs, rng):
    """Standardises the head's outputs over the windows (see docstring)."""
    got = []
    hook = head.register_forward_hook(lambda m, i, o: got.append(i[0].detach()))
    with torch.no_grad():
        for x in inputs:
            net(torch.from_numpy(x[None]))
    hook.remove()
    h = torch.cat(got).double()  # (N, D)
    with torch.no_grad():
        w = head.weight.double()
        o = h @ w.T  # (N, K)
        mu = o.mean(0)
        sd = o.std(0) if len(inputs) > 1 else o.abs().mean(0)
        s = torch.clamp(1.5 / torch.clamp(sd, min=1e-12), max=100.0)
        offset = torch.tensor(rng.uniform(-0.5, 0.5, size=o.shape[1]))
        head.weight.copy_((w * s[:, None]).float())
        head.bias.copy_((-mu * s + offset).float())
    return s.tolist(), sd.tolist()


def make(name, audio):
    spec = MODELS[name]
    m = spec["manifest"]
    torch.manual_seed(1234)
    rng = np.random.default_rng(1234)
    net = spec["build"]()
    net.eval()
    fill = m["frontend"].get("fill", "zeros")
    wins = stream_windows(audio, m["window"], m["hop"], fill)
    inputs = [spec["pre"](w).reshape(m["input_shape"]) for _, w, _ in wins]
    calibrate_bn(net, inputs)
    scale, sd = rescale_head(net, net.head, inputs, rng)
    print(f"{name}: {len(wins)} windows; head output sd {np.round(sd, 6)} -> scale {np.round(scale, 3)}")

    d = OUT / name
    d.mkdir(parents=True, exist_ok=True)
    onnx_path = d / f"{name}.onnx"
    x0 = torch.from_numpy(inputs[0][None])
    out_names = spec.get("outputs", ["output"])
    scored = out_names.index(m.get("graph_output", out_names[0]))
    with torch.no_grad():
        torch.onnx.export(net, (x0,), str(onnx_path), opset_version=OPSET, dynamo=False,
                          input_names=["input"], output_names=out_names, do_constant_folding=True)
    model = onnx.load(str(onnx_path))
    onnx.checker.check_model(model)
    onnx.save(model, str(onnx_path))
    ops = sorted({n.op_type for n in model.graph.node})
    (d / f"{name}.json").write_text(json.dumps(m, indent=2) + "\n")

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])
    rows, max_torch = [], 0.0
    cal = m.get("calibration", {"scale": 1.0, "bias": 0.0})
    for (start, _, have), x in zip(wins, inputs):
        out = sess.run([out_names[scored]], {"input": x[None]})[0].reshape(-1)
        with torch.no_grad():
            ref = net(torch.from_numpy(x[None]))
            ref = (ref[scored] if isinstance(ref, tuple) else ref).numpy().reshape(-1)
        max_torch = max(max_torch, float(np.max(np.abs(out - ref))))
        z = cal["scale"] * fake_logit(m["output"], out) + cal["bias"]
        rows.append({"start": start, "samples": have, "raw": [float(v) for v in out],
                     "logit": z, "p_fake": sigmoid(z)})
    mean = sum(r["logit"] for r in rows) / len(rows)
    expected = {
        "model": f"{name}.onnx", "audio": AUDIO, "made_by": SCRIPT,
        "onnxruntime": ort.__version__, "torch": torch.__version__,
        "onnx_ops": ops, "onnx_outputs": out_names, "scored_output": out_names[scored],
        "max_abs_onnxruntime_vs_torch": max_torch,
        "stream_p_fake": sigmoid(mean), "windows": rows,
    }
    (d / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    size = onnx_path.stat().st_size
    print(f"  {onnx_path.relative_to(ROOT)}: {size} bytes, ops {ops}")
    print(f"  ort vs torch {max_torch:.2e}; p_fake {[round(r['p_fake'], 4) for r in rows]}")


# --------------------------------------------------------------------------
# Notebook parity: a file scored as the researcher's notebook scores it.
#
# Each NOTEBOOK model is scored from WAV files the way a notebook does it:
# `librosa.load(path, sr=16000)` (soundfile, mean of the channels, soxr HQ,
# length ceil(n * 16000 / sr)), then the model's preprocessing of the clip
# from its start (crop, zero pad, tile, or features of the real clip with
# the frame axis padded), then onnxruntime. The manifests use the keys that
# make libdfd do the same (`aggregate: "first"`, `min_audio`, `frame_fill`,
# whisper `pad_to`); tests/architectures.rs scores the same files through
# libdfd's stream and compares p_fake and the raw outputs.

CLIP_16K = "tests/fixtures/audio/speech_16k.wav"
CLIP_44K_STEREO = "tests/fixtures/audio/speech_44k1_stereo.wav"
CLIP_SHORT = "tests/fixtures/audio/speech_short_16k.wav"


def make_clips():
    """The 44.1 kHz stereo copy and the short clip, from the committed speech:
    left = the 22.05 kHz original upsampled (soxr HQ), right = left * 0.6
    delayed by 3 samples (so the downmix matters); the short clip is
    0.40-1.95 s of speech_16k.wav. Both 16-bit PCM."""
    x22, sr = sf.read(ROOT / "tests/fixtures/audio/speech_22k05.wav", dtype="float32")
    assert sr == 22050
    left = soxr.resample(x22, 22050, 44100, "HQ")
    right = 0.6 * np.concatenate([np.zeros(3, np.float32), left[:-3]])
    stereo = np.clip(np.stack([left, right], axis=1), -1.0, 32767 / 32768)
    sf.write(ROOT / CLIP_44K_STEREO, stereo, 44100, subtype="PCM_16")
    x16, _ = sf.read(ROOT / CLIP_16K, dtype="float32")
    sf.write(ROOT / CLIP_SHORT, x16[6400:31200], 16000, subtype="PCM_16")


def notebook_load(path):
    y, sr = librosa.load(ROOT / path, sr=SR)  # soxr_hq, mono = mean of channels
    return y.astype(np.float32)


def crop_or_pad(y, n):
    return y[:n] if len(y) >= n else np.pad(y, (0, n - len(y)))


AISPY_MEAN, AISPY_STD = -40.0, 40.0


def nb_aispy(y):
    """Ai-SPY style: the first 3 s, |STFT(n_fft 2048, hop 512)|^2,
    power_to_db(ref=np.max, top_db=80) over the clip's own frames, the frame
    axis padded with the -80 dB floor (or cropped) to 94, then normalised."""
    y = y[:48000]
    S = np.abs(librosa.stft(y, n_fft=2048, hop_length=512)) ** 2
    db = librosa.power_to_db(S, ref=np.max, top_db=80.0)
    if db.shape[1] < 94:
        db = np.pad(db, ((0, 0), (0, 94 - db.shape[1])), constant_values=-80.0)
    db = db[:, :94]
    return ((db - AISPY_MEAN) / AISPY_STD)[None].astype(np.float32)


def nb_effnet(y):
    """EfficientNet notebook: the clip zero-padded to 8 s, 128-band
    melspectrogram (n_fft 1024, hop 512), power_to_db(ref=np.max, top_db=80)."""
    y = crop_or_pad(y, 128000)
    M = librosa.feature.melspectrogram(y=y, sr=SR, n_fft=1024, hop_length=512, n_mels=128)
    return librosa.power_to_db(M, ref=np.max, top_db=80.0)[None].astype(np.float32)


def nb_raw_peak(y):
    return pre_peak(crop_or_pad(y, 16000))


def nb_wav2vec2(y):
    return pre_wav2vec2(crop_or_pad(y, 16000))


def nb_whisper30(y):
    """HF WhisperFeatureExtractor with its defaults: the clip zero-padded to
    30 s, 3000 frames of 80 log-mel bins."""
    from transformers import WhisperFeatureExtractor
    fe = WhisperFeatureExtractor(feature_size=80, sampling_rate=SR)
    return fe(y, sampling_rate=SR, return_tensors="np").input_features[0].astype(np.float32)


def nb_rawnet2(y):
    """ASVspoof 2021 loader: the first 64600 samples, tiled when shorter."""
    n = 64600
    if len(y) < n:
        y = np.tile(y, n // len(y) + 1)
    return y[:n].astype(np.float32)


class ViTBlock(nn.Module):
    """Pre-norm transformer encoder layer (multi-head self-attention, GELU
    MLP), written out: torch's fused encoder layer does not export."""

    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x):
        b, n, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        a = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(d // self.heads), dim=-1)
        x = x + self.proj((a @ v).transpose(1, 2).reshape(b, n, d))
        return x + self.mlp(self.norm2(x))


class PatchViT(nn.Module):
    """A standard ViT (Ai-SPY's second model) on the 1025x94 dB spectrogram:
    non-overlapping patch embedding (Conv2d, kernel = stride), a class token,
    learned position embeddings, pre-norm encoder layers, the class token's
    output to two logits."""

    def __init__(self, patch=(64, 16), dim=48, depth=2, heads=4):
        super().__init__()
        self.embed = nn.Conv2d(1, dim, patch, stride=patch)
        n = (1025 // patch[0]) * (94 // patch[1])
        self.cls = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.pos = nn.Parameter(torch.randn(1, n + 1, dim) * 0.02)
        self.blocks = nn.Sequential(*[ViTBlock(dim, heads) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, 2)

    def forward(self, x):  # (B, 1, 1025, 94)
        h = self.embed(x).flatten(2).transpose(1, 2)
        h = torch.cat([self.cls.expand(h.shape[0], -1, -1), h], dim=1) + self.pos
        return self.head(self.norm(self.blocks(h))[:, 0])


class RawNet2Block(nn.Module):
    """RawNet2 residual block with filter-wise feature map scaling (FMS)."""

    def __init__(self, cin, cout, first=False):
        super().__init__()
        self.first = first
        if not first:
            self.bn1 = nn.BatchNorm1d(cin)
        self.conv1 = nn.Conv1d(cin, cout, 3, padding=1)
        self.bn2 = nn.BatchNorm1d(cout)
        self.conv2 = nn.Conv1d(cout, cout, 3, padding=1)
        self.down = nn.Conv1d(cin, cout, 1) if cin != cout else None
        self.pool = nn.MaxPool1d(3)
        self.fms = nn.Linear(cout, cout)

    def forward(self, x):
        h = x if self.first else F.leaky_relu(self.bn1(x), 0.3)
        h = self.conv2(F.leaky_relu(self.bn2(self.conv1(h)), 0.3))
        h = self.pool(h + (self.down(x) if self.down is not None else x))
        s = torch.sigmoid(self.fms(h.mean(dim=2)))[:, :, None]
        return h * s + s


class RawNet2Small(nn.Module):
    """RawNet2 layout, narrower: sinc filters on 64600 samples, |.|, max
    pool, BN, residual FMS blocks, GRU, linear to two logits."""

    def __init__(self):
        super().__init__()
        self.sinc = SincConv(20, 251)  # RawNet2's fixed mel-spaced sinc filters
        self.bn0 = nn.BatchNorm1d(20)
        self.blocks = nn.Sequential(RawNet2Block(20, 20, first=True), RawNet2Block(20, 20),
                                    RawNet2Block(20, 32), RawNet2Block(32, 32))
        self.bn = nn.BatchNorm1d(32)
        self.gru = nn.GRU(32, 32, batch_first=True)
        self.head = nn.Linear(32, 2)

    def forward(self, x):  # (B, 64600)
        h = self.sinc(x.unsqueeze(1))
        h = F.leaky_relu(self.bn0(F.max_pool1d(torch.abs(h), 3)), 0.3)
        h = F.leaky_relu(self.bn(self.blocks(h)), 0.3)
        y, _ = self.gru(h.transpose(1, 2))
        return self.head(y[:, -1])


def nb_manifest(name, window, hop, frontend, input_shape, output, provenance, **keys):
    m = manifest(name, window, hop, frontend, input_shape, output, provenance)
    m.pop("threshold")  # optional (0.5), as a researcher leaves it out
    m.update(aggregate="first", **keys)
    return m


def nb_aispy_edge(y):
    """nb_aispy with the frame axis padded by repeating the last frame
    (`np.pad(mode="edge")`) instead of the -80 dB floor."""
    y = y[:48000]
    S = np.abs(librosa.stft(y, n_fft=2048, hop_length=512)) ** 2
    db = librosa.power_to_db(S, ref=np.max, top_db=80.0)
    if db.shape[1] < 94:
        db = np.pad(db, ((0, 0), (0, 94 - db.shape[1])), mode="edge")
    db = db[:, :94]
    return ((db - AISPY_MEAN) / AISPY_STD)[None].astype(np.float32)


def nb_lfcc_utterance(y):
    """The ASVspoof 2021 LA baseline's LFCC(320, 160, 512, 16000, 20,
    with_energy=True) over the whole clip: (1 + N // 160, 60), as the
    baseline scores a trial."""
    return baseline_lfcc(y, fn=512)


def nb_lfcc(y):
    """An LFCC-LCNN notebook with the 2021 DF baseline's front end,
    LFCC(320, 160, 1024, 16000, 20, with_energy=True, max_freq=0.5) on the
    first 3 s (zero-padded)."""
    return baseline_lfcc(crop_or_pad(y, 48000), fn=1024, max_freq=0.5)


AISPY_FRONTEND = {"type": "spectrogram", "n_fft": 2048, "hop_length": 512, "log": "db",
                  "db_ref": "max", "top_db": 80.0, "frame_fill": -80.0,
                  "mean": AISPY_MEAN, "std": AISPY_STD}
LONG = [CLIP_16K, CLIP_44K_STEREO]

NOTEBOOK = {
    "nb_aispy_cnn": dict(
        build=SpecCNN, pre=nb_aispy, clips=LONG + [CLIP_SHORT],
        manifest=nb_manifest(
            "aispy-cnn-notebook", 48000, 16000, AISPY_FRONTEND, [1, 1025, 94], {"kind": "logit"},
            {"architecture": "Ai-SPY style 2-D CNN on a 1025x94 dB spectrogram",
             "preprocessing": "power_to_db(|stft|^2, ref=np.max, top_db=80) of the first 3 s, "
                              "frames padded with -80 dB"},
            min_audio=8000)),
    "nb_vit": dict(
        build=PatchViT, pre=nb_aispy, clips=LONG + [CLIP_SHORT],
        manifest=nb_manifest(
            "aispy-vit-notebook", 48000, 16000, AISPY_FRONTEND, [1, 1025, 94],
            {"kind": "logits", "fake_index": 1},
            {"architecture": "ViT: 64x16 patch embedding, class token, 2 pre-norm encoder layers",
             "preprocessing": "as nb_aispy_cnn"},
            min_audio=8000)),
    "nb_aispy_edge": dict(
        build=SpecCNN, pre=nb_aispy_edge, clips=LONG + [CLIP_SHORT],
        manifest=nb_manifest(
            "aispy-cnn-edge-notebook", 48000, 16000, dict(AISPY_FRONTEND, frame_fill="edge"),
            [1, 1025, 94], {"kind": "logit"},
            {"architecture": "Ai-SPY style 2-D CNN on a 1025x94 dB spectrogram",
             "preprocessing": "power_to_db(|stft|^2, ref=np.max, top_db=80) of the first 3 s, "
                              "frames padded with np.pad(mode='edge')"},
            min_audio=8000)),
    "nb_efficientnet": dict(
        build=EfficientNetB0, pre=nb_effnet, clips=LONG,
        manifest=nb_manifest(
            "efficientnet-b0-logmel128-notebook", 128000, 64000,
            {"type": "logmel", "n_fft": 1024, "hop_length": 512, "n_mels": 128, "log": "db",
             "db_ref": "max", "top_db": 80.0},
            [1, 128, 251], {"kind": "logits", "fake_index": 1},
            {"architecture": "EfficientNet-B0 (width 0.25) on an 8 s 128-band log-mel",
             "preprocessing": "clip zero-padded to 8 s, power_to_db(melspectrogram, ref=np.max, top_db=80)"},
            min_audio=16000)),
    "nb_raw_cnn": dict(
        build=RawCNN, pre=nb_raw_peak, clips=LONG,
        manifest=nb_manifest(
            "raw-1d-cnn-notebook", 16000, 8000, {"type": "raw", "normalize": "peak"}, [16000],
            {"kind": "bonafide_score"},
            {"architecture": "1-D CNN on the first second", "preprocessing": "peak normalised"})),
    "nb_wav2vec2": dict(
        build=build_wav2vec2, pre=nb_wav2vec2, clips=LONG,
        manifest=nb_manifest(
            "wav2vec2-notebook", 16000, 8000, {"type": "raw", "normalize": "zscore"}, [16000],
            {"kind": "logits", "fake_index": 1},
            {"architecture": "transformers Wav2Vec2ForSequenceClassification (tiny)",
             "preprocessing": "Wav2Vec2FeatureExtractor on the first second"})),
    "nb_whisper30": dict(
        build=lambda: WhisperClassifier(max_source_positions=1500), pre=nb_whisper30, clips=LONG,
        manifest=nb_manifest(
            "whisper-enc-30s-notebook", 480000, 480000,
            {"type": "whisper", "n_mels": 80, "pad_to": 480000}, [80, 3000], {"kind": "logit"},
            {"architecture": "Whisper encoder (tiny, 1500 positions) + mean pool + linear",
             "preprocessing": "WhisperFeatureExtractor defaults: 30 s, zero-padded"},
            min_audio=16000)),
    "nb_lfcc_lcnn": dict(
        build=LCNN, pre=nb_lfcc, clips=LONG,
        manifest=nb_manifest(
            "lfcc-lcnn-maxfreq-notebook", 48000, 24000,
            {"type": "lfcc", "n_fft": 1024, "win_length": 320, "hop_length": 160,
             "window": "hamming", "pre_emphasis": 0.97, "n_filters": 20, "max_freq": 0.5,
             "with_energy": True, "deltas": 2, "log": "log10",
             "log_offset": float(np.finfo(np.float32).eps), "layout": "time_major"},
            [301, 60], {"kind": "probs", "fake_index": 1},
            {"architecture": "ASVspoof 2021 LFCC-LCNN baseline layout, narrower",
             "preprocessing": "baseline LFCC(320, 160, 1024, 16000, 20, with_energy=True, "
                              "max_freq=0.5) of the first 3 s"})),
    "nb_lfcc_lcnn_utterance": dict(
        build=lcnn_utterance, pre=nb_lfcc_utterance, clips=LONG + [CLIP_SHORT], utterance=True,
        manifest=nb_manifest(
            "lfcc-lcnn-utterance-notebook", 32000, 16000,
            {"type": "lfcc", "n_fft": 512, "win_length": 320, "hop_length": 160,
             "window": "hamming", "pre_emphasis": 0.97, "n_filters": 20,
             "with_energy": True, "deltas": 2, "log": "log10",
             "log_offset": float(np.finfo(np.float32).eps), "layout": "time_major"},
            [201, 60], {"kind": "probs", "fake_index": 1},
            {"architecture": "ASVspoof 2021 LFCC-LCNN baseline layout, narrower; "
                             "dynamic frame axis, mean over time",
             "preprocessing": "baseline LFCC(320, 160, 512, 16000, 20, with_energy=True) "
                              "of the whole clip"},
            utterance={"time_axis": 0, "max_audio": 480000})),
    "nb_rawnet2": dict(
        build=RawNet2Small, pre=nb_rawnet2, clips=LONG,
        manifest=nb_manifest(
            "rawnet2-notebook", 64600, 64600, {"type": "raw", "fill": "repeat"}, [64600],
            {"kind": "logits", "fake_index": 0},
            {"architecture": "RawNet2 layout (sinc filters, FMS residual blocks, GRU), narrower",
             "preprocessing": "ASVspoof 2021 loader: first 64600 samples, tiled"},
            min_audio=16000)),
}


def make_notebook(name):
    spec = NOTEBOOK[name]
    m = spec["manifest"]
    torch.manual_seed(1234)
    rng = np.random.default_rng(1234)
    net = spec["build"]()
    net.eval()
    clips = {c: notebook_load(c) for c in spec["clips"]}
    utterance = spec.get("utterance", False)
    # An utterance model's input is the whole clip: its frame count varies.
    inputs = [spec["pre"](y) if utterance else spec["pre"](y).reshape(m["input_shape"])
              for y in clips.values()]
    # BatchNorm statistics and the head's scale from the clips' windows.
    calibrate_bn(net, inputs)
    rescale_head(net, net.head, inputs, rng)

    d = OUT / name
    d.mkdir(parents=True, exist_ok=True)
    onnx_path = d / f"{name}.onnx"
    with torch.no_grad():
        torch.onnx.export(net, (torch.from_numpy(inputs[0][None]),), str(onnx_path),
                          opset_version=OPSET, dynamo=False, input_names=["input"],
                          output_names=["output"], do_constant_folding=True,
                          dynamic_axes={"input": {1: "frames"}} if utterance else None)
    model = onnx.load(str(onnx_path))
    onnx.checker.check_model(model)
    (d / f"{name}.json").write_text(json.dumps(m, indent=2) + "\n")
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])
    rows = {}
    for (clip, y), x in zip(clips.items(), inputs):
        out = sess.run(["output"], {"input": x[None]})[0].reshape(-1)
        z = fake_logit(m["output"], out)
        rows[clip] = {"samples_16k": len(y), "input_shape": list(x.shape),
                      "raw": [float(v) for v in out], "logit": z, "p_fake": sigmoid(z)}
    expected = {
        "model": f"{name}.onnx", "made_by": SCRIPT, "onnxruntime": ort.__version__,
        "torch": torch.__version__, "librosa": librosa.__version__, "soxr": soxr.__version__,
        "onnx_ops": sorted({n.op_type for n in model.graph.node}), "clips": rows,
    }
    if utterance:
        # A live stream of the 16 kHz clip before its flush: the windows of
        # the manifest's length that fit (the flush scores the utterance).
        y = clips[CLIP_16K]
        expected["live_windows"] = [
            {"start": start, "raw": [float(v) for v in sess.run(
                ["output"], {"input": spec["pre"](y[start:start + m["window"]])[None]}
            )[0].reshape(-1)]}
            for start in range(0, len(y) - m["window"] + 1, m["hop"])]
    (d / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    print(f"{name}: {onnx_path.stat().st_size} bytes; "
          + ", ".join(f"{Path(c).name} p_fake {r['p_fake']:.4f}" for c, r in rows.items()))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="*", help=f"subset of {', '.join([*MODELS, *NOTEBOOK])}")
    ap.add_argument("--clips", action="store_true", help="re-make the stereo and short clips")
    args = ap.parse_args()
    audio, sr = sf.read(ROOT / AUDIO, dtype="float32")
    assert sr == SR and audio.ndim == 1
    torch.set_num_threads(2)
    if args.clips:
        make_clips()
    for name in args.models or [*MODELS, *NOTEBOOK]:
        if name in MODELS:
            make(name, audio)
        elif name in NOTEBOOK:
            make_notebook(name)
        else:
            sys.exit(f"unknown model {name!r}; have {', '.join([*MODELS, *NOTEBOOK])}")


if __name__ == "__main__":
    main()
