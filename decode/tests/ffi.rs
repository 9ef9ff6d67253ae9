//! libdfd_decode's C API, called as C would: every format the CLI reads,
//! in blocks, equal to the Rust decoder's output; bad arguments and bad
//! files get a status and a message, never a crash.

use std::ffi::{CStr, CString};
use std::path::{Path, PathBuf};
use std::ptr;

use dfd_decode::ffi::*;
use dfd_decode::Decoder;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../cli/tests/fixtures")
        .join(name)
}

fn last_error() -> String {
    unsafe { CStr::from_ptr(dfd_decode_last_error()) }
        .to_string_lossy()
        .into_owned()
}

/// All samples through the C API in blocks of `capacity`, and the format.
fn read_all_c(path: &Path, capacity: usize) -> (u32, u32, Vec<f32>) {
    let c_path = CString::new(path.to_str().unwrap()).unwrap();
    let mut dec = ptr::null_mut();
    assert_eq!(
        unsafe { dfd_decoder_open(c_path.as_ptr(), &mut dec) },
        DFD_DECODE_OK
    );
    let (mut rate, mut channels, mut all) = (0, 0, Vec::new());
    let mut block = vec![0f32; capacity];
    loop {
        let mut n = usize::MAX;
        let status = unsafe {
            dfd_decoder_read(
                dec,
                block.as_mut_ptr(),
                capacity,
                &mut n,
                &mut rate,
                &mut channels,
            )
        };
        assert_eq!(status, DFD_DECODE_OK, "{}", last_error());
        if n == 0 {
            break;
        }
        assert_eq!(n % channels as usize, 0, "whole frames");
        all.extend_from_slice(&block[..n]);
    }
    unsafe { dfd_decoder_close(dec) };
    (rate, channels, all)
}

#[test]
fn c_api_reads_what_the_decoder_decodes() {
    for (name, want_rate) in [
        ("speech_48k_stereo.opus", 48_000),
        ("speech_48k_stereo.webm", 48_000),
        ("speech_48k_stereo.mka", 48_000),
        ("speech_44k1_stereo.m4a", 44_100),
        ("speech_44k1_stereo.flac", 44_100),
    ] {
        let path = fixture(name);
        let mut decoder = Decoder::open(&path).unwrap();
        let mut want = Vec::new();
        while let Some(chunk) = decoder.next_chunk().unwrap() {
            assert_eq!((chunk.rate, chunk.channels), (want_rate, 2), "{name}");
            want.extend_from_slice(chunk.samples);
        }
        // 2.0 s of stereo, give or take the codec's padding (one frame).
        let seconds = want.len() as f64 / 2.0 / f64::from(want_rate);
        assert!((seconds - 2.0).abs() < 0.06, "{name}: {seconds} s");
        // Odd block sizes: frames are never split.
        for capacity in [2, 1001, 4096] {
            let (rate, channels, got) = read_all_c(&path, capacity);
            assert_eq!((rate, channels), (want_rate, 2), "{name}");
            assert_eq!(got, want, "{name}, blocks of {capacity}");
        }
    }
}

#[test]
fn c_api_refuses_bad_arguments_and_bad_files() {
    let mut dec = ptr::null_mut();
    assert_eq!(
        unsafe { dfd_decoder_open(ptr::null(), &mut dec) },
        DFD_DECODE_ERR_INVALID_ARG
    );
    let missing = CString::new("/nonexistent/x.opus").unwrap();
    assert_eq!(
        unsafe { dfd_decoder_open(missing.as_ptr(), &mut dec) },
        DFD_DECODE_ERR_FILE
    );
    assert!(
        last_error().contains("/nonexistent/x.opus"),
        "{}",
        last_error()
    );
    assert!(dec.is_null(), "out is written only on success");

    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let junk = dir.join("dfd-decode-junk.m4a");
    std::fs::write(&junk, b"definitely not an MPEG-4 file, nor any audio").unwrap();
    let junk = CString::new(junk.to_str().unwrap()).unwrap();
    assert_eq!(
        unsafe { dfd_decoder_open(junk.as_ptr(), &mut dec) },
        DFD_DECODE_ERR_FILE
    );
    assert!(
        last_error().contains("not a supported audio file"),
        "{}",
        last_error()
    );

    let path = CString::new(fixture("speech_48k_stereo.opus").to_str().unwrap()).unwrap();
    assert_eq!(
        unsafe { dfd_decoder_open(path.as_ptr(), &mut dec) },
        DFD_DECODE_OK
    );
    let mut one = [0f32; 1];
    let mut n = 0;
    let status = unsafe {
        dfd_decoder_read(
            dec,
            one.as_mut_ptr(),
            1,
            &mut n,
            ptr::null_mut(),
            ptr::null_mut(),
        )
    };
    assert_eq!(
        status, DFD_DECODE_ERR_INVALID_ARG,
        "one sample holds no stereo frame"
    );
    assert_eq!(
        unsafe {
            dfd_decoder_read(
                dec,
                ptr::null_mut(),
                8,
                &mut n,
                ptr::null_mut(),
                ptr::null_mut(),
            )
        },
        DFD_DECODE_ERR_INVALID_ARG
    );
    unsafe { dfd_decoder_close(dec) };
    unsafe { dfd_decoder_close(ptr::null_mut()) };
}

