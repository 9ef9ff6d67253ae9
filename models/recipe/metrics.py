"""Scores and metrics shared by train.py, export.py and evaluate.py.

Convention: higher score = more likely synthetic (spoof = positive class).
"""

import numpy as np


def sigmoid(x):
    x = np.asarray(x, np.float64)
    return 1.0 / (1.0 + np.exp(-x))


def eer(pos, neg):
    """Equal error rate from DET curves, ASVspoof style (`compute_eer` of the
    ASVspoof 2019/2021 evaluation package, sign flipped: `pos` are the
    synthetic files' scores, `neg` the bona fide ones, higher = synthetic).
    Returns (eer, threshold): at `threshold`, a score >= threshold is judged
    synthetic.
    """
    pos = np.asarray(pos, np.float64)
    neg = np.asarray(neg, np.float64)
    if len(pos) == 0 or len(neg) == 0:
        return float("nan"), float("nan")
    # With target = bona fide and score = -s, ASVspoof's recipe: sort all
    # scores, miss = fraction of targets at or below, false alarm = fraction
    # of non-targets above each threshold.
    tar, non = -neg, -pos
    scores = np.concatenate([tar, non])
    labels = np.concatenate([np.ones(len(tar)), np.zeros(len(non))])
    order = np.argsort(scores, kind="mergesort")
    labels = labels[order]
    tar_le = np.cumsum(labels)
    non_gt = len(non) - (np.arange(1, len(scores) + 1) - tar_le)
    frr = np.concatenate([[0.0], tar_le / len(tar)])
    far = np.concatenate([[1.0], non_gt / len(non)])
    thr = np.concatenate([[scores[order[0]] - 0.001], scores[order]])
    i = int(np.nanargmin(np.abs(frr - far)))
    # Bona fide iff -s > thr, i.e. synthetic iff s >= -thr.
    return float((frr[i] + far[i]) / 2.0), float(-thr[i])


def auc(pos, neg):
    """Probability that a random synthetic score exceeds a random bona fide
    one (ties count half)."""
    pos = np.asarray(pos, np.float64)
    neg = np.asarray(neg, np.float64)
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    allv = np.concatenate([pos, neg])
    ranks = _rankdata(allv)
    r_pos = ranks[: len(pos)].sum()
    return float((r_pos - len(pos) * (len(pos) + 1) / 2.0) / (len(pos) * len(neg)))


def _rankdata(a):
    order = np.argsort(a, kind="mergesort")
    ranks = np.empty(len(a), np.float64)
    sa = a[order]
    i = 0
    while i < len(a):
        j = i
        while j + 1 < len(a) and sa[j + 1] == sa[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return ranks


def file_scores(window_logits, window_file, n_files, scale=1.0, bias=0.0, keep=None):
    """libdfd's stream p_fake per file: sigmoid(mean calibrated window logit)
    over the windows that passed the gate (`keep`). Returns (mean calibrated
    logit, p_fake, n_windows); files without a scored window get nan."""
    z = scale * np.asarray(window_logits, np.float64) + bias
    f = np.asarray(window_file)
    if keep is not None:
        z, f = z[keep], f[keep]
    s = np.bincount(f, weights=z, minlength=n_files)
    n = np.bincount(f, minlength=n_files)
    with np.errstate(invalid="ignore", divide="ignore"):
        m = s / n
    m[n == 0] = np.nan
    return m, sigmoid(m), n


def fit_calibration(logits, labels, iters=200):
    """Class-balanced logistic regression p = sigmoid(a*z + b) (Newton, no
    regularisation): equal total weight for both classes, so p = 0.5 means
    even odds at equal priors."""
    z = np.asarray(logits, np.float64)
    y = np.asarray(labels, np.float64)
    w = np.where(y > 0.5, 0.5 / max(y.sum(), 1), 0.5 / max((1 - y).sum(), 1))
    X = np.stack([z, np.ones_like(z)], 1)
    theta = np.array([1.0, 0.0])

    def loss(t):
        s = X @ t
        return float(np.sum(w * (np.logaddexp(0, s) - y * s)))

    for _ in range(iters):
        p = sigmoid(X @ theta)
        g = X.T @ (w * (p - y))
        H = (X * (w * p * (1 - p))[:, None]).T @ X + 1e-9 * np.eye(2)
        step = np.linalg.solve(H, g)
        # Backtracking: from a start far from the optimum (logits of tens,
        # saturated sigmoids), a full Newton step overshoots and diverges.
        now = loss(theta)
        while loss(theta - step) > now and np.abs(step).max() > 1e-12:
            step = step / 2
        theta -= step
        if np.abs(step).max() < 1e-10:
            break
    return float(theta[0]), float(theta[1])


def threshold_rule(text):
    """`--bonafide-flagged` of export.py and protocol.py: "eer" (None: the
    validation EER point) or the share of validation bona fide files the
    threshold may flag, in [0, 1)."""
    if text == "eer":
        return None
    share = float(text)
    if not 0.0 <= share < 1.0:
        raise ValueError(f"--bonafide-flagged {text}: a share in [0, 1), or 'eer'")
    return share


def describe_threshold_rule(bonafide_flagged):
    """The threshold rule `threshold_rule` returned, in words."""
    if bonafide_flagged is None:
        return "calibrated file p_fake at the val EER point"
    return f"calibrated file p_fake flagging at most {bonafide_flagged:.0%} of the val bona fide files"


def calibrate(window_logits, window_file, file_labels, bonafide_flagged=None):
    """The shipped calibration of a model from its validation windows:
    class-balanced logistic regression of the window logits, then the
    threshold on calibrated file p_fake: with `bonafide_flagged` (a share),
    the lowest that flags at most that share of the validation bona fide
    files (midway between the last bona fide score it flags and the next
    lower); without, the validation file EER point (midway to the next lower
    file score). Returns a dict with scale, bias, threshold, the validation
    file EER and AUC, and the error rates at the threshold."""
    lab_w = np.asarray(file_labels)[window_file]
    scale, bias = fit_calibration(window_logits, lab_w)
    _, p, n = file_scores(window_logits, window_file, len(file_labels), scale, bias)
    ok = n > 0
    lab = np.asarray(file_labels).astype(bool)
    e, thr = eer(p[ok & lab], p[ok & ~lab])
    if bonafide_flagged is None:
        below = p[ok & (p < thr)]
        threshold = float((thr + below.max()) / 2) if len(below) else float(thr)
    else:
        real = np.sort(p[ok & ~lab])[::-1]
        k = int(np.floor(bonafide_flagged * len(real)))  # bona fide files flagged
        threshold = float((real[k - 1] + real[k]) / 2) if k else float(np.nextafter(real[0], 2.0))
    return {"scale": scale, "bias": bias, "threshold": threshold, "eer": e,
            "auc": auc(p[ok & lab], p[ok & ~lab]),
            "bonafide_flagged": float((p[ok & ~lab] >= threshold).mean()),
            "spoof_missed": float((p[ok & lab] < threshold).mean())}
