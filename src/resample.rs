//! Streaming sample-rate conversion of mono audio with libsoxr at its "HQ"
//! recipe: the resampler `librosa.load(sr=...)` (`res_type="soxr_hq"`) and
//! python-soxr use, so a model trained on audio loaded that way sees the same
//! samples here. libsoxr is compiled from the source bundled in `soxr-sys`
//! (no system library; cross and static builds need only a C compiler).
//!
//! Output sample `n` lines up with input time `n / out_rate` (libsoxr trims
//! its own filter delay). [`StreamResampler::finish`] drains the filter at
//! the end of the input; the caller then completes the stream to librosa's
//! length, `ceil(n_in * out_rate / in_rate)`.
//!
//! libsoxr keeps its FFT tables in process-wide arrays that it grows and
//! fills lazily, guarded only when built with OpenMP, which `soxr-sys` is
//! not: two streams resampling on two threads corrupted each other's output
//! (wrong scores, NaN; `tests/parallel_resampling.rs`). Every libsoxr call
//! therefore holds [`LIBSOXR`].

use std::ffi::CStr;
use std::ptr;
use std::sync::{Mutex, MutexGuard};

use soxr_sys as sys;

use crate::error::{Error, Result, Status};

/// Output samples produced per libsoxr call.
const OUT_BLOCK: usize = 4096;

/// Held across every libsoxr call (see the module's doc).
static LIBSOXR: Mutex<()> = Mutex::new(());

fn libsoxr() -> MutexGuard<'static, ()> {
    // The guarded state is libsoxr's, which a panic on our side cannot
    // leave half-written: a poisoned lock is still usable.
    LIBSOXR.lock().unwrap_or_else(|p| p.into_inner())
}

pub struct StreamResampler {
    soxr: sys::soxr_t,
    out: Vec<f32>,
}

// SAFETY: a soxr_t is plain heap state with no thread affinity; it is only
// used through `&mut self`.
unsafe impl Send for StreamResampler {}

impl StreamResampler {
    pub fn new(in_rate: u32, out_rate: u32) -> Result<StreamResampler> {
        let mut error: sys::soxr_error_t = ptr::null();
        let _libsoxr = libsoxr();
        // SAFETY: the spec constructors only fill in structs; soxr_create
        // copies them and reports failure through `error`.
        let soxr = unsafe {
            let io = sys::soxr_io_spec(
                sys::soxr_datatype_t_SOXR_FLOAT32_I,
                sys::soxr_datatype_t_SOXR_FLOAT32_I,
            );
            let quality = sys::soxr_quality_spec(sys::SOXR_20_BITQ.into(), 0);
            let runtime = sys::soxr_runtime_spec(1);
            sys::soxr_create(
                f64::from(in_rate),
                f64::from(out_rate),
                1,
                &mut error,
                &io,
                &quality,
                &runtime,
            )
        };
        if !error.is_null() || soxr.is_null() {
            let why = describe(error);
            // SAFETY: soxr_delete accepts NULL and a half-made resampler.
            unsafe { sys::soxr_delete(soxr) };
            return Err(Error::new(
                Status::SampleRate,
                format!("cannot resample {in_rate} Hz to {out_rate} Hz: {why}"),
            ));
        }
        Ok(StreamResampler {
            soxr,
            out: vec![0.0; OUT_BLOCK],
        })
    }

    /// Resamples `input`, handing each block of output to `sink` in order.
    pub fn process(
        &mut self,
        mut input: &[f32],
        sink: &mut impl FnMut(&[f32]) -> Result<()>,
    ) -> Result<()> {
        while !input.is_empty() {
            let (used, made) = self.step(Some(input))?;
            input = &input[used..];
            if made > 0 {
                sink(&self.out[..made])?;
            }
        }
        Ok(())
    }

    /// Ends the input: hands the samples still inside the filter to `sink`.
    /// libsoxr then has produced `round(n_in * out_rate / in_rate)` samples.
    pub fn finish(&mut self, sink: &mut impl FnMut(&[f32]) -> Result<()>) -> Result<()> {
        loop {
            let (_, made) = self.step(None)?;
            if made == 0 {
                return Ok(());
            }
            sink(&self.out[..made])?;
        }
    }

