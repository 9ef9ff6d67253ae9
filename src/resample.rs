//! Streaming sample-rate conversion of mono audio with rubato.
//!
//! Callers push any number of samples; they are collected into the fixed
//! input chunks rubato wants, and the resampler's start-up delay is trimmed
//! so that output sample `n` lines up with input time `n / out_rate`.

use rubato::audioadapter_buffers::direct::SequentialSlice;
use rubato::{
    Async, Fft, FixedAsync, FixedSync, Resampler, SincInterpolationParameters,
    SincInterpolationType, WindowFunction,
};

use crate::error::{Error, Result, Status};

/// Input frames per resampler call: ~20-60 ms at common rates, a compromise
/// between latency and per-call overhead.
const CHUNK: usize = 1024;
/// Largest FFT block (in input frames) we accept for the synchronous FFT
/// resampler; rate pairs with a small GCD (e.g. 44101 -> 16000) would need
/// huge blocks, so they go to the asynchronous sinc resampler instead.
const MAX_FFT_BLOCK: usize = 4096;

pub struct StreamResampler {
    inner: Box<dyn Resampler<f32> + Send>,
    pending: Vec<f32>,
    out: Vec<f32>,
    to_trim: usize,
}

impl StreamResampler {
    pub fn new(in_rate: u32, out_rate: u32) -> Result<StreamResampler> {
        let (i, o) = (in_rate as usize, out_rate as usize);
        let block = i / gcd(i, o);
        let made: std::result::Result<Box<dyn Resampler<f32> + Send>, _> = if block <= MAX_FFT_BLOCK
        {
            Fft::<f32>::new(i, o, CHUNK.max(block), 1, FixedSync::Input).map(|r| Box::new(r) as _)
        } else {
            let params = SincInterpolationParameters {
                sinc_len: 128,
                f_cutoff: None,
                oversampling_factor: 128,
                interpolation: SincInterpolationType::Cubic,
                window: WindowFunction::BlackmanHarris2,
            };
            Async::<f32>::new_sinc(
                o as f64 / i as f64,
                1.0,
                &params,
                CHUNK,
                1,
                FixedAsync::Input,
            )
            .map(|r| Box::new(r) as _)
        };
        let inner = made.map_err(|e| {
            Error::new(
                Status::SampleRate,
                format!("cannot resample {in_rate} Hz to {out_rate} Hz: {e}"),
            )
        })?;
        let out = vec![0.0; inner.output_frames_max()];
        let to_trim = inner.output_delay();
        Ok(StreamResampler {
            pending: Vec::with_capacity(inner.input_frames_max()),
            out,
            to_trim,
            inner,
        })
    }

    /// Resamples `input`, handing each block of output to `sink` in order.
    pub fn process(
        &mut self,
        mut input: &[f32],
        sink: &mut impl FnMut(&[f32]) -> Result<()>,
    ) -> Result<()> {
        while !input.is_empty() {
            let need = self.inner.input_frames_next();
            let take = (need - self.pending.len()).min(input.len());
            self.pending.extend_from_slice(&input[..take]);
            input = &input[take..];
            if self.pending.len() < need {
                break;
            }
            let produced = {
                let src = SequentialSlice::new(&self.pending[..], 1, need).map_err(internal)?;
                let frames = self.out.len();
                let mut dst =
                    SequentialSlice::new_mut(&mut self.out[..], 1, frames).map_err(internal)?;
                let (_, produced) = self
                    .inner
                    .process_into_buffer(&src, &mut dst, None)
                    .map_err(internal)?;
                produced
            };
            self.pending.clear();
            let skip = self.to_trim.min(produced);
            self.to_trim -= skip;
            if produced > skip {
                sink(&self.out[skip..produced])?;
            }
        }
        Ok(())
    }

    /// Forgets all buffered audio, as if newly created.
    pub fn reset(&mut self) {
        self.inner.reset();
        self.pending.clear();
        self.to_trim = self.inner.output_delay();
    }
}

fn internal(e: impl std::fmt::Display) -> Error {
    Error::new(Status::Internal, format!("resampler: {e}"))
}

fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, freq: f32, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (2.0 * std::f32::consts::PI * freq * i as f32 / rate as f32).sin() * 0.5)
            .collect()
    }

    /// Resamples in irregular chunk sizes and checks the output is the same
    /// tone, aligned in time (delay trimmed), with the expected length.
    fn check(in_rate: u32, out_rate: u32) {
        let input = sine(in_rate, 440.0, in_rate as usize);
        let mut r = StreamResampler::new(in_rate, out_rate).unwrap();
        let mut out = Vec::new();
        let mut rest = &input[..];
        let mut k = 1;
        while !rest.is_empty() {
            let n = k.min(rest.len());
            r.process(&rest[..n], &mut |b| {
                out.extend_from_slice(b);
                Ok(())
            })
            .unwrap();
            rest = &rest[n..];
            k = k * 3 % 2000 + 1;
        }
        let expected = sine(out_rate, 440.0, out.len() + 2);
        // Everything but the last, not yet flushed chunk comes out.
        assert!(
            out.len() + 2 * 1024 * out_rate as usize / in_rate as usize >= out_rate as usize,
            "{} samples",
            out.len()
        );
        // Aligned to within one output sample (the sinc resampler's delay is
        // fractional and rounded).
        let err_at = |lag: usize| {
            out.iter()
                .zip(&expected[lag..])
                .skip(100)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max)
        };
        let err = err_at(0).min(err_at(1));
        assert!(err < 0.02, "{in_rate}->{out_rate}: max error {err}");
    }

    #[test]
    fn fft_path_matches_a_resampled_tone() {
        check(44100, 16000);
        check(8000, 16000);
        check(48000, 16000);
    }

    #[test]
    fn sinc_path_handles_awkward_rates() {
        check(44101, 16000);
    }
}
