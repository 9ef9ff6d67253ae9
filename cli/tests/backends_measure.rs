//! `dfd backends --measure` on the fixture model with the workspace's CPU
//! plugin: every variant is timed, "auto picks" is the variant a scan with
//! `--precision auto` really loads, and "fastest here" follows the printed
//! times with ties (within 5 %) going to fp32.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn model() -> PathBuf {
    repo().join("tests/fixtures/models/tiny-mel")
}

/// libdfd_backend_cpu.so, built by `cargo test` as a dev-dependency.
fn plugin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    let dir = [deps.parent().unwrap(), deps]
        .into_iter()
        .find(|d| d.join("libdfd_backend_cpu.so").is_file())
        .expect("libdfd_backend_cpu.so next to the test binary: run `cargo test -p dfd-cli`")
        .to_path_buf();
    dir
}

fn dfd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dfd"))
        .env_remove("DFD_MODEL")
        .env_remove("DFD_PLUGIN_PATH")
        .env_remove("TRACT_CPU_ISA")
        .args(args)
        .output()
        .expect("runs dfd")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[test]
fn measure_times_every_variant_and_names_the_fastest() {
    let (model, plugins) = (model(), plugin_dir());
    let (model, plugins) = (model.to_str().unwrap(), plugins.to_str().unwrap());
    let out = dfd(&[
        "backends",
        "--plugin-dir",
        plugins,
        "--measure",
        "--model",
        model,
        "--measure-seconds",
        "0.3",
    ]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));

    // cpu: fp32 0.431, fp16 0.452, int8 4.913 ms/window, model tiny-mel, ...
    let times_line = stdout
        .lines()
        .find(|l| l.starts_with("cpu: fp32 "))
        .unwrap_or_else(|| panic!("{stdout}"));
    let (times, rest) = times_line["cpu: ".len()..]
        .split_once(" ms/window")
        .unwrap();
    let times: Vec<(&str, f64)> = times
        .split(", ")
        .map(|t| {
            let (p, ms) = t.split_once(' ').unwrap();
            (p, ms.parse().unwrap())
        })
        .collect();
    assert_eq!(
        times.iter().map(|t| t.0).collect::<Vec<_>>(),
        ["fp32", "fp16", "int8"],
        "{stdout}"
    );
    assert!(times.iter().all(|t| t.1 > 0.0 && t.1 < 1e4), "{stdout}");
    assert!(rest.contains("model tiny-mel, median of "), "{stdout}");
    // The rten backend, when built beside it, has no int8 kernels: that
    // variant is named, not timed, and the others still are.
    if Path::new(plugins).join("libdfd_backend_rten.so").is_file() {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with("rten: fp32 ") && !l.contains("int8")),
            "{stdout}"
        );
        assert!(
            stdout.contains("rten: int8 not measured: the backend cannot run it"),
            "{stdout}"
        );
    }

    let pick_line = stdout
        .lines()
        .find(|l| l.starts_with("cpu: auto picks "))
        .unwrap_or_else(|| panic!("{stdout}"));
    let words: Vec<&str> = pick_line.split_whitespace().collect();
    let (auto, fastest) = (words[3].trim_end_matches(';'), words[6]);

    // "auto picks" is what loading with --precision auto does.
    let scan = dfd(&[
        "scan",
        "--json",
        "--model",
        model,
        "--plugin-dir",
        plugins,
        "--precision",
        "auto",
        repo().join("samples").to_str().unwrap(),
    ]);
    let scanned = text(&scan.stdout);
    let first: serde_json::Value = serde_json::from_str(scanned.lines().next().unwrap()).unwrap();
    assert_eq!(first["precision"], auto, "{scanned}");

    // "fastest here" follows the times: fp32 unless beaten by more than 5 %.
    let fp32 = times[0].1;
    let want = times
        .iter()
        .filter(|t| t.1 <= fp32 * 0.95)
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map_or("fp32", |t| t.0);
    assert_eq!(fastest, want, "{stdout}");
    assert_eq!(
        pick_line.contains("to run "),
        fastest != auto,
        "a hint exactly when auto is not the fastest: {stdout}"
    );
}

#[test]
fn measure_reports_a_model_that_does_not_load() {
    let out = dfd(&[
        "backends",
        "--plugin-dir",
        plugin_dir().to_str().unwrap(),
        "--measure",
        "--model",
        "/nonexistent/model",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("cannot measure on cpu"), "{stderr}");
}

/// A backend that cannot run the model (rten lacks AASIST's `Selu`) says
/// so; the others are still measured and the command succeeds.
#[test]
fn measure_names_a_backend_that_cannot_run_the_model() {
    let plugins = plugin_dir();
    if !plugins.join("libdfd_backend_rten.so").is_file() {
        return;
    }
    let model = repo().join("tests/fixtures/arch/aasist/aasist.onnx");
    let out = dfd(&[
        "backends",
        "--plugin-dir",
        plugins.to_str().unwrap(),
        "--measure",
        "--model",
        model.to_str().unwrap(),
        "--measure-seconds",
        "0.1",
    ]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("rten: cannot run this model") && stdout.contains("Selu"),
        "{stdout}"
    );
    assert!(
        stdout.lines().any(|l| l.starts_with("cpu: fp32 ")),
        "{stdout}"
    );
}

#[test]
fn measure_options_need_measure() {
    let out = dfd(&["backends", "--model", "x"]);
    assert_eq!(out.status.code(), Some(2));
    let out = dfd(&["backends", "--measure", "--measure-seconds", "-1"]);
    assert_eq!(out.status.code(), Some(2));
}
