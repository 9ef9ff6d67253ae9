//! Every limit libdfd puts on what it is given, and the checks that apply
//! them where input enters: the model file, its manifest, the load options,
//! `Stream::new` and every push.
//!
//! Each bound keeps the memory and time of one call finite whatever a
//! hostile model or caller hands in, with room above every real model and
//! device. The C header mirrors them as `DFD_*` constants (checked equal in
//! `ffi`), and `docs/model-format.md` lists the manifest's.

use std::io::Read;
use std::path::Path;

use crate::error::{bail, Error, Result, Status};
use crate::frontend::FrontendConfig;
use crate::model::Manifest;

/// Lowest input (and model) sample rate, Hz: below telephone band there is
/// no speech to judge, and a 1 Hz stream made the resampler allocate
/// hundreds of megabytes.
pub const MIN_SAMPLE_RATE: u32 = 4_000;
/// Highest input (and model) sample rate, Hz.
pub const MAX_SAMPLE_RATE: u32 = 384_000;
/// Highest channel count of a stream.
pub const MAX_CHANNELS: u32 = 8;
/// Largest |sample| of float input. Full scale is 1.0; over-range float
/// audio up to +60 dB is taken as it is, beyond that (like NaN and
/// infinity) the whole chunk is rejected, since the resampler and the
/// spectra overflow long before `f32::MAX`.
pub const MAX_SAMPLE_MAGNITUDE: f32 = 1000.0;
/// Most backend worker threads a model may ask for.
pub const MAX_THREADS: u32 = 256;
/// Largest model file, bytes: protobuf's own ceiling for one ONNX file.
pub const MAX_MODEL_BYTES: u64 = 1 << 31;
/// Largest sidecar or package manifest file, bytes.
pub const MAX_MANIFEST_BYTES: u64 = 16 << 20;
/// Longest analysis window (and whisper `pad_to`), samples at the model rate.
pub const MAX_WINDOW: usize = 1 << 21;
/// Longest utterance an utterance model scores whole (`max_audio`), samples
/// at the model rate: each stream keeps that much audio (32 MiB; 524 s at
/// 16 kHz), and its features are held to [`MAX_INPUT_VALUES`] like a window's.
pub const MAX_UTTERANCE: usize = 1 << 23;
/// Most windows covering one sample (`window / hop`), and most STFT frames
/// covering one sample (`n_fft / hop_length`): bounds the work per second.
pub const MAX_OVERLAP: usize = 64;
/// Largest STFT size.
pub const MAX_N_FFT: usize = 1 << 14;
/// Most filterbank bands (`n_mels`, `n_filters`).
pub const MAX_BANDS: usize = 512;
/// Most values in one window's model input (product of `input_shape`, and
/// of the front end's output shape).
pub const MAX_INPUT_VALUES: usize = 1 << 21;

fn check_rate(rate: u32, what: &str) -> std::result::Result<(), String> {
    if (MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&rate) {
        Ok(())
    } else {
        Err(format!(
            "{what} {rate} Hz is out of range ({MIN_SAMPLE_RATE}..={MAX_SAMPLE_RATE})"
        ))
    }
}

/// The rate and channel count a stream is opened with.
pub fn check_stream(sample_rate: u32, channels: u32) -> Result<()> {
    check_rate(sample_rate, "sample rate").map_err(|m| Error::new(Status::SampleRate, m))?;
    if channels == 0 || channels > MAX_CHANNELS {
        bail!(
            Channels,
            "{channels} channels is out of range (1..={MAX_CHANNELS})"
        );
    }
    Ok(())
}

/// Float samples of one push: finite and at most [`MAX_SAMPLE_MAGNITUDE`].
pub fn check_samples(interleaved: &[f32], channels: usize) -> Result<()> {
    let Some(i) = interleaved
        .iter()
        .position(|s| s.is_nan() || s.abs() > MAX_SAMPLE_MAGNITUDE)
    else {
        return Ok(());
    };
    let x = interleaved[i];
    let what = if x.is_finite() {
        format!("beyond the largest accepted magnitude {MAX_SAMPLE_MAGNITUDE}")
    } else {
        "not finite".to_string()
    };
    bail!(
        BadSamples,
        "sample {i} (frame {}, channel {}) is {x:e}, {what}; the chunk was not consumed",
        i / channels,
        i % channels
    )
}

/// The number of samples in `frames` frames of `channels` channels of `T`,
/// when they fit in one Rust slice (at most `isize::MAX` bytes).
pub fn push_len<T>(frames: usize, channels: usize) -> Result<usize> {
    frames
        .checked_mul(channels)
        .filter(|n| {
            n.checked_mul(std::mem::size_of::<T>())
                .is_some_and(|bytes| bytes <= isize::MAX as usize)
        })
        .ok_or_else(|| {
            Error::new(
                Status::InvalidArg,
                format!(
                    "{frames} frames of {channels} channels is more than a process can address"
                ),
            )
        })
}

/// Backend worker threads asked for in the model options (0 = default).
pub fn check_threads(threads: u32) -> Result<()> {
    if threads > MAX_THREADS {
        bail!(
            InvalidArg,
            "options.threads {threads} is above the limit of {MAX_THREADS}"
        );
    }
    Ok(())
}

/// The length of a model handed over in memory.
pub fn check_model_len(len: usize) -> Result<()> {
    if len as u64 > MAX_MODEL_BYTES {
        bail!(
            InvalidArg,
            "a model of {len} bytes is above the limit of {MAX_MODEL_BYTES}"
        );
    }
    Ok(())
}

