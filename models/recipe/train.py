#!/usr/bin/env python3
"""Train the default libdfd detector on the recipe corpus (CPU, 2 threads).

    python3 models/recipe/train.py --corpus /work/corpus --out <dir>

Steps: feature cache (prepare.py, skipped when current) -> global mean/std
of the training windows' log energies -> class-balanced training (AdamW,
cosine LR, SpecAugment-style masks, random time crops) -> after each epoch,
file-level EER on the validation split (file score = mean window logit, as
libdfd's stream) -> best checkpoint by validation EER, early stopping.

Writes <out>/: checkpoint.pt (best weights + net config + mean/std),
train_log.json (per-epoch losses, EERs, wall times), and the feature cache
in <out>/cache unless --cache is given.
"""

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

# PyTorch's OpenMP threads spin while waiting; on 2 cores shared with other
# jobs that made training ~7x slower (measured). Must be set before import.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import features  # noqa: E402
import metrics  # noqa: E402
import net as netmod  # noqa: E402
import prepare  # noqa: E402

GATE_DBFS = -50.0  # the manifest's gate: windows below it are never scored


def log(msg):
    print(time.strftime("%H:%M:%S"), msg, flush=True)


def group_weights(meta, keep, power=0.5):
    """Sampling weight per window: both classes get half the mass; inside a
    class each group (spoof: system, bona fide: source) gets mass
    proportional to its size to the `power`: 0.5 (the recipe) shows small
    generators and sources more often than their share without repeating
    them to exhaustion; 0 balances the groups exactly (issue 14, lever 4)."""
    f = meta["win_file"]
    label = meta["label"][f]
    group = np.where(label == 1, meta["system"][f], meta["source"][f])
    w = np.zeros(len(f))
    for cls in (0, 1):
        m = keep & (label == cls)
        if not m.any():
            continue
        groups, inv, counts = np.unique(group[m], return_inverse=True, return_counts=True)
        mass = counts ** power / (counts ** power).sum()
        w[np.flatnonzero(m)] = 0.5 * mass[inv] / counts[inv]
    return w / w.sum()


def held_out(meta, systems=(), sources=()):
    """Per window: does its file belong to a held-out spoof family (system
    name starts with one of `systems`, e.g. "flite" = every flite voice) or a
    held-out bona fide package (source starts with one of `sources`; the
    vocoded copies of that package go too, they carry its source)? The
    protocol trains without them (protocol.py)."""
    f = meta["win_file"]
    out = np.zeros(len(f), bool)
    for s in systems:
        out |= (meta["label"][f] == 1) & np.char.startswith(meta["system"][f].astype(str), s)
    for s in sources:
        out |= np.char.startswith(meta["source"][f].astype(str), s)
    return out


def norm_stats(feats, keep, n=4000, seed=0):
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(np.flatnonzero(keep), min(n, int(keep.sum())), replace=False))
    x = np.asarray(feats[idx], np.float64)
    return float(x.mean()), float(x.std())


