//! Detection metrics of `dfd eval`, pure functions of the files' scores.
//!
//! Scores are p_fake, the probability that a file's speech is synthetic:
//! higher means more likely synthetic. Synthetic speech is the positive
//! class, so a bona fide file flagged synthetic is a false positive (what
//! ASVspoof calls a false rejection of bona fide speech) and a synthetic file
//! let through is a false negative (a false acceptance of a spoof).
//!
//! Zero divisions, which only arise when one side of the confusion matrix is
//! empty, follow scikit-learn's `zero_division=0`: precision, recall and F1
//! are 0 when their denominator is 0, and the MCC is 0 when any of the four
//! margins (predicted or actual positives or negatives) is 0, as in
//! `sklearn.metrics.matthews_corrcoef`; accuracy is 0 with no file at all.

use std::cmp::Ordering;

use serde::Serialize;

/// The equal error rate and the score where it is reached.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Eer {
    /// The mean of the false rejection and false acceptance rates where they
    /// are closest, in [0, 1].
    pub eer: f64,
    /// The p_fake at that point of the DET curve.
    pub threshold: f64,
}

/// The EER exactly as `compute_eer` in the ASVspoof 2019/2021 evaluation
/// package (`eval_metrics.py`) computes it, with bona fide speech as the
/// target class scored by -p_fake (higher = more bona fide):
///
/// 1. all scores are sorted ascending with a stable sort (numpy's mergesort),
///    the bona fide scores first, so among equal scores the bona fide ones
///    come first;
/// 2. after the k first sorted scores, the false rejection rate is the share
///    of bona fide scores among them and the false acceptance rate the share
///    of spoof scores after them; before the first score they are 0 and 1;
/// 3. the EER is the mean of the two rates at the first index minimising
///    |FRR - FAR|, and its threshold the k-th sorted score there (the lowest
///    score minus 0.001 at index 0).
///
/// The threshold is returned in p_fake units (negated back), so flagging
/// `p_fake >= threshold` as synthetic is the operating point. Within a run of
/// tied scores, ASVspoof's cumulative sums count the tied bona fide files as
/// rejected and the tied spoofs as accepted at once, a point no threshold
/// reaches: ties make this EER pessimistic (all scores equal gives 1, not
/// 0.5), as in the ASVspoof tools. `None` if a class has no score.
pub fn eer(bonafide: &[f64], synthetic: &[f64]) -> Option<Eer> {
    if bonafide.is_empty() || synthetic.is_empty() {
        return None;
    }
    let (n_target, n_nontarget) = (bonafide.len() as f64, synthetic.len() as f64);
    // (ASVspoof score, is bona fide), bona fide first before the stable sort.
    let mut all: Vec<(f64, bool)> = bonafide
        .iter()
        .map(|&p| (-p, true))
        .chain(synthetic.iter().map(|&p| (-p, false)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));

    let (mut frr, mut far) = (0.0, 1.0);
    let mut best = (f64::abs(frr - far), (frr + far) / 2.0, all[0].0 - 0.001);
    let (mut targets_so_far, mut nontargets_so_far) = (0usize, 0usize);
    for &(score, is_target) in &all {
        if is_target {
            targets_so_far += 1;
        } else {
            nontargets_so_far += 1;
        }
        frr = targets_so_far as f64 / n_target;
        far = (n_nontarget - nontargets_so_far as f64) / n_nontarget;
        let diff = (frr - far).abs();
        // Strictly less: numpy's argmin keeps the first minimum.
        if diff < best.0 {
            best = (diff, (frr + far) / 2.0, score);
        }
    }
    Some(Eer {
        eer: best.1,
        threshold: -best.2,
    })
}

