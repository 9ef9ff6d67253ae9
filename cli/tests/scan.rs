//! `dfd scan`: formats, JSON, model choice, bad and missing inputs.

mod common;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

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

/// The formats people receive (voice notes, browser recordings, phone
/// memos) score like the same 2 s as WAV, and are recognised by content:
/// Ogg Opus named `.ogg` as messengers name it, and an M4A named `.bin`.
#[test]
fn opus_webm_and_m4a_score_like_the_wav() {
    let dir = scratch("received_formats");
    let wav = dir.join("speech_2s_16k_mono.wav");
    trim_wav(&speech_wav(), 2.0, &wav);
    let opus = cli_fixture("speech_48k_stereo.opus");
    let note_ogg = dir.join("voice_note.ogg");
    std::fs::copy(&opus, &note_ogg).unwrap();
    let memo_bin = dir.join("memo.bin");
    std::fs::copy(cli_fixture("speech_44k1_stereo.m4a"), &memo_bin).unwrap();
    let files = [
        wav.clone(),
        opus,
        note_ogg,
        cli_fixture("speech_48k_stereo.webm"),
        cli_fixture("speech_48k_stereo.mka"),
        cli_fixture("speech_44k1_stereo.m4a"),
        memo_bin,
    ];
    let out = scan(
        &["--json"],
        &files.iter().map(PathBuf::as_path).collect::<Vec<_>>(),
    );
    assert_exit(&out, 0);
    let lines = json_lines(&out);
    assert_eq!(lines.len(), files.len());
    let reference = &lines[0];
    for line in &lines {
        eprintln!(
            "{}: p_fake {:.4}, {} windows, {:.3} s",
            line["file"],
            p(line),
            line["windows"],
            line["seconds"]
        );
        assert_ne!(line["verdict"], "unknown", "{line}");
        // Encoder padding the container does not trim is at most one frame.
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
fn plot_draws_the_waveform_and_the_timeline() {
    let dir = scratch("scan_plot");
    let png = dir.join("joe.png");
    let sample = repo().join("samples/synthetic_piper_joe.wav");
    let out = dfd([
        OsStr::new("scan"),
        OsStr::new("--plugin-dir"),
        plugin_dir().as_os_str(),
        OsStr::new("--plot"),
        png.as_os_str(),
        sample.as_os_str(),
    ]);
    assert_exit(&out, 0);
    let (info, pixels) = read_png(&png);
    assert_eq!((info.width, info.height), (1400, 720));
    // Drawn, not blank: dark waveform pixels, and red dots of windows above
    // the threshold (the sample is synthetic, most windows are).
    let rgb: Vec<&[u8]> = pixels.chunks_exact(3).collect();
    let dark = rgb.iter().filter(|p| p.iter().all(|&c| c < 110)).count();
    let red = rgb
        .iter()
        .filter(|p| p[0] > 180 && p[1] < 80 && p[2] < 80)
        .count();
    assert!(dark > 2000, "{dark} dark pixels");
    assert!(red > 100, "{red} red pixels");

    // One file only, and the output's directory must exist: usage errors.
    let out = scan(
        &["--plot", png.to_str().unwrap()],
        &[&speech_wav(), &speech_wav()],
    );
    assert_exit(&out, 2);
    let out = scan(&["--plot", "/nonexistent/dir/x.png"], &[&speech_wav()]);
    assert_exit(&out, 2);
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

/// `--model builtin:NAME` picks a model compiled into libdfd; an unknown
/// name is a usage error that lists the names.
#[test]
fn builtin_models_by_name() {
    let june = repo().join("samples/bonafide_fr_june.wav");
    let run = |model: &str| {
        dfd([
            "scan".as_ref(),
            "--json".as_ref(),
            "--backend".as_ref(),
            "cpu".as_ref(),
            "--plugin-dir".as_ref(),
            plugin_dir().as_os_str(),
            "--model".as_ref(),
            OsStr::new(model),
            june.as_os_str(),
        ])
    };
    for (name, want) in [
        ("builtin:telephone", "dfd-lfb-cnn-tel-v2"),
        ("builtin:default", "dfd-lfb-cnn-v2"),
        ("builtin:dfd-lfb-cnn-tel-v2", "dfd-lfb-cnn-tel-v2"),
    ] {
        let out = run(name);
        assert_exit(&out, 0);
        let v = &json_lines(&out)[0];
        assert_eq!(v["model"], want, "{name}: {v}");
        assert_eq!(v["verdict"], "bonafide", "{name}: {v}");
    }
    let bad = run("builtin:wideband");
    assert_exit(&bad, 2);
    let err = text(&bad.stderr);
    assert!(
        err.contains("telephone") && err.contains("wideband"),
        "{err}"
    );
}

/// `speech_44k1_stereo.wav` looped `times` times (a 16-bit PCM WAV).
fn looped_wav(times: usize, dst: &Path) {
    let one = scratch("looped-one").join("one.wav");
    let src = repo().join("tests/fixtures/audio/speech_44k1_stereo.wav");
    trim_wav(&src, 3600.0, &one);
    let bytes = std::fs::read(&one).unwrap();
    // trim_wav writes RIFF, then fmt, then data.
    let fmt_len = u32::from_le_bytes(bytes[16..20].try_into().unwrap()) as usize;
    let (header, data) = bytes.split_at(20 + fmt_len + 8);
    let len = (data.len() * times) as u32;
    let mut out = header.to_vec();
    let riff_len = (header.len() - 8) as u32 + len;
    out[4..8].copy_from_slice(&riff_len.to_le_bytes());
    let at = header.len() - 4;
    out[at..].copy_from_slice(&len.to_le_bytes());
    for _ in 0..times {
        out.extend_from_slice(data);
    }
    std::fs::write(dst, out).unwrap();
}

#[test]
fn the_threaded_scan_gives_what_one_core_gives() {
    // With two cores or more `dfd scan` runs the network on helper threads,
    // one per core, whose batches come back in any order; pinned to one
    // core it scores on one thread. Every window must agree to the bit.
    if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        eprintln!("one core here: the threaded scan cannot run, so this test checks nothing");
        return;
    }
    let wav = scratch("pipeline").join("speech_x8.wav");
    looped_wav(8, &wav);
    let args = |pin: bool| {
        let mut cmd = Command::new(if pin {
            "taskset"
        } else {
            env!("CARGO_BIN_EXE_dfd")
        });
        if pin {
            cmd.args(["-c", "0", env!("CARGO_BIN_EXE_dfd")]);
        }
        cmd.env_remove("DFD_MODEL")
            .env_remove("DFD_PLUGIN_PATH")
            .args(["scan", "--json", "--plugin-dir"])
            .arg(plugin_dir())
            .arg(&wav)
            .output()
            .expect("runs dfd (and taskset, from util-linux)")
    };
    let (two, one) = (args(false), args(true));
    assert_exit(&two, 0);
    assert_exit(&one, 0);
    let (two, one) = (json_lines(&two), json_lines(&one));
    assert!(two[0]["windows"].as_u64().unwrap() > 25, "{two:?}");
    assert_eq!(two, one);
}