/// Opens `bytes` (written to a file) through the C API and reads it to its
/// end; returns the first failing status, or OK. Never more reads than the
/// bytes could hold packets, so a decoder that loops fails the test.
fn read_through_c(bytes: &[u8], dir: &Path, name: &str) -> dfd_decode_status {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    let c_path = CString::new(path.to_str().unwrap()).unwrap();
    let mut dec = ptr::null_mut();
    let status = unsafe { dfd_decoder_open(c_path.as_ptr(), &mut dec) };
    if status != DFD_DECODE_OK {
        assert!(dec.is_null(), "{name}: out written on failure");
        return status;
    }
    let mut block = vec![0f32; 4096];
    let mut status = DFD_DECODE_OK;
    for _ in 0..1_000_000 {
        let mut n = 0;
        status = unsafe {
            dfd_decoder_read(
                dec,
                block.as_mut_ptr(),
                block.len(),
                &mut n,
                ptr::null_mut(),
                ptr::null_mut(),
            )
        };
        if status != DFD_DECODE_OK || n == 0 {
            break;
        }
    }
    unsafe { dfd_decoder_close(dec) };
    status
}

/// Hostile files through the C API: the fuzzer's corpus (with the file
/// that crashed CI's fuzzing) and every fixture truncated and corrupted at
/// fixed places. Each gets DFD_DECODE_OK or DFD_DECODE_ERR_FILE with a
/// message, never DFD_DECODE_ERR_INTERNAL (a panic that escaped the
/// decoder's own boundary), a crash or a hang.
#[test]
fn c_api_survives_hostile_files() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dfd-decode-hostile");
    std::fs::create_dir_all(&dir).unwrap();
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/cli_decoders");
    let mut inputs: Vec<(String, Vec<u8>)> = std::fs::read_dir(&corpus)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    assert!(inputs.iter().any(|(n, _)| n.contains("ci_crash")));
    for entry in std::fs::read_dir(fixture("")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "sh") {
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&path).unwrap();
        for cut in [0, 1, 4, 12, 44, 200, bytes.len() / 3, bytes.len() - 1] {
            inputs.push((format!("{name}.cut{cut}"), bytes[..cut].to_vec()));
        }
        // Every 97th byte inverted past the first `from` bytes: headers,
        // then only packets, damaged.
        for from in [0, 64, bytes.len() / 2] {
            let mut bad = bytes.clone();
            bad.iter_mut().skip(from).step_by(97).for_each(|b| *b = !*b);
            inputs.push((format!("{name}.flip{from}"), bad));
        }
    }
    let mut failed = 0;
    for (name, bytes) in &inputs {
        match read_through_c(bytes, &dir, "input") {
            DFD_DECODE_OK => {}
            DFD_DECODE_ERR_FILE => {
                failed += 1;
                assert!(!last_error().is_empty(), "{name}: no message");
            }
            other => panic!("{name}: status {other}: {}", last_error()),
        }
    }
    // Most are refused (truncated headers); the damaged packets are skipped.
    assert!(
        failed > inputs.len() / 3,
        "{failed} of {} refused",
        inputs.len()
    );
}

/// libdfd_decode.so, built beside this test, exports its C API and nothing
/// else: every defined dynamic symbol starts with `dfd_`, and each function
/// of include/dfd_decode.h is there.
#[test]
fn shared_library_exports_only_dfd_symbols() {
    let exe = std::env::current_exe().unwrap();
    let lib = exe.parent().unwrap().join("libdfd_decode.so");
    let out = std::process::Command::new("nm")
        .args(["-D", "--defined-only", "--format=posix"])
        .arg(&lib)
        .output()
        .expect("nm (binutils) is needed");
    assert!(out.status.success(), "{}", lib.display());
    let text = String::from_utf8(out.stdout).unwrap();
    let symbols: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let foreign: Vec<&&str> = symbols.iter().filter(|s| !s.starts_with("dfd_")).collect();
    assert!(foreign.is_empty(), "non-dfd symbols exported: {foreign:?}");
    let header = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../include/dfd_decode.h"),
    )
    .unwrap();
    let declared: Vec<&str> = header
        .lines()
        .filter(|l| !l.trim_start().starts_with(['/', '*']) && l.contains('('))
        .filter_map(|l| l.split('(').next()?.split_whitespace().last())
        .map(|name| name.trim_start_matches('*'))
        .filter(|name| name.starts_with("dfd_"))
        .collect();
    assert_eq!(declared.len(), 4, "parsed {declared:?} from the header");
    for f in declared {
        assert!(symbols.contains(&f), "{f} is declared but not exported");
    }
}