def augment(x, rng, max_t=20):
    """SpecAugment on a normalised batch [B,1,F,T] (in place): one frequency
    and one time mask per item, filled with the item's mean (which the
    network subtracts, so a mask reads as 'average level'). The frequency
    mask spans up to 8 bands, or the same share of the spectrum (8/60) on a
    finer profile."""
    B, _, F, T = x.shape
    max_f = max(8, F * 8 // 60)
    mean = x.mean(dim=(1, 2, 3))
    fw = rng.integers(0, max_f + 1, B)
    f0 = rng.integers(0, F, B)
    tw = rng.integers(0, max_t + 1, B)
    t0 = rng.integers(0, T, B)
    for i in range(B):
        if fw[i]:
            x[i, :, f0[i]:f0[i] + fw[i], :] = mean[i]
        if tw[i]:
            x[i, :, :, t0[i]:t0[i] + tw[i]] = mean[i]
    return x


def copy_pairs(meta, keep):
    """Lever 1 of issue 14: [n, 2] window indices (bona fide, its vocoded
    copy) for every copy-synthesised clip (world, lpc, phaserand,
    griffinlim: "<clip>-<system>.wav" made from the bona fide "<clip>.wav"),
    window k of the copy against window k of its source (copy-synthesis
    keeps the timing). Both windows must be kept (gate, held-out sets)."""
    stems = [os.path.splitext(os.path.basename(p))[0] for p in meta["path"]]
    bona = {st: f for f, st in enumerate(stems) if meta["label"][f] == 0}
    wins = {}
    for w, f in enumerate(meta["win_file"]):
        wins.setdefault(int(f), []).append(w)
    out = []
    for f, st in enumerate(stems):
        sysname = str(meta["system"][f])
        if meta["label"][f] != 1 or not st.endswith("-" + sysname):
            continue
        src = bona.get(st[:-len(sysname) - 1])
        if src is None:
            continue
        for wb, ws in zip(wins.get(src, []), wins.get(f, [])):
            if keep[wb] and keep[ws]:
                out.append((wb, ws))
    return np.array(out, dtype=np.int64).reshape(-1, 2)


def channel_augment(x, rng, p, floor=1e-6):
    """Lever 2 of issue 14, on the raw log energies [B,F,T] of both classes
    alike (in place), each item with probability p: what a recording chain
    does to a power spectrum, applied where the cache already is (the
    features are ln(power + floor) per band, so a filter multiplies a band's
    power and noise adds to it exactly):
    - a random smooth equaliser (4 cosines over the bands, up to ~+-10 dB):
      the microphone / room / codec colouring a real package carries;
    - half the time, stationary coloured noise 5-35 dB below the item's mean
      power, with the per-frame spread of a periodogram (Gamma, shape 4);
    - a quarter of the time, a low-pass at a random band (3.2-7.6 kHz
      wideband), 60 dB down above it.
    Both classes draw from the same distribution, so no draw tells real from
    synthetic: the net has to look past the channel (issue 14's LORSO: an
    unseen real package was flagged ~50 % of the time)."""
    B, F, T = x.shape
    sel = np.flatnonzero(rng.random(B) < p)
    if not len(sel):
        return x
    n = len(sel)
    f = torch.arange(F, dtype=torch.float32) / F
    k = torch.arange(1, 5, dtype=torch.float32)
    amp = torch.from_numpy(rng.uniform(-0.6, 0.6, (n, 4)).astype(np.float32))
    phase = torch.from_numpy(rng.uniform(0, 2 * np.pi, (n, 4)).astype(np.float32))
    eq = (amp[:, :, None] * torch.cos(np.pi * k[None, :, None] * f[None, None, :]
                                      + phase[:, :, None])).sum(1)          # [n, F]
    power = (x[sel].exp() - floor).clamp_min(0) * eq.exp()[:, :, None]
    noisy = rng.random(n) < 0.5
    if noisy.any():
        level = power.mean(dim=(1, 2))                                      # [n]
        snr = torch.from_numpy(rng.uniform(5, 35, n).astype(np.float32))
        tilt = torch.from_numpy(rng.uniform(-2.3, 2.3, n).astype(np.float32))
        shape = torch.exp(tilt[:, None] * (f[None, :] - 0.5))               # [n, F]
        shape = shape / shape.mean(1, keepdim=True)
        spread = torch.from_numpy(rng.gamma(4.0, 0.25, (n, F, T)).astype(np.float32))
        noise = (level * 10 ** (-snr / 10))[:, None, None] * shape[:, :, None] * spread
        power = power + noise * torch.from_numpy(noisy.astype(np.float32))[:, None, None]
    cut = rng.random(n) < 0.25
    for i in np.flatnonzero(cut):
        c = int(rng.integers(int(0.4 * F), int(0.95 * F)))
        power[i, c:] *= 1e-6
    x[sel] = torch.log(power + floor)
    return x


@torch.no_grad()
def window_logits(model, feats, idx, mean, std, batch=256):
    model.eval()
    out = np.empty(len(idx), np.float32)
    for i in range(0, len(idx), batch):
        j = idx[i:i + batch]
        x = torch.from_numpy((np.asarray(feats[j], np.float32) - mean) / std)[:, None]
        out[i:i + batch] = model(x)[:, 0].numpy()
    model.train()
    return out


def init_from_package(model, package):
    """Warm start from a shipped package's fp32 ONNX (export.py's graph: BN
    folded into convN.w/convN.b, fcN.w stored as [in, out]). Each BN becomes
    the identity plus the folded bias (running mean 0, variance 1 - eps), so
    the network starts as exactly the shipped function; train with
    `set_train` so BN keeps those statistics (an affine layer) instead of
    renormalising by batch statistics. Returns the package's front-end
    mean/std, which the folded weights expect."""
    import onnx
    from onnx import numpy_helper

    package = Path(package)
    manifest = json.loads((package / "manifest.json").read_text())
    w = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy())
         for i in onnx.load(str(package / "model.fp32.onnx")).graph.initializer}
    with torch.no_grad():
        for n, b in enumerate(model.blocks, 1):
            if b.conv.weight.shape != w[f"conv{n}.w"].shape:
                raise SystemExit(f"--init {package}: conv{n} is {list(w[f'conv{n}.w'].shape)}, "
                                 f"this net's {list(b.conv.weight.shape)}")
            b.conv.weight.copy_(w[f"conv{n}.w"])
            b.bn.weight.fill_(1.0)
            b.bn.bias.copy_(w[f"conv{n}.b"])
            b.bn.running_mean.zero_()
            b.bn.running_var.fill_(1.0 - b.bn.eps)
        for name in ("fc1", "fc2"):
            layer = getattr(model, name)
            layer.weight.copy_(w[f"{name}.w"].T)
            layer.bias.copy_(w[f"{name}.b"])
    fe = manifest["frontend"]
    return float(fe["mean"]), float(fe["std"])


