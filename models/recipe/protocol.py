#!/usr/bin/env python3
"""Generalisation protocol of the recipe: leave-one-family-out (LOFO) and
leave-one-real-source-out (LORSO), with shorter training runs.

    python3 models/recipe/protocol.py --corpus /work/corpus --cache <run>/cache \
        --out /work/runs/protocol [--families piper,espeak,...] [--sources fillets,...] \
        [--epochs 8 --samples-per-epoch 3000]

Runs (each one `train.py` with the recipe's settings but the shorter
schedule; resumable: a run with a train_log.json is not trained again):

  all          every family and source (the reference at the same schedule)
  lofo-<F>     spoof family F (system name prefix: "flite" = every flite
               voice, "griffinlim" = linear and mel) left out of training
               and validation. Scored on ALL of F's clips (train, val and
               test splits: the model never saw any of them) against the
               bona fide files of the test split. Also after G.711: both
               classes' clips through 8 kHz G.711 mu-law (build_corpus's
               g711_roundtrip, on top of the clip's own channel).
  lorso-<S>    bona fide package S (source prefix: "fillets" = all Fish
               Fillets data, "asterisk" = every Asterisk prompt set; "+"
               joins prefixes held out together, e.g. "klettres+ktuberling")
               left out with its vocoded copies. Reported: the share of S's bona fide
               files (all splits) flagged at the run's own threshold
               (calibrated on its validation split exactly as export.py
               does for the shipped model), and the EER of S's files
               against the test split's synthetic files.

The telephone model's protocol (`--profile tel`): --corpus is telephone.py's
8 kHz copy (each clip through one random telephone channel) and its cache is
prepared with the 8 kHz front end; the runs train with `train.py --profile
tel`; "clean" is that copy's own channel mix, and the G.711 column sends
the clip's 16 kHz original (--g711-source, the corpus telephone.py read)
through 8 kHz G.711 mu-law alone:

    python3 models/recipe/protocol.py --profile tel --corpus /work/corpus_tel \
        --g711-source /work/corpus --cache <run>/cache --out /work/runs/protocol_tel

An ensemble of earlier runs (e.g. seeds) is scored without training:

    python3 models/recipe/protocol.py ... --out /work/runs/ens \
        --members /work/runs/protocol_s1,/work/runs/protocol_s2

One earlier protocol is scored again the same way (`--members` with one
directory), e.g. at another threshold rule (`--bonafide-flagged 0.05`,
export.py's: the threshold that flags at most 5 % of the validation bona
fide files; the default, `eer`, is the validation EER point of every table
so far).

Writes <out>/protocol.json and <out>/protocol.md (the card's tables).
File scores are libdfd's: mean calibrated window logit over the gated 2 s
windows (hop 1 s) of a clip.
"""

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from multiprocessing import Pool
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import features as F  # noqa: E402
import metrics  # noqa: E402
import net as netmod  # noqa: E402
import prepare  # noqa: E402
import train  # noqa: E402

FAMILIES = ["mlsa", "piper", "espeak", "flite", "world", "griffinlim", "lpc", "phaserand"]
SOURCES = ["fillets", "asterisk", "tuxpaint", "klettres+ktuberling"]
SPLITS = ("train", "val", "test")


def log(msg):
    print(time.strftime("%H:%M:%S"), msg, flush=True)


def _g711_features(args):
    """Worker: G.711 mu-law copies of clips and their features. `wide`:
    build_corpus's 16 -> 8 -> 16 kHz round trip on the corpus clip; `tel`:
    the clip's 16 kHz source (the same path under --g711-source, before
    telephone.py's random channel) -> 8 kHz -> G.711, as a call carries it."""
    import build_corpus as bc
    import soxr
    import telephone
    paths, profile = args
    pr = F.PROFILES[profile]
    fe = F.Frontend(pr["frontend"], pr["sample_rate"], pr["window"])
    out = []
    for p in paths:
        sr, x = F.read_wav(p)
        if pr["sample_rate"] == bc.SR:  # a 16 kHz profile: G.711 on top of the clip's channel
            y = bc.g711_roundtrip(x.astype(np.float64), "ulaw")
        else:
            y = telephone.g711_8k(soxr.resample(x.astype(np.float64), sr, pr["sample_rate"], "HQ"), "u")
        y = y.astype(np.float32)
        y = np.round(np.clip(y, -1, 32767 / 32768) * 32768) / 32768  # PCM16, as a decoder hands it
        w = F.frame_windows(y, pr["window"], pr["hop"])
        out.append((fe.log_energies(w).astype(np.float16) if len(w) else
                    np.zeros((0, *fe.shape), np.float16), F.window_rms_dbfs(w)))
    return out


