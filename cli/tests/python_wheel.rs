//! The self-contained Python wheel (bindings/python/setup.py): `pip wheel`
//! builds it from this checkout, packing the libdfd.so, libdfd_decode.so
//! and CPU, ort and rten plugins this test run built (`DFD_PREBUILT_LIBS`: the workspace's own build, so the
//! wheel adds no compilation; debug information stripped); it is installed into a fresh virtual
//! environment, and there, with no DFD_* variable and outside the source
//! tree, `python -m dfd scan` must print what `dfd scan` prints for
//! samples/, as JSON and as text. Fails, never skips, when python3, its
//! venv module, pip, setuptools, wheel or numpy is missing.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Instant;

use common::*;
use serde_json::Value;

/// The highest glibc symbol version the wheel's libraries may need, as the
/// bindings' README states it.
const MAX_GLIBC: (u32, u32) = (2, 35);

fn python() -> String {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let probe = Command::new(&python)
        .args(["-c", "import setuptools, wheel, numpy, venv, pip"])
        .output()
        .unwrap_or_else(|e| panic!("{python} not found ({e}): the wheel test needs it"));
    assert!(
        probe.status.success(),
        "{python} lacks venv, pip, setuptools, wheel or numpy:\n{}",
        String::from_utf8_lossy(&probe.stderr)
    );
    python
}

fn ok(out: Output, what: &str) -> String {
    let log = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{what} failed:\n{log}");
    text(&out.stdout)
}

/// The wheel's native libraries as this test run built them: each where
/// cargo put it for this binary (`target/<profile>/deps`, or its parent;
/// the newest if both), libdfd and libdfd_decode as the CLI's
/// dependencies, the plugins as its dev-dependencies.
const WHEEL_LIBRARIES: [&str; 5] = [
    "libdfd.so",
    "libdfd_backend_cpu.so",
    "libdfd_backend_ort.so",
    "libdfd_backend_rten.so",
    "libdfd_decode.so",
];

/// A directory holding [`WHEEL_LIBRARIES`], for `DFD_PREBUILT_LIBS`.
fn built_libraries(into: &Path) -> PathBuf {
    let deps = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let dir = into.join("libs");
    std::fs::create_dir_all(&dir).unwrap();
    for name in WHEEL_LIBRARIES {
        let from = [deps.clone(), deps.parent().unwrap().to_path_buf()]
            .into_iter()
            .map(|d| d.join(name))
            .filter(|p| p.is_file())
            .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
            .unwrap_or_else(|| panic!("{name} is built with the dfd-cli tests"));
        // Without their debug information, as a release build makes them
        // (the wheel would otherwise spend a long time zipping).
        ok(
            Command::new("objcopy")
                .arg("--strip-debug")
                .arg(&from)
                .arg(dir.join(name))
                .output()
                .expect("objcopy (binutils) is needed"),
            "objcopy --strip-debug",
        );
    }
    dir
}

