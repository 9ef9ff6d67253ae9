//! Helpers of the `dfd` binary's end-to-end tests (one test file per
//! subcommand), run on the repository's fixture model (random weights:
//! results are checked for structure and consistency, not for which verdict
//! they give) and real speech.
// Each test binary uses its own share of these.
#![allow(dead_code)]

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// Largest |Δp_fake| accepted between the same speech decoded from different
/// formats. The 44.1 kHz stereo clips went 16 kHz → 44.1 kHz (ffmpeg) and come
/// back 44.1 → 16 kHz (libdfd's resampler); MP3 and Vorbis are lossy at
/// ~64-100 kbit/s and MP3 decoding may be off by a few samples of encoder
/// delay. All of that changes the log-mel features slightly, not the speech:
/// 0.1 on a [0, 1] probability still catches a wrong rate, a channel mix-up,
/// lost or duplicated packets, or a silent decode, each of which moves the
/// windows' features far more.
pub const FORMAT_TOLERANCE: f64 = 0.1;

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

pub fn model() -> PathBuf {
    repo().join("tests/fixtures/models/tiny-mel")
}

pub fn speech_wav() -> PathBuf {
    repo().join("tests/fixtures/audio/speech_16k.wav")
}

pub fn cli_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The directory holding libdfd_backend_cpu.so, which `cargo test` builds
/// as a dev-dependency next to this test binary (target/<profile>/deps/).
pub fn plugin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    let profile = deps.parent().unwrap();
    for dir in [profile, deps] {
        if dir.join("libdfd_backend_cpu.so").is_file() {
            return dir.to_path_buf();
        }
    }
    panic!(
        "libdfd_backend_cpu.so is in neither {} nor {}; run the tests with `cargo test -p dfd-cli`, which builds it",
        profile.display(),
        deps.display()
    );
}

/// A fresh scratch directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("dfd-cli-tests")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `dfd` with no model or plugin path from the caller's environment.
pub fn dfd<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Command::new(env!("CARGO_BIN_EXE_dfd"))
        .env_remove("DFD_MODEL")
        .env_remove("DFD_PLUGIN_PATH")
        .args(args)
        .output()
        .expect("runs dfd")
}

/// `dfd scan --model tiny-mel --plugin-dir … <extra> <files>`.
pub fn scan(extra: &[&str], files: &[&Path]) -> Output {
    let mut args: Vec<OsString> = vec![
        "scan".into(),
        "--model".into(),
        model().into(),
        "--plugin-dir".into(),
        plugin_dir().into(),
    ];
    args.extend(extra.iter().map(OsString::from));
    args.extend(files.iter().map(|f| f.as_os_str().to_owned()));
    dfd(args)
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("UTF-8 output")
}

pub fn json_lines(out: &Output) -> Vec<Value> {
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

pub fn assert_exit(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "exit status\nstdout:\n{}\nstderr:\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// Writes the first `seconds` of a 16-bit PCM WAV as a new WAV (the
/// reference the 2 s compressed clips are compared with).
pub fn trim_wav(src: &Path, seconds: f64, dst: &Path) {
    let bytes = std::fs::read(src).unwrap();
    assert_eq!(&bytes[0..4], b"RIFF");
    let (mut pos, mut fmt, mut data) = (12, None, None);
    while pos + 8 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().unwrap()) as usize;
        let body = pos + 8..(pos + 8 + len).min(bytes.len());
        match &bytes[pos..pos + 4] {
            b"fmt " => fmt = Some(bytes[body.clone()].to_vec()),
            b"data" => data = Some(bytes[body].to_vec()),
            _ => {}
        }
        pos += 8 + len + (len & 1);
    }
    let (fmt, data) = (fmt.unwrap(), data.unwrap());
    let channels = u16::from_le_bytes([fmt[2], fmt[3]]) as usize;
    let rate = u32::from_le_bytes(fmt[4..8].try_into().unwrap());
    assert_eq!(
        u16::from_le_bytes([fmt[14], fmt[15]]),
        16,
        "16-bit PCM expected"
    );
    let keep = ((seconds * f64::from(rate)) as usize * channels * 2).min(data.len());
    let mut out = Vec::new();
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(4 + 8 + fmt.len() as u32 + 8 + keep as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&(fmt.len() as u32).to_le_bytes());
    out.extend_from_slice(&fmt);
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(keep as u32).to_le_bytes());
    out.extend_from_slice(&data[..keep]);
    std::fs::write(dst, out).unwrap();
}

pub fn manifest_threshold() -> f64 {
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(model().join("manifest.json")).unwrap())
            .unwrap();
    manifest["threshold"].as_f64().unwrap()
}

pub fn p(v: &Value) -> f64 {
    v["p_fake"]
        .as_f64()
        .unwrap_or_else(|| panic!("no p_fake in {v}"))
}

/// Deterministic bytes that are no audio format (xorshift).
pub fn garbage(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Decodes an 8-bit RGB PNG: its header and its pixels.
pub fn read_png(path: &Path) -> (png::OutputInfo, Vec<u8>) {
    let file = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    let mut reader = png::Decoder::new(file).read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb);
    pixels.truncate(info.buffer_size());
    (info, pixels)
}
