//! `dfd eval`: score a directory of labelled audio (real/ and fake/) the way
//! `dfd scan` scores files, then measure the model on it ([`metrics`]),
//! print the result, and optionally write it as JSON and draw it ([`plot`]).

use std::fs;
use std::path::{Path, PathBuf};

use dfd::{Model, Verdict};
use serde::Serialize;

use crate::exit;
use crate::metrics::{self, Confusion};
use crate::outputs::check_writable;
use crate::plot;
use crate::report::Progress;
use crate::results::Evaluation;
use crate::scan::{load_model, scan_file, Keep};
use crate::walk::{self, Entry};
use crate::EvalArgs;

/// Directory names (compared case-insensitively) of each class.
const BONAFIDE_DIRS: [&str; 2] = ["real", "bonafide"];
const SYNTHETIC_DIRS: [&str; 2] = ["fake", "spoof"];

/// Misclassified files listed in the text output (all are in the JSON).
const MAX_LISTED: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Label {
    Bonafide,
    Synthetic,
}

impl Label {
    fn as_str(self) -> &'static str {
        match self {
            Label::Bonafide => "bonafide",
            Label::Synthetic => "synthetic",
        }
    }

    fn words(self) -> &'static str {
        match self {
            Label::Bonafide => "bona fide",
            Label::Synthetic => "synthetic",
        }
    }
}

struct Scored {
    path: PathBuf,
    label: Label,
    p_fake: f64,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    eer: f64,
    eer_threshold: f64,
    auc: f64,
    accuracy: f64,
    precision: f64,
    recall: f64,
    f1: f64,
    mcc: f64,
    confusion: Confusion,
    n_real: usize,
    n_fake: usize,
    threshold: f64,
    model: JsonModel<'a>,
    misclassified: Vec<JsonMisclassified>,
    failed: Vec<JsonFailed>,
    unscored: Vec<String>,
}

#[derive(Serialize)]
struct JsonModel<'a> {
    name: &'a str,
    backend: &'a str,
    precision: &'a str,
}

#[derive(Serialize)]
struct JsonMisclassified {
    path: String,
    label: &'static str,
    p_fake: f64,
}

#[derive(Serialize)]
struct JsonFailed {
    path: String,
    error: String,
}

