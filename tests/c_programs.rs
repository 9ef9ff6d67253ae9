//! The C side of the C API: compiles C programs against the generated
//! header and the built libdfd.so (through its `libdfd.so.0` soname, as an
//! installed app would) and runs them, under valgrind when it is installed.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// A directory with `libdfd.so.0` (the soname apps link against).
fn lib_dir(tmp: &Path) -> PathBuf {
    let built = artifact_dir("libdfd.so").join("libdfd.so");
    let dir = tmp.join("lib");
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink(&built, dir.join("libdfd.so.0")).unwrap();
    std::os::unix::fs::symlink(&built, dir.join("libdfd.so")).unwrap();
    dir
}

fn cc(tmp: &Path, out: &str, sources: &[PathBuf], extra: &[&str]) -> PathBuf {
    let exe = tmp.join(out);
    let status = Command::new("cc")
        .args([
            "-std=c11",
            "-D_DEFAULT_SOURCE",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-O1",
            "-g",
        ])
        .arg("-I")
        .arg(root().join("include"))
        .args(sources)
        .arg("-o")
        .arg(&exe)
        .args(extra)
        .status()
        .expect("a C compiler (cc) is needed for these tests");
    assert!(status.success(), "compiling {out} failed");
    exe
}

fn link_args(lib: &Path) -> Vec<String> {
    vec![
        format!("-L{}", lib.display()),
        "-ldfd".into(),
        format!("-Wl,-rpath,{}", lib.display()),
        "-lm".into(),
    ]
}

fn valgrind() -> Option<PathBuf> {
    let found = Command::new("valgrind")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    found.then(|| PathBuf::from("valgrind"))
}

/// Runs `exe args`, under valgrind (any memory error or definite leak fails) when present.
fn run(exe: &Path, args: &[&Path]) -> String {
    let mut cmd = match valgrind() {
        Some(v) => {
            let mut c = Command::new(v);
            c.args([
                "--error-exitcode=99",
                "--leak-check=full",
                "--errors-for-leak-kinds=definite",
                "--show-leak-kinds=definite",
                "-q",
            ])
            .arg(format!(
                "--suppressions={}",
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("tests/c/valgrind.supp")
                    .display()
            ))
            .arg(exe);
            c
        }
        None => Command::new(exe),
    };
    run_ok(
        cmd.args(args).env_remove("DFD_PLUGIN_PATH"),
        &exe.display().to_string(),
    )
}

#[test]
fn c_api_contract_from_c() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = lib_dir(tmp.path());
    let exe = cc(
        tmp.path(),
        "api_test",
        &[root().join("tests/c/api_test.c")],
        &link_args(&lib)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    // Bad plugins: a shared library that is not a plugin, and one with a future ABI.
    let bad = tmp.path().join("bad-plugins");
    std::fs::create_dir_all(&bad).unwrap();
    cc(
        &bad,
        "libdfd_backend_notaplugin.so",
        &[root().join("tests/c/not_a_plugin.c")],
        &["-shared", "-fPIC"],
    );
    cc(
        &bad,
        "libdfd_backend_future.so",
        &[root().join("tests/c/bad_abi_plugin.c")],
        &["-shared", "-fPIC"],
    );
    let text = run(&exe, &[&root().join("tests/fixtures"), &plugin_dir(), &bad]);
    assert!(text.contains("all checks passed"), "{text}");
}

#[test]
fn c_example_streams_a_wav_file() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = lib_dir(tmp.path());
    let exe = cc(
        tmp.path(),
        "stream_wav",
        &[root().join("examples/c/stream_wav.c")],
        &link_args(&lib)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    let text = run(
        &exe,
        &[
            &fixture("models/tiny-mel"),
            &fixture("audio/speech_22k05.wav"),
            &plugin_dir(),
        ],
    );
    assert!(text.contains("model tiny-mel on cpu"), "{text}");
    assert!(text.contains("3.00 s  p_fake"), "{text}");
    let last = text.lines().last().unwrap();
    assert!(
        last.starts_with("final: p_fake") && last.contains("windows 7"),
        "{text}"
    );
}

