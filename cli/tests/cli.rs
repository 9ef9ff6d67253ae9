//! End-to-end tests of the `dfd` binary on the repository's fixture model
//! (random weights: results are checked for structure and consistency, not
//! for which verdict they give) and real speech.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// Largest |Δp_fake| accepted between the same speech decoded from different
/// formats. The 44.1 kHz stereo clips went 16 kHz → 44.1 kHz (ffmpeg) and come
/// back 44.1 → 16 kHz (libdfd's resampler); MP3 and Vorbis are lossy at
/// ~64-100 kbit/s and MP3 decoding may be off by a few samples of encoder
/// delay. All of that changes the log-mel features slightly, not the speech:
/// 0.1 on a [0, 1] probability still catches a wrong rate, a channel mix-up,
/// lost or duplicated packets, or a silent decode, each of which moves the
/// windows' features far more.
const FORMAT_TOLERANCE: f64 = 0.1;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn model() -> PathBuf {
    repo().join("tests/fixtures/models/tiny-mel")
}

fn speech_wav() -> PathBuf {
    repo().join("tests/fixtures/audio/speech_16k.wav")
}

fn cli_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The directory holding libdfd_backend_cpu.so, which `cargo test` builds
/// as a dev-dependency next to this test binary (target/<profile>/deps/).
fn plugin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    let profile = deps.parent().unwrap();
    for dir in [profile, deps] {
        if dir.join("libdfd_backend_cpu.so").is_file() {
            return dir.to_path_buf();
        }
    }
    panic!(
        "libdfd_backend_cpu.so is in neither {} nor {}; run the tests with `cargo test -p dfd-cli`, which builds it",
        profile.display(),
        deps.display()
    );
}

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("dfd-cli-tests")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `dfd` with no model or plugin path from the caller's environment.
fn dfd<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Command::new(env!("CARGO_BIN_EXE_dfd"))
        .env_remove("DFD_MODEL")
        .env_remove("DFD_PLUGIN_PATH")
        .args(args)
        .output()
        .expect("runs dfd")
}

/// `dfd scan --model tiny-mel --plugin-dir … <extra> <files>`.
fn scan(extra: &[&str], files: &[&Path]) -> Output {
    let mut args: Vec<OsString> = vec![
        "scan".into(),
        "--model".into(),
        model().into(),
        "--plugin-dir".into(),
        plugin_dir().into(),
    ];
    args.extend(extra.iter().map(OsString::from));
    args.extend(files.iter().map(|f| f.as_os_str().to_owned()));
    dfd(args)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("UTF-8 output")
}

fn json_lines(out: &Output) -> Vec<Value> {
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn assert_exit(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "exit status\nstdout:\n{}\nstderr:\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// Writes the first `seconds` of a 16-bit PCM WAV as a new WAV (the
/// reference the 2 s compressed clips are compared with).
fn trim_wav(src: &Path, seconds: f64, dst: &Path) {
    let bytes = std::fs::read(src).unwrap();
    assert_eq!(&bytes[0..4], b"RIFF");
    let (mut pos, mut fmt, mut data) = (12, None, None);
    while pos + 8 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().unwrap()) as usize;
        let body = pos + 8..(pos + 8 + len).min(bytes.len());
        match &bytes[pos..pos + 4] {
            b"fmt " => fmt = Some(bytes[body.clone()].to_vec()),
            b"data" => data = Some(bytes[body].to_vec()),
            _ => {}
        }
        pos += 8 + len + (len & 1);
    }
    let (fmt, data) = (fmt.unwrap(), data.unwrap());
    let channels = u16::from_le_bytes([fmt[2], fmt[3]]) as usize;
    let rate = u32::from_le_bytes(fmt[4..8].try_into().unwrap());
    assert_eq!(
        u16::from_le_bytes([fmt[14], fmt[15]]),
        16,
        "16-bit PCM expected"
    );
    let keep = ((seconds * f64::from(rate)) as usize * channels * 2).min(data.len());
    let mut out = Vec::new();
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(4 + 8 + fmt.len() as u32 + 8 + keep as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&(fmt.len() as u32).to_le_bytes());
    out.extend_from_slice(&fmt);
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(keep as u32).to_le_bytes());
    out.extend_from_slice(&data[..keep]);
    std::fs::write(dst, out).unwrap();
}