pub fn run(args: &EvalArgs) -> u8 {
    // Everything that can be checked before the (long) scoring is.
    let files = match labelled_files(&args.dir) {
        Ok(files) => files,
        Err(msg) => {
            eprintln!("dfd: {msg}");
            return exit::USAGE;
        }
    };
    for out in [&args.json, &args.plot].into_iter().flatten() {
        if let Err(msg) = check_writable(out) {
            eprintln!("dfd: {msg}");
            return exit::USAGE;
        }
    }
    let model = match load_model(&args.model) {
        Ok(model) => model,
        Err(msg) => {
            eprintln!("dfd: {msg}");
            return exit::USAGE;
        }
    };
    let threshold = f64::from(model.manifest().threshold);

    let progress = Progress::new(Some(files.len()));
    let mut scored: Vec<Scored> = Vec::new();
    let mut failed: Vec<(PathBuf, String)> = Vec::new();
    let mut unscored: Vec<PathBuf> = Vec::new();
    for (label, entry) in files {
        let (path, result) = match entry {
            Entry::File(path) => {
                progress.start(&path);
                let result = scan_file(&model, &path, Keep::default());
                (path, result)
            }
            Entry::Unreadable(path, msg) => (path, Err(msg)),
        };
        match result {
            Ok(r) => {
                progress.decode_warnings(&path, &r);
                if r.score.verdict == Verdict::Unknown {
                    progress.warn(
                        &path,
                        "no window scored (too short or silent); left out of the metrics",
                    );
                    unscored.push(path);
                } else {
                    scored.push(Scored {
                        path,
                        label,
                        p_fake: f64::from(r.score.p_fake),
                    });
                }
            }
            Err(msg) => {
                progress.error(&path, &msg);
                failed.push((path, msg));
            }
        }
        progress.advance();
    }
    progress.finish();

    let scores = |label| -> Vec<f64> {
        scored
            .iter()
            .filter(|s| s.label == label)
            .map(|s| s.p_fake)
            .collect()
    };
    let (bonafide, synthetic) = (scores(Label::Bonafide), scores(Label::Synthetic));
    let (Some(eer), Some(auc)) = (
        metrics::eer(&bonafide, &synthetic),
        metrics::auc(&bonafide, &synthetic),
    ) else {
        let left = if failed.is_empty() && unscored.is_empty() {
            String::new()
        } else {
            format!(
                " ({} failed, {} with no scored window)",
                failed.len(),
                unscored.len()
            )
        };
        eprintln!(
            "dfd: cannot evaluate: {} bona fide and {} synthetic file(s) could be scored{left}; \
             each class needs at least one",
            bonafide.len(),
            synthetic.len()
        );
        return exit::USAGE;
    };
    let confusion = Confusion::at(&bonafide, &synthetic, threshold);
    let mut misclassified: Vec<&Scored> = scored
        .iter()
        .filter(|s| (s.p_fake >= threshold) != (s.label == Label::Synthetic))
        .collect();
    // The most confidently wrong first, then by path.
    misclassified.sort_by(|a, b| {
        let (da, db) = ((a.p_fake - threshold).abs(), (b.p_fake - threshold).abs());
        db.total_cmp(&da).then_with(|| a.path.cmp(&b.path))
    });
    let ev = Evaluation {
        bonafide,
        synthetic,
        threshold,
        eer,
        auc,
        confusion,
        model: model.manifest().name.clone(),
    };

    print!("{}", human(&ev, &model, &misclassified, &failed, &unscored));

    let mut code = if failed.is_empty() {
        exit::OK
    } else {
        exit::FILE_FAILED
    };
    if let Some(out) = &args.json {
        let report = json_report(&ev, &model, &misclassified, &failed, &unscored);
        let text = serde_json::to_string_pretty(&report).expect("serialisable") + "\n";
        if let Err(e) = fs::write(out, text) {
            eprintln!("dfd: cannot write {}: {e}", out.display());
            code = exit::FILE_FAILED;
        }
    }
    if let Some(out) = &args.plot {
        if let Err(msg) = plot::eval::draw(out, &ev) {
            eprintln!("dfd: cannot draw {}: {msg}", out.display());
            code = exit::FILE_FAILED;
        }
    }
    code
}

/// The audio files of both classes, bona fide first, each class in sorted
/// order; an error when a class directory is missing, ambiguous or empty.
fn labelled_files(dir: &Path) -> Result<Vec<(Label, Entry)>, String> {
    let listing = fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let (mut bonafide, mut synthetic) = (Vec::new(), Vec::new());
    for entry in listing {
        let entry = entry.map_err(|e| format!("{}: {e}", dir.display()))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let is = |names: &[&str]| names.iter().any(|n| n.eq_ignore_ascii_case(name));
        let class = if is(&BONAFIDE_DIRS) {
            &mut bonafide
        } else if is(&SYNTHETIC_DIRS) {
            &mut synthetic
        } else {
            continue;
        };
        // Followed if a link: a class may live elsewhere.
        if fs::metadata(entry.path()).is_ok_and(|m| m.is_dir()) {
            class.push(entry.path());
        }
    }
    let mut files = Vec::new();
    for (label, mut found, names, what) in [
        (Label::Bonafide, bonafide, BONAFIDE_DIRS, "bona fide"),
        (Label::Synthetic, synthetic, SYNTHETIC_DIRS, "synthetic"),
    ] {
        found.sort();
        let class_dir = match found.as_slice() {
            [one] => one,
            [] => {
                return Err(format!(
                    "{}: no {}/ (or {}/) directory of {what} speech in it; \
                     dfd eval needs both real/ and fake/ (or bonafide/ and spoof/)",
                    dir.display(),
                    names[0],
                    names[1]
                ))
            }
            several => {
                let names: Vec<String> = several.iter().map(|p| p.display().to_string()).collect();
                return Err(format!(
                    "{} directories of {what} speech: {}; keep one",
                    several.len(),
                    names.join(", ")
                ));
            }
        };
        let entries = walk::audio_files_under(class_dir);
        if !entries.iter().any(|e| matches!(e, Entry::File(_))) {
            let exts = walk::AUDIO_EXTENSIONS.map(|e| format!(".{e}")).join(", ");
            return Err(format!(
                "{}: no audio files ({exts}) in this directory of {what} speech",
                class_dir.display()
            ));
        }
        files.extend(entries.into_iter().map(|e| (label, e)));
    }
    Ok(files)
}

