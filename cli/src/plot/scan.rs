//! `dfd scan --plot`: one file's waveform above its per-window p_fake over
//! the same time axis, with the model's threshold, in one PNG.

use std::path::Path;

use dfd::{Model, Verdict};
use plotters::prelude::*;

use super::{
    err, render, PlotResult, BONAFIDE_COLOR, CURVE_COLOR, FONT, GUIDE_COLOR, MODEL_COLOR,
    SYNTHETIC_COLOR,
};
use crate::results::FileScore;

const WIDTH: u32 = 1400;
const HEIGHT: u32 = 720;

/// Draws `r` (scored with its timeline and envelope kept) into a PNG at `path`.
pub fn draw(path: &Path, file: &str, r: &FileScore, model: &Model) -> PlotResult {
    let threshold = f64::from(model.manifest().threshold);
    let seconds = r.score.seconds.max(1e-3);
    let verdict = match r.score.verdict {
        Verdict::Synthetic => format!("p_fake {:.3}, synthetic", r.score.p_fake),
        Verdict::Bonafide => format!("p_fake {:.3}, bona fide", r.score.p_fake),
        Verdict::Unknown => "no window scored".to_string(),
    };
    let name = Path::new(file)
        .file_name()
        .map_or_else(|| file.to_string(), |n| n.to_string_lossy().into_owned());
    render(path, (WIDTH, HEIGHT), |root| {
        let title = format!("dfd scan: {name}: {verdict} ({})", model.manifest().name);
        let root = root.titled(&title, (FONT, 26).into_font()).map_err(err)?;
        let (top, bottom) = root.split_vertically(HEIGHT * 2 / 5);

        let mut wave = ChartBuilder::on(&top)
            .margin(16)
            .x_label_area_size(30)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..seconds, -1.0f64..1.0)
            .map_err(err)?;
        wave.configure_mesh()
            .y_desc("waveform")
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 16))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(err)?;
        if let Some(env) = &r.envelope {
            wave.draw_series(env.min_max.iter().enumerate().map(|(i, &(lo, hi))| {
                let t = i as f64 * env.step;
                PathElement::new(
                    [(t, f64::from(lo)), (t, f64::from(hi))],
                    CURVE_COLOR.mix(0.8).stroke_width(1),
                )
            }))
            .map_err(err)?;
        }

        let mut chart = ChartBuilder::on(&bottom)
            .margin(16)
            .x_label_area_size(50)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..seconds, 0.0f64..1.0)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("time (s)")
            .y_desc("p_fake per window")
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 16))
            .bold_line_style(GUIDE_COLOR.mix(0.3))
            .draw()
            .map_err(err)?;
        // Each window at its centre, coloured by its own verdict.
        chart
            .draw_series(r.timeline.iter().map(|w| {
                let p = f64::from(w.p_fake);
                let color = if p >= threshold {
                    SYNTHETIC_COLOR
                } else {
                    BONAFIDE_COLOR
                };
                let mid = (w.start + w.end) / 2.0;
                Circle::new((mid, p), 4, color.filled())
            }))
            .map_err(err)?;
        chart
            .draw_series(LineSeries::new(
                r.timeline
                    .iter()
                    .map(|w| ((w.start + w.end) / 2.0, f64::from(w.p_fake))),
                CURVE_COLOR.stroke_width(1),
            ))
            .map_err(err)?
            .label("window p_fake")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], CURVE_COLOR.stroke_width(2)));
        chart
            .draw_series(DashedLineSeries::new(
                [(0.0, threshold), (seconds, threshold)],
                8,
                6,
                MODEL_COLOR.stroke_width(2),
            ))
            .map_err(err)?
            .label(format!("model threshold {threshold:.3}"))
            .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], MODEL_COLOR.stroke_width(2)));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font((FONT, 15))
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()
            .map_err(err)
    })
}