class Pool3:
    """All cached windows of the three splits as one table (features stay
    memory-mapped), plus per-file metadata with a global file index."""

    def __init__(self, cache, compare=""):
        self.feats, self.meta = {}, {}
        for s in SPLITS:
            self.feats[s], self.meta[s] = prepare.load_split(cache, s)
        # files that the --compare corpus holds too (same clip path): a corpus
        # with more generators is then also scored on the other one's files
        self.base = None
        if compare:
            with open(Path(compare) / "manifest.csv", newline="") as f:
                paths = {r["path"] for r in csv.DictReader(f)}
            self.base = {s: np.isin(self.meta[s]["path"].astype(str), list(paths)) for s in SPLITS}

    def files(self, split, pred):
        m = self.meta[split]
        return np.flatnonzero(pred(m))


def g711_cache(pool, corpus, out, jobs, profile="wide"):
    """G.711 features of every spoof clip (all splits) and every test-split
    bona fide clip of `corpus` (for `tel`: the 16 kHz corpus the telephone
    corpus was made from), cached in <out>/g711.npz."""
    path = Path(out) / "g711.npz"
    if path.exists():
        d = np.load(path)
        return {k: d[k] for k in d.files}
    t0 = time.time()
    keys, paths = [], []
    for s in SPLITS:
        m = pool.meta[s]
        for i in range(len(m["label"])):
            if m["label"][i] == 1 or s == "test":
                keys.append((s, i))
                paths.append(str(Path(corpus) / str(m["path"][i])))
    chunks = [(paths[i:i + 32], profile) for i in range(0, len(paths), 32)]
    with Pool(jobs) as p:
        res = [r for c in p.map(_g711_features, chunks) for r in c]
    feats = np.concatenate([e for e, _ in res])
    rms = np.concatenate([r for _, r in res])
    wkey = np.repeat(np.arange(len(keys)), [len(e) for e, _ in res])
    d = {"feats": feats, "rms": rms, "win_key": wkey,
         "key_split": np.array([k[0] for k in keys]), "key_file": np.array([k[1] for k in keys])}
    np.savez(path, **d)
    log(f"G.711 features of {len(keys)} clips ({len(feats)} windows) in {time.time() - t0:.0f} s")
    return d


class Runs:
    """The trained checkpoint of one run, or of several runs (e.g. seeds)
    scored as one model whose window logit is the mean of theirs: the
    ensemble of lever 4 of issue 14, before any distillation."""

    def __init__(self, runs):
        self.members = [train.load_run(run) for run in runs]

    def logits(self, feats, idx):
        return np.mean([train.window_logits(m, feats, idx, mean, std)
                        for m, mean, std in self.members], axis=0)


def split_scores(net, pool, split, keep_win=None):
    """Calibration-free file scores of one split: (mean window logit per
    file, windows per file)."""
    m = pool.meta[split]
    keep = m["rms_dbfs"] >= train.GATE_DBFS
    if keep_win is not None:
        keep &= keep_win
    idx = np.flatnonzero(keep)
    return net.logits(pool.feats[split], idx), m["win_file"][idx]


def file_mean(z, wfile, n_files, cal):
    _, p, n = metrics.file_scores(z, wfile, n_files, cal["scale"], cal["bias"])
    return p, n > 0


