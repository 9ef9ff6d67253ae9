//! `dfd eval`: metrics consistent with `dfd scan`, the JSON report, the plot, bad layouts.

mod common;

use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::process::Output;

use serde_json::Value;

use common::*;

/// `dfd eval --model tiny-mel --plugin-dir … <extra> DIR`.
fn eval(dir: &Path, extra: &[&OsStr]) -> Output {
    let mut args: Vec<OsString> = vec![
        "eval".into(),
        "--model".into(),
        model().into(),
        "--plugin-dir".into(),
        plugin_dir().into(),
    ];
    args.extend(extra.iter().map(|a| a.to_os_string()));
    args.push(dir.into());
    dfd(args)
}

fn copy_into(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
    std::fs::copy(src, dst).unwrap();
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn num(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("no number {key} in {v}"))
}

/// p_fake of each file as `dfd scan --json` gives it.
fn scan_scores(dir: &Path) -> Vec<(String, f64)> {
    let out = scan(&["--json"], &[dir]);
    json_lines(&out)
        .iter()
        .filter(|l| l["windows"].as_u64().unwrap_or(0) > 0)
        .map(|l| (l["file"].as_str().unwrap().to_owned(), p(l)))
        .collect()
}

#[test]
fn eval_metrics_are_consistent_with_scan_and_the_plot_is_a_png() {
    let dir = scratch("eval");
    let (real, fake) = (dir.join("real"), dir.join("fake"));
    copy_into(&speech_wav(), &real.join("speech_16k.wav"));
    copy_into(
        &repo().join("tests/fixtures/audio/telephone_8k.wav"),
        &real.join("calls/2024/deep/telephone_8k.WAV"),
    );
    copy_into(
        &repo().join("tests/fixtures/audio/speech_22k05.wav"),
        &real.join("speech_22k05.wav"),
    );
    trim_wav(&speech_wav(), 0.3, &real.join("too_short.wav"));
    for name in [
        "speech_44k1_stereo.flac",
        "speech_44k1_stereo.mp3",
        "speech_44k1_stereo.ogg",
    ] {
        copy_into(&cli_fixture(name), &fake.join("tts").join(name));
    }
    std::fs::write(fake.join("README.txt"), "not audio, not looked at").unwrap();
    let (json, png) = (dir.join("metrics.json"), dir.join("curves.png"));

    let out = eval(
        &dir,
        &[
            OsStr::new("--json"),
            json.as_os_str(),
            OsStr::new("--plot"),
            png.as_os_str(),
        ],
    );
    assert_exit(&out, 0);
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    eprintln!("{stdout}");
    let v = read_json(&json);
    eprintln!("{v:#}");

    // The short clip scores no window: listed, warned about, left out.
    let short = real.join("too_short.wav");
    assert_eq!(v["unscored"], serde_json::json!([short.to_str().unwrap()]));
    assert!(
        stderr.contains(&format!(
            "dfd: {}: warning: no window scored",
            short.display()
        )),
        "{stderr}"
    );
    assert_eq!(v["failed"], serde_json::json!([]));
    assert_eq!(v["n_real"], 3);
    assert_eq!(v["n_fake"], 3);
    assert_eq!(v["model"]["name"], "tiny-mel");
    assert_eq!(v["model"]["backend"], "cpu");
    assert!((num(&v, "threshold") - manifest_threshold()).abs() < 1e-6);

    // The confusion matrix counts every scored file once.
    let c = &v["confusion"];
    let [tp, fp, tn, fn_] = ["tp", "fp", "tn", "fn"].map(|k| num(c, k));
    assert_eq!(tp + fn_, 3.0);
    assert_eq!(fp + tn, 3.0);

    // The rates are those of the confusion matrix.
    let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
    let ratio = |n: f64, d: f64| if d == 0.0 { 0.0 } else { n / d };
    assert!(close(num(&v, "accuracy"), (tp + tn) / 6.0), "{v}");
    assert!(close(num(&v, "precision"), ratio(tp, tp + fp)), "{v}");
    assert!(close(num(&v, "recall"), ratio(tp, tp + fn_)), "{v}");
    assert!(
        close(num(&v, "f1"), ratio(2.0 * tp, 2.0 * tp + fp + fn_)),
        "{v}"
    );
    let mcc_den = ((tp + fp) * (tp + fn_) * (tn + fp) * (tn + fn_)).sqrt();
    assert!(
        close(num(&v, "mcc"), ratio(tp * tn - fp * fn_, mcc_den)),
        "{v}"
    );

    // Misclassified: exactly the fp + fn files, each on the wrong side.
    let threshold = num(&v, "threshold");
    let wrong = v["misclassified"].as_array().unwrap();
    assert_eq!(wrong.len() as f64, fp + fn_);
    for m in wrong {
        let pf = p(m);
        match m["label"].as_str().unwrap() {
            "bonafide" => {
                assert!(pf >= threshold && m["path"].as_str().unwrap().contains("/real/"))
            }
            "synthetic" => {
                assert!(pf < threshold && m["path"].as_str().unwrap().contains("/fake/"))
            }
            other => panic!("label {other}"),
        }
    }

    // The same scores as `dfd scan`: AUC as the share of (real, fake) pairs
    // ordered right (ties one half), and the verdicts' errors.
    let real_scores = scan_scores(&real);
    let fake_scores = scan_scores(&fake);
    assert_eq!((real_scores.len(), fake_scores.len()), (3, 3));
    let mut pairs = 0.0;
    for (_, r) in &real_scores {
        for (_, f) in &fake_scores {
            pairs += if f > r {
                1.0
            } else if f == r {
                0.5
            } else {
                0.0
            };
        }
    }
    assert!(close(num(&v, "auc"), pairs / 9.0), "{v}");
    let scan_wrong = real_scores
        .iter()
        .filter(|(_, s)| *s >= threshold)
        .chain(fake_scores.iter().filter(|(_, s)| *s < threshold))
        .count();
    assert_eq!(scan_wrong, wrong.len());
    for m in wrong {
        let (_, s) = real_scores
            .iter()
            .chain(&fake_scores)
            .find(|(f, _)| f == m["path"].as_str().unwrap())
            .unwrap();
        assert!((s - p(m)).abs() < 1e-6, "{m} vs scan's {s}");
    }

    // The EER is a rate reached at one of the scores (or just above them all).
    let eer = num(&v, "eer");
    assert!((0.0..=1.0).contains(&eer), "{v}");
    let t = num(&v, "eer_threshold");
    let all: Vec<f64> = real_scores
        .iter()
        .chain(&fake_scores)
        .map(|(_, s)| *s)
        .collect();
    let max = all.iter().copied().fold(f64::MIN, f64::max);
    assert!(
        all.iter().any(|s| (s - t).abs() < 1e-6) || (t - (max + 0.001)).abs() < 1e-6,
        "{t} not among {all:?}"
    );

    // The text report says the same.
    assert!(
        stdout.contains("on 6 files: 3 bona fide, 3 synthetic"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("EER      {:6.2} %", eer * 100.0)),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("ROC AUC  {:.4}", num(&v, "auc"))),
        "{stdout}"
    );

    // The plot: a PNG of the documented size.
    let bytes = std::fs::read(&png).unwrap();
    assert!(bytes.len() > 10_000, "{} bytes", bytes.len());
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&bytes[12..16], b"IHDR");
    let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((w, h), (1800, 640));
}

