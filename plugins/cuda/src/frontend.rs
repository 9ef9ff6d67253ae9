//! The spectral front end on a [`Device`]: framing + window + DFT power
//! (`stft_power`), filterbank (`filterbank_apply`) or plain bins
//! (`spec_transpose`), then log and normalisation (`log_normalize`), into a
//! frequency-major `[batch, rows, frames]` buffer, i.e. the model's input.
//!
//! The tables are the host's: libdfd builds the window, filterbank and
//! statistics with its own front-end code and hands them over, so the
//! definitions live in one place. Covered: lfb / log-mel / linear
//! spectrogram with ln / log10 / none, optional floor, scalar or per-row
//! mean/std, constant or reflect padding, power 1 or 2. Not covered (the host
//! keeps these on the CPU): pre-emphasis, dB scaling, top_db, DCT (LFCC /
//! MFCC), deltas, energy row, time-major layout, raw-waveform models.

use dfd_backend_abi::sdk::{Error, Result};
use dfd_backend_abi::FrontendTables;

use crate::exec::{f32_bytes, Arg, Device, Launch};

fn f64_bytes(v: &[f64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// The front end's device buffers, sized for `max_batch` windows.
pub struct GpuFrontend {
    t: FrontendTables,
    max_batch: usize,
    audio: usize,
    win: usize,
    cos: usize,
    sin: usize,
    spec: usize,
    fb: Option<usize>,
    mean: usize,
    std: usize,
}

impl GpuFrontend {
    pub fn load<D: Device + ?Sized>(
        dev: &mut D,
        t: FrontendTables,
        max_batch: usize,
    ) -> Result<GpuFrontend> {
        t.check()?;
        // The kernels index with 32-bit ints: every buffer must fit.
        let largest = [
            t.frames() * t.bins(),
            t.rows * t.frames(),
            t.window_samples + 2 * t.pad,
        ]
        .into_iter()
        .max()
        .unwrap_or(0);
        if largest
            .checked_mul(max_batch)
            .is_none_or(|n| n > i32::MAX as usize)
        {
            return Err(Error::unsupported(format!(
                "GPU front end: {max_batch} windows of {largest} values exceed the kernels' 32-bit indices"
            )));
        }
        let n = t.n_fft;
        let up = |dev: &mut D, bytes: Vec<u8>| -> Result<usize> {
            let b = dev.alloc(bytes.len().max(4))?;
            dev.upload(b, &bytes)?;
            Ok(b)
        };
        let phase = |j: usize| 2.0 * std::f64::consts::PI * j as f64 / n as f64;
        let cos: Vec<f64> = (0..n).map(|j| phase(j).cos()).collect();
        let sin: Vec<f64> = (0..n).map(|j| phase(j).sin()).collect();
        let audio = dev.alloc(max_batch * t.window_samples * 4)?;
        let win = up(dev, f64_bytes(&t.window))?;
        let cos = up(dev, f64_bytes(&cos))?;
        let sin = up(dev, f64_bytes(&sin))?;
        let spec = dev.alloc(max_batch * t.frames() * t.bins() * 4)?;
        let fb = match &t.filterbank {
            Some(w) => Some(up(dev, f32_bytes(w))?),
            None => None,
        };
        let mean = up(dev, f32_bytes(&t.mean))?;
        let std = up(dev, f32_bytes(&t.std))?;
        Ok(GpuFrontend {
            t,
            max_batch,
            audio,
            win,
            cos,
            sin,
            spec,
            fb,
            mean,
            std,
        })
    }

    /// Samples per window.
    pub fn window_samples(&self) -> usize {
        self.t.window_samples
    }

    /// Where the host writes `batch * window_samples` f32 samples.
    pub fn audio_buf(&self) -> usize {
        self.audio
    }

    /// Values per window of the output (`rows * frames`).
    pub fn output_len(&self) -> usize {
        self.t.rows * self.t.frames()
    }

    /// Launches computing `batch` windows into `out` (`batch * output_len` f32).
    pub fn launches(&self, batch: usize, out: usize) -> Result<Vec<Launch>> {
        if batch == 0 || batch > self.max_batch {
            return Err(Error::arg(format!(
                "front end: batch {batch} > max {}",
                self.max_batch
            )));
        }
        let t = &self.t;
        let (frames, bins, rows) = (t.frames(), t.bins(), t.rows);
        let i = |v: usize| Arg::I32(v as i32);
        let mut l = vec![Launch {
            kernel: "stft_power",
            n: batch * frames * bins,
            args: vec![
                Arg::Buf(self.audio),
                Arg::Buf(self.win),
                Arg::Buf(self.cos),
                Arg::Buf(self.sin),
                Arg::Buf(self.spec),
                i(batch),
                i(t.window_samples),
                i(t.n_fft),
                i(t.hop),
                i(t.pad),
                Arg::I32(t.reflect as i32),
                i(frames),
                i(bins),
                i(t.power as usize),
            ],
        }];
        l.push(match self.fb {
            Some(fb) => Launch {
                kernel: "filterbank_apply",
                n: batch * rows * frames,
                args: vec![
                    Arg::Buf(self.spec),
                    Arg::Buf(fb),
                    Arg::Buf(out),
                    i(batch),
                    i(frames),
                    i(bins),
                    i(rows),
                ],
            },
            None => Launch {
                kernel: "spec_transpose",
                n: batch * bins * frames,
                args: vec![
                    Arg::Buf(self.spec),
                    Arg::Buf(out),
                    i(batch),
                    i(frames),
                    i(bins),
                ],
            },
        });
        l.push(Launch {
            kernel: "log_normalize",
            n: batch * rows * frames,
            args: vec![
                Arg::Buf(out),
                Arg::Buf(self.mean),
                Arg::Buf(self.std),
                i(batch),
                i(rows),
                i(frames),
                Arg::I32(t.log_kind as i32),
                Arg::F32(t.log_offset),
                Arg::I32(t.log_floor.is_some() as i32),
                Arg::F32(t.log_floor.unwrap_or(0.0)),
            ],
        });
        Ok(l)
    }
}
