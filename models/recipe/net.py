"""The detector: a small CNN on normalised LFB features [N, 1, 60, 201].

Two architectures (``arch``), both built only from ops tract runs
(ReduceMean, Sub, Conv, Relu, MaxPool, GlobalAveragePool, Flatten, MatMul,
Add); BN is folded into the convs at export (export.py builds the ONNX graph
by hand from the folded weights):

``td`` (default; cheap to train on 2 CPU cores)
    x - mean(x over the window)                    (gain invariance)
    Conv(60 x k1, full band) + BN + ReLU, MaxPool(1,2)   -> [c, 1, T/2]
    (n-1) x [Conv(1 x 3) + BN + ReLU, MaxPool(1,2)]
    GlobalAveragePool, Linear(c, hidden) + ReLU, Dropout, Linear(hidden, 1)

``cnn``
    x - mean(x), 4 x [Conv3x3 + BN + ReLU, MaxPool 2x2], Conv3x3 + BN + ReLU,
    GlobalAveragePool, the same head.

``cnnf`` (for the ``fine`` feature profile: 255 one-bin bands, the full
    resolution of the 512-point FFT, issue 14's lever 3)
    ``cnn`` whose first max-pooling is 8 bands x 2 frames instead of 2 x 2:
    the first Conv3x3 sees the harmonic fine structure (31.25 Hz bins) that
    60 bands average away, then the rest runs on 31 x 100 maps, as ``cnn``
    does on 30 x 100.

``cnnp`` (for the ``phase`` feature profile: the 60 log band energies,
    then 60 rows of phase coherence over the same bands, issue 14's lever 3)
    ``cnn`` on two input channels: the input's rows are split into the two
    [60, 201] maps, each loses its own mean, and the first Conv3x3 reads
    both.

``cnns``
    ``cnn`` with each Conv3x3 + MaxPool 2x2 replaced by one Conv3x3 of
    stride 2: the same receptive field in a quarter of the multiply-adds, and
    no pooling pass (max-pooling took a third of tract's time per window,
    issue 16).

Heads (``head``): ``linear`` (the shipped one), ``fc2`` of the hidden
layer; ``oc`` (one-class softmax, Zhang et al. 2021, issue 14's lever 4):
the score is the cosine between the hidden embedding (before its ReLU) and
a learnt bona fide direction, trained so bona fide speech sits within
cos 0.9 of it and synthetic speech beyond cos 0.2: bona fide speech is
made compact, synthetic speech is only pushed away, so an unseen
generator need not resemble a seen one to fall outside. It returns
``-OC_ALPHA * (cos - (m_real + m_fake) / 2)``, a logit of "synthetic" like
the linear head's.

Output: one logit of "synthetic". The convolutional trunk is time-shift
invariant and ends in a global average, so training may use time crops of
the 201-frame windows while inference sees whole windows.
"""

import torch
from torch import nn

INPUT = (1, 60, 201)


