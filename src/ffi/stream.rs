//! `dfd_open` … `dfd_close`: streams and their results.

use super::{arg, arg_mut, dfd_model, dfd_status, guard, set_last_message};
use crate::error::{bail, Result};
use crate::stream::{infer_streams, Stream, WindowScore};

/// One audio stream. Use it from one thread at a time (different streams
/// may be used concurrently, also on the same model).
pub struct dfd_stream {
    stream: Stream,
}

/// No window scored yet: too little audio, or only silence.
pub const DFD_VERDICT_UNKNOWN: i32 = 0;
/// Judged bona fide (human) against the model's calibrated threshold.
pub const DFD_VERDICT_BONAFIDE: i32 = 1;
/// Judged synthetic (TTS, voice clone, vocoder).
pub const DFD_VERDICT_SYNTHETIC: i32 = 2;

/// Scores of a stream so far.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct dfd_result {
    /// Whole stream: calibrated probability in [0,1] that the voice is
    /// synthetic (mean calibrated logit of scored windows). 0 while
    /// `windows` is 0.
    pub p_fake: f32,
    /// The latest scored window's probability; 0 while `windows` is 0.
    pub last_p_fake: f32,
    /// Windows scored so far.
    pub windows: u64,
    /// Audio consumed, in seconds.
    pub seconds: f64,
    /// Audio that passed the speech gate and was scored, in seconds.
    pub speech_seconds: f64,
    /// `DFD_VERDICT_*`.
    pub verdict: i32,
    /// Per-window results dropped because more than 1024 were left unread.
    pub windows_dropped: u64,
}

/// One scored analysis window; times in seconds from the stream start.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct dfd_window {
    pub start: f64,
    pub end: f64,
    pub p_fake: f32,
}

/// One scored analysis window with the model's raw output, to compare with
/// the model's own Python outputs (`dfd_read_window_outputs`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct dfd_window_output {
    pub start: f64,
    pub end: f64,
    pub p_fake: f32,
    /// The calibrated logit of "synthetic" (`p_fake` is its sigmoid).
    pub logit: f32,
    /// The model's raw output values before calibration, as the manifest's
    /// `output` describes them; `raw_count` (1 or 2) of them are set.
    pub raw: [f32; 2],
    pub raw_count: u32,
}

fn stream_mut<'a>(s: *mut dfd_stream) -> Result<&'a mut Stream> {
    Ok(&mut arg_mut(s, "stream")?.stream)
}

/// Opens a stream on `model` for audio at `sample_rate` Hz
/// (`DFD_MIN_SAMPLE_RATE`..=`DFD_MAX_SAMPLE_RATE`, else
/// `DFD_ERR_SAMPLE_RATE`) with `channels` interleaved channels
/// (1..=`DFD_MAX_CHANNELS`, else `DFD_ERR_CHANNELS`).
#[no_mangle]
pub unsafe extern "C" fn dfd_open(
    model: *const dfd_model,
    sample_rate: u32,
    channels: u32,
    out: *mut *mut dfd_stream,
) -> dfd_status {
    guard(|| {
        let model = arg(model, "model")?;
        let out = arg_mut(out, "out")?;
        let s = Stream::new(&model.model, sample_rate, channels)?;
        *out = Box::into_raw(Box::new(dfd_stream { stream: s }));
        Ok(())
    })
}

/// Borrows `frames * channels` samples after checking the pointer.
fn samples<'a, T>(s: &Stream, data: *const T, frames: usize) -> Result<&'a [T]> {
    if frames == 0 {
        bail!(EmptyPush, "push of zero frames");
    }
    if data.is_null() {
        bail!(NullArg, "argument `interleaved` is NULL");
    }
    if !(data as usize).is_multiple_of(std::mem::align_of::<T>()) {
        bail!(
            InvalidArg,
            "argument `interleaved` is not aligned for its sample type"
        );
    }
    let n = crate::limits::push_len::<T>(frames, s.channels())?;
    // SAFETY: the caller provides `frames * channels` samples at `data`.
    Ok(unsafe { std::slice::from_raw_parts(data, n) })
}