fn manifest_threshold() -> f64 {
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(model().join("manifest.json")).unwrap())
            .unwrap();
    manifest["threshold"].as_f64().unwrap()
}

fn p(v: &Value) -> f64 {
    v["p_fake"]
        .as_f64()
        .unwrap_or_else(|| panic!("no p_fake in {v}"))
}

#[test]
fn every_format_scores_like_the_wav() {
    let dir = scratch("formats");
    let wav = dir.join("speech_2s_16k_mono.wav");
    trim_wav(&speech_wav(), 2.0, &wav);
    let flac = cli_fixture("speech_44k1_stereo.flac");
    let mp3 = cli_fixture("speech_44k1_stereo.mp3");
    let ogg = cli_fixture("speech_44k1_stereo.ogg");
    let out = scan(&["--json"], &[&wav, &flac, &mp3, &ogg]);
    assert_exit(&out, 0);
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 4);
    let reference = &lines[0];
    assert!(reference["windows"].as_u64().unwrap() >= 2, "{reference}");
    for line in &lines {
        eprintln!(
            "{}: p_fake {:.4}, {} windows",
            line["file"],
            p(line),
            line["windows"]
        );
        assert_ne!(line["verdict"], "unknown", "{line}");
        assert!(
            (line["seconds"].as_f64().unwrap() - 2.0).abs() < 0.06,
            "length: {line}"
        );
        assert!(
            (p(line) - p(reference)).abs() <= FORMAT_TOLERANCE,
            "{}: p_fake {} vs the WAV's {}",
            line["file"],
            p(line),
            p(reference)
        );
        let dw = line["windows"].as_i64().unwrap() - reference["windows"].as_i64().unwrap();
        assert!(dw.abs() <= 1, "window count {line} vs {reference}");
    }
}

#[test]
fn native_rate_and_resampled_wavs_agree() {
    let native = repo().join("tests/fixtures/audio/speech_22k05.wav");
    let out = scan(&["--json"], &[&speech_wav(), &native]);
    assert_exit(&out, 0);
    let lines = json_lines(&out);
    assert!(
        (p(&lines[0]) - p(&lines[1])).abs() <= FORMAT_TOLERANCE,
        "{lines:?}"
    );
}