/// Reads a whole regular file of at most `max` bytes. Devices and pipes
/// are refused: `/dev/zero` has no end to wait for.
pub fn read_file(path: &Path, max: u64) -> Result<Vec<u8>> {
    let io =
        |e: std::io::Error| Error::new(Status::Io, format!("cannot read {}: {e}", path.display()));
    let file = std::fs::File::open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        bail!(Io, "cannot read {}: not a regular file", path.display());
    }
    if meta.len() > max {
        bail!(
            Io,
            "cannot read {}: {} bytes is above the limit of {max}",
            path.display(),
            meta.len()
        );
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // Bounded even if the file grows while it is read.
    file.take(max + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > max {
        bail!(
            Io,
            "cannot read {}: it grew beyond the limit of {max} bytes",
            path.display()
        );
    }
    Ok(bytes)
}

/// The manifest's sizes, before any table is built from them. Errors are
/// `DFD_ERR_MODEL_KIND`, prefixed with `origin`.
pub fn check_manifest(m: &Manifest, origin: &str) -> Result<()> {
    check_manifest_sizes(m).map_err(|e| Error::new(Status::ModelKind, format!("{origin}: {e}")))
}

fn check_manifest_sizes(m: &Manifest) -> std::result::Result<(), String> {
    check_rate(m.sample_rate, "manifest sample_rate")?;
    at_most(m.window, MAX_WINDOW, "window")?;
    if let Some(u) = m.utterance {
        at_most(u.max_audio, MAX_UTTERANCE, "utterance.max_audio")?;
    }
    if m.hop < m.window.div_ceil(MAX_OVERLAP) {
        return Err(format!(
            "manifest hop {} is below window / {MAX_OVERLAP} ({} samples): more than {MAX_OVERLAP} windows would cover each sample",
            m.hop,
            m.window.div_ceil(MAX_OVERLAP)
        ));
    }
    let values = m
        .input_shape
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d))
        .filter(|&n| n <= MAX_INPUT_VALUES as u64);
    if values.is_none() {
        return Err(format!(
            "manifest input_shape {:?} has more than {MAX_INPUT_VALUES} values",
            m.input_shape
        ));
    }
    if let Some(s) = m.frontend.spectral() {
        at_most(s.n_fft, MAX_N_FFT, "frontend n_fft")?;
        // Wider than the window it can never apply; its tables are built anyway.
        at_most(s.delta_width, m.window, "frontend delta_width")?;
        if s.hop_length < s.n_fft.div_ceil(MAX_OVERLAP) {
            return Err(format!(
                "manifest frontend hop_length {} is below n_fft / {MAX_OVERLAP} ({})",
                s.hop_length,
                s.n_fft.div_ceil(MAX_OVERLAP)
            ));
        }
    }
    match &m.frontend {
        FrontendConfig::Logmel { n_mels, .. } | FrontendConfig::Mfcc { n_mels, .. } => {
            at_most(*n_mels, MAX_BANDS, "frontend n_mels")
        }
        FrontendConfig::Lfb { n_filters, .. } | FrontendConfig::Lfcc { n_filters, .. } => {
            at_most(*n_filters, MAX_BANDS, "frontend n_filters")
        }
        FrontendConfig::Whisper { n_mels, pad_to, .. } => {
            at_most(*n_mels, MAX_BANDS, "frontend n_mels")?;
            at_most(pad_to.unwrap_or(0), MAX_WINDOW, "frontend pad_to")
        }
        FrontendConfig::Raw { .. } | FrontendConfig::Spectrogram { .. } => Ok(()),
    }
}

fn at_most(value: usize, max: usize, name: &str) -> std::result::Result<(), String> {
    if value > max {
        return Err(format!(
            "manifest {name} {value} is above the limit of {max}"
        ));
    }
    Ok(())
}

/// The size of one window's features, checked before the front end
/// allocates its buffers for them.
pub fn check_features(rows: usize, frames: usize) -> std::result::Result<(), String> {
    match rows.checked_mul(frames) {
        Some(n) if n <= MAX_INPUT_VALUES => Ok(()),
        _ => Err(format!(
            "{rows} rows x {frames} frames is more than {MAX_INPUT_VALUES} values per window"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_len_stops_at_isize_max_bytes() {
        assert_eq!(push_len::<i16>(10, 2).unwrap(), 20);
        let half = isize::MAX as usize / 2;
        assert_eq!(push_len::<i16>(half, 1).unwrap(), half);
        assert!(push_len::<i16>(half + 1, 1).is_err());
        assert!(push_len::<f32>(usize::MAX, 8).is_err());
    }

    #[test]
    fn samples_at_the_magnitude_limit_pass() {
        assert!(check_samples(&[MAX_SAMPLE_MAGNITUDE, -MAX_SAMPLE_MAGNITUDE], 2).is_ok());
        let e = check_samples(&[0.0, 0.0, 1e30], 1).unwrap_err();
        assert_eq!(e.status, Status::BadSamples);
        assert!(
            e.message.contains("sample 2 (frame 2, channel 0)"),
            "{}",
            e.message
        );
        let e = check_samples(&[f32::NAN], 1).unwrap_err();
        assert!(e.message.contains("NaN, not finite"), "{}", e.message);
    }

    #[test]
    fn features_beyond_the_limit_are_refused() {
        assert!(check_features(128, 3000).is_ok());
        assert!(check_features(usize::MAX, 2).is_err());
        assert!(check_features(MAX_INPUT_VALUES, 2).is_err());
    }
}