/// Pushes `frames` interleaved float frames (nominal range [-1, 1]) of any
/// count: from one frame to minutes. Windows that become complete are
/// scored before this returns (a deferred stream queues them, see
/// `dfd_set_deferred`). A chunk containing NaN, infinity or a sample
/// beyond +-`DFD_MAX_SAMPLE_MAGNITUDE` is rejected whole
/// (`DFD_ERR_BAD_SAMPLES`) before any of it is consumed: the stream is left
/// as it was and later calls are unaffected. `frames * channels` samples
/// must fit in `PTRDIFF_MAX` bytes (else `DFD_ERR_INVALID_ARG`).
#[no_mangle]
pub unsafe extern "C" fn dfd_push_samples(
    stream: *mut dfd_stream,
    interleaved: *const f32,
    frames: usize,
) -> dfd_status {
    guard(|| {
        let s = stream_mut(stream)?;
        let data = samples(s, interleaved, frames)?;
        s.push(data)
    })
}

/// As `dfd_push_samples`, for signed 16-bit samples.
#[no_mangle]
pub unsafe extern "C" fn dfd_push_samples_i16(
    stream: *mut dfd_stream,
    interleaved: *const i16,
    frames: usize,
) -> dfd_status {
    guard(|| {
        let s = stream_mut(stream)?;
        let data = samples(s, interleaved, frames)?;
        s.push_i16(data)
    })
}

/// Ends the stream: scores the audio still buffered in the resampler; a
/// stream shorter than one window is scored when it has the model's
/// `min_audio` (default half a window), completed by the model's fill rule;
/// a longer one gets one more window aligned to its end when at least half
/// a hop follows the last window (manifest `end_window`). A stream of an
/// utterance model (manifest `utterance`) is instead scored whole, its
/// first `utterance.max_audio` samples as one window of their own length,
/// which gives its p_fake. Call it at the end of a file; pushes after it
/// fail until `dfd_reset`. When the stream
/// ends with no window scored, `DFD_OK` is returned and `dfd_last_error`
/// says why (too short for the model, or only silence).
#[no_mangle]
pub unsafe extern "C" fn dfd_flush(stream: *mut dfd_stream) -> dfd_status {
    guard(|| {
        let s = stream_mut(stream)?;
        s.flush()?;
        if let Some(why) = s.score().unscored {
            set_last_message(&why.to_string());
        }
        Ok(())
    })
}

/// Writes the scores so far into `*out`.
#[no_mangle]
pub unsafe extern "C" fn dfd_score(stream: *mut dfd_stream, out: *mut dfd_result) -> dfd_status {
    guard(|| {
        let s = stream_mut(stream)?;
        let out = arg_mut(out, "out")?;
        let r = s.score();
        *out = dfd_result {
            p_fake: r.p_fake,
            last_p_fake: r.last_p_fake,
            windows: r.windows,
            seconds: r.seconds,
            speech_seconds: r.speech_seconds,
            verdict: r.verdict as i32,
            windows_dropped: r.windows_dropped,
        };
        Ok(())
    })
}

/// Moves up to `capacity` unread per-window results, oldest first, into
/// `out` and writes how many into `*count` (0 when none are waiting). Each
/// window is returned once; at most 1024 wait, older ones are dropped and
/// counted in `dfd_result.windows_dropped`.
#[no_mangle]
pub unsafe extern "C" fn dfd_read_windows(
    stream: *mut dfd_stream,
    out: *mut dfd_window,
    capacity: usize,
    count: *mut usize,
) -> dfd_status {
    read_queue(stream, out, capacity, count, |w| dfd_window {
        start: w.start,
        end: w.end,
        p_fake: w.p_fake,
    })
}

/// As `dfd_read_windows`, with each window's calibrated logit and raw model
/// output. Both read the same queue: each window is returned once, by
/// whichever is called.
#[no_mangle]
pub unsafe extern "C" fn dfd_read_window_outputs(
    stream: *mut dfd_stream,
    out: *mut dfd_window_output,
    capacity: usize,
    count: *mut usize,
) -> dfd_status {
    read_queue(stream, out, capacity, count, |w| {
        let values = w.raw.as_slice();
        let mut raw = [0.0; 2];
        raw[..values.len()].copy_from_slice(values);
        dfd_window_output {
            start: w.start,
            end: w.end,
            p_fake: w.p_fake,
            logit: w.logit,
            raw,
            raw_count: values.len() as u32,
        }
    })
}