#[test]
fn json_output_is_complete_and_consistent() {
    let out = scan(&["--json"], &[&speech_wav()]);
    assert_exit(&out, 0);
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 1);
    let v = &lines[0];
    for key in [
        "file",
        "model",
        "backend",
        "precision",
        "p_fake",
        "verdict",
        "windows",
        "synthetic_share",
        "bonafide_share",
        "seconds",
        "speech_seconds",
        "timeline",
    ] {
        assert!(v.get(key).is_some(), "missing {key}: {v}");
    }
    assert_eq!(v["file"], speech_wav().to_str().unwrap());
    assert_eq!(v["model"], "tiny-mel");
    assert_eq!(v["backend"], "cpu");
    assert!(
        ["fp32", "fp16", "int8"].contains(&v["precision"].as_str().unwrap()),
        "{v}"
    );

    let threshold = manifest_threshold();
    let pf = p(v);
    assert!((0.0..=1.0).contains(&pf));
    assert_eq!(
        v["verdict"],
        if pf >= threshold {
            "synthetic"
        } else {
            "bonafide"
        }
    );

    let seconds = v["seconds"].as_f64().unwrap();
    assert!((seconds - 3.88).abs() < 0.01, "{v}");
    let speech = v["speech_seconds"].as_f64().unwrap();
    assert!(speech > 0.0 && speech <= seconds + 1e-9, "{v}");

    // The timeline: every scored window, in order, one hop (0.5 s) apart,
    // the last aligned to the end of the audio (less than a hop after the
    // one before it).
    let timeline = v["timeline"].as_array().unwrap();
    assert_eq!(timeline.len() as u64, v["windows"].as_u64().unwrap());
    assert!(
        timeline.len() >= 5,
        "3.88 s of speech in 1 s windows every 0.5 s: {v}"
    );
    let mut prev_start = -1.0;
    let mut logits = 0.0;
    let mut synthetic = 0;
    for (i, w) in timeline.iter().enumerate() {
        let (start, end, wp) = (
            w["start"].as_f64().unwrap(),
            w["end"].as_f64().unwrap(),
            p(w),
        );
        assert!(
            start > prev_start && end > start && end <= seconds + 1e-6,
            "window {w} in {v}"
        );
        if i + 1 == timeline.len() {
            assert!((end - seconds).abs() < 1e-6, "end-aligned last window: {w}");
        }
        if prev_start >= 0.0 && i + 1 < timeline.len() {
            assert!((start - prev_start - 0.5).abs() < 1e-9, "hop of 0.5 s: {w}");
        }
        assert!(wp > 0.0 && wp < 1.0, "{w}");
        prev_start = start;
        logits += (wp / (1.0 - wp)).ln();
        synthetic += usize::from(wp >= threshold);
    }
    // p_fake is the sigmoid of the mean window logit (libdfd's aggregate).
    let mean = logits / timeline.len() as f64;
    assert!(
        (1.0 / (1.0 + (-mean).exp()) - pf).abs() < 1e-4,
        "aggregate of the timeline vs p_fake {pf}"
    );
    let syn_share = v["synthetic_share"].as_f64().unwrap();
    assert!((syn_share - synthetic as f64 / timeline.len() as f64).abs() < 1e-9);
    assert!((syn_share + v["bonafide_share"].as_f64().unwrap() - 1.0).abs() < 1e-9);

    // The human line says the same, rounded.
    let human = scan(&[], &[&speech_wav()]);
    assert_exit(&human, 0);
    let line = text(&human.stdout);
    let verdict = if pf >= threshold {
        "synthetic"
    } else {
        "bona fide"
    };
    assert!(
        line.starts_with(&format!(
            "{}: p_fake {pf:.3} {verdict} | ",
            speech_wav().display()
        )),
        "{line}"
    );
    assert!(
        line.contains(&format!("{} windows: ", timeline.len())),
        "{line}"
    );
    assert!(
        line.contains(&format!("speech {speech:.1} s / {seconds:.1} s")),
        "{line}"
    );
}

#[test]
fn each_precision_variant_loads_and_scores() {
    let mut scores = Vec::new();
    for precision in ["fp32", "fp16", "int8"] {
        let out = scan(
            &[
                "--json",
                "--precision",
                precision,
                "--backend",
                "cpu",
                "--threads",
                "1",
            ],
            &[&speech_wav()],
        );
        assert_exit(&out, 0);
        let v = &json_lines(&out)[0];
        assert_eq!(v["precision"], precision);
        assert_eq!(v["backend"], "cpu");
        scores.push((precision, p(v), v["windows"].as_u64().unwrap()));
    }
    eprintln!("{scores:?}");
    // Same audio, same gate: the same windows are scored whatever the precision.
    assert!(scores.iter().all(|s| s.2 == scores[0].2), "{scores:?}");
}

#[test]
fn too_short_clip_is_unknown_not_an_error() {
    let dir = scratch("short");
    let wav = dir.join("short.wav");
    trim_wav(&speech_wav(), 0.3, &wav);
    let out = scan(&["--json"], &[&wav]);
    assert_exit(&out, 0);
    let v = &json_lines(&out)[0];
    assert_eq!(v["verdict"], "unknown");
    assert_eq!(v["windows"], 0);
    assert!(
        v["p_fake"].is_null() && v["synthetic_share"].is_null() && v["bonafide_share"].is_null(),
        "{v}"
    );
    assert_eq!(v["timeline"].as_array().unwrap().len(), 0);

    let out = scan(&[], &[&wav]);
    assert_exit(&out, 0);
    assert!(
        text(&out.stdout).contains("unknown"),
        "{}",
        text(&out.stdout)
    );
}

