//! Results of `dfd scan` as text or JSON lines on stdout, errors on stderr,
//! and the progress bar on stderr (also used by `dfd eval`): every line goes through the bar so that
//! it is cleared first and redrawn after, never torn.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::Duration;

use dfd::{Model, Verdict};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::exit;
use crate::scan::FileScore;

pub struct Reporter<'m> {
    model: &'m Model,
    json: bool,
    progress: Progress,
}

/// The progress bar over files on stderr (drawn only if stderr is a
/// terminal), and the stderr lines printed around it without tearing it.
pub struct Progress {
    bar: Option<ProgressBar>,
}

/// One `--json` line. Scores are null when no window was scored (verdict
/// "unknown"), rather than a p_fake of 0 that would read as "surely real".
#[derive(Serialize)]
struct JsonScan<'a> {
    file: &'a str,
    model: &'a str,
    backend: &'a str,
    precision: &'a str,
    p_fake: Option<f32>,
    verdict: &'static str,
    windows: u64,
    synthetic_share: Option<f64>,
    bonafide_share: Option<f64>,
    seconds: f64,
    speech_seconds: f64,
    /// Why nothing was scored, when nothing was.
    #[serde(skip_serializing_if = "Option::is_none")]
    unscored: Option<String>,
    timeline: Vec<JsonWindow>,
}

#[derive(Serialize)]
struct JsonWindow {
    start: f64,
    end: f64,
    p_fake: f32,
    /// The calibrated logit of "synthetic".
    logit: f32,
    /// The model's raw output values, before calibration.
    raw: Vec<f32>,
}

#[derive(Serialize)]
struct JsonError<'a> {
    file: &'a str,
    error: &'a str,
}

impl<'m> Reporter<'m> {
    /// `progress_total`: files to come when a bar is wanted (directory
    /// scans); it is drawn only if stderr is a terminal.
    pub fn new(model: &'m Model, json: bool, progress_total: Option<usize>) -> Self {
        Reporter {
            model,
            json,
            progress: Progress::new(progress_total),
        }
    }

    /// A file is about to be scanned.
    pub fn start(&self, path: &Path) {
        self.progress.start(path);
    }

    pub fn scanned(&self, path: &Path, r: &FileScore) {
        self.progress.decode_warnings(path, r);
        let line = if self.json {
            self.json_line(path, r)
        } else {
            human_line(path, r)
        };
        self.stdout(&line);
        self.advance();
    }

    pub fn failed(&self, path: &Path, msg: &str) {
        self.progress.error(path, msg);
        if self.json {
            let file = path.to_string_lossy();
            self.stdout(
                &serde_json::to_string(&JsonError {
                    file: &file,
                    error: msg,
                })
                .expect("serialisable"),
            );
        }
        self.advance();
    }

    /// Removes the bar, leaving only the results on the terminal.
    pub fn finish(self) {
        self.progress.finish();
    }

    fn advance(&self) {
        self.progress.advance();
    }

    /// A result line; a closed stdout (`dfd scan … | head`) ends the scan quietly.
    fn stdout(&self, line: &str) {
        let mut result = Ok(());
        self.progress
            .with_bar_hidden(|| result = writeln!(std::io::stdout().lock(), "{line}"));
        if let Err(e) = result {
            self.progress.clear();
            if e.kind() != std::io::ErrorKind::BrokenPipe {
                eprintln!("dfd: cannot write the results: {e}");
            }
            std::process::exit(i32::from(exit::FILE_FAILED));
        }
    }

