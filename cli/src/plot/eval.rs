//! `dfd eval --plot`: the ROC curve, the DET curve and the p_fake histograms
//! of both classes side by side in one PNG.
//!
//! The DET curve has probit axes, as in the ASVspoof and NIST DET plots: a
//! rate r is drawn at Φ⁻¹(r), with ticks labelled in percent.

use std::path::Path;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::prelude::*;

use super::{
    err, render, Area, PlotResult, BONAFIDE_COLOR, CURVE_COLOR, FONT, GUIDE_COLOR, MODEL_COLOR,
    SYNTHETIC_COLOR,
};
use crate::metrics::{self, RocPoint};
use crate::results::Evaluation;

const WIDTH: u32 = 1800;
const HEIGHT: u32 = 640;

const EER_COLOR: RGBColor = RGBColor(255, 127, 14);

/// Histogram bins over p_fake in [0, 1].
const BINS: usize = 20;

/// DET axis ticks (rates): the full set, and a sparser one for wide ranges.
const TICKS: [f64; 24] = [
    0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 0.9,
    0.95, 0.98, 0.99, 0.995, 0.998, 0.999, 0.9995, 0.9998, 0.9999,
];
const SPARSE_TICKS: [f64; 11] = [
    0.0001, 0.001, 0.01, 0.05, 0.2, 0.5, 0.8, 0.95, 0.99, 0.999, 0.9999,
];

/// Draws `ev` into a PNG at `path`.
pub fn draw(path: &Path, ev: &Evaluation) -> PlotResult {
    render(path, (WIDTH, HEIGHT), |root| {
        let title = format!(
            "dfd eval: {}, {} bona fide and {} synthetic files",
            ev.model,
            ev.bonafide.len(),
            ev.synthetic.len()
        );
        let root = root.titled(&title, (FONT, 26).into_font()).map_err(err)?;
        let panels = root.split_evenly((1, 3));
        let roc = metrics::roc(&ev.bonafide, &ev.synthetic);
        draw_roc(&panels[0], ev, &roc)?;
        draw_det(&panels[1], ev, &roc)?;
        draw_histograms(&panels[2], ev)
    })
}

/// The model's operating point: (FPR, TPR) at its threshold.
fn model_point(ev: &Evaluation) -> (f64, f64) {
    let c = &ev.confusion;
    (
        c.fp as f64 / ev.bonafide.len() as f64,
        c.tp as f64 / ev.synthetic.len() as f64,
    )
}

fn draw_roc(area: &Area, ev: &Evaluation, roc: &[RocPoint]) -> PlotResult {
    let mut chart = ChartBuilder::on(area)
        .caption(format!("ROC, AUC {:.4}", ev.auc), (FONT, 22))
        .margin(16)
        .x_label_area_size(50)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..1.0, 0.0..1.0)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("bona fide flagged (false positive rate)")
        .y_desc("synthetic flagged (true positive rate)")
        .label_style((FONT, 15))
        .axis_desc_style((FONT, 16))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(err)?;
    chart
        .draw_series(DashedLineSeries::new(
            [(0.0, 0.0), (1.0, 1.0)],
            6,
            6,
            GUIDE_COLOR.stroke_width(1),
        ))
        .map_err(err)?;
    chart
        .draw_series(LineSeries::new(
            roc.iter().map(|p| (p.fpr, p.tpr)),
            CURVE_COLOR.stroke_width(2),
        ))
        .map_err(err)?;
    let eer = ev.eer.eer;
    chart
        .draw_series([Circle::new((eer, 1.0 - eer), 6, EER_COLOR.filled())])
        .map_err(err)?
        .label(format!("EER {:.2} %", eer * 100.0))
        .legend(|(x, y)| Circle::new((x + 10, y), 5, EER_COLOR.filled()));
    chart
        .draw_series([Circle::new(model_point(ev), 6, MODEL_COLOR.filled())])
        .map_err(err)?
        .label(format!("model threshold {:.3}", ev.threshold))
        .legend(|(x, y)| Circle::new((x + 10, y), 5, MODEL_COLOR.filled()));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .label_font((FONT, 15))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()
        .map_err(err)
}