    /// One libsoxr call: (input samples consumed, output samples made).
    /// `None` signals the end of the input.
    fn step(&mut self, input: Option<&[f32]>) -> Result<(usize, usize)> {
        let (mut used, mut made) = (0usize, 0usize);
        let (ptr_in, len_in) = match input {
            Some(x) => (x.as_ptr().cast(), x.len()),
            None => (ptr::null(), 0),
        };
        let _libsoxr = libsoxr();
        // SAFETY: `ptr_in` is valid for `len_in` samples (or NULL = end of
        // input), `out` for its length; libsoxr writes at most that many.
        let error = unsafe {
            sys::soxr_process(
                self.soxr,
                ptr_in,
                len_in,
                &mut used,
                self.out.as_mut_ptr().cast(),
                self.out.len(),
                &mut made,
            )
        };
        if !error.is_null() {
            return Err(Error::new(
                Status::Internal,
                format!("resampler: {}", describe(error)),
            ));
        }
        Ok((used, made))
    }

    /// Forgets all buffered audio, as if newly created.
    pub fn reset(&mut self) {
        let _libsoxr = libsoxr();
        // SAFETY: `soxr` is a live resampler; clearing keeps its configuration.
        unsafe { sys::soxr_clear(self.soxr) };
    }
}

impl Drop for StreamResampler {
    fn drop(&mut self) {
        let _libsoxr = libsoxr();
        // SAFETY: created by soxr_create and deleted once, here.
        unsafe { sys::soxr_delete(self.soxr) };
    }
}

fn describe(error: sys::soxr_error_t) -> String {
    if error.is_null() {
        return "unknown error".into();
    }
    // SAFETY: libsoxr's errors are static NUL-terminated strings.
    unsafe { CStr::from_ptr(error) }
        .to_string_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, freq: f32, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (2.0 * std::f32::consts::PI * freq * i as f32 / rate as f32).sin() * 0.5)
            .collect()
    }

    /// Resamples in irregular chunk sizes: the same samples as in one piece,
    /// the same tone aligned in time, and libsoxr's rounded length.
    fn check(in_rate: u32, out_rate: u32) {
        let input = sine(in_rate, 440.0, in_rate as usize / 2 + 7);
        let run = |chunked: bool| {
            let mut r = StreamResampler::new(in_rate, out_rate).unwrap();
            let mut out = Vec::new();
            let mut push = |b: &[f32]| {
                out.extend_from_slice(b);
                Ok(())
            };
            let (mut rest, mut k) = (&input[..], 1);
            while !rest.is_empty() {
                let n = if chunked {
                    k.min(rest.len())
                } else {
                    rest.len()
                };
                r.process(&rest[..n], &mut push).unwrap();
                rest = &rest[n..];
                k = k * 3 % 2000 + 1;
            }
            r.finish(&mut push).unwrap();
            out
        };
        let (whole, chunked) = (run(false), run(true));
        assert_eq!(
            whole, chunked,
            "{in_rate}->{out_rate}: chunking changed the output"
        );
        let want = (input.len() as f64 * f64::from(out_rate) / f64::from(in_rate)).round();
        assert_eq!(whole.len(), want as usize, "{in_rate}->{out_rate}");
        let expected = sine(out_rate, 440.0, whole.len());
        let err = whole
            .iter()
            .zip(&expected)
            .skip(200)
            .take(whole.len() - 400)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(err < 1e-3, "{in_rate}->{out_rate}: max error {err}");
    }

    #[test]
    fn resamples_common_and_awkward_rates() {
        check(44100, 16000);
        check(8000, 16000);
        check(48000, 16000);
        check(44101, 16000);
    }

    #[test]
    fn reset_forgets_the_past() {
        let x = sine(44100, 300.0, 5000);
        let mut r = StreamResampler::new(44100, 16000).unwrap();
        let collect = |r: &mut StreamResampler| {
            let mut out = Vec::new();
            let mut push = |b: &[f32]| {
                out.extend_from_slice(b);
                Ok(())
            };
            r.process(&x, &mut push).unwrap();
            r.finish(&mut push).unwrap();
            out
        };
        let first = collect(&mut r);
        r.reset();
        assert_eq!(collect(&mut r), first);
    }
}
