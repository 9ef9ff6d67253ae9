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

use dfd_backend_abi::FrontendDesc;

use crate::error::{Error, Result};
use crate::exec::{f32_bytes, Arg, Device, Launch};

/// Largest `n_fft` and window the front end accepts from a host.
const MAX_N_FFT: u32 = 1 << 16;
const MAX_WINDOW: u32 = 1 << 24;

#[derive(Debug, Clone)]
pub struct FrontendTables {
    /// Samples per analysis window.
    pub window_samples: usize,
    pub n_fft: usize,
    pub hop: usize,
    /// Samples added on each side (`n_fft / 2` when centred).
    pub pad: usize,
    /// numpy "reflect" padding, else zeros.
    pub reflect: bool,
    /// 1 (magnitude) or 2 (power).
    pub power: u32,
    /// The analysis window zero-padded to `n_fft` (f64, as the CPU path uses).
    pub window: Vec<f64>,
    /// Dense `[rows, n_fft/2 + 1]` filterbank; `None`: the bins themselves.
    pub filterbank: Option<(usize, Vec<f32>)>,
    /// 0 none, 1 ln, 2 log10.
    pub log_kind: i32,
    pub log_offset: f32,
    pub log_floor: Option<f32>,
    /// Per row (repeat a scalar).
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

impl FrontendTables {
    /// Copies the host's description (see [`FrontendDesc`]), checking every
    /// size before reading a table.
    ///
    /// # Safety
    /// `desc` must be NULL or point to `struct_size` readable bytes whose
    /// table pointers are valid for the lengths the fields give.
    pub unsafe fn from_desc(desc: *const FrontendDesc) -> Result<FrontendTables> {
        if desc.is_null() {
            return Err(Error::arg("set_frontend: desc is NULL"));
        }
        // SAFETY: every FrontendDesc starts with its u32 size.
        let size = unsafe { std::ptr::addr_of!((*desc).struct_size).read_unaligned() } as usize;
        if size < std::mem::size_of::<FrontendDesc>() {
            return Err(Error::arg(format!(
                "set_frontend: FrontendDesc.struct_size is {size}, expected at least {}",
                std::mem::size_of::<FrontendDesc>()
            )));
        }
        // SAFETY: the host says the struct is at least this large.
        let d = unsafe { desc.read_unaligned() };
        let sizes_ok = (2..=MAX_N_FFT).contains(&d.n_fft)
            && (1..=MAX_WINDOW).contains(&d.window_samples)
            && (1..=MAX_N_FFT).contains(&d.hop)
            && d.pad <= d.n_fft
            && (1..=MAX_N_FFT).contains(&d.rows);
        if !sizes_ok || d.window.is_null() || d.mean.is_null() || d.std.is_null() {
            return Err(Error::arg(format!(
                "set_frontend: sizes out of range or a NULL table (n_fft {}, window {}, hop {}, pad {}, rows {})",
                d.n_fft, d.window_samples, d.hop, d.pad, d.rows
            )));
        }
        let (n_fft, rows) = (d.n_fft as usize, d.rows as usize);
        let bins = n_fft / 2 + 1;
        // SAFETY: non-NULL, lengths as the struct documents (caller's contract).
        let (window, mean, std, filterbank) = unsafe {
            (
                std::slice::from_raw_parts(d.window, n_fft).to_vec(),
                std::slice::from_raw_parts(d.mean, rows).to_vec(),
                std::slice::from_raw_parts(d.std, rows).to_vec(),
                (!d.filterbank.is_null()).then(|| {
                    (
                        rows,
                        std::slice::from_raw_parts(d.filterbank, rows * bins).to_vec(),
                    )
                }),
            )
        };
        if filterbank.is_none() && rows != bins {
            return Err(Error::arg(format!(
                "set_frontend: no filterbank but {rows} rows for {bins} bins"
            )));
        }
        let t = FrontendTables {
            window_samples: d.window_samples as usize,
            n_fft,
            hop: d.hop as usize,
            pad: d.pad as usize,
            reflect: d.reflect != 0,
            power: d.power,
            window,
            filterbank,
            log_kind: d.log_kind as i32,
            log_offset: d.log_offset,
            log_floor: (d.has_floor != 0).then_some(d.log_floor),
            mean,
            std,
        };
        t.check()?;
        Ok(t)
    }

    pub fn bins(&self) -> usize {
        self.n_fft / 2 + 1
    }
    pub fn frames(&self) -> usize {
        1 + (self.window_samples + 2 * self.pad - self.n_fft) / self.hop
    }
    pub fn rows(&self) -> usize {
        self.filterbank.as_ref().map_or(self.bins(), |f| f.0)
    }
    fn check(&self) -> Result<()> {
        let ok = self.n_fft >= 2
            && self.hop > 0
            && self.window.len() == self.n_fft
            && self.window_samples + 2 * self.pad >= self.n_fft
            && (!self.reflect || self.pad < self.window_samples)
            && matches!(self.power, 1 | 2)
            && (0..=2).contains(&self.log_kind)
            && self.mean.len() == self.rows()
            && self.std.len() == self.rows()
            && self
                .filterbank
                .as_ref()
                .is_none_or(|(r, w)| w.len() == r * self.bins());
        if ok {
            Ok(())
        } else {
            Err(Error::arg("GPU front end: inconsistent tables"))
        }
    }
}

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
            t.rows() * t.frames(),
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
            Some((_, w)) => Some(up(dev, f32_bytes(w))?),
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
        self.t.rows() * self.t.frames()
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
        let (frames, bins, rows) = (t.frames(), t.bins(), t.rows());
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
                Arg::I32(t.log_kind),
                Arg::F32(t.log_offset),
                Arg::I32(t.log_floor.is_some() as i32),
                Arg::F32(t.log_floor.unwrap_or(0.0)),
            ],
        });
        Ok(l)
    }
}