/// A plugin built against the first backend table (no optional front-end
/// fields) loads and runs; libdfd keeps the front end on the CPU. Its
/// network answers logit 0, so every window scores sigmoid(bias).
#[test]
fn a_plugin_with_the_first_table_still_loads() {
    let tmp = tempfile::tempdir().unwrap();
    cc(
        tmp.path(),
        "libdfd_backend_oldtable.so",
        &[root().join("tests/c/v1_table_plugin.c")],
        &["-shared", "-fPIC"],
    );
    let model = dfd::Model::load_builtin(&dfd::ModelOptions {
        backend: "oldtable".parse().unwrap(),
        plugin_dir: Some(tmp.path().to_path_buf()),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(model.backend_name(), "oldtable");
    assert!(!model.frontend_on_backend());
    let score = score_wav_i16(&model, &root().join(SAMPLES[0]));
    let bias = f64::from(model.manifest().calibration.bias);
    let want = 1.0 / (1.0 + (-bias).exp());
    assert!(score.windows > 0);
    assert!((f64::from(score.p_fake) - want).abs() < 1e-6, "{score:?}");

    // A failing backend call in infer_streams: that model's windows are
    // lost and counted, the other model's streams are still scored.
    let cpu = dfd::Model::load_builtin(&cpu_options()).unwrap();
    let (rate, _, audio) = read_wav(&root().join(SAMPLES[1]));
    let mut streams = Vec::new();
    for m in [&model, &model, &cpu] {
        let mut s = dfd::Stream::new(m, rate, 1).unwrap();
        s.set_deferred(true).unwrap();
        s.push(&audio).unwrap();
        streams.push(s);
    }
    let lost = streams[0].pending_windows() + streams[1].pending_windows();
    assert!(lost > 8, "{lost} windows: more than the plugin takes");
    let mut refs: Vec<&mut dfd::Stream> = streams.iter_mut().collect();
    let e = dfd::infer_streams(&mut refs).unwrap_err();
    assert_eq!(e.status, dfd::Status::Backend, "{e}");
    assert!(
        e.message.contains("more than 8 fail")
            && e.message.contains(&format!("({lost} windows lost)")),
        "{e}"
    );
    assert!(streams.iter().all(|s| s.pending_windows() == 0));
    assert_eq!(
        (streams[0].score().windows, streams[1].score().windows),
        (0, 0)
    );
    assert!(
        streams[2].score().windows > 0,
        "the CPU model's stream was scored"
    );

    // A failing call inside a push loses its windows, never the audio: a
    // deferred stream given 20 s in one push forms 19 windows; the full
    // queue of 16 fails when the 17th comes, the 3 after it wait and are
    // scored later, and the stream goes on.
    let tone: Vec<f32> = (0..16000 * 21)
        .map(|i| (i as f32 * 0.37).sin() * 0.3)
        .collect();
    let mut s = dfd::Stream::new(&model, 16000, 1).unwrap();
    s.set_deferred(true).unwrap();
    let e = s.push(&tone[..16000 * 20]).unwrap_err();
    assert!(e.message.contains("(16 windows lost)"), "{e}");
    assert_eq!(s.pending_windows(), 3);
    assert_eq!((s.score().windows, s.score().seconds), (0, 20.0));
    s.set_deferred(false).unwrap();
    assert_eq!(s.score().windows, 3);
    s.push(&tone[16000 * 20..]).unwrap();
    assert_eq!(s.score().windows, 4);
}

/// 64 threads on one model from C, each stream with its own rate, channel
/// count, sample format and random chunk sizes, every result equal to the
/// stream's alone (tests/c/stress.c), under valgrind when installed.
#[test]
fn many_threads_from_c_match_each_stream_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = lib_dir(tmp.path());
    let mut args = link_args(&lib);
    args.push("-pthread".into());
    let exe = cc(
        tmp.path(),
        "stress",
        &[root().join("tests/c/stress.c")],
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let text = run(
        &exe,
        &[
            &fixture("models/tiny-mel"),
            &plugin_dir(),
            Path::new("64"),
            // One window per stream: valgrind runs everything ~50x slower.
            Path::new("1.2"),
        ],
    );
    assert!(
        text.contains("stress: 64 threads") && text.contains("every stream equal to it alone"),
        "{text}"
    );
}

/// The same C programs built with AddressSanitizer and UndefinedBehavior
/// Sanitizer (the C side instrumented; ASan's allocator also checks every
/// malloc and free libdfd makes): the API contract and 64 threads on a
/// longer stretch of audio than valgrind allows.
#[test]
fn c_programs_under_asan_and_ubsan() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = lib_dir(tmp.path());
    let mut args = link_args(&lib);
    args.extend(
        [
            "-pthread",
            "-fsanitize=address,undefined",
            "-fno-sanitize-recover=all",
            "-fno-omit-frame-pointer",
        ]
        .map(String::from),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let bad = tmp.path().join("bad-plugins");
    std::fs::create_dir_all(&bad).unwrap();
    cc(
        &bad,
        "libdfd_backend_notaplugin.so",
        &[root().join("tests/c/not_a_plugin.c")],
        &["-shared", "-fPIC"],
    );
    cc(
        &bad,
        "libdfd_backend_future.so",
        &[root().join("tests/c/bad_abi_plugin.c")],
        &["-shared", "-fPIC"],
    );
    let api = cc(
        tmp.path(),
        "api_test_asan",
        &[root().join("tests/c/api_test.c")],
        &args,
    );
    let stress = cc(
        tmp.path(),
        "stress_asan",
        &[root().join("tests/c/stress.c")],
        &args,
    );
    let sanitized = |exe: &Path, a: &[&std::ffi::OsStr]| {
        let mut cmd = Command::new(exe);
        cmd.args(a)
            .env_remove("DFD_PLUGIN_PATH")
            // Leaks are valgrind's job above (with its suppressions).
            .env(
                "ASAN_OPTIONS",
                "detect_leaks=0:abort_on_error=0:exitcode=99",
            )
            .env("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1");
        run_ok(&mut cmd, &exe.display().to_string())
    };
    let fixtures = root().join("tests/fixtures");
    let text = sanitized(
        &api,
        &[
            fixtures.as_os_str(),
            plugin_dir().as_os_str(),
            bad.as_os_str(),
        ],
    );
    assert!(text.contains("all checks passed"), "{text}");
    let text = sanitized(
        &stress,
        &[
            fixture("models/tiny-mel").as_os_str(),
            plugin_dir().as_os_str(),
            "64".as_ref(),
            "4".as_ref(),
        ],
    );
    assert!(text.contains("stress: 64 threads"), "{text}");
}