fn draw_det(area: &Area, ev: &Evaluation, roc: &[RocPoint]) -> PlotResult {
    let (lo, hi, ticks) = det_range(ev.bonafide.len(), ev.synthetic.len());
    let axis = || ProbitAxis {
        lo,
        hi,
        ticks: ticks.clone(),
    };
    let at = |rate: f64| rate.clamp(lo, hi);
    let percent = |v: &f64| format!("{}", (v * 10000.0).round() / 100.0);
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("DET (probit axes), EER {:.2} %", ev.eer.eer * 100.0),
            (FONT, 22),
        )
        .margin(16)
        .x_label_area_size(50)
        .y_label_area_size(60)
        .build_cartesian_2d(axis(), axis())
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("bona fide flagged (false positive rate, %)")
        .y_desc("synthetic missed (false negative rate, %)")
        .x_label_formatter(&percent)
        .y_label_formatter(&percent)
        .label_style((FONT, 15))
        .axis_desc_style((FONT, 16))
        .bold_line_style(GUIDE_COLOR.mix(0.3))
        .draw()
        .map_err(err)?;
    chart
        .draw_series(DashedLineSeries::new(
            [(lo, lo), (hi, hi)],
            6,
            6,
            GUIDE_COLOR.stroke_width(1),
        ))
        .map_err(err)?;
    chart
        .draw_series(LineSeries::new(
            roc.iter().map(|p| (at(p.fpr), at(1.0 - p.tpr))),
            CURVE_COLOR.stroke_width(2),
        ))
        .map_err(err)?;
    let eer = ev.eer.eer;
    chart
        .draw_series([Circle::new((at(eer), at(eer)), 6, EER_COLOR.filled())])
        .map_err(err)?
        .label(format!(
            "EER {:.2} % at p_fake {:.3}",
            eer * 100.0,
            ev.eer.threshold
        ))
        .legend(|(x, y)| Circle::new((x + 10, y), 5, EER_COLOR.filled()));
    let (fpr, tpr) = model_point(ev);
    chart
        .draw_series([Circle::new(
            (at(fpr), at(1.0 - tpr)),
            6,
            MODEL_COLOR.filled(),
        )])
        .map_err(err)?
        .label(format!("model threshold {:.3}", ev.threshold))
        .legend(|(x, y)| Circle::new((x + 10, y), 5, MODEL_COLOR.filled()));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font((FONT, 15))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()
        .map_err(err)
}

/// A rate axis over [lo, hi] drawn at Φ⁻¹(rate), ticks at the given rates.
/// Rates outside (0 and 1 among them) are drawn at the nearest end.
struct ProbitAxis {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
}

