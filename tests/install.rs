//! The installed tree: `scripts/install.sh --from DIR PREFIX` with the
//! artifacts this test run already built (debug, no release rebuild), then
//! a C app built with pkg-config and a C++ app built with CMake
//! (`find_package(dfd)`, `dfd::dfd`, `dfd.hpp`) against PREFIX only. Both
//! score `samples/*.wav` with the built-in model, finding the CPU plugin in
//! PREFIX/lib/dfd/plugins with no environment variable, and must print the
//! scores the Rust API gives; a C++ app linked with `dfd::dfd_static`
//! finds the plugins from PREFIX/bin. Needs cc, c++, pkg-config, cmake and readelf.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;

const SAMPLES: [&str; 2] = [
    "samples/bonafide_fr_june.wav",
    "samples/synthetic_piper_joe.wav",
];

fn run_ok(cmd: &mut Command, what: &str) -> String {
    let out: Output = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run {cmd:?}: {e} (is it installed?)"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{text}",
        out.status
    );
    text
}

/// A directory holding the newest built libdfd.so, libdfd.a and CPU plugin
/// (cargo test leaves them in target/<profile>/deps, cargo build in
/// target/<profile>), as `install.sh --from` expects them.
fn stage(tmp: &Path) -> PathBuf {
    let dir = tmp.join("stage");
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["libdfd.so", "libdfd.a", "libdfd_backend_cpu.so"] {
        std::os::unix::fs::symlink(artifact_dir(f).join(f), dir.join(f)).unwrap();
    }
    dir
}

/// (p_fake, windows, verdict) of the Rust API for one file, pushed as the
/// apps push it: 16-bit samples in 20 ms chunks, then flush.
fn rust_score(model: &dfd::Model, path: &Path) -> (f32, u64, dfd::Verdict) {
    let reader = hound::WavReader::open(path).unwrap();
    let spec = reader.spec();
    let pcm: Vec<i16> = reader.into_samples::<i16>().map(Result::unwrap).collect();
    let mut s = dfd::Stream::new(model, spec.sample_rate, u32::from(spec.channels)).unwrap();
    let chunk = (spec.sample_rate / 50) as usize * usize::from(spec.channels);
    for c in pcm.chunks(chunk) {
        s.push_i16(c).unwrap();
    }
    s.flush().unwrap();
    let score = s.score();
    (score.p_fake, score.windows, score.verdict)
}

/// The `FILE p_fake X windows N` line an app printed for `file`.
fn app_line<'a>(text: &'a str, file: &Path) -> &'a str {
    let prefix = format!("{} p_fake ", file.display());
    text.lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no line for {}:\n{text}", file.display()))
}

fn check_scores(app: &str, text: &str, model: &dfd::Model) {
    for rel in SAMPLES {
        let file = root().join(rel);
        let (p, windows, verdict) = rust_score(model, &file);
        let line = app_line(text, &file);
        let fields: Vec<&str> = line.split_whitespace().collect();
        let got: f32 = fields[2].parse().unwrap();
        assert!(
            (got - p).abs() <= 2e-6,
            "{app} {rel}: p_fake {got}, the Rust API gives {p}\n{text}"
        );
        assert_eq!(
            fields[4],
            windows.to_string(),
            "{app} {rel}: windows\n{text}"
        );
        assert!(windows > 0, "{rel}: no window scored");
        if let Some(v) = fields.get(6) {
            let want = match verdict {
                dfd::Verdict::Synthetic => "synthetic",
                dfd::Verdict::Bonafide => "bonafide",
                dfd::Verdict::Unknown => "unknown",
            };
            assert_eq!(*v, want, "{app} {rel}: verdict\n{text}");
        }
    }
}