def load_run(run):
    """(model in eval mode, mean, std) of a finished run's checkpoint.pt."""
    ck = torch.load(Path(run) / "checkpoint.pt", map_location="cpu", weights_only=False)
    model = netmod.Net(**ck["net"])
    model.load_state_dict(ck["state_dict"])
    model.eval()
    return model, ck["mean"], ck["std"]


def teacher_logits(teachers, x, mean, std):
    """The teachers' mean window logit (the ensemble `protocol.py --members`
    scores) on a batch normalised with the student's mean/std."""
    with torch.no_grad():
        return torch.stack([t((x * std + mean - tm) / ts) for t, tm, ts in teachers]).mean(0)


def sam_step(model, opt, objective, rho):
    """One sharpness-aware minimisation step (Foret et al. 2021): the
    gradient is taken at the weights moved by rho along the normalised
    gradient, then applied to the weights themselves. Returns the loss at
    the weights themselves."""
    opt.zero_grad()
    loss = objective()
    loss.backward()
    params = [p for p in model.parameters() if p.grad is not None]
    scale = rho / (torch.norm(torch.stack([p.grad.norm() for p in params])) + 1e-12)
    with torch.no_grad():
        moves = [p.grad * scale for p in params]
        for p, e in zip(params, moves):
            p.add_(e)
    opt.zero_grad()
    objective().backward()
    with torch.no_grad():
        for p, e in zip(params, moves):
            p.sub_(e)
    opt.step()
    return loss


def set_train(model, frozen_bn):
    """Training mode; with frozen_bn, BN layers stay in eval mode (their
    running statistics fixed, gamma/beta still learned)."""
    model.train()
    if frozen_bn:
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.eval()