/// Deterministic bytes that are no audio format (xorshift).
fn garbage(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn directory_scan_reports_a_corrupt_file_and_scans_the_rest() {
    let dir = scratch("dir");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::copy(speech_wav(), dir.join("a.wav")).unwrap();
    std::fs::copy(
        cli_fixture("speech_44k1_stereo.flac"),
        dir.join("sub/b.FLAC"),
    )
    .unwrap();
    std::fs::copy(cli_fixture("speech_44k1_stereo.ogg"), dir.join("sub/c.oga")).unwrap();
    std::fs::write(dir.join("bad.wav"), garbage(50_000)).unwrap();
    std::fs::write(dir.join("notes.txt"), "not audio").unwrap();

    let out = scan(&[], &[&dir]);
    assert_exit(&out, 1);
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    let bad = dir.join("bad.wav");
    assert!(
        stderr.contains(&format!("dfd: {}: ", bad.display())),
        "{stderr}"
    );
    let scanned: Vec<&str> = stdout
        .lines()
        .map(|l| l.split(": p_fake").next().unwrap())
        .collect();
    let want: Vec<PathBuf> = vec![
        dir.join("a.wav"),
        dir.join("sub/b.FLAC"),
        dir.join("sub/c.oga"),
    ];
    assert_eq!(
        scanned,
        want.iter().map(|p| p.to_str().unwrap()).collect::<Vec<_>>(),
        "{stdout}"
    );
    // No progress bar when stderr is not a terminal: only the one error line.
    assert_eq!(stderr.lines().count(), 1, "{stderr}");

    let out = scan(&["--json"], &[&dir]);
    assert_exit(&out, 1);
    let lines = json_lines(&out);
    let files: Vec<&str> = lines.iter().map(|l| l["file"].as_str().unwrap()).collect();
    assert_eq!(
        files,
        [
            dir.join("a.wav"),
            bad.clone(),
            dir.join("sub/b.FLAC"),
            dir.join("sub/c.oga")
        ]
        .map(|p| p.to_str().unwrap().to_owned())
    );
    assert!(
        lines[1]["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{}",
        lines[1]
    );
    assert!(lines[1].get("p_fake").is_none());
    assert!(lines[0].get("error").is_none() && lines[0]["p_fake"].is_number());
}

#[test]
fn explicit_files_are_scanned_whatever_their_extension() {
    let dir = scratch("explicit");
    let odd = dir.join("recording.bin");
    std::fs::copy(cli_fixture("speech_44k1_stereo.mp3"), &odd).unwrap();
    let out = scan(&[], &[&odd]);
    assert_exit(&out, 0);
    assert!(text(&out.stdout).starts_with(&format!("{}: p_fake ", odd.display())));
}

#[test]
fn missing_and_empty_inputs_fail_but_the_rest_is_scanned() {
    let dir = scratch("missing");
    let missing = dir.join("nope.wav");
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = scan(&[], &[&missing, &speech_wav(), &empty]);
    assert_exit(&out, 1);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("dfd: {}: ", missing.display())),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("dfd: {}: no audio files", empty.display())),
        "{stderr}"
    );
    assert_eq!(text(&out.stdout).lines().count(), 1);
}

#[test]
fn no_model_uses_the_builtin_default() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples");
    let out = dfd([
        OsStr::new("scan"),
        OsStr::new("--json"),
        OsStr::new("--plugin-dir"),
        plugin_dir().as_os_str(),
        root.join("bonafide_fr_june.wav").as_os_str(),
        root.join("synthetic_piper_joe.wav").as_os_str(),
    ]);
    assert_exit(&out, 0);
    let verdicts: Vec<String> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["verdict"].to_string())
        .collect();
    assert_eq!(verdicts, ["\"bonafide\"", "\"synthetic\""]);
}

#[test]
fn dfd_model_env_is_the_default_model() {
    let out = Command::new(env!("CARGO_BIN_EXE_dfd"))
        .env("DFD_MODEL", model())
        .env_remove("DFD_PLUGIN_PATH")
        .arg("scan")
        .arg("--plugin-dir")
        .arg(plugin_dir())
        .arg(speech_wav())
        .output()
        .unwrap();
    assert_exit(&out, 0);
}

#[test]
fn a_model_that_does_not_load_is_a_usage_error() {
    let bogus = repo().join("tests/fixtures/models/does-not-exist");
    let out = dfd([
        OsStr::new("scan"),
        OsStr::new("--model"),
        bogus.as_os_str(),
        OsStr::new("--plugin-dir"),
        plugin_dir().as_os_str(),
        speech_wav().as_os_str(),
    ]);
    assert_exit(&out, 2);
    assert!(
        text(&out.stderr).contains("cannot load model"),
        "{}",
        text(&out.stderr)
    );

    let out = dfd([
        OsStr::new("scan"),
        OsStr::new("--model"),
        model().as_os_str(),
        OsStr::new("--backend"),
        OsStr::new("nosuchbackend"),
        speech_wav().as_os_str(),
    ]);
    assert_exit(&out, 2);
}

