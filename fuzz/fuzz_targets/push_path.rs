//! The push path through the C API on a small model (tests/fixtures'
//! tiny-mel on the CPU plugin): any rate and channel count, f32 and i16
//! chunks of any size and content, interleaved with score, read, reset,
//! flush, deferral and cross-stream inference. No call may fail with
//! `DFD_ERR_INTERNAL` (a caught panic), and scores stay probabilities.
//!
//! The plugin is the one `cargo build -p dfd-backend-cpu` (or the tests)
//! built: `DFD_FUZZ_PLUGIN_DIR`, else `target/debug` of this repository.
#![no_main]

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::ptr::null_mut;
use std::sync::OnceLock;

use dfd::ffi::*;
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;

/// Rates worth hitting often; any other u32 is tried too.
const RATES: [u32; 7] = [8000, 11025, 16000, 22050, 44100, 48000, 96000];
const MAX_FRAMES: usize = 4096;
const MAX_OPS: usize = 64;

struct Shared(*mut dfd_model);
// SAFETY: a dfd_model is immutable and may be shared by threads (dfd.h).
unsafe impl Send for Shared {}
unsafe impl Sync for Shared {}

fn model() -> *mut dfd_model {
    static MODEL: OnceLock<Shared> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
            let dir = std::env::var_os("DFD_FUZZ_PLUGIN_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| repo.join("target/debug"));
            let dir = [dir.clone(), dir.join("deps")]
                .into_iter()
                .find(|d| d.join("libdfd_backend_cpu.so").is_file())
                .expect("libdfd_backend_cpu.so: build it or set DFD_FUZZ_PLUGIN_DIR");
            let path = CString::new(
                repo.join("tests/fixtures/models/tiny-mel")
                    .to_str()
                    .unwrap(),
            )
            .unwrap();
            let backend = CString::new("cpu").unwrap();
            let plugin_dir = CString::new(dir.to_str().unwrap()).unwrap();
            let mut o: dfd_model_options = unsafe { std::mem::zeroed() };
            let mut m = null_mut();
            unsafe {
                assert_eq!(dfd_model_options_init(&mut o), DFD_OK);
                o.backend = backend.as_ptr();
                o.plugin_dir = plugin_dir.as_ptr();
                assert_eq!(dfd_model_load(path.as_ptr(), &o, &mut m), DFD_OK);
            }
            Shared(m)
        })
        .0
}

fn ok(status: dfd_status, what: &str) {
    assert_ne!(
        status, DFD_ERR_INTERNAL,
        "{what}: internal error (a caught panic)"
    );
}

fn run(u: &mut Unstructured) -> Result<()> {
    let rate = match u.int_in_range(0..=RATES.len())? {
        0 => u.arbitrary()?,
        i => RATES[i - 1],
    };
    let channels = u.int_in_range(0..=9u32)?;
    let mut s = null_mut();
    let status = unsafe { dfd_open(model(), rate, channels, &mut s) };
    ok(status, "open");
    if status != DFD_OK {
        return Ok(());
    }
    let ch = channels as usize;
    let mut other = null_mut();
    ok(unsafe { dfd_open(model(), 16000, 1, &mut other) }, "open");
    for _ in 0..MAX_OPS {
        if u.is_empty() {
            break;
        }
        match u.int_in_range(0..=8u8)? {
            0 | 1 => {
                let frames = u.int_in_range(0..=MAX_FRAMES)?;
                let raw = u.arbitrary::<bool>()?;
                let gain = f32::from(u.int_in_range(0..=255u8)?) / 64.0;
                let mut x = Vec::with_capacity(frames * ch);
                for _ in 0..frames * ch {
                    x.push(if raw {
                        f32::from_bits(u.arbitrary()?)
                    } else {
                        f32::from(u.arbitrary::<i16>()?) / 32768.0 * gain
                    });
                }
                ok(
                    unsafe { dfd_push_samples(s, x.as_ptr(), frames) },
                    "push f32",
                );
            }
            2 | 3 => {
                let frames = u.int_in_range(0..=MAX_FRAMES)?;
                let mut x = Vec::with_capacity(frames * ch);
                for _ in 0..frames * ch {
                    x.push(u.arbitrary::<i16>()?);
                }
                ok(
                    unsafe { dfd_push_samples_i16(s, x.as_ptr(), frames) },
                    "push i16",
                );
            }
            4 => {
                let mut r: dfd_result = unsafe { std::mem::zeroed() };
                ok(unsafe { dfd_score(s, &mut r) }, "score");
                assert!((0.0..=1.0).contains(&r.p_fake), "p_fake {}", r.p_fake);
                assert!((0.0..=1.0).contains(&r.last_p_fake));
                assert!(r.seconds.is_finite() && r.speech_seconds <= r.seconds + 1.0);
            }
            5 => {
                let cap = u.int_in_range(0..=32usize)?;
                let mut w = vec![
                    dfd_window {
                        start: 0.0,
                        end: 0.0,
                        p_fake: 0.0
                    };
                    cap
                ];
                let mut n = 0;
                ok(
                    unsafe { dfd_read_windows(s, w.as_mut_ptr(), cap, &mut n) },
                    "read",
                );
                for w in &w[..n.min(cap)] {
                    assert!(w.start <= w.end && (0.0..=1.0).contains(&w.p_fake));
                }
            }
            6 => ok(unsafe { dfd_flush(s) }, "flush"),
            7 => ok(unsafe { dfd_reset(s) }, "reset"),
            _ => {
                ok(
                    unsafe { dfd_set_deferred(s, i32::from(u.arbitrary::<bool>()?)) },
                    "defer",
                );
                let mut both = [s, other];
                let mut scored = 0;
                ok(
                    unsafe { dfd_infer_streams(both.as_mut_ptr(), 2, &mut scored) },
                    "infer_streams",
                );
            }
        }
    }
    unsafe {
        dfd_close(s);
        dfd_close(other);
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});
