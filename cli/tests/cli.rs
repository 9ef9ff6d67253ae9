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

    // The timeline: every scored window, in order, one hop (0.5 s) apart.
    let timeline = v["timeline"].as_array().unwrap();
    assert_eq!(timeline.len() as u64, v["windows"].as_u64().unwrap());
    assert!(
        timeline.len() >= 5,
        "3.88 s of speech in 1 s windows every 0.5 s: {v}"
    );
    let mut prev_start = -1.0;
    let mut logits = 0.0;
    let mut synthetic = 0;
    for w in timeline {
        let (start, end, wp) = (
            w["start"].as_f64().unwrap(),
            w["end"].as_f64().unwrap(),
            p(w),
        );
        assert!(
            start > prev_start && end > start && end <= seconds + 1e-6,
            "window {w} in {v}"
        );
        if prev_start >= 0.0 {
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
fn no_model_is_a_usage_error() {
    let out = dfd([OsStr::new("scan"), speech_wav().as_os_str()]);
    assert_exit(&out, 2);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("--model") && stderr.contains("DFD_MODEL"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
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