    fn json_line(&self, path: &Path, r: &FileScore) -> String {
        let s = &r.score;
        let scored = s.verdict != Verdict::Unknown;
        let shares = r.shares();
        let file = path.to_string_lossy();
        let line = JsonScan {
            file: &file,
            model: &self.model.manifest().name,
            backend: self.model.backend_name(),
            precision: self.model.precision().as_str(),
            p_fake: scored.then_some(s.p_fake),
            verdict: match s.verdict {
                Verdict::Synthetic => "synthetic",
                Verdict::Bonafide => "bonafide",
                Verdict::Unknown => "unknown",
            },
            windows: s.windows,
            synthetic_share: shares.map(|(syn, _)| syn),
            bonafide_share: shares.map(|(_, bon)| bon),
            seconds: s.seconds,
            speech_seconds: s.speech_seconds,
            unscored: s.unscored.map(|u| u.to_string()),
            timeline: r
                .timeline
                .iter()
                .map(|w| JsonWindow {
                    start: w.start,
                    end: w.end,
                    p_fake: w.p_fake,
                    logit: w.logit,
                    raw: w.raw.as_slice().to_vec(),
                })
                .collect(),
        };
        serde_json::to_string(&line).expect("serialisable")
    }
}

impl Progress {
    /// `total`: files to come when a bar is wanted; it is drawn only if
    /// stderr is a terminal.
    pub fn new(total: Option<usize>) -> Self {
        let bar = total
            .filter(|_| std::io::stderr().is_terminal())
            .map(|total| {
                let style = ProgressStyle::with_template(
                    "{bar:30.cyan/blue} {pos}/{len} files [{elapsed}] {wide_msg}",
                )
                .expect("valid template")
                .progress_chars("=> ");
                let bar = ProgressBar::new(total as u64).with_style(style);
                bar.enable_steady_tick(Duration::from_millis(250));
                bar
            });
        Progress { bar }
    }

    /// A file is about to be scanned.
    pub fn start(&self, path: &Path) {
        if let Some(bar) = &self.bar {
            bar.set_message(path.display().to_string());
        }
    }

    /// A file is done.
    pub fn advance(&self) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    /// `dfd: PATH: MSG` on stderr.
    pub fn error(&self, path: &Path, msg: &str) {
        self.stderr(&format!("dfd: {}: {msg}", path.display()));
    }

    /// `dfd: PATH: warning: MSG` on stderr.
    pub fn warn(&self, path: &Path, msg: &str) {
        self.stderr(&format!("dfd: {}: warning: {msg}", path.display()));
    }

    /// Warnings about damage the decoder got past in a scored file.
    pub fn decode_warnings(&self, path: &Path, r: &FileScore) {
        if r.truncated {
            self.warn(
                path,
                "the file is truncated; scored the audio before the cut",
            );
        }
        if r.skipped_packets > 0 {
            self.warn(
                path,
                &format!("skipped {} corrupt packet(s)", r.skipped_packets),
            );
        }
    }

    pub fn stderr(&self, line: &str) {
        self.with_bar_hidden(|| eprintln!("{line}"));
    }

    /// Removes the bar, leaving only the results on the terminal.
    pub fn finish(self) {
        self.clear();
    }

    fn clear(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    fn with_bar_hidden(&self, f: impl FnOnce()) {
        match &self.bar {
            Some(bar) => bar.suspend(f),
            None => f(),
        }
    }
}

/// `path: p_fake 0.912 synthetic | 7 windows: 86% synthetic, 14% bona fide | speech 3.8 s / 3.9 s`
fn human_line(path: &Path, r: &FileScore) -> String {
    let s = &r.score;
    let (p, verdict) = match s.verdict {
        Verdict::Synthetic => (format!("{:.3}", s.p_fake), "synthetic"),
        Verdict::Bonafide => (format!("{:.3}", s.p_fake), "bona fide"),
        Verdict::Unknown => ("  -  ".to_string(), "unknown"),
    };
    let windows = match r.shares() {
        Some((syn, bon)) => format!(
            "{} window{}: {:.0}% synthetic, {:.0}% bona fide",
            s.windows,
            if s.windows == 1 { "" } else { "s" },
            syn * 100.0,
            bon * 100.0
        ),
        None => match s.unscored {
            Some(why) => why.to_string(),
            None => "no window scored".to_string(),
        },
    };
    format!(
        "{}: p_fake {p} {verdict} | {windows} | speech {:.1} s / {:.1} s",
        path.display(),
        s.speech_seconds,
        s.seconds
    )
}
