//! The installed tree: `scripts/install.sh --from DIR PREFIX` with the
//! artifacts this test run already built (debug, no release rebuild), then
//! a C app built with pkg-config and a C++ app built with CMake
//! (`find_package(dfd)`, `dfd::dfd`, `dfd.hpp`) against PREFIX only. Both
//! score `samples/*.wav` with the built-in model, finding the CPU plugin in
//! PREFIX/lib/dfd/plugins with no environment variable, and must print the
//! scores the Rust API gives; a C++ app linked with `dfd::dfd_static`
//! finds the plugins from PREFIX/bin; examples/c/score_file.c scores files
//! through the installed libdfd_decode. Needs cc, c++, pkg-config, cmake
//! and readelf.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// A directory holding the newest built libdfd.so, libdfd.a and CPU plugin
/// (cargo test leaves them in target/<profile>/deps, cargo build in
/// target/<profile>), as `install.sh --from` expects them.
fn stage(tmp: &Path) -> PathBuf {
    let dir = tmp.join("stage");
    std::fs::create_dir_all(&dir).unwrap();
    for f in [
        "libdfd.so",
        "libdfd.a",
        "libdfd_backend_cpu.so",
        "libdfd_decode.so",
    ] {
        std::os::unix::fs::symlink(artifact_dir(f).join(f), dir.join(f)).unwrap();
    }
    dir
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

    // The audio-file decoder, versioned the same way.
    assert!(prefix.join("include/dfd_decode.h").is_file());
    assert_eq!(
        link(&format!("libdfd_decode.so.{major}")),
        Path::new(&format!("libdfd_decode.so.{version}"))
    );
    let dynamic = run_ok(
        Command::new("readelf")
            .arg("-d")
            .arg(lib.join(format!("libdfd_decode.so.{version}"))),
        "readelf",
    );
    assert!(
        dynamic.contains(&format!("[libdfd_decode.so.{major}]")),
        "soname is not libdfd_decode.so.{major}:\n{dynamic}"
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
    check_app_scores("C app", &text, &model, &samples, false);

    // examples/c/score_file.c: files of any format through the installed
    // libdfd_decode; the WAVs score as the Rust API scores their samples.
    let decode_app = tmp.path().join("score_file");
    run_ok(
        Command::new("cc")
            .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-O1"])
            .arg(root().join("examples/c/score_file.c"))
            .args(&flags)
            .arg("-ldfd_decode")
            .arg(format!("-Wl,-rpath,{}", lib.display()))
            .arg("-o")
            .arg(&decode_app),
        "cc examples/c/score_file.c",
    );
    let opus = root().join("cli/tests/fixtures/speech_48k_stereo.opus");
    let text = run_ok(
        Command::new(&decode_app)
            .args(&samples)
            .arg(&opus)
            .env_remove("DFD_PLUGIN_PATH"),
        "score_file",
    );
    check_app_scores("score_file", &text, &model, &samples, true);
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("{} p_fake ", opus.display())))
        .unwrap_or_else(|| panic!("no line for the Opus file:\n{text}"));
    let windows: u64 = line.split_whitespace().nth(4).unwrap().parse().unwrap();
    assert!(windows > 0, "{line}");

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
    check_app_scores("C++ app", &text, &model, &samples, false);

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
