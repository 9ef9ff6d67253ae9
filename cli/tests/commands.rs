//! The command line as a whole: usage errors, `dfd backends`, help and version.

mod common;

use std::ffi::OsStr;

use common::*;

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
    // Rows are "<rank>. <name>  <state> score <n>  <origin>", best first.
    let row = |name: &str| {
        stdout
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(name))
            .unwrap_or_else(|| panic!("no {name} row: {stdout}"))
            .to_string()
    };
    let cpu = row("cpu");
    assert!(
        cpu.contains("score 100") && cpu.contains("libdfd_backend_cpu.so"),
        "{stdout}"
    );
    assert!(
        cpu.contains("available") || cpu.contains("auto's choice"),
        "{stdout}"
    );
    // The shipped backends are always listed, ranked or not.
    let cuda = row("cuda");
    // Unranked and unavailable (no GPU), or ranked with its probe's score.
    let unranked = cuda.trim_start().starts_with('-');
    assert!(
        (unranked && cuda.contains("unavailable")) || (!unranked && cuda.contains("score")),
        "{stdout}"
    );
    row("ort");
    row("rten");
    // Exactly one row is auto's choice, and it is the first.
    let first = stdout.lines().nth(1).unwrap_or_default();
    assert!(first.contains("auto's choice"), "{stdout}");
}

#[test]
fn backends_refuses_a_missing_plugin_dir() {
    let tmp = scratch("backends_plugin_dir");
    let missing = tmp.join("no-such-dir");
    let out = dfd([
        OsStr::new("backends"),
        OsStr::new("--plugin-dir"),
        missing.as_os_str(),
    ]);
    assert_exit(&out, 2);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("no-such-dir") && stderr.contains("does not exist"),
        "{stderr}"
    );
    assert!(
        out.stdout.is_empty(),
        "listed anyway: {}",
        text(&out.stdout)
    );

    let file = tmp.join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let out = dfd([
        OsStr::new("backends"),
        OsStr::new("--plugin-dir"),
        file.as_os_str(),
    ]);
    assert_exit(&out, 2);
    assert!(
        text(&out.stderr).contains("not a directory"),
        "{}",
        text(&out.stderr)
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