#[test]
fn bad_arguments_are_usage_errors() {
    assert_exit(&dfd(["scan"]), 2);
    assert_exit(&dfd(["scan", "--precision", "fp64", "x.wav"]), 2);
    assert_exit(&dfd(["frobnicate"]), 2);
}

#[test]
fn backends_lists_cpu_as_available() {
    let plugins = plugin_dir();
    let out = dfd([
        OsStr::new("backends"),
        OsStr::new("--plugin-dir"),
        plugins.as_os_str(),
    ]);
    assert_exit(&out, 0);
    let stdout = text(&out.stdout);
    let cpu = stdout
        .lines()
        .find(|l| l.starts_with("cpu "))
        .unwrap_or_else(|| panic!("{stdout}"));
    let fields: Vec<&str> = cpu.split_whitespace().collect();
    assert_eq!(fields[1], "available", "{stdout}");
    assert!(cpu.contains("libdfd_backend_cpu.so"), "{stdout}");
    assert!(
        stdout.lines().any(|l| l.starts_with("cuda ")),
        "the known backends are always listed: {stdout}"
    );
}

#[test]
fn help_and_version() {
    let out = dfd(["--help"]);
    assert_exit(&out, 0);
    let help = text(&out.stdout);
    assert!(
        help.contains("scan") && help.contains("backends") && help.contains("Exit status"),
        "{help}"
    );
    let out = dfd(["scan", "--help"]);
    assert_exit(&out, 0);
    let help = text(&out.stdout);
    for word in [
        "--model",
        "--json",
        "--precision",
        "--plugin-dir",
        "DFD_MODEL",
        "FLAC",
    ] {
        assert!(help.contains(word), "{word} not in\n{help}");
    }
    let out = dfd(["--version"]);
    assert_exit(&out, 0);
    assert!(text(&out.stdout).contains(env!("CARGO_PKG_VERSION")));
}

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

/// `dfd inspect <model> --plugin-dir …`.
fn inspect(model: &Path) -> Output {
    let args: Vec<OsString> = vec![
        "inspect".into(),
        model.into(),
        "--plugin-dir".into(),
        plugin_dir().into(),
    ];
    dfd(args)
}

#[test]
fn inspect_describes_a_consistent_model_without_warnings() {
    let out = inspect(&model());
    assert_exit(&out, 0);
    let s = text(&out.stdout);
    for want in [
        "model        tiny-mel",
        "variants     fp32, fp16, int8 (showing fp32)",
        "window 16000 samples (1.000 s), hop 8000 samples (0.500 s)",
        "\"type\":\"logmel\"",
        "features     [40, 101] = 4040 values per window",
        "input      features: float32 [N, 1, 40, 101]",
        "output       logit: one value",
        "runs on      backend cpu",
        "precision fp32",
    ] {
        assert!(s.contains(want), "{want:?} not in\n{s}");
    }
    assert!(!s.contains("warning"), "{s}");

    // A precision variant other than the default is shown when asked for.
    let out = dfd([
        OsStr::new("inspect"),
        model().as_os_str(),
        OsStr::new("--precision"),
        OsStr::new("int8"),
        OsStr::new("--plugin-dir"),
        plugin_dir().as_os_str(),
    ]);
    assert_exit(&out, 0);
    let s = text(&out.stdout);
    assert!(s.contains("(showing int8)"), "{s}");
    assert!(
        s.contains("QLinearConv") || s.contains("DequantizeLinear"),
        "{s}"
    );
}

#[test]
fn inspect_without_a_model_describes_the_built_in_one() {
    let out = dfd([
        OsStr::new("inspect"),
        OsStr::new("--plugin-dir"),
        plugin_dir().as_os_str(),
    ]);
    assert_exit(&out, 0);
    let s = text(&out.stdout);
    assert!(s.contains("(built-in model)"), "{s}");
    assert!(
        s.contains("input      features: float32 [N, 1, 60, 201]"),
        "{s}"
    );
}