def score_run(runs, pool, g711, hold_sys, hold_src, bonafide_flagged=None):
    """File p_fake (the run's calibration) of the val and test splits, and of
    the held-out family/source files of the train split; the same for the
    G.711 copies (test split + held-out files). Files not scored are nan."""
    net = Runs(runs)
    ex = {s: train.held_out(pool.meta[s], hold_sys, hold_src) for s in SPLITS}
    # the run's own calibration and threshold, as export.py (at the rule
    # `bonafide_flagged`, None: the EER point): val minus held out
    zv, fv = split_scores(net, pool, "val", ~ex["val"])
    cal = metrics.calibrate(zv, fv, pool.meta["val"]["label"], bonafide_flagged)
    p, ok = {}, {}
    for s in SPLITS:
        z, f = split_scores(net, pool, s, ex[s] if s == "train" else None)
        p[s], ok[s] = file_mean(z, f, len(pool.meta[s]["label"]), cal)
    # G.711 copies
    held_file = {s: np.bincount(pool.meta[s]["win_file"][ex[s]],
                                minlength=len(pool.meta[s]["label"])) > 0 for s in SPLITS}
    want = np.array([str(sp) == "test" or held_file[str(sp)][i]
                     for sp, i in zip(g711["key_split"], g711["key_file"])])
    gi = np.flatnonzero((g711["rms"] >= train.GATE_DBFS) & want[g711["win_key"]])
    zg = net.logits(g711["feats"], gi)
    pg_key, okg = file_mean(zg, g711["win_key"][gi], len(g711["key_file"]), cal)
    pg = {s: np.full(len(pool.meta[s]["label"]), np.nan) for s in SPLITS}
    for k in np.flatnonzero(okg):
        pg[str(g711["key_split"][k])][g711["key_file"][k]] = pg_key[k]
    return cal, p, ok, pg


def _starts(values, names):
    """`names`: one held-out unit, prefixes joined by "+" (e.g.
    "klettres+ktuberling")."""
    v = values.astype(str)
    return np.any([np.char.startswith(v, n) for n in names.split("+")], axis=0)


def family_mask(meta, fam):
    return (meta["label"] == 1) & _starts(meta["system"], fam)


def source_mask(meta, src):
    return (meta["label"] == 0) & _starts(meta["source"], src)


def lofo_result(pool, p, ok, pg, fam):
    """EERs of a family's files against the test split's bona fide files;
    with a --compare corpus also ("base") on the files that corpus holds."""
    r = _family_eers(pool, p, ok, pg, fam, {s: np.ones(len(pool.meta[s]["label"]), bool) for s in SPLITS})
    if pool.base is not None:
        r["base"] = _family_eers(pool, p, ok, pg, fam, pool.base)
    return r


def _family_eers(pool, p, ok, pg, fam, keep):
    """lofo_result's figures on the files `keep` (per split) selects; None
    when none of the family's files is kept."""
    bt = (pool.meta["test"]["label"] == 0) & ok["test"] & keep["test"]
    spo = np.concatenate([p[s][family_mask(pool.meta[s], fam) & ok[s] & keep[s]] for s in SPLITS])
    if not len(spo):
        return None
    spo_g = np.concatenate([pg[s][family_mask(pool.meta[s], fam) & keep[s]] for s in SPLITS])
    spo_g = spo_g[np.isfinite(spo_g)]
    bg = pg["test"][(pool.meta["test"]["label"] == 0) & keep["test"]]
    bg = bg[np.isfinite(bg)]
    st = p["test"][family_mask(pool.meta["test"], fam) & ok["test"] & keep["test"]]
    return {"spoof_files": int(len(spo)), "bonafide_files": int(bt.sum()),
            "eer": metrics.eer(spo, p["test"][bt])[0],
            "eer_test_split_only": metrics.eer(st, p["test"][bt])[0] if len(st) else None,
            "test_split_files": int(len(st)),
            "eer_g711": metrics.eer(spo_g, bg)[0]}


def source_files(pool, p, ok, src):
    """p_fake of a bona fide source's scored files, all splits together."""
    return np.concatenate([p[s][source_mask(pool.meta[s], src) & ok[s]] for s in SPLITS])


def lorso_result(pool, p, ok, cal, src):
    bon = source_files(pool, p, ok, src)
    st = (pool.meta["test"]["label"] == 1) & ok["test"]
    bt = source_mask(pool.meta["test"], src) & ok["test"]
    return {"bonafide_files": int(len(bon)),
            "false_alarm_at_threshold": float((bon >= cal["threshold"]).mean()) if len(bon) else None,
            "eer_vs_test_spoof": metrics.eer(p["test"][st], bon)[0] if len(bon) else None,
            "test_split_files": int(bt.sum()),
            "false_alarm_test_split": float((p["test"][bt] >= cal["threshold"]).mean())
            if bt.any() else None}