#[test]
fn eval_takes_bonafide_and_spoof_and_reports_undecodable_files() {
    let dir = scratch("eval-spoof");
    copy_into(&speech_wav(), &dir.join("Bonafide/a.wav"));
    copy_into(
        &cli_fixture("speech_44k1_stereo.flac"),
        &dir.join("Bonafide/x/y/b.flac"),
    );
    copy_into(
        &cli_fixture("speech_44k1_stereo.ogg"),
        &dir.join("SPOOF/c.ogg"),
    );
    let bad = dir.join("SPOOF/x.wav");
    std::fs::write(&bad, "this is a text file, not a WAV\n").unwrap();
    let json = dir.join("out.json");

    let out = eval(&dir, &[OsStr::new("--json"), json.as_os_str()]);
    assert_exit(&out, 1);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("dfd: {}: ", bad.display())),
        "{stderr}"
    );
    let v = read_json(&json);
    assert_eq!(v["n_real"], 2);
    assert_eq!(v["n_fake"], 1);
    let failed = v["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1, "{v}");
    assert_eq!(failed[0]["path"], bad.to_str().unwrap());
    assert!(
        failed[0]["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{v}"
    );
    let c = &v["confusion"];
    let sum: u64 = ["tp", "fp", "tn", "fn"]
        .iter()
        .map(|k| c[*k].as_u64().unwrap())
        .sum();
    assert_eq!(sum, 3);
    assert!(
        text(&out.stdout).contains("left out: 1 that could not be decoded"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn eval_needs_both_classes() {
    // No fake/ at all.
    let dir = scratch("eval-nofake");
    copy_into(&speech_wav(), &dir.join("real/a.wav"));
    let out = eval(&dir, &[]);
    assert_exit(&out, 2);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("no fake/ (or spoof/) directory"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());

    // fake/ without audio files.
    std::fs::create_dir_all(dir.join("fake")).unwrap();
    std::fs::write(dir.join("fake/notes.txt"), "nothing").unwrap();
    let out = eval(&dir, &[]);
    assert_exit(&out, 2);
    assert!(
        text(&out.stderr).contains("no audio files"),
        "{}",
        text(&out.stderr)
    );

    // fake/ whose only file cannot be decoded: nothing to evaluate.
    std::fs::write(dir.join("fake/x.wav"), "not audio").unwrap();
    let json = dir.join("never.json");
    let out = eval(&dir, &[OsStr::new("--json"), json.as_os_str()]);
    assert_exit(&out, 2);
    let stderr = text(&out.stderr);
    assert!(stderr.contains("x.wav"), "{stderr}");
    assert!(stderr.contains("cannot evaluate"), "{stderr}");
    assert!(!json.exists());

    // A DIR that is not there.
    let out = eval(&dir.join("nope"), &[]);
    assert_exit(&out, 2);
}

#[test]
fn eval_help_documents_the_layout_and_outputs() {
    let out = dfd(["eval", "--help"]);
    assert_exit(&out, 0);
    let help = text(&out.stdout);
    for word in [
        "real/",
        "fake/",
        "bonafide/",
        "spoof/",
        "--json",
        "--plot",
        "--model",
        "EER",
        "ASVspoof",
        "Exit status",
    ] {
        assert!(help.contains(word), "{word} not in\n{help}");
    }
}