impl Ranged for ProbitAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, rate: &f64, limit: (i32, i32)) -> i32 {
        let (a, b) = (probit(self.lo), probit(self.hi));
        let t = (probit(rate.clamp(self.lo, self.hi)) - a) / (b - a);
        limit.0 + (f64::from(limit.1 - limit.0) * t).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        self.ticks.clone()
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

/// The DET axes' range [lo, 1 - lo] and ticks: down to half the finest rate
/// the counts can resolve (within 0.01 % .. 10 %). Rates of 0 and 1 are
/// drawn on the frame.
fn det_range(n_bonafide: usize, n_synthetic: usize) -> (f64, f64, Vec<f64>) {
    let finest = 0.5 / n_bonafide.max(n_synthetic).max(1) as f64;
    let lo = TICKS
        .iter()
        .copied()
        .filter(|&t| t <= finest.max(TICKS[0]))
        .next_back()
        .unwrap_or(TICKS[0])
        .min(0.1);
    let hi = 1.0 - lo;
    let within = |t: &f64| *t >= lo * (1.0 - 1e-9) && *t <= hi * (1.0 + 1e-9);
    let mut ticks: Vec<f64> = TICKS.iter().copied().filter(within).collect();
    if ticks.len() > 11 {
        ticks = SPARSE_TICKS.iter().copied().filter(within).collect();
    }
    (lo, hi, ticks)
}

fn draw_histograms(area: &Area, ev: &Evaluation) -> PlotResult {
    let shares = |scores: &[f64]| {
        let mut counts = [0usize; BINS];
        for &p in scores {
            counts[((p * BINS as f64) as usize).min(BINS - 1)] += 1;
        }
        counts.map(|c| c as f64 / scores.len().max(1) as f64)
    };
    let (bona, syn) = (shares(&ev.bonafide), shares(&ev.synthetic));
    let top = bona.iter().chain(&syn).copied().fold(0.0, f64::max);
    // Headroom above the tallest bar for the legend.
    let top = (top * 1.5).max(0.05);
    let mut chart = ChartBuilder::on(area)
        .caption("p_fake by class", (FONT, 22))
        .margin(16)
        .x_label_area_size(50)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..1.0, 0.0..top)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("p_fake")
        .y_desc("share of the class's files")
        .label_style((FONT, 15))
        .axis_desc_style((FONT, 16))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(err)?;
    let width = 1.0 / BINS as f64;
    for (shares, color, name, n) in [
        (&bona, BONAFIDE_COLOR, "bona fide", ev.bonafide.len()),
        (&syn, SYNTHETIC_COLOR, "synthetic", ev.synthetic.len()),
    ] {
        chart
            .draw_series(
                shares
                    .iter()
                    .enumerate()
                    .filter(|(_, &s)| s > 0.0)
                    .map(|(i, &s)| {
                        let x = i as f64 * width;
                        Rectangle::new([(x, 0.0), (x + width, s)], color.mix(0.45).filled())
                    }),
            )
            .map_err(err)?
            .label(format!("{name} ({n})"))
            .legend(move |(x, y)| {
                Rectangle::new([(x, y - 6), (x + 18, y + 6)], color.mix(0.45).filled())
            });
    }
    for (x, color, name) in [
        (ev.threshold, MODEL_COLOR, "model threshold"),
        (ev.eer.threshold, EER_COLOR, "EER threshold"),
    ] {
        chart
            .draw_series(LineSeries::new([(x, 0.0), (x, top)], color.stroke_width(2)))
            .map_err(err)?
            .label(format!("{name} {x:.3}"))
            .legend(move |(lx, ly)| {
                PathElement::new([(lx, ly), (lx + 18, ly)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperMiddle)
        .label_font((FONT, 15))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()
        .map_err(err)
}

/// Φ⁻¹, the standard normal quantile, by Acklam's rational approximation
/// (relative error below 1.2e-9: far finer than a pixel). ±∞ at 0 and 1.
pub fn probit(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.383577518672690e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e1,
        1.615858368580409e2,
        -1.556989798598866e2,
        6.680131188771972e1,
        -1.328068155288572e1,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-3,
        3.224671290700398e-1,
        2.445134137142996,
        3.754408661907416,
    ];
    const P_LOW: f64 = 0.02425;
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < P_LOW {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - P_LOW {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probit_matches_known_quantiles() {
        // scipy.stats.norm.ppf
        for (p, z) in [
            (0.5, 0.0),
            (0.975, 1.959963984540054),
            (0.025, -1.959963984540054),
            (0.8, 0.8416212335729143),
            (0.001, -3.090232306167813),
            (1e-4, -3.7190164854556804),
        ] {
            assert!((probit(p) - z).abs() < 1e-8, "probit({p}) = {}", probit(p));
        }
        assert_eq!(probit(0.0), f64::NEG_INFINITY);
        assert_eq!(probit(1.0), f64::INFINITY);
    }

    #[test]
    fn det_range_follows_the_counts() {
        let (lo, hi, ticks) = det_range(3, 4);
        assert_eq!((lo, hi), (0.1, 0.9));
        assert_eq!(ticks, [0.1, 0.2, 0.4, 0.6, 0.8, 0.9]);
        let (lo, _, ticks) = det_range(1000, 500);
        assert_eq!(lo, 0.0005);
        assert!(ticks.len() <= 11 && ticks.contains(&0.5), "{ticks:?}");
        let (lo, _, _) = det_range(10_000_000, 1);
        assert_eq!(lo, 0.0001);
    }
}
