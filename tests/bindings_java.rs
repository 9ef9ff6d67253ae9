//! The JVM bindings (bindings/java): compiles the Java classes with `javac
//! -h` (headers for the JNI glue), the glue with `cc` against those headers,
//! $JAVA_HOME/include and the libdfd.so this run built, then runs the Java
//! test program on samples/*.wav. Its scores must equal the Rust API's and
//! its error checks must pass. Needs a JDK (javac, java) and cc.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// $JAVA_HOME, or the JDK that the `javac` on PATH belongs to.
fn java_home() -> PathBuf {
    if let Some(h) = std::env::var_os("JAVA_HOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(h);
    }
    let which = run_ok(
        Command::new("sh").args(["-c", "command -v javac"]),
        "finding javac",
    );
    let javac = std::fs::canonicalize(which.trim()).unwrap();
    javac.parent().and_then(Path::parent).unwrap().to_path_buf()
}

fn java_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            java_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "java") {
            out.push(p);
        }
    }
}

#[test]
fn java_bindings_score_samples_and_report_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let java = root().join("bindings/java");
    let jh = java_home();

    let mut sources = Vec::new();
    java_files(&java.join("src/main/java"), &mut sources);
    java_files(&java.join("src/test/java"), &mut sources);
    let classes = tmp.path().join("classes");
    let headers = tmp.path().join("jni-headers");
    run_ok(
        Command::new(jh.join("bin/javac"))
            .args(["-Xlint:all", "-Werror", "--release", "8"])
            .arg("-d")
            .arg(&classes)
            .arg("-h")
            .arg(&headers)
            .args(&sources),
        "javac",
    );

    // libdfd through its soname, as an installed app links it.
    let lib = tmp.path().join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    let built = artifact_dir("libdfd.so").join("libdfd.so");
    std::os::unix::fs::symlink(&built, lib.join("libdfd.so.0")).unwrap();
    std::os::unix::fs::symlink(&built, lib.join("libdfd.so")).unwrap();
    let jni_lib = tmp.path().join("libdfd_jni.so");
    run_ok(
        Command::new("cc")
            .args([
                "-shared", "-fPIC", "-O1", "-std=c11", "-Wall", "-Wextra", "-Werror",
            ])
            .arg("-DDFD_JNI_CHECK_HEADERS")
            .arg("-I")
            .arg(root().join("include"))
            .arg("-I")
            .arg(jh.join("include"))
            .arg("-I")
            .arg(jh.join("include/linux"))
            .arg("-I")
            .arg(&headers)
            .arg(java.join("jni/dfd_jni.c"))
            .arg(format!("-L{}", lib.display()))
            .arg("-ldfd")
            .arg(format!("-Wl,-rpath,{}", lib.display()))
            .arg("-o")
            .arg(&jni_lib),
        "cc dfd_jni.c",
    );

    let samples: Vec<PathBuf> = SAMPLES.iter().map(|s| root().join(s)).collect();
    let text = run_ok(
        Command::new(jh.join("bin/java"))
            .arg("-Xcheck:jni")
            .arg(format!("-Djava.library.path={}", tmp.path().display()))
            .arg("-cp")
            .arg(&classes)
            .arg("org.libdfd.BindingsTest")
            .args(&samples)
            .env("DFD_PLUGIN_PATH", plugin_dir()),
        "java org.libdfd.BindingsTest",
    );
    assert!(text.contains("libdfd 0.1.0 abi 1"), "{text}");
    assert!(text.contains("on cpu"), "{text}");
    assert!(text.contains("all checks passed"), "{text}");

    // Same scores as the Rust API, pushed the same way.
    let model = dfd::Model::load_builtin(&cpu_options()).unwrap();
    check_app_scores("java", &text, &model, &samples, true);
}
