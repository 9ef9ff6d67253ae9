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