/// Moves up to `capacity` unread windows, as `convert` writes them, into
/// `out` and their number into `*count`.
unsafe fn read_queue<T>(
    stream: *mut dfd_stream,
    out: *mut T,
    capacity: usize,
    count: *mut usize,
    convert: impl Fn(WindowScore) -> T,
) -> dfd_status {
    guard(|| {
        let s = stream_mut(stream)?;
        let count = arg_mut(count, "count")?;
        if capacity > 0 && out.is_null() {
            bail!(NullArg, "argument `out` is NULL");
        }
        let mut n = 0;
        while n < capacity {
            let Some(w) = s.next_window() else { break };
            // SAFETY: the caller provides `capacity` writable items at `out`.
            unsafe { out.add(n).write(convert(w)) };
            n += 1;
        }
        *count = n;
        Ok(())
    })
}

/// Deferred (`deferred` != 0): pushes only queue the windows they complete,
/// and `dfd_infer_streams` scores the windows of many streams together, in
/// one backend call where possible. At most `DFD_MAX_DEFERRED` wait: the
/// push that completes one more scores the queue itself, so nothing is lost.
/// `dfd_flush` scores what waits; setting 0 scores what waits now. A new
/// stream is not deferred.
#[no_mangle]
pub unsafe extern "C" fn dfd_set_deferred(stream: *mut dfd_stream, deferred: i32) -> dfd_status {
    guard(|| stream_mut(stream)?.set_deferred(deferred != 0))
}

/// Scores the windows that the `count` streams of `streams` hold back
/// (`dfd_set_deferred`): the windows of all streams on one model go to the
/// backend together, up to `DFD_BACKEND_BATCH` per call, which is what a GPU
/// needs to serve hundreds of calls. Streams may be on different models
/// and may hold no windows. Writes the number of windows scored into
/// `*windows` unless it is NULL. No stream may appear twice, and none may be
/// used by another thread during the call. After a backend error the
/// windows of the failed call and of later calls on that model are lost
/// (the message says how many); the others, also those of other models,
/// are scored.
#[no_mangle]
pub unsafe extern "C" fn dfd_infer_streams(
    streams: *const *mut dfd_stream,
    count: usize,
    windows: *mut usize,
) -> dfd_status {
    guard(|| {
        if count == 0 {
            if !windows.is_null() {
                // SAFETY: non-NULL out pointer provided by the caller.
                unsafe { *windows = 0 };
            }
            return Ok(());
        }
        if streams.is_null() {
            bail!(NullArg, "argument `streams` is NULL");
        }
        // SAFETY: the caller provides `count` stream pointers at `streams`.
        let ptrs = unsafe { std::slice::from_raw_parts(streams, count) };
        if let Some(i) = ptrs.iter().position(|p| p.is_null()) {
            bail!(NullArg, "streams[{i}] is NULL");
        }
        let mut sorted = ptrs.to_vec();
        sorted.sort_unstable();
        if sorted.windows(2).any(|w| w[0] == w[1]) {
            bail!(InvalidArg, "a stream appears twice in `streams`");
        }
        let mut list: Vec<&mut Stream> = Vec::with_capacity(count);
        for &p in ptrs {
            list.push(stream_mut(p)?);
        }
        let report = infer_streams(&mut list)?;
        if !windows.is_null() {
            // SAFETY: non-NULL out pointer provided by the caller.
            unsafe { *windows = report.windows };
        }
        Ok(())
    })
}

/// Forgets all audio and scores: the stream is as newly opened.
#[no_mangle]
pub unsafe extern "C" fn dfd_reset(stream: *mut dfd_stream) -> dfd_status {
    guard(|| {
        stream_mut(stream)?.reset();
        Ok(())
    })
}

/// Closes a stream. NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn dfd_close(stream: *mut dfd_stream) {
    super::guard_value((), || {
        if !stream.is_null() {
            // SAFETY: came from `dfd_open`, closed once by contract.
            drop(unsafe { Box::from_raw(stream) });
        }
    })
}