/// A command that sees none of the variables that could point the package
/// at a libdfd, a plugin or a model outside the wheel.
fn clean(cmd: &mut Command) -> &mut Command {
    for var in [
        "DFD_LIBRARY",
        "DFD_PLUGIN_PATH",
        "DFD_MODEL",
        "PYTHONPATH",
        "LD_LIBRARY_PATH",
        "ORT_DYLIB_PATH",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// `python -m dfd scan ARGS` with the installed package, in the repository.
fn python_scan(python: &Path, args: &[&str]) -> String {
    ok(
        clean(&mut Command::new(python))
            .args(["-I", "-m", "dfd", "scan"])
            .args(args)
            .current_dir(repo())
            .output()
            .unwrap(),
        &format!("python -m dfd scan {}", args.join(" ")),
    )
}

/// `dfd scan ARGS` with this test run's plugins, in the repository.
fn dfd_scan(args: &[&str]) -> String {
    ok(
        clean(&mut Command::new(env!("CARGO_BIN_EXE_dfd")))
            .args(["scan", "--plugin-dir"])
            .arg(plugin_dir())
            .args(args)
            .current_dir(repo())
            .output()
            .unwrap(),
        "dfd scan",
    )
}

/// The JSON objects of `--json` output, one per line.
fn parse(lines: &str) -> Vec<Value> {
    lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The highest `GLIBC_x.y` version among the symbols `lib` imports.
fn glibc_needed(lib: &Path) -> (u32, u32) {
    let out = Command::new("objdump")
        .arg("-T")
        .arg(lib)
        .output()
        .expect("objdump (binutils) is needed");
    assert!(out.status.success());
    text(&out.stdout)
        .split_whitespace()
        // objdump -T shows versions as "(GLIBC_2.34)" or "GLIBC_2.34".
        .filter_map(|w| w.trim_matches(['(', ')']).strip_prefix("GLIBC_"))
        .filter_map(|v| {
            let mut it = v.split('.').map(|n| n.parse::<u32>().ok());
            Some((it.next()??, it.next().flatten().unwrap_or(0)))
        })
        .max()
        .expect("no GLIBC symbol versions")
}

/// The wheel, built once for this binary's tests and installed into a
/// fresh virtual environment.
struct Installed {
    /// The venv's python.
    python: PathBuf,
    /// The installed package's directory.
    package: PathBuf,
}

static INSTALLED: OnceLock<Installed> = OnceLock::new();

fn installed() -> &'static Installed {
    INSTALLED.get_or_init(build_and_install)
}

fn build_and_install() -> Installed {
    let python = python();
    let tmp = scratch("python-wheel");
    let dist = tmp.join("dist");
    let libs = built_libraries(&tmp);

    let started = Instant::now();
    ok(
        clean(&mut Command::new(&python))
            .args(["-m", "pip", "wheel", "-q", "--disable-pip-version-check"])
            .args(["--no-build-isolation", "--no-index", "--no-deps", "-w"])
            .arg(&dist)
            .arg(repo().join("bindings/python"))
            .env("DFD_PREBUILT_LIBS", &libs)
            .output()
            .unwrap(),
        "pip wheel ./bindings/python",
    );
    eprintln!("pip wheel took {:.1} s", started.elapsed().as_secs_f64());
    let wheels: Vec<PathBuf> = std::fs::read_dir(&dist)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(wheels.len(), 1, "{wheels:?}");
    let wheel = &wheels[0];
    let name = wheel.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("dfd-0.1.0-py3-none-linux_"),
        "the wheel should be for any Python 3 on this platform: {name}"
    );

    // System packages (numpy; Ray for the archive test) but no dfd but the wheel's.
    let venv = tmp.join("venv");
    ok(
        clean(&mut Command::new(&python))
            .args(["-m", "venv", "--system-site-packages"])
            .arg(&venv)
            .output()
            .unwrap(),
        "python3 -m venv",
    );
    let py = venv.join("bin/python");
    ok(
        clean(&mut Command::new(&py))
            .args(["-m", "pip", "install", "-q", "--disable-pip-version-check"])
            .args(["--no-index", "--no-deps"])
            .arg(wheel)
            .output()
            .unwrap(),
        "pip install the wheel",
    );
    let package = ok(
        clean(&mut Command::new(&py))
            .args([
                "-I",
                "-c",
                "import dfd, os; print(os.path.dirname(dfd.__file__))",
            ])
            .current_dir(&tmp)
            .output()
            .unwrap(),
        "import dfd from the venv",
    );
    let package = PathBuf::from(package.trim());
    assert!(package.starts_with(&venv), "{}", package.display());
    Installed {
        python: py,
        package,
    }
}

#[test]
fn wheel_installs_into_a_fresh_venv_and_scans_like_dfd() {
    let Installed { python, package } = installed();
    for lib in WHEEL_LIBRARIES {
        let glibc = glibc_needed(&package.join(lib));
        assert!(
            glibc <= MAX_GLIBC,
            "{lib} needs GLIBC_{}.{}, above the {}.{} the README states",
            glibc.0,
            glibc.1,
            MAX_GLIBC.0,
            MAX_GLIBC.1
        );
    }

    // The same scan from the installed package and from the dfd tool.
    for mode in [&["--json"][..], &[]] {
        let args = [&["--backend", "cpu"][..], mode, &["samples"]].concat();
        let from_python = python_scan(python, &args);
        let from_dfd = dfd_scan(&args);
        assert_eq!(from_dfd.lines().count(), 2, "{from_dfd}");
        if mode.is_empty() {
            assert_eq!(from_python, from_dfd);
        } else {
            assert_eq!(parse(&from_python), parse(&from_dfd));
        }
    }
}

/// The wheel's ort plugin runs once the onnxruntime PyPI package is
/// installed, with no variable set: the package points the plugin at that
/// package's library. It scores what the CPU backend scores, within the
/// two engines' float differences.
#[test]
fn wheel_runs_the_ort_backend_with_pip_onnxruntime() {
    let Installed { python, .. } = installed();
    ok(
        Command::new(python)
            .args(["-c", "import onnxruntime"])
            .output()
            .unwrap(),
        "importing onnxruntime (pip install onnxruntime==1.32.0; .ci/run does)",
    );
    scans_samples_as_cpu_does(python, "ort");
}

/// The wheel's compact rten plugin runs with nothing else installed and
/// scores what the CPU backend scores.
#[test]
fn wheel_runs_the_rten_backend() {
    let Installed { python, .. } = installed();
    scans_samples_as_cpu_does(python, "rten");
}

/// `python -m dfd scan --backend BACKEND samples` against the CPU backend:
/// the same files and verdicts, p_fake within the engines' float differences.
fn scans_samples_as_cpu_does(python: &Path, backend: &str) {
    let scan = |backend: &str| {
        parse(&python_scan(
            python,
            &["--json", "--backend", backend, "samples"],
        ))
    };
    let (other, cpu) = (scan(backend), scan("cpu"));
    assert_eq!(other.len(), cpu.len());
    assert_eq!(other.len(), 2);
    for (o, c) in other.iter().zip(&cpu) {
        assert_eq!(o["backend"], backend, "{o}");
        assert_eq!(o["file"], c["file"]);
        assert_eq!(o["verdict"], c["verdict"], "{o}\n{c}");
        let (po, pc) = (o["p_fake"].as_f64().unwrap(), c["p_fake"].as_f64().unwrap());
        assert!((po - pc).abs() < 1e-4, "{backend} {po} vs cpu {pc}");
    }
}

/// The wheel decodes every format `dfd scan` reads (libdfd_decode inside
/// the package): FLAC, Ogg Opus and M4A files score as `dfd scan` scores them.
#[test]
fn wheel_scans_compressed_formats_like_dfd() {
    let Installed { python, .. } = installed();
    let files = [
        cli_fixture("speech_44k1_stereo.flac"),
        cli_fixture("speech_48k_stereo.opus"),
        cli_fixture("speech_44k1_stereo.m4a"),
    ];
    let mut args = vec!["--json", "--backend", "cpu"];
    args.extend(files.iter().map(|f| f.to_str().unwrap()));
    assert_eq!(parse(&python_scan(python, &args)), parse(&dfd_scan(&args)));
}

/// examples/ray/test_scan_archive.py with the installed wheel: a real
/// local Ray cluster (head and two worker nodes by `ray start`), the
/// archive job with an actor killed mid-job, compared with `dfd scan`.
/// Ray comes from the system's site-packages (`.ci/run` installs it).
#[test]
fn ray_archive_scan_on_a_local_cluster() {
    let Installed { python, .. } = installed();
    ok(
        Command::new(python)
            .args(["-c", "import ray, ray.data, pyarrow, pytest"])
            .output()
            .unwrap(),
        "importing Ray Data, pyarrow and pytest (pip install 'ray[data]==2.60.0' pytest)",
    );
    let started = Instant::now();
    let out = clean(&mut Command::new(python))
        .args(["-m", "pytest", "-p", "no:cacheprovider", "-v", "-s"])
        .arg(repo().join("examples/ray/test_scan_archive.py"))
        .current_dir(repo().join("examples/ray"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("DFD_BIN", env!("CARGO_BIN_EXE_dfd"))
        .env("DFD_PLUGIN_DIR", plugin_dir())
        .output()
        .unwrap();
    let log = format!("{}{}", text(&out.stdout), text(&out.stderr));
    eprintln!(
        "the Ray test took {:.1} s:\n{log}",
        started.elapsed().as_secs_f64()
    );
    assert!(out.status.success(), "the Ray test failed:\n{log}");
    assert!(log.contains(" PASSED"), "{log}");
}
