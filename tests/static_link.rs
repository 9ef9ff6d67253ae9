//! The static build: libdfd.a with the CPU backend compiled in (feature
//! `builtin-cpu`), linked into a C program that runs with no plugin files
//! at all, as on iOS. Builds the core a second time in its own target
//! directory, since cargo would otherwise unify the feature into every
//! test of the workspace. That build compiles tract again, so it does so
//! at opt-level 0 (the tiny test model runs fast enough unoptimised):
//! measured 185 s for this test on the 2-core build machine, 992 s at the
//! workspace's opt-level 2.

mod common;

use std::process::Command;

use common::*;

#[test]
fn static_library_with_builtin_cpu_backend_runs_without_plugins() {
    let target = target_dir().parent().unwrap().join("static-build");
    let profile = if target_dir().ends_with("release") {
        "release"
    } else {
        "debug"
    };
    let mut build = Command::new(env!("CARGO"));
    build
        .args([
            "build",
            "-p",
            "dfd",
            "--lib",
            "--features",
            "builtin-cpu",
            "--config",
            "profile.dev.package.\"*\".opt-level=0",
            "--target-dir",
        ])
        .arg(&target)
        .current_dir(root());
    if profile == "release" {
        build.arg("--release");
    }
    assert!(build.status().unwrap().success(), "static build failed");
    let lib_a = target.join(profile).join("libdfd.a");

    let tmp = tempfile::tempdir().unwrap();
    let exe = tmp.path().join("stream_wav_static");
    let status = Command::new("cc")
        .args(["-std=c11", "-D_DEFAULT_SOURCE", "-O1", "-I"])
        .arg(root().join("include"))
        .arg(root().join("examples/c/stream_wav.c"))
        .arg(&lib_a)
        .args(["-lm", "-ldl", "-lpthread", "-o"])
        .arg(&exe)
        .status()
        .unwrap();
    assert!(status.success(), "linking against libdfd.a failed");

    // No plugin anywhere: not in the environment, not next to the program.
    let out = Command::new(&exe)
        .arg(fixture("models/tiny-mel"))
        .arg(fixture("audio/speech_16k.wav"))
        .env_remove("DFD_PLUGIN_PATH")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("on cpu"), "{text}");

    // The built-in backend gives the scores the plugin gives.
    let model = dfd::Model::load(fixture("models/tiny-mel"), &cpu_options()).unwrap();
    let mut s = dfd::Stream::new(&model, 16000, 1).unwrap();
    s.push(&speech()).unwrap();
    s.flush().unwrap();
    let expected = format!("final: p_fake {:.3}", s.score().p_fake);
    assert!(
        text.contains(&expected),
        "static build printed\n{text}\nplugin build gives {expected}"
    );
}