def cross_threshold(pool, p, ok, cal, sources):
    """Calibration fitted on held-out sources (issue 14, lever 4). For a run
    trained without several bona fide packages, each package in turn is
    judged at a threshold fitted on the others (their files against the
    validation split's synthetic files, at the EER point) instead of the
    run's validation threshold: does a threshold set on unseen real speech
    carry over to other unseen real speech, and what does it cost in
    synthetic test files missed?"""
    def spoof(split):
        return p[split][(pool.meta[split]["label"] == 1) & ok[split]]

    val_spoof, test_spoof = spoof("val"), spoof("test")
    out = {}
    for x in sources:
        others = "+".join(y for y in sources if y != x)
        thr = metrics.eer(val_spoof, source_files(pool, p, ok, others))[1]
        bon = source_files(pool, p, ok, x)
        out[x] = {"fitted_on": others, "threshold": thr,
                  "flagged": float((bon >= thr).mean()),
                  "test_spoof_missed": float((test_spoof < thr).mean()),
                  "flagged_val_threshold": float((bon >= cal["threshold"]).mean()),
                  "test_spoof_missed_val_threshold":
                      float((test_spoof < cal["threshold"]).mean())}
    return out


def train_run(a, name, systems=(), sources=()):
    run = Path(a.out) / name
    if (run / "train_log.json").exists():
        return run
    run.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, str(HERE / "train.py"), "--corpus", a.corpus, "--out", str(run),
           "--cache", a.cache, "--arch", a.arch, *(["--channels", a.channels] if a.channels else []),
           "--epochs", str(a.epochs),
           "--samples-per-epoch", str(a.samples_per_epoch), "--patience", "100",
           "--ema", str(a.ema), "--seed", str(a.seed), "--val-files", str(a.val_files),
           "--profile", a.profile, "--chan-aug", str(a.chan_aug),
           "--paired", str(a.paired), "--head", a.head, "--group-power", str(a.group_power),
           "--sam", str(a.sam),
           "--exclude-systems", ",".join(systems), "--exclude-sources", ",".join(sources)]
    t0 = time.time()
    with open(run / "train.log", "w") as f:
        subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, check=True)
    log(f"trained {name} in {(time.time() - t0) / 60:.1f} min")
    return run