fn json_report<'a>(
    ev: &Evaluation,
    model: &'a Model,
    misclassified: &[&Scored],
    failed: &[(PathBuf, String)],
    unscored: &[PathBuf],
) -> JsonReport<'a> {
    let c = &ev.confusion;
    JsonReport {
        eer: ev.eer.eer,
        eer_threshold: ev.eer.threshold,
        auc: ev.auc,
        accuracy: c.accuracy(),
        precision: c.precision(),
        recall: c.recall(),
        f1: c.f1(),
        mcc: c.mcc(),
        confusion: *c,
        n_real: ev.bonafide.len(),
        n_fake: ev.synthetic.len(),
        threshold: ev.threshold,
        model: JsonModel {
            name: &model.manifest().name,
            backend: model.backend_name(),
            precision: model.precision().as_str(),
        },
        misclassified: misclassified
            .iter()
            .map(|s| JsonMisclassified {
                path: s.path.to_string_lossy().into_owned(),
                label: s.label.as_str(),
                p_fake: s.p_fake,
            })
            .collect(),
        failed: failed
            .iter()
            .map(|(path, error)| JsonFailed {
                path: path.to_string_lossy().into_owned(),
                error: error.clone(),
            })
            .collect(),
        unscored: unscored
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect(),
    }
}

/// The text report on stdout.
fn human(
    ev: &Evaluation,
    model: &Model,
    misclassified: &[&Scored],
    failed: &[(PathBuf, String)],
    unscored: &[PathBuf],
) -> String {
    use std::fmt::Write;
    let c = &ev.confusion;
    let mut s = String::new();
    let (nb, ns) = (ev.bonafide.len(), ev.synthetic.len());
    let _ = writeln!(
        s,
        "model {} ({}, {}) on {} files: {nb} bona fide, {ns} synthetic",
        model.manifest().name,
        model.backend_name(),
        model.precision().as_str(),
        nb + ns
    );
    if !failed.is_empty() || !unscored.is_empty() {
        let _ = writeln!(
            s,
            "left out: {} that could not be decoded, {} with no scored window (see stderr)",
            failed.len(),
            unscored.len()
        );
    }
    let _ = writeln!(
        s,
        "EER      {:6.2} %  at p_fake >= {:.4}",
        ev.eer.eer * 100.0,
        ev.eer.threshold
    );
    let _ = writeln!(s, "ROC AUC  {:.4}", ev.auc);
    let _ = writeln!(
        s,
        "at the model's threshold, p_fake >= {:.4} is synthetic:",
        ev.threshold
    );
    let _ = writeln!(
        s,
        "  accuracy {:.4}  precision {:.4}  recall {:.4}  F1 {:.4}  MCC {:.4}",
        c.accuracy(),
        c.precision(),
        c.recall(),
        c.f1(),
        c.mcc()
    );
    let w = [c.tp, c.fp, c.tn, c.fn_]
        .iter()
        .map(|v| v.to_string().len())
        .max()
        .unwrap_or(1);
    let _ = writeln!(
        s,
        "  {:<13}{:<w2$}  {}",
        "",
        "flagged synthetic",
        "passed as bona fide",
        w2 = 17.max(w + 3)
    );
    let _ = writeln!(
        s,
        "  {:<13}{:<w2$}  fn {}",
        "synthetic",
        format!("tp {}", c.tp),
        c.fn_,
        w2 = 17.max(w + 3)
    );
    let _ = writeln!(
        s,
        "  {:<13}{:<w2$}  tn {}",
        "bona fide",
        format!("fp {}", c.fp),
        c.tn,
        w2 = 17.max(w + 3)
    );
    if misclassified.is_empty() {
        let _ = writeln!(s, "no file misclassified");
    } else {
        let _ = writeln!(
            s,
            "{} misclassified, the most confidently wrong first:",
            misclassified.len()
        );
        for m in misclassified.iter().take(MAX_LISTED) {
            let _ = writeln!(
                s,
                "  {:<9}  p_fake {:.3}  {}",
                m.label.words(),
                m.p_fake,
                m.path.display()
            );
        }
        if misclassified.len() > MAX_LISTED {
            let _ = writeln!(
                s,
                "  … and {} more (all are listed by --json)",
                misclassified.len() - MAX_LISTED
            );
        }
    }
    s
}