/// The area under the ROC curve as the Mann–Whitney statistic: the chance
/// that a random synthetic file scores above a random bona fide one, ties
/// counting one half (scikit-learn's `roc_auc_score`). 1 is a perfect
/// separation, 0.5 chance, 0 a perfectly inverted one. `None` if a class has
/// no score.
pub fn auc(bonafide: &[f64], synthetic: &[f64]) -> Option<f64> {
    if bonafide.is_empty() || synthetic.is_empty() {
        return None;
    }
    let mut all: Vec<(f64, bool)> = bonafide
        .iter()
        .map(|&p| (p, false))
        .chain(synthetic.iter().map(|&p| (p, true)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Sum of the synthetic scores' ranks (1-based), tied runs getting their
    // mean rank.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j < all.len() && all[j].0.total_cmp(&all[i].0) == Ordering::Equal {
            j += 1;
        }
        let mean_rank = (i + 1 + j) as f64 / 2.0;
        let positives = all[i..j].iter().filter(|s| s.1).count();
        rank_sum += mean_rank * positives as f64;
        i = j;
    }
    let (n_pos, n_neg) = (synthetic.len() as f64, bonafide.len() as f64);
    let u = rank_sum - n_pos * (n_pos + 1.0) / 2.0;
    Some(u / (n_pos * n_neg))
}

/// One point of the ROC (and DET) curve: flagging `p_fake >= threshold` as
/// synthetic flags `fpr` of the bona fide files and `tpr` of the synthetic ones.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RocPoint {
    pub threshold: f64,
    /// False positive rate: bona fide files flagged (ASVspoof's FRR).
    pub fpr: f64,
    /// True positive rate: synthetic files flagged (1 - ASVspoof's FAR).
    pub tpr: f64,
}

/// The ROC curve, one point per distinct score from the highest down (ties
/// are one point, reachable by a threshold), starting at (0, 0) with an
/// infinite threshold and ending at (1, 1). Empty if a class has no score.
pub fn roc(bonafide: &[f64], synthetic: &[f64]) -> Vec<RocPoint> {
    if bonafide.is_empty() || synthetic.is_empty() {
        return Vec::new();
    }
    let mut all: Vec<(f64, bool)> = bonafide
        .iter()
        .map(|&p| (p, false))
        .chain(synthetic.iter().map(|&p| (p, true)))
        .collect();
    all.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (n_pos, n_neg) = (synthetic.len() as f64, bonafide.len() as f64);
    let mut points = vec![RocPoint {
        threshold: f64::INFINITY,
        fpr: 0.0,
        tpr: 0.0,
    }];
    let (mut tp, mut fp) = (0usize, 0usize);
    for (k, &(score, positive)) in all.iter().enumerate() {
        if positive {
            tp += 1;
        } else {
            fp += 1;
        }
        let run_ends = all
            .get(k + 1)
            .is_none_or(|next| next.0.total_cmp(&score) != Ordering::Equal);
        if run_ends {
            points.push(RocPoint {
                threshold: score,
                fpr: fp as f64 / n_neg,
                tpr: tp as f64 / n_pos,
            });
        }
    }
    points
}

/// The confusion matrix at a threshold, synthetic being the positive class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Confusion {
    /// Synthetic files flagged synthetic.
    pub tp: u64,
    /// Bona fide files flagged synthetic.
    pub fp: u64,
    /// Bona fide files passed as bona fide.
    pub tn: u64,
    /// Synthetic files passed as bona fide.
    #[serde(rename = "fn")]
    pub fn_: u64,
}

impl Confusion {
    /// Flags `p_fake >= threshold` as synthetic, as libdfd's verdicts do.
    pub fn at(bonafide: &[f64], synthetic: &[f64], threshold: f64) -> Confusion {
        let flagged = |scores: &[f64]| scores.iter().filter(|&&p| p >= threshold).count() as u64;
        let (fp, tp) = (flagged(bonafide), flagged(synthetic));
        Confusion {
            tp,
            fp,
            tn: bonafide.len() as u64 - fp,
            fn_: synthetic.len() as u64 - tp,
        }
    }

    pub fn total(&self) -> u64 {
        self.tp + self.fp + self.tn + self.fn_
    }

    /// Share of files classified right; 0 with no file.
    pub fn accuracy(&self) -> f64 {
        ratio(self.tp + self.tn, self.total())
    }

    /// Share of the flagged files that are synthetic; 0 when none is flagged.
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }

    /// Share of the synthetic files flagged; 0 with no synthetic file.
    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }

    /// Harmonic mean of precision and recall, 2tp / (2tp + fp + fn); 0 when
    /// there is no positive at all (tp = fp = fn = 0).
    pub fn f1(&self) -> f64 {
        ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn_)
    }

    /// Matthews correlation coefficient in [-1, 1]; 0 when a margin is empty.
    pub fn mcc(&self) -> f64 {
        let [tp, fp, tn, fn_] = [self.tp, self.fp, self.tn, self.fn_].map(|v| v as f64);
        let denominator = ((tp + fp) * (tp + fn_) * (tn + fp) * (tn + fn_)).sqrt();
        if denominator == 0.0 {
            0.0
        } else {
            (tp * tn - fp * fn_) / denominator
        }
    }
}

fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    /// Mixed, with ties across the classes at 0.4 and 0.5 (the threshold).
    const BONAFIDE: [f64; 6] = [0.1, 0.2, 0.35, 0.4, 0.8, 0.5];
    const SYNTHETIC: [f64; 7] = [0.3, 0.6, 0.7, 0.9, 0.95, 0.5, 0.4];

    /// Computed from BONAFIDE, SYNTHETIC and threshold 0.5 with Python 3,
    /// numpy and scikit-learn: eer/eer_threshold with the ASVspoof 2019/2021
    /// `compute_eer` copied verbatim from eval_metrics.py, called as
    /// `compute_eer(-bonafide, -synthetic)` (threshold negated back); the
    /// rest with y = 0 for bona fide, 1 for synthetic, pred = p >= 0.5:
    /// roc_auc_score(y, p), confusion_matrix, accuracy_score,
    /// precision_score, recall_score, f1_score, matthews_corrcoef.
    const SK_EER: f64 = 0.30952380952380953;
    const SK_EER_THRESHOLD: f64 = 0.5;
    const SK_AUC: f64 = 0.7619047619047619;
    const SK_CONFUSION: Confusion = Confusion {
        tp: 5,
        fp: 2,
        tn: 4,
        fn_: 2,
    };
    const SK_ACCURACY: f64 = 0.6923076923076923;
    const SK_PRECISION: f64 = 0.7142857142857143;
    const SK_RECALL: f64 = 0.7142857142857143;
    const SK_F1: f64 = 0.7142857142857143;
    const SK_MCC: f64 = 0.38095238095238093;

    #[test]
    fn worked_example_matches_asvspoof_and_sklearn() {
        let e = eer(&BONAFIDE, &SYNTHETIC).unwrap();
        assert!(close(e.eer, SK_EER), "{e:?}");
        assert_eq!(e.threshold, SK_EER_THRESHOLD);
        assert!(close(auc(&BONAFIDE, &SYNTHETIC).unwrap(), SK_AUC));
        let c = Confusion::at(&BONAFIDE, &SYNTHETIC, 0.5);
        assert_eq!(c, SK_CONFUSION);
        assert!(close(c.accuracy(), SK_ACCURACY));
        assert!(close(c.precision(), SK_PRECISION));
        assert!(close(c.recall(), SK_RECALL));
        assert!(close(c.f1(), SK_F1));
        assert!(close(c.mcc(), SK_MCC));
    }

    #[test]
    fn perfect_separation() {
        let (bona, syn) = ([0.1, 0.2, 0.3], [0.7, 0.8, 0.9]);
        let e = eer(&bona, &syn).unwrap();
        assert_eq!(e.eer, 0.0);
        // The lowest synthetic score: p_fake >= 0.7 flags exactly the synthetic files.
        assert_eq!(e.threshold, 0.7);
        assert_eq!(auc(&bona, &syn), Some(1.0));
        let c = Confusion::at(&bona, &syn, 0.5);
        assert_eq!(
            c,
            Confusion {
                tp: 3,
                fp: 0,
                tn: 3,
                fn_: 0
            }
        );
        assert_eq!(
            [c.accuracy(), c.precision(), c.recall(), c.f1(), c.mcc()],
            [1.0; 5]
        );
    }

    #[test]
    fn fully_inverted() {
        let (bona, syn) = ([0.7, 0.8, 0.9], [0.1, 0.2, 0.3]);
        let e = eer(&bona, &syn).unwrap();
        assert_eq!(e.eer, 1.0);
        assert_eq!(e.threshold, 0.7); // scikit/ASVspoof: -(-0.7)
        assert_eq!(auc(&bona, &syn), Some(0.0));
        let c = Confusion::at(&bona, &syn, 0.5);
        assert_eq!(
            c,
            Confusion {
                tp: 0,
                fp: 3,
                tn: 0,
                fn_: 3
            }
        );
        assert_eq!(c.accuracy(), 0.0);
        assert_eq!(c.precision(), 0.0); // 0 / 3
        assert_eq!(c.recall(), 0.0); // 0 / 3
        assert_eq!(c.f1(), 0.0);
        assert_eq!(c.mcc(), -1.0);
    }

    #[test]
    fn all_tied() {
        // ASVspoof's tie handling (bona fide first among equal scores) gives
        // EER 1 (checked with its compute_eer); AUC counts ties as one half.
        let (bona, syn) = ([0.5, 0.5], [0.5, 0.5, 0.5]);
        let e = eer(&bona, &syn).unwrap();
        assert_eq!(e.eer, 1.0);
        assert_eq!(e.threshold, 0.5);
        assert_eq!(auc(&bona, &syn), Some(0.5));
        let c = Confusion::at(&bona, &syn, 0.5);
        // Everything flagged: tn = fn = 0, so a margin is empty and MCC is 0.
        assert_eq!(
            c,
            Confusion {
                tp: 3,
                fp: 2,
                tn: 0,
                fn_: 0
            }
        );
        assert!(close(c.accuracy(), 0.6));
        assert!(close(c.precision(), 0.6));
        assert_eq!(c.recall(), 1.0);
        assert!(close(c.f1(), 0.75));
        assert_eq!(c.mcc(), 0.0);
    }

    #[test]
    fn a_tie_counts_half_in_the_auc() {
        // Pairs (bona, syn): (0.2, 0.6) > ; (0.2, 0.4) > ; (0.4, 0.6) > ; (0.4, 0.4) tie.
        assert_eq!(auc(&[0.2, 0.4], &[0.6, 0.4]), Some(3.5 / 4.0));
    }

    #[test]
    fn nothing_flagged_defines_zero_divisions() {
        // Threshold above every score: no file flagged (sklearn, zero_division=0).
        let c = Confusion::at(&[0.1, 0.2, 0.3], &[0.7, 0.8, 0.9], 0.95);
        assert_eq!(
            c,
            Confusion {
                tp: 0,
                fp: 0,
                tn: 3,
                fn_: 3
            }
        );
        assert_eq!(c.accuracy(), 0.5);
        assert_eq!(c.precision(), 0.0); // 0 / 0
        assert_eq!(c.recall(), 0.0);
        assert_eq!(c.f1(), 0.0);
        assert_eq!(c.mcc(), 0.0); // no predicted positive
        let empty = Confusion::default();
        assert_eq!(
            [
                empty.accuracy(),
                empty.precision(),
                empty.recall(),
                empty.f1(),
                empty.mcc()
            ],
            [0.0; 5]
        );
    }

    #[test]
    fn an_empty_class_has_no_eer_auc_or_roc() {
        assert_eq!(eer(&[], &[0.5]), None);
        assert_eq!(eer(&[0.5], &[]), None);
        assert_eq!(auc(&[0.5], &[]), None);
        assert!(roc(&[], &[0.5]).is_empty());
    }

    #[test]
    fn roc_has_one_point_per_distinct_score() {
        let points = roc(&BONAFIDE, &SYNTHETIC);
        // 13 scores, two of them tied across the classes (0.4 and 0.5): 11
        // distinct, plus the (0, 0) start.
        assert_eq!(points.len(), 12);
        assert_eq!((points[0].fpr, points[0].tpr), (0.0, 0.0));
        let last = points.last().unwrap();
        assert_eq!((last.fpr, last.tpr), (1.0, 1.0));
        for w in points.windows(2) {
            assert!(w[1].threshold < w[0].threshold);
            assert!(w[1].fpr >= w[0].fpr && w[1].tpr >= w[0].tpr);
        }
        // Each point is the confusion at its threshold.
        for p in &points[1..] {
            let c = Confusion::at(&BONAFIDE, &SYNTHETIC, p.threshold);
            assert!(close(p.fpr, c.fp as f64 / 6.0) && close(p.tpr, c.tp as f64 / 7.0));
        }
        // The trapezoidal area under it is the Mann–Whitney AUC.
        let area: f64 = points
            .windows(2)
            .map(|w| (w[1].fpr - w[0].fpr) * (w[1].tpr + w[0].tpr) / 2.0)
            .sum();
        assert!(close(area, SK_AUC));
    }
}