#[test]
fn installed_tree_builds_c_with_pkg_config_and_cpp_with_cmake() {
    let tmp = tempfile::tempdir().unwrap();
    let prefix = tmp.path().join("prefix");
    let from = stage(tmp.path());
    run_ok(
        Command::new("bash")
            .arg(root().join("scripts/install.sh"))
            .arg("--from")
            .arg(&from)
            .arg(&prefix),
        "scripts/install.sh",
    );

    // Layout: versioned library and its links, static library, plugin,
    // headers, pkg-config and CMake files.
    let lib = prefix.join("lib");
    let version = dfd::VERSION;
    let major = version.split('.').next().unwrap();
    for f in [
        "include/dfd.h".to_string(),
        "include/dfd.hpp".into(),
        format!("lib/libdfd.so.{version}"),
        "lib/libdfd.a".into(),
        "lib/dfd/plugins/libdfd_backend_cpu.so".into(),
        "lib/pkgconfig/dfd.pc".into(),
        "lib/cmake/dfd/dfdConfig.cmake".into(),
        "lib/cmake/dfd/dfdConfigVersion.cmake".into(),
    ] {
        assert!(prefix.join(&f).is_file(), "{f} not installed");
    }
    let link = |name: &str| std::fs::read_link(lib.join(name)).unwrap();
    assert_eq!(
        link(&format!("libdfd.so.{major}")),
        Path::new(&format!("libdfd.so.{version}"))
    );
    assert_eq!(link("libdfd.so"), Path::new(&format!("libdfd.so.{major}")));
    let dynamic = run_ok(
        Command::new("readelf")
            .arg("-d")
            .arg(lib.join(format!("libdfd.so.{version}"))),
        "readelf",
    );
    assert!(
        dynamic.contains(&format!("[libdfd.so.{major}]")),
        "soname is not libdfd.so.{major}:\n{dynamic}"
    );

    let model = dfd::Model::load_builtin(&cpu_options()).unwrap();
    let samples: Vec<PathBuf> = SAMPLES.iter().map(|s| root().join(s)).collect();
    let pkg_path = lib.join("pkgconfig");

    // C with pkg-config.
    let pc = |args: &[&str]| {
        run_ok(
            Command::new("pkg-config")
                .args(args)
                .arg("dfd")
                .env("PKG_CONFIG_PATH", &pkg_path),
            "pkg-config",
        )
    };
    assert_eq!(pc(&["--modversion"]).trim(), version);
    assert_eq!(
        Path::new(pc(&["--variable=plugindir"]).trim()),
        lib.join("dfd/plugins")
    );
    let flags: Vec<String> = pc(&["--cflags", "--libs"])
        .split_whitespace()
        .map(String::from)
        .collect();
    let c_app = tmp.path().join("app_c");
    run_ok(
        Command::new("cc")
            .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-O1"])
            .arg(root().join("tests/install/app.c"))
            .args(&flags)
            .arg(format!("-Wl,-rpath,{}", lib.display()))
            .arg("-o")
            .arg(&c_app),
        "cc with pkg-config flags",
    );
    let needed = run_ok(Command::new("readelf").arg("-d").arg(&c_app), "readelf");
    assert!(needed.contains(&format!("[libdfd.so.{major}]")), "{needed}");
    let text = run_ok(
        Command::new(&c_app)
            .args(&samples)
            .env_remove("DFD_PLUGIN_PATH")
            .current_dir(tmp.path()),
        "C app",
    );
    assert!(text.contains("on cpu"), "{text}");
    check_scores("C app", &text, &model);

    // C++ with CMake, through dfd.hpp.
    let build = tmp.path().join("cmake-build");
    run_ok(
        Command::new("cmake")
            .arg("-S")
            .arg(root().join("tests/install/cpp"))
            .arg("-B")
            .arg(&build)
            .arg(format!("-DCMAKE_PREFIX_PATH={}", prefix.display()))
            .arg("-DCMAKE_BUILD_TYPE=Release"),
        "cmake configure (apt-get install cmake)",
    );
    run_ok(
        Command::new("cmake").arg("--build").arg(&build),
        "cmake --build",
    );
    let text = run_ok(
        Command::new(build.join("score_cpp"))
            .args(&samples)
            .env_remove("DFD_PLUGIN_PATH")
            .current_dir(tmp.path()),
        "C++ app",
    );
    assert!(text.contains(&format!("libdfd {version} abi 1")), "{text}");
    assert!(text.contains("on cpu"), "{text}");
    assert!(text.contains("error path ok"), "{text}");
    check_scores("C++ app", &text, &model);

    // dfd::dfd_static links; a static app finds the plugins in
    // ../lib/dfd/plugins next to its own bin/ directory, and nowhere else.
    let static_app = build.join("version_static");
    let text = run_ok(
        Command::new(&static_app).env_remove("DFD_PLUGIN_PATH"),
        "static C++ app in the build tree",
    );
    assert!(text.contains(&format!("static libdfd {version}")), "{text}");
    assert!(
        text.contains("status 12"),
        "expected DFD_ERR_PLUGIN_NOT_FOUND:\n{text}"
    );
    std::fs::create_dir_all(prefix.join("bin")).unwrap();
    let installed = prefix.join("bin/version_static");
    std::fs::copy(&static_app, &installed).unwrap();
    let text = run_ok(
        Command::new(&installed).env_remove("DFD_PLUGIN_PATH"),
        "static C++ app in PREFIX/bin",
    );
    assert!(text.contains("loaded"), "{text}");
}