def markdown(res, a):
    rule = f"Threshold: {metrics.describe_threshold_rule(a.bonafide_flagged)}."
    if a.members:
        head = (f"Profile: {a.profile}. Each run is the ensemble (mean window logit) of the "
                f"same run in {a.members}; their protocol.md files give how each was trained. {rule}")
    else:
        head = (f"Profile: {a.profile}. Architecture: {a.arch}{' ' + a.channels if a.channels else ''}. "
                f"Channel augmentation: {a.chan_aug}. Copy pairs per batch: {a.paired}. Head: {a.head}. Group power: {a.group_power}. "
                f"SAM radius: {a.sam}. Schedule: "
                f"{a.epochs} epochs x {a.samples_per_epoch} windows (the shipped model: 32 x 6000), "
                f"otherwise the recipe's settings; one seed ({a.seed}).")
        if a.bonafide_flagged is not None:
            head += " " + rule
    L = [head
         + (f" Validation: {a.val_files} files per epoch." if a.val_files else "")
         + (f" Folds (held out together): {a.folds}." if a.folds else ""), "",
         "| held-out family | its files (all splits) | EER clean | EER after G.711 | "
         "EER, its test-split files only | same family at the `all` run (test split) |"
         + (" its files of --compare's corpus: count, EER clean; G.711 |" if a.compare else ""),
         "|---|---:|---:|---:|---:|---:|" + ("---:|" if a.compare else "")]
    ref = res.get("all", {})
    lofo = {f: (k, q) for k, r in res.items() if k != "all" for f, q in r.get("lofo", {}).items()}
    lorso = {x: (k, q) for k, r in res.items() if k != "all" for x, q in r.get("lorso", {}).items()}
    for fam in a.families.split(","):
        if fam not in lofo:
            continue
        run, q = lofo[fam]
        rr = ref.get("families", {}).get(fam, {})
        ts = q["eer_test_split_only"]
        L.append(f"| {fam} ({run}) | {q['spoof_files']} | {q['eer'] * 100:.1f} % | "
                 f"{q['eer_g711'] * 100:.1f} % | "
                 + (f"{ts * 100:.1f} % ({q['test_split_files']})" if ts is not None else "-")
                 + " | " + (f"{rr['eer_test_split_only'] * 100:.1f} %"
                            if rr.get("eer_test_split_only") is not None else "-") + " |"
                 + (f" {q['base']['spoof_files']}: {q['base']['eer'] * 100:.1f} %; "
                    f"{q['base']['eer_g711'] * 100:.1f} % |" if q.get("base") else
                    " - |" if a.compare else ""))
    lo = [q for _, q in lofo.values()]
    lb = [q["base"] for q in lo if q.get("base")]
    if lb:
        L.append(f"| **mean on --compare's files** ({len(lb)} families) | | "
                 f"**{np.mean([q['eer'] for q in lb]) * 100:.1f} %** | "
                 f"**{np.mean([q['eer_g711'] for q in lb]) * 100:.1f} %** | | |" + (" |" if a.compare else ""))
    if lo:
        L.append(f"| **mean** | | **{np.mean([q['eer'] for q in lo]) * 100:.1f} %** | "
                 f"**{np.mean([q['eer_g711'] for q in lo]) * 100:.1f} %** | | |" + (" |" if a.compare else ""))
        L.append(f"| **max** | | {max(q['eer'] for q in lo) * 100:.1f} % | "
                 f"{max(q['eer_g711'] for q in lo) * 100:.1f} % | | |" + (" |" if a.compare else ""))
    L += ["", "| held-out bona fide source | its files (all splits) | flagged at the run's "
          "threshold | EER vs test synthetic | flagged, `all` run (its test-split files) |",
          "|---|---:|---:|---:|---:|"]
    for src in a.sources.split(","):
        if src not in lorso:
            continue
        run, q = lorso[src]
        rr = ref.get("sources", {}).get(src, {})
        fa_ref = rr.get("false_alarm_test_split")
        L.append(f"| {src} ({run}) | {q['bonafide_files']} | "
                 f"{q['false_alarm_at_threshold'] * 100:.1f} % | {q['eer_vs_test_spoof'] * 100:.1f} % | "
                 + (f"{fa_ref * 100:.1f} % ({rr['test_split_files']})" if fa_ref is not None
                    else "-") + " |")
    cross = [(k, x, q) for k, r in res.items() for x, q in r.get("cross_threshold", {}).items()]
    if cross:
        L += ["", "Thresholds fitted on held-out bona fide sources (each package judged at the "
              "EER threshold of the run's other held-out packages against the validation "
              "synthetic files):", "",
              "| run | package | threshold fitted on | flagged / test synthetic missed | "
              "the same at the validation threshold |", "|---|---|---|---:|---:|"]
        for k, x, q in cross:
            L.append(f"| {k} | {x} | {q['fitted_on']} ({q['threshold']:.3f}) | "
                     f"{q['flagged'] * 100:.1f} / {q['test_spoof_missed'] * 100:.1f} % | "
                     f"{q['flagged_val_threshold'] * 100:.1f} / "
                     f"{q['test_spoof_missed_val_threshold'] * 100:.1f} % |")
    if ref:
        L += ["", f"`all` run: test EER {ref['test_eer'] * 100:.1f} %, G.711 {ref['test_eer_g711'] * 100:.1f} %, "
              f"threshold {ref['calibration']['threshold']:.3f} flags "
              f"{ref['test_bonafide_flagged'] * 100:.1f} % of the test split's bona fide files"
              + (f" and misses {ref['test_spoof_missed'] * 100:.1f} % of its synthetic files."
                 if "test_spoof_missed" in ref else ".")
              + (f" On the test files of --compare's corpus: EER {ref['test_eer_base'] * 100:.1f} %, "
                 f"G.711 {ref['test_eer_g711_base'] * 100:.1f} %." if "test_eer_base" in ref else "")]
    L += ["", "Training wall time per run (min): " + ", ".join(
        f"{k} {v['train_min']:.1f}" for k, v in res.items())]
    return "\n".join(L) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--cache", required=True, help="prepare.py feature cache of the corpus")
    ap.add_argument("--out", required=True)
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--sources", default=",".join(SOURCES))
    ap.add_argument("--arch", default="cnn", choices=sorted(netmod.DEFAULTS),
                    help="net.py architecture of every run (the shipped models: cnn)")
    ap.add_argument("--channels", default="",
                    help="train.py --channels of every run (default: net.py's for the arch)")
    ap.add_argument("--paired", type=int, default=0,
                    help="train.py --paired of every run (lever 1 of issue 14; 0 = off)")
    ap.add_argument("--group-power", type=float, default=0.5,
                    help="train.py --group-power of every run (0: balanced batches, lever 4)")
    ap.add_argument("--head", default="linear", choices=["linear", "oc"],
                    help="train.py --head of every run (oc: one-class softmax, lever 4)")
    ap.add_argument("--sam", type=float, default=0.0,
                    help="train.py --sam of every run (sharpness-aware minimisation, lever 4; 0 = off)")
    ap.add_argument("--chan-aug", type=float, default=0.0,
                    help="train.py --chan-aug of every run (lever 2 of issue 14; 0 = off)")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--samples-per-epoch", type=int, default=3000)
    ap.add_argument("--ema", type=float, default=0.995)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--val-files", type=int, default=0,
                    help="validation files scored per epoch (train.py --val-files; 0 = all)")
    ap.add_argument("--folds", default="",
                    help="instead of one run per family and source: runs that each hold out "
                         "several, FAMS/SRCS separated by ';', e.g. "
                         "'piper+world/fillets;espeak+lpc/asterisk' (cheaper on a busy machine)")
    ap.add_argument("--members", default="",
                    help="no training: score each run as the ensemble (mean window logit) of "
                         "the same run in these earlier --out directories, comma-separated "
                         "(e.g. three seeds; one directory: that protocol scored again); a "
                         "run none of them has is skipped")
    ap.add_argument("--bonafide-flagged", default="eer", type=metrics.threshold_rule,
                    help="each run's threshold: 'eer' (the validation EER point) or the share "
                         "of validation bona fide files it may flag (export.py's 0.05)")
    ap.add_argument("--only", default="", help="comma-separated run names (default: all)")
    ap.add_argument("--profile", default="wide", choices=sorted(F.PROFILES),
                    help="feature profile: wide = the default model's 16 kHz corpus; tel = the "
                         "telephone model's (--corpus: telephone.py's 8 kHz copy); fine = the "
                         "16 kHz corpus as a full-resolution spectrum (with --arch cnnf)")
    ap.add_argument("--compare", default="", metavar="CORPUS",
                    help="a corpus this one extends (e.g. the shipped mix under --extra-generators): "
                         "every EER is also reported on the files that corpus holds, next to the "
                         "protocol run on it")
    ap.add_argument("--g711-source", default="",
                    help="with --profile tel: the 16 kHz corpus telephone.py read (same paths); "
                         "its clips are sent through G.711 alone for the G.711 column")
    a = ap.parse_args()
    torch.set_num_threads(2)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    if a.profile == "tel" and not a.g711_source:
        ap.error("--profile tel needs --g711-source (the 16 kHz corpus)")
    prepare.prepare(a.corpus, a.cache, a.jobs, profile=a.profile)
    pool = Pool3(a.cache, a.compare)
    g711 = g711_cache(pool, a.g711_source or a.corpus, out, a.jobs, a.profile)
    if a.folds:
        plan = [("all", (), ())]
        for i, fold in enumerate(a.folds.split(";"), 1):
            fs, _, ss = fold.partition("/")
            plan.append((f"fold-{i}", tuple(x for x in fs.split("+") if x),
                         tuple(x for x in ss.split("+") if x)))
        a.families = ",".join(f for _, fs, _ in plan for f in fs)
        a.sources = ",".join(x for _, _, ss in plan for x in ss)
        plan += [(f"lofo-{f}", (f,), ()) for f in FAMILIES if f not in a.families.split(",")]
        a.families = ",".join([f for f in FAMILIES if f not in a.families.split(",")]
                              + a.families.split(","))
    else:
        fams = [(f"lofo-{f}", tuple(f.split("+")), ()) for f in a.families.split(",") if f]
        srcs = [(f"lorso-{s}", (), tuple(s.split("+"))) for s in a.sources.split(",") if s]
        # interleaved after the first six families, so a protocol cut short by
        # time still has both kinds (it resumes where it stopped)
        plan = [("all", (), ())] + fams[:6] + [
            x for pair in zip(srcs, fams[6:] + [None] * len(srcs)) for x in pair if x
        ] + fams[6 + len(srcs):]
    if a.only:
        plan = [p for p in plan if p[0] in a.only.split(",")]
    res_path = out / "protocol.json"
    res = json.loads(res_path.read_text()) if res_path.exists() else {}
    for name, systems, sources in plan:
        if systems and not any(train.held_out(pool.meta[s], systems).any() for s in ("train", "val")):
            # a family the corpus keeps to its test split (e.g. mlsa): every
            # run holds it out already, so the `all` run measures it
            res[name] = {"lofo": {f: res["all"]["families"][f] for f in systems}, "from": "all",
                         "train_min": 0.0}
            log(f"{name}: never in training, taken from the all run")
            continue
        if a.members:
            runs = [Path(d) / name for d in a.members.split(",")]
            runs = [r for r in runs if (r / "train_log.json").exists()]  # finished
            if not runs:
                log(f"{name}: no member has it, skipped")
                continue
        else:
            runs = [train_run(a, name, systems, sources)]
        tlogs = [json.loads((r / "train_log.json").read_text()) for r in runs]
        cal, p, ok, pg = score_run(runs, pool, g711, systems, sources, a.bonafide_flagged)
        bt = (pool.meta["test"]["label"] == 0) & ok["test"]
        st = (pool.meta["test"]["label"] == 1) & ok["test"]
        bg = pg["test"][pool.meta["test"]["label"] == 0]
        sg = pg["test"][pool.meta["test"]["label"] == 1]
        r = {"calibration": cal, "train_min": sum(t["wall_s"]["training"] for t in tlogs) / 60,
             "best_epoch": [t["best"]["epoch"] for t in tlogs],
             "members": [str(x) for x in runs],
             "test_eer": metrics.eer(p["test"][st], p["test"][bt])[0],
             "test_eer_g711": metrics.eer(sg[np.isfinite(sg)], bg[np.isfinite(bg)])[0],
             "test_bonafide_flagged": float((p["test"][bt] >= cal["threshold"]).mean()),
             "test_spoof_missed": float((p["test"][st] < cal["threshold"]).mean())}
        src = pool.meta["test"]["source"].astype(str)
        r["test_bonafide_flagged_per_source"] = {
            x: float((p["test"][bt & (src == x)] >= cal["threshold"]).mean()) for x in sorted(set(src[bt]))}
        if pool.base is not None:
            kb, bb = pool.base["test"], pool.base["test"][pool.meta["test"]["label"] == 1]
            sgb = sg[bb]
            r["test_eer_base"] = metrics.eer(p["test"][st & kb], p["test"][bt & kb])[0]
            r["test_eer_g711_base"] = metrics.eer(sgb[np.isfinite(sgb)], bg[np.isfinite(bg)])[0]
        if systems:
            r["lofo"] = {f: lofo_result(pool, p, ok, pg, f) for f in
                         (systems if name.startswith("fold-") else ["+".join(systems)])}
        if sources:
            r["lorso"] = {x: lorso_result(pool, p, ok, cal, x) for x in
                          (sources if name.startswith("fold-") else ["+".join(sources)])}
        if len(sources) > 1:
            r["cross_threshold"] = cross_threshold(pool, p, ok, cal, sources)
        if name == "all":
            r["families"] = {f: lofo_result(pool, p, ok, pg, f) for f in a.families.split(",") if f}
            r["sources"] = {s: lorso_result(pool, p, ok, cal, s) for s in a.sources.split(",") if s}
        log(f"{name}: " + json.dumps({k: v for k, v in r.items()
                                      if k in ("test_eer", "test_eer_g711", "lofo", "lorso")}))
        # merge with what other invocations (e.g. --only, run side by side)
        # wrote meanwhile
        res = {**(json.loads(res_path.read_text()) if res_path.exists() else {}), **res, name: r}
        res_path.write_text(json.dumps(res, indent=2) + "\n")
        (out / "protocol.md").write_text(markdown(res, a))
    res = {**(json.loads(res_path.read_text()) if res_path.exists() else {}), **res}
    res_path.write_text(json.dumps(res, indent=2) + "\n")
    (out / "protocol.md").write_text(markdown(res, a))
    print((out / "protocol.md").read_text())


if __name__ == "__main__":
    main()