#[test]
fn inspect_warns_on_a_manifest_that_contradicts_the_graph() {
    let fixtures = repo().join("tests/fixtures/models");
    // Loads and runs, but the outputs are probabilities, not logits.
    let out = inspect(&fixtures.join("softmax-as-logits.onnx"));
    assert_exit(&out, 1);
    let s = text(&out.stdout);
    assert!(s.contains("(from Softmax)"), "{s}");
    assert!(
        s.contains("warning: the graph ends in Softmax") && s.contains("\"kind\": \"probs\""),
        "{s}"
    );

    // The manifest's input_shape disagrees with the graph: named, and no load.
    let out = inspect(&fixtures.join("wrong-shape.onnx"));
    assert_exit(&out, 2);
    let s = text(&out.stdout);
    assert!(
        s.contains("warning: input \"features\" axis 3 is 101 in the graph but 100 in input_shape"),
        "{s}"
    );
    assert!(s.contains("runs on      nothing"), "{s}");

    // Not a model at all.
    let out = inspect(&fixtures.join("not-onnx.onnx"));
    assert_exit(&out, 2);
    assert!(
        text(&out.stderr).contains("cannot read model"),
        "{}",
        text(&out.stderr)
    );
}

/// The walkthrough of docs/bring-your-own-model.md: the model and reference
/// scores that `examples/byo-model/export.py` made with PyTorch, librosa and
/// onnxruntime; `dfd` must accept the model without warnings and reproduce
/// every window's p_fake from the WAV file.
#[test]
fn bring_your_own_model_walkthrough_matches_python() {
    let dir = repo().join("examples/byo-model");
    let model = dir.join("detector.onnx");
    let out = inspect(&model);
    assert_exit(&out, 0);
    assert!(
        !text(&out.stdout).contains("warning"),
        "{}",
        text(&out.stdout)
    );

    let reference: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("reference.json")).unwrap())
            .unwrap();
    let wav = repo().join(reference["wav"].as_str().unwrap());
    let out = dfd([
        OsStr::new("scan"),
        OsStr::new("--json"),
        OsStr::new("--model"),
        model.as_os_str(),
        OsStr::new("--plugin-dir"),
        plugin_dir().as_os_str(),
        wav.as_os_str(),
    ]);
    assert_exit(&out, 0);
    let got = &json_lines(&out)[0]["timeline"];
    let want = reference["windows"].as_array().unwrap();
    assert_eq!(got.as_array().unwrap().len(), want.len(), "{got}");
    for (g, w) in got.as_array().unwrap().iter().zip(want) {
        assert_eq!(g["start"], w["start"]);
        let (pg, pw) = (p(g), p(w));
        assert!(
            (pg - pw).abs() < 1e-3,
            "window at {}: dfd {pg}, Python {pw}",
            w["start"]
        );
        // The raw outputs are the model's two logits (class 1 = fake).
        let raw: Vec<f64> = g["raw"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(raw.len(), 2, "{g}");
        assert!(
            (g["logit"].as_f64().unwrap() - (raw[1] - raw[0])).abs() < 1e-5,
            "{g}"
        );
        assert!(
            (pg - 1.0 / (1.0 + (raw[0] - raw[1]).exp())).abs() < 1e-6,
            "{g}"
        );
    }
}

/// Every seed architecture of `tests/fixtures/arch` (wav2vec2, WavLM,
/// Whisper, AASIST, ...) has a manifest that agrees with its graph: inspect
/// loads each without a warning, and names AASIST's chosen graph output.
#[test]
fn inspect_accepts_every_seed_architecture() {
    let arch = repo().join("tests/fixtures/arch");
    let mut names: Vec<String> = std::fs::read_dir(&arch)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 8, "{names:?}");
    for name in names {
        let out = inspect(&arch.join(&name).join(format!("{name}.onnx")));
        assert_exit(&out, 0);
        let s = text(&out.stdout);
        assert!(!s.contains("warning"), "{name}:\n{s}");
        if name == "aasist" {
            assert!(s.contains("graph_output \"output\""), "{s}");
            assert!(s.contains("output     last_hidden"), "{s}");
        }
    }
}