def file_eer(logits, meta, idx):
    n_files = len(meta["label"])
    m, _, n = metrics.file_scores(logits, meta["win_file"][idx], n_files)
    ok = n > 0
    lab = meta["label"].astype(bool)
    e, _ = metrics.eer(m[ok & lab], m[ok & ~lab])
    return e, metrics.auc(m[ok & lab], m[ok & ~lab])


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--cache", help="feature cache dir (default <out>/cache)")
    ap.add_argument("--arch", default="td", choices=sorted(netmod.DEFAULTS))
    ap.add_argument("--channels", type=lambda s: [int(v) for v in s.split(",")])
    ap.add_argument("--k1", type=int)
    ap.add_argument("--hidden", type=int)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--samples-per-epoch", type=int, default=24000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--weight-decay", type=float, default=1e-2)
    ap.add_argument("--crop", type=int, default=128, help="training time crop (frames), 0 = none")
    ap.add_argument("--budget-min", type=float, default=0.0,
                    help="wall-time budget of training in minutes; 0 = none. A budget makes "
                         "the LR schedule depend on machine speed, so the recipe uses none")
    ap.add_argument("--patience", type=int, default=4)
    ap.add_argument("--val-files", type=int, default=0,
                    help="evaluate on at most this many validation files per epoch (0 = all)")
    ap.add_argument("--ema", type=float, default=0.0,
                    help="evaluate and save an exponential moving average of the weights "
                         "with this decay per step (0 = off)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--exclude-systems", default="",
                    help="comma-separated spoof families (system name prefixes) left out of "
                         "training and validation (leave-one-family-out)")
    ap.add_argument("--exclude-sources", default="",
                    help="comma-separated bona fide source prefixes left out of training and "
                         "validation with their vocoded copies (leave-one-source-out)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--init", metavar="PACKAGE",
                    help="warm start from this package's model.fp32.onnx (same arch; BN "
                         "statistics frozen) and train with its front-end mean/std: e.g. the "
                         "telephone model from the wideband one, whose 3x3 CNN runs on the "
                         "telephone profile's 30 bands as is")
    ap.add_argument("--paired", type=int, default=0, metavar="K",
                    help="K (bona fide, vocoded copy) window pairs per batch (copy_pairs), "
                         "with a ranking loss on each pair's logits; 0 = off")
    ap.add_argument("--pair-weight", type=float, default=1.0,
                    help="weight of the pair ranking loss (softplus of bona fide minus copy)")
    ap.add_argument("--chan-aug", type=float, default=0.0, metavar="P",
                    help="probability per training window of channel_augment (random "
                         "equaliser, noise, low-pass on both classes; 0 = off)")
    ap.add_argument("--profile", default="wide", choices=sorted(features.PROFILES),
                    help="feature profile (features.PROFILES): wide = 16 kHz, tel = 8 kHz, "
                         "fine = 16 kHz full-resolution spectrum (arch cnnf), phase = 16 kHz "
                         "bands + phase coherence (arch cnnp)")
    ap.add_argument("--group-power", type=float, default=0.5, metavar="P",
                    help="a generator's or source's share of its class ~ its windows^P "
                         "(0.5: the recipe; 0: every group alike)")
    ap.add_argument("--head", default="linear", choices=["linear", "oc"],
                    help="linear, or oc: one-class softmax on the hidden embedding (net.py)")
    ap.add_argument("--sam", type=float, default=0.0, metavar="RHO",
                    help="sharpness-aware minimisation with this radius (0 = plain AdamW steps; "
                         "each step then costs two forward-backward passes)")
    ap.add_argument("--teachers", default="", metavar="RUN[,RUN...]",
                    help="distil from these finished runs: the loss mixes the labels with the "
                         "teachers' mean logit (softened by --distill-temp)")
    ap.add_argument("--distill-weight", type=float, default=0.5, metavar="W",
                    help="share of the teachers' term in the loss (with --teachers)")
    ap.add_argument("--distill-temp", type=float, default=2.0, metavar="T")
    a = ap.parse_args()
    if not 0 <= 2 * a.paired < a.batch:
        ap.error(f"--paired {a.paired}: two windows per pair must leave room in a batch of {a.batch}")

    # two threads (the build machine); OMP_NUM_THREADS=1 lets two runs share it
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    torch.manual_seed(a.seed)
    np.random.seed(a.seed)
    rng = np.random.default_rng(a.seed)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    cache = Path(a.cache) if a.cache else out / "cache"

    t_start = time.time()
    if a.chan_aug and features.PROFILES[a.profile]["frontend"].get("phase"):
        raise SystemExit("--chan-aug edits log energies; the phase profile's coherence rows are not")
    info = prepare.prepare(a.corpus, cache, a.jobs, profile=a.profile)
    t_prep = time.time() - t_start
    log(f"features ready ({t_prep:.0f} s)")

    tr_feats, tr_meta = prepare.load_split(cache, "train")
    va_feats, va_meta = prepare.load_split(cache, "val")
    t0 = time.time()
    tr_x = torch.from_numpy(np.array(tr_feats))  # f16 in RAM
    log(f"train windows {tr_x.shape} loaded in {time.time() - t0:.0f} s")
    tr_keep = tr_meta["rms_dbfs"] >= GATE_DBFS
    va_keep = va_meta["rms_dbfs"] >= GATE_DBFS
    ex_sys = [v for v in a.exclude_systems.split(",") if v]
    ex_src = [v for v in a.exclude_sources.split(",") if v]
    if ex_sys or ex_src:
        tr_keep &= ~held_out(tr_meta, ex_sys, ex_src)
        va_keep &= ~held_out(va_meta, ex_sys, ex_src)
        log(f"held out {ex_sys} {ex_src}: train windows left {int(tr_keep.sum())}, "
            f"val {int(va_keep.sum())}")
    teachers = [load_run(r) for r in a.teachers.split(",") if r]
    if teachers:
        log(f"distilling from {len(teachers)} teachers: {a.teachers}")
    model = netmod.Net(a.arch, a.channels, a.k1, a.hidden, head=a.head)
    if a.init:
        mean, std = init_from_package(model, a.init)
        log(f"warm start from {a.init}")
    else:
        mean, std = norm_stats(tr_feats, tr_keep)
    log(f"norm mean {mean:.4f} std {std:.4f}; gated out: train {int((~tr_keep).sum())}, "
        f"val {int((~va_keep).sum())} windows")
    tr_label = torch.from_numpy(tr_meta["label"][tr_meta["win_file"]].astype(np.float32))
    weights = group_weights(tr_meta, tr_keep, a.group_power)
    pairs = copy_pairs(tr_meta, tr_keep) if a.paired else None
    if pairs is not None:
        log(f"{len(pairs)} (bona fide, vocoded copy) window pairs")
        if not len(pairs):
            raise SystemExit("--paired: no copy pairs left in training")

    va_idx = np.flatnonzero(va_keep)
    if a.val_files:
        files = rng.permutation(len(va_meta["label"]))[:a.val_files]
        va_idx = va_idx[np.isin(va_meta["win_file"][va_idx], files)]
    va_x = np.ascontiguousarray(va_feats)

    n_par = netmod.n_params(model)
    macs = netmod.macs_per_window(model, tr_feats.shape[1:])
    log(f"net {model.config()}: {n_par} parameters, {macs / 1e6:.2f} M MACs/window")
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=a.weight_decay)
    ema = None
    if a.ema:
        ema = netmod.Net(a.arch, a.channels, a.k1, a.hidden, head=a.head)
        ema.load_state_dict(model.state_dict())
        ema.eval()
    budget = a.budget_min * 60 if a.budget_min > 0 else math.inf
    steps_per_epoch = a.samples_per_epoch // a.batch
    hist, best = [], None
    t_train = time.time()
    bad_epochs = 0
    for epoch in range(1, a.epochs + 1):
        te = time.time()
        set_train(model, bool(a.init))
        draw = rng.choice(len(weights), a.samples_per_epoch, p=weights)
        losses = []
        for s in range(steps_per_epoch):
            progress = max((epoch - 1 + s / steps_per_epoch) / a.epochs,
                           (time.time() - t_train) / budget)
            lr = a.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))
            warm = min(1.0, ((epoch - 1) * steps_per_epoch + s + 1) / 200)
            for g in opt.param_groups:
                g["lr"] = lr * warm
            j = np.sort(draw[s * a.batch:(s + 1) * a.batch])
            if pairs is not None:
                pk = pairs[rng.integers(0, len(pairs), a.paired)]
                j = np.concatenate([j[:a.batch - 2 * a.paired], pk[:, 0], pk[:, 1]])
            x = tr_x[j].float()
            if a.crop and a.crop < x.shape[-1]:
                t0c = rng.integers(0, x.shape[-1] - a.crop + 1)
                x = x[..., t0c:t0c + a.crop]
            if a.chan_aug:
                x = channel_augment(x, rng, a.chan_aug)  # x: a copy (indexed by j)
            x = ((x - mean) / std)[:, None]
            x = augment(x, rng)
            y = tr_label[j][:, None]
            zt = teacher_logits(teachers, x, mean, std) if teachers else None

            def objective():
                z = model(x)
                if a.head == "oc":
                    loss = netmod.oc_loss(z, y)
                else:
                    loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)
                if zt is not None:
                    t = a.distill_temp
                    soft = torch.nn.functional.binary_cross_entropy_with_logits(
                        z / t, torch.sigmoid(zt / t)) * t * t
                    loss = (1 - a.distill_weight) * loss + a.distill_weight * soft
                if pairs is not None:
                    zb, zs = z[-2 * a.paired:-a.paired, 0], z[-a.paired:, 0]
                    loss = loss + a.pair_weight * torch.nn.functional.softplus(zb - zs).mean()
                return loss

            if a.sam:
                loss = sam_step(model, opt, objective, a.sam)
            else:
                opt.zero_grad()
                loss = objective()
                loss.backward()
                opt.step()
            if ema is not None:
                d = min(a.ema, (1 + s + (epoch - 1) * steps_per_epoch) /
                        (10 + s + (epoch - 1) * steps_per_epoch))
                with torch.no_grad():
                    for pe, pm in zip(ema.state_dict().values(), model.state_dict().values()):
                        if pe.dtype.is_floating_point:
                            pe.mul_(d).add_(pm, alpha=1 - d)
                        else:
                            pe.copy_(pm)
            losses.append(loss.item())
            if s % 100 == 0:
                log(f"epoch {epoch} step {s}/{steps_per_epoch} loss {np.mean(losses[-100:]):.4f} "
                    f"lr {lr * warm:.2e}")
        t_ep = time.time() - te
        tv = time.time()
        scored = ema if ema is not None else model
        vl = window_logits(scored, va_x, va_idx, mean, std)
        vy = va_meta["label"][va_meta["win_file"][va_idx]]
        vloss = float(np.mean(np.logaddexp(0, vl) - vy * vl))
        ve, va_auc = file_eer(vl, va_meta, va_idx)
        wl_e, _ = metrics.eer(vl[vy == 1], vl[vy == 0])
        rec = {"epoch": epoch, "train_loss": float(np.mean(losses)), "val_loss": vloss,
               "val_file_eer": ve, "val_file_auc": va_auc, "val_window_eer": wl_e,
               "train_s": round(t_ep, 1), "val_s": round(time.time() - tv, 1),
               "elapsed_s": round(time.time() - t_train, 1)}
        hist.append(rec)
        log(json.dumps(rec))
        if best is None or (ve, vloss) < (best["val_file_eer"], best["val_loss"]):
            best = rec
            bad_epochs = 0
            torch.save({"state_dict": scored.state_dict(), "net": model.config(),
                        "mean": mean, "std": std, "epoch": epoch}, out / "checkpoint.pt")
        else:
            bad_epochs += 1
        elapsed = time.time() - t_train
        per_epoch = elapsed / epoch
        if bad_epochs >= a.patience:
            log("early stop: no validation improvement")
            break
        if elapsed + per_epoch > budget:
            log(f"stopping: wall-time budget ({a.budget_min} min)")
            break
    t_total = time.time() - t_train
    result = {
        "args": vars(a), "net": model.config(), "parameters": n_par,
        "macs_per_window": macs, "norm": {"mean": mean, "std": std},
        "gate_dbfs": GATE_DBFS, "corpus": {k: v for k, v in info.items() if k != "frontend"},
        "epochs": hist, "best": best,
        "wall_s": {"features": round(t_prep, 1), "training": round(t_total, 1)},
        "torch": torch.__version__,
    }
    (out / "train_log.json").write_text(json.dumps(result, indent=2) + "\n")
    log(f"best epoch {best['epoch']}: val file EER {best['val_file_eer']:.4f}, "
        f"AUC {best['val_file_auc']:.4f}; training {t_total / 60:.1f} min")


if __name__ == "__main__":
    main()