class Block(nn.Module):
    def __init__(self, cin, cout, kernel, pool, stride=(1, 1)):
        super().__init__()
        pad = (kernel[0] // 2 if kernel[0] % 2 else 0, kernel[1] // 2)
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=pad, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.pool = pool  # (kh, kw) or None

    def forward(self, x):
        x = torch.relu(self.bn(self.conv(x)))
        if self.pool is not None:
            x = nn.functional.max_pool2d(x, self.pool, self.pool)
        return x


def layout(arch, channels, k1=5, n_bins=60):
    """[(cin, cout, kernel, pool, stride)] per block."""
    if arch == "td":
        blocks, cin = [], 1
        for i, c in enumerate(channels):
            kernel = (n_bins, k1) if i == 0 else (1, 3)
            blocks.append((cin, c, kernel, (1, 2), (1, 1)))
            cin = c
        return blocks
    if arch in ("cnn", "cnnf", "cnns", "cnnp"):
        halve = [True] * (len(channels) - 1) + [False]
        blocks, cin = [], in_channels(arch)
        for i, (c, h) in enumerate(zip(channels, halve)):
            if arch == "cnns":
                blocks.append((cin, c, (3, 3), None, (2, 2) if h else (1, 1)))
            else:
                pool = (8, 2) if arch == "cnnf" and i == 0 else (2, 2)
                blocks.append((cin, c, (3, 3), pool if h else None, (1, 1)))
            cin = c
        return blocks
    raise ValueError(arch)


DEFAULTS = {
    "td": {"channels": [128, 128, 128, 128], "k1": 5, "hidden": 64},
    "cnn": {"channels": [16, 24, 48, 96, 128], "k1": 3, "hidden": 64},
}
DEFAULTS["cnns"] = DEFAULTS["cnn"]  # the same channels, strided instead of pooled
DEFAULTS["cnnf"] = DEFAULTS["cnn"]  # the same channels on the fine profile
DEFAULTS["cnnp"] = DEFAULTS["cnn"]  # the same channels on the phase profile


def in_channels(arch):
    """Input maps the feature rows are split into (the phase profile: 2)."""
    return 2 if arch == "cnnp" else 1


OC_ALPHA, OC_M_REAL, OC_M_FAKE = 20.0, 0.9, 0.2


def oc_loss(z, y):
    """One-class softmax loss from the ``oc`` head's logit ``z`` (label
    ``y``: 1 = synthetic): softplus(alpha * (m_real - cos)) for bona fide,
    softplus(alpha * (cos - m_fake)) for synthetic, written in ``z``."""
    margin = OC_ALPHA * (OC_M_REAL - OC_M_FAKE) / 2
    return torch.nn.functional.softplus(margin + (1 - 2 * y) * z).mean()


class Net(nn.Module):
    def __init__(self, arch="td", channels=None, k1=None, hidden=None, dropout=0.3,
                 head="linear"):
        super().__init__()
        d = DEFAULTS[arch]
        self.arch = arch
        self.channels = list(channels or d["channels"])
        self.k1 = k1 or d["k1"]
        self.hidden = hidden or d["hidden"]
        self.blocks = nn.ModuleList(Block(*b) for b in layout(arch, self.channels, self.k1))
        self.fc1 = nn.Linear(self.channels[-1], self.hidden)
        self.drop = nn.Dropout(dropout)
        self.fc2 = nn.Linear(self.hidden, 1)
        if head not in ("linear", "oc"):
            raise ValueError(head)
        self.head = head

    def config(self):
        return {"arch": self.arch, "channels": self.channels, "k1": self.k1,
                "hidden": self.hidden, "head": self.head}

    def forward(self, x):
        n, _, h, w = x.shape
        c = in_channels(self.arch)
        x = x.reshape(n, c, h // c, w)
        x = x - x.mean(dim=(2, 3), keepdim=True)
        for b in self.blocks:
            x = b(x)
        x = x.mean(dim=(2, 3))
        if self.head == "oc":
            e = self.drop(self.fc1(x))
            cos = torch.nn.functional.cosine_similarity(e, self.fc2.weight, dim=1, eps=1e-6)
            return -OC_ALPHA * (cos[:, None] - (OC_M_REAL + OC_M_FAKE) / 2)
        x = self.drop(torch.relu(self.fc1(x)))
        return self.fc2(x)


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def macs_per_window(model, input_hw=INPUT[1:]):
    """Multiply-accumulates of the convs and dense layers for one window
    (the mean subtraction, ReLU and pooling are not counted); `input_hw`:
    the feature rows and frames."""
    h, w = input_hw
    h //= in_channels(model.arch)
    total = 0
    for b in model.blocks:
        c = b.conv
        kh, kw = c.kernel_size
        ph, pw = c.padding
        sh, sw = c.stride
        h, w = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
        total += h * w * c.out_channels * c.in_channels * kh * kw
        if b.pool is not None:
            h, w = h // b.pool[0], w // b.pool[1]
    total += model.fc1.in_features * model.fc1.out_features
    total += model.fc2.in_features * model.fc2.out_features
    return total
