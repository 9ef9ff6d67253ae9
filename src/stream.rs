//! The streaming engine: pushed PCM in, calibrated scores out.
//!
//! push → f32 mono (downmix) → resample to the model rate → window buffer →
//! energy gate → front end → batched inference → per-window p(fake) →
//! running aggregate and verdict.
//!
//! A stream batches its own windows (up to [`MAX_BATCH`]). A *deferred*
//! stream holds its complete windows back instead, and [`infer_streams`]
//! runs the held windows of many streams in as few backend calls as
//! possible (up to [`BACKEND_BATCH`] windows each): one launch for hundreds
//! of calls on a GPU. When the backend computes the front end
//! ([`Model::frontend_on_backend`]), windows are handed over as raw samples.
//!
//! Memory is bounded whatever the stream length: input is converted in
//! blocks of [`BLOCK`] frames, the window buffer never holds more than one
//! window plus one resampled block, and per-window results wait in a queue
//! of at most [`WINDOW_QUEUE`] entries (the oldest are dropped and counted
//! when the caller does not read them).

use std::collections::VecDeque;

use crate::error::{bail, Error, Result};
use crate::frontend::Frontend;
use crate::limits;
use crate::model::{Model, BACKEND_BATCH, MAX_BATCH};
use crate::resample::StreamResampler;

/// Per-window results kept for the caller to read.
pub const WINDOW_QUEUE: usize = 1024;
/// Input frames converted per step.
const BLOCK: usize = 4096;

/// The stream's judgement against the model's calibrated threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum Verdict {
    /// No window has been scored yet (too little audio, or only silence).
    Unknown = 0,
    Bonafide = 1,
    Synthetic = 2,
}

/// Scores of a stream so far.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score {
    /// Whole stream: sigmoid of the mean calibrated logit of scored windows;
    /// 0 until the first window is scored (see `verdict`).
    pub p_fake: f32,
    /// Latest scored window; 0 until the first window is scored.
    pub last_p_fake: f32,
    /// Windows scored (that passed the gate).
    pub windows: u64,
    /// Audio pushed, in seconds at the input rate.
    pub seconds: f64,
    /// Audio covered by scored windows, in seconds.
    pub speech_seconds: f64,
    pub verdict: Verdict,
    /// Per-window results dropped because the queue was full and unread.
    pub windows_dropped: u64,
}

/// One scored analysis window, times in seconds from the stream start.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowScore {
    pub start: f64,
    pub end: f64,
    pub p_fake: f32,
}

/// One audio stream scored by a model. Owned by one thread at a time.
pub struct Stream {
    model: Model,
    rate: u32,
    channels: usize,
    window: usize,
    hop: usize,
    min_rms: f32,
    resampler: Option<StreamResampler>,
    frontend: Frontend,
    /// Values per window handed to the backend (features or samples).
    input_len: usize,
    /// Complete windows wait for [`infer_streams`] (or a full batch).
    deferred: bool,
    mono: Vec<f32>,
    /// Model-rate samples not yet consumed; `buf[0]` is sample `at.buf_start`.
    buf: Vec<f32>,
    /// Windows waiting for inference (features, or samples when the backend
    /// computes the front end) and their start samples.
    feats: Vec<f32>,
    pending: Vec<u64>,
    net_out: Vec<f32>,
    logits: Vec<f32>,
    queue: VecDeque<WindowScore>,
    at: Progress,
}

/// Where a stream is: everything [`Stream::reset`] returns to zero.
#[derive(Default)]
struct Progress {
    /// Model-rate index of `Stream::buf[0]`.
    buf_start: u64,
    /// Frames pushed, at the caller's rate.
    frames_in: u64,
    windows_formed: u64,
    /// Windows scored (formed and above the gate).
    windows: u64,
    sum_logit: f64,
    last_logit: f32,
    speech_samples: u64,
    scored_until: u64,
    /// Per-window results dropped from the full queue, unread.
    dropped: u64,
    flushed: bool,
}

/// Keeps the first error of several steps that all run.
fn keep_first(first: &mut Option<Error>, result: Result<()>) {
    if let Err(e) = result {
        first.get_or_insert(e);
    }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

impl Stream {
    pub fn new(model: &Model, sample_rate: u32, channels: u32) -> Result<Stream> {
        limits::check_stream(sample_rate, channels)?;
        let m = model.manifest();
        let resampler = if sample_rate == m.sample_rate {
            None
        } else {
            Some(StreamResampler::new(sample_rate, m.sample_rate)?)
        };
        let frontend = model.frontend().clone();
        let input_len = model.window_input_len();
        Ok(Stream {
            model: model.clone(),
            rate: sample_rate,
            channels: channels as usize,
            window: m.window,
            hop: m.hop,
            // RMS threshold from dBFS (full scale = 1.0).
            min_rms: 10f32.powf(m.gate.min_dbfs / 20.0),
            resampler,
            frontend,
            input_len,
            deferred: false,
            mono: Vec::with_capacity(BLOCK),
            buf: Vec::with_capacity(m.window + BLOCK * 8),
            feats: vec![0.0; MAX_BATCH * input_len],
            pending: Vec::with_capacity(MAX_BATCH),
            net_out: Vec::with_capacity(MAX_BATCH * 2),
            logits: vec![0.0; MAX_BATCH],
            queue: VecDeque::with_capacity(64),
            at: Progress::default(),
        })
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Interleaved channels per pushed frame.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Deferred: pushes only queue complete windows, and [`infer_streams`]
    /// scores them together with other streams' windows. At most
    /// [`MAX_BATCH`] wait; the push that completes one more scores the
    /// queue itself, so nothing is lost or unbounded. [`flush`](Self::flush)
    /// scores what waits. Turning it off scores what waits now.
    pub fn set_deferred(&mut self, deferred: bool) -> Result<()> {
        self.deferred = deferred;
        if deferred {
            Ok(())
        } else {
            self.run_batch()
        }
    }

    pub fn is_deferred(&self) -> bool {
        self.deferred
    }

    /// Windows formed and waiting for inference (only a deferred stream
    /// keeps any between calls).
    pub fn pending_windows(&self) -> usize {
        self.pending.len()
    }

    /// Pushes interleaved f32 frames (nominal range [-1, 1]). A chunk with
    /// NaN, infinity or a magnitude above [`limits::MAX_SAMPLE_MAGNITUDE`]
    /// is rejected whole, before any of it is consumed: the stream stays
    /// as it was.
    pub fn push(&mut self, interleaved: &[f32]) -> Result<()> {
        self.check_push(interleaved.len())?;
        limits::check_samples(interleaved, self.channels)?;
        let mut first_error = None;
        for block in interleaved.chunks(BLOCK * self.channels) {
            self.downmix(block.iter().copied());
            keep_first(&mut first_error, self.consume_mono());
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Pushes interleaved signed 16-bit frames.
    pub fn push_i16(&mut self, interleaved: &[i16]) -> Result<()> {
        self.check_push(interleaved.len())?;
        let mut first_error = None;
        for block in interleaved.chunks(BLOCK * self.channels) {
            self.downmix(block.iter().map(|&s| f32::from(s) / 32768.0));
            keep_first(&mut first_error, self.consume_mono());
        }
        first_error.map_or(Ok(()), Err)
    }

    fn check_push(&self, samples: usize) -> Result<()> {
        if self.at.flushed {
            bail!(
                InvalidArg,
                "the stream was flushed (ended); reset it to start a new one"
            );
        }
        if samples == 0 {
            bail!(EmptyPush, "push of zero frames");
        }
        if samples % self.channels != 0 {
            bail!(
                InvalidArg,
                "{samples} samples is not a whole number of {}-channel frames",
                self.channels
            );
        }
        Ok(())
    }

    fn downmix(&mut self, samples: impl Iterator<Item = f32>) {
        self.mono.clear();
        let (ch, mut acc, mut k) = (self.channels, 0.0f32, 0);
        for s in samples {
            acc += s;
            k += 1;
            if k == ch {
                self.mono.push(acc / ch as f32);
                (acc, k) = (0.0, 0);
            }
        }
    }

    /// Resamples the converted block into the window buffer and scores
    /// every window that became complete.
    fn consume_mono(&mut self) -> Result<()> {
        self.at.frames_in += self.mono.len() as u64;
        let buf = &mut self.buf;
        match &mut self.resampler {
            Some(r) => r.process(&self.mono, &mut |out| {
                buf.extend_from_slice(out);
                Ok(())
            })?,
            None => buf.extend_from_slice(&self.mono),
        }
        self.drain_windows()
    }

    fn drain_windows(&mut self) -> Result<()> {
        // A backend error loses the windows of that call (the error says how
        // many) but never the audio: every window still forms and moves on.
        let mut first_error = None;
        while self.buf.len() >= self.window {
            self.at.windows_formed += 1;
            keep_first(&mut first_error, self.take_window(self.window));
            self.buf.drain(..self.hop);
            self.at.buf_start += self.hop as u64;
        }
        if !self.deferred {
            keep_first(&mut first_error, self.run_batch());
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Gates the window at the head of the buffer (`len` real samples, the
    /// rest zero padding) and queues its features for inference.
    fn take_window(&mut self, len: usize) -> Result<()> {
        let head = &self.buf[..len];
        let rms = (head.iter().map(|x| x * x).sum::<f32>() / len as f32).sqrt();
        if rms < self.min_rms {
            return Ok(());
        }
        // A full queue is scored first; this window is queued either way.
        let scored = if self.pending.len() == MAX_BATCH {
            self.run_batch()
        } else {
            Ok(())
        };
        let w = &self.buf[..self.window];
        let n = self.input_len;
        let slot = self.pending.len();
        let dst = &mut self.feats[slot * n..(slot + 1) * n];
        if self.model.frontend_on_backend() {
            dst.copy_from_slice(w);
        } else {
            self.frontend.compute(w, dst);
        }
        self.pending.push(self.at.buf_start);
        scored
    }

    fn run_batch(&mut self) -> Result<()> {
        let batch = self.pending.len();
        if batch == 0 {
            return Ok(());
        }
        let result = self.model.run_windows(
            &self.feats[..batch * self.input_len],
            batch,
            &mut self.net_out,
            &mut self.logits[..batch],
        );
        if let Err(e) = result {
            self.pending.clear();
            return Err(Error::new(
                e.status,
                format!("{} ({batch} windows lost)", e.message),
            ));
        }
        let logits = std::mem::take(&mut self.logits);
        self.apply(&logits[..batch]);
        self.logits = logits;
        Ok(())
    }

    /// The waiting windows as backend input, `input_len` values each.
    fn pending_input(&self) -> &[f32] {
        &self.feats[..self.pending.len() * self.input_len]
    }

    /// Accounts the calibrated logits of the first `logits.len()` waiting
    /// windows and forgets all waiting windows.
    fn apply(&mut self, logits: &[f32]) {
        let rate = f64::from(self.model.manifest().sample_rate);
        let data_end = self.at.buf_start + self.buf.len() as u64;
        for (i, &z) in logits.iter().enumerate() {
            let start = self.pending[i];
            // A zero-padded final window ends where the audio ends; overlapping
            // windows add only their new samples to speech_seconds.
            let end = (start + self.window as u64).min(data_end.max(start + 1));
            self.at.windows += 1;
            self.at.sum_logit += f64::from(z);
            self.at.last_logit = z;
            self.at.speech_samples += end - start.max(self.at.scored_until).min(end);
            self.at.scored_until = end;
            if self.queue.len() == WINDOW_QUEUE {
                self.queue.pop_front();
                self.at.dropped += 1;
            }
            self.queue.push_back(WindowScore {
                start: start as f64 / rate,
                end: end as f64 / rate,
                p_fake: sigmoid(f64::from(z)) as f32,
            });
        }
        self.pending.clear();
    }

    /// Ends the stream: pushes the resampler's last samples through and, if
    /// the stream was shorter than one window, scores what it has (at least
    /// half a window) completed to a full window by the front end's `fill`
    /// rule (zero padding by default). After a flush the stream
    /// accepts no more audio until [`Stream::reset`].
    pub fn flush(&mut self) -> Result<()> {
        if self.at.flushed {
            return Ok(());
        }
        self.at.flushed = true;
        if let Some(r) = &mut self.resampler {
            let out_rate = u64::from(self.model.manifest().sample_rate);
            let expected = self.at.frames_in * out_rate / u64::from(self.rate);
            let zeros = [0.0f32; 1024];
            let buf = &mut self.buf;
            while self.at.buf_start + (buf.len() as u64) < expected {
                r.process(&zeros, &mut |out| {
                    buf.extend_from_slice(out);
                    Ok(())
                })?;
            }
            let keep = (expected - self.at.buf_start.min(expected)) as usize;
            self.buf.truncate(keep);
        }
        let mut first_error = None;
        keep_first(&mut first_error, self.drain_windows());
        let have = self.buf.len();
        if self.at.windows_formed == 0 && have * 2 >= self.window {
            // Completed by the manifest's `frontend.fill` rule (zeros,
            // repeated audio, or not scored at all).
            self.buf.resize(self.window, 0.0);
            if self.frontend.complete_window(&mut self.buf, have) {
                self.at.windows_formed += 1;
                keep_first(&mut first_error, self.take_window(have));
            }
            self.buf.truncate(have);
        }
        keep_first(&mut first_error, self.run_batch());
        first_error.map_or(Ok(()), Err)
    }

    /// The scores so far.
    pub fn score(&self) -> Score {
        let m = self.model.manifest();
        let (p_fake, last, verdict) = if self.at.windows == 0 {
            (0.0, 0.0, Verdict::Unknown)
        } else {
            let p = sigmoid(self.at.sum_logit / self.at.windows as f64) as f32;
            let v = if p >= m.threshold {
                Verdict::Synthetic
            } else {
                Verdict::Bonafide
            };
            (p, sigmoid(f64::from(self.at.last_logit)) as f32, v)
        };
        Score {
            p_fake,
            last_p_fake: last,
            windows: self.at.windows,
            seconds: self.at.frames_in as f64 / f64::from(self.rate),
            speech_seconds: self.at.speech_samples as f64 / f64::from(m.sample_rate),
            verdict,
            windows_dropped: self.at.dropped,
        }
    }

    /// Takes the oldest unread per-window result.
    pub fn next_window(&mut self) -> Option<WindowScore> {
        self.queue.pop_front()
    }

    /// Forgets all audio and scores; the stream is as new.
    pub fn reset(&mut self) {
        if let Some(r) = &mut self.resampler {
            r.reset();
        }
        self.buf.clear();
        self.pending.clear();
        self.queue.clear();
        self.at = Progress::default();
    }
}

/// What one [`infer_streams`] call did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InferReport {
    /// Windows scored.
    pub windows: usize,
    /// Backend calls made (at most [`BACKEND_BATCH`] windows each).
    pub calls: usize,
}

/// Scores the windows that the given streams hold back (see
/// [`Stream::set_deferred`]), packing the windows of all streams of one
/// model into as few backend calls as possible. Streams of several models
/// are grouped by model. Each stream's results are exactly those it would
/// get scoring alone, batch composition aside.
///
/// On a backend error the windows of the failed call and of later calls of
/// that model are lost (the error says how many); windows of earlier calls
/// and of other models are scored, and the first error is returned.
pub fn infer_streams(streams: &mut [&mut Stream]) -> Result<InferReport> {
    let mut report = InferReport::default();
    let mut first_error = None;
    let mut grouped = vec![false; streams.len()];
    for first in 0..streams.len() {
        if grouped[first] {
            continue;
        }
        let model = streams[first].model.clone();
        let mut group = Vec::new();
        for (j, s) in streams.iter().enumerate().skip(first) {
            if !grouped[j] && s.model.same(&model) {
                grouped[j] = true;
                if !s.pending.is_empty() {
                    group.push(j);
                }
            }
        }
        // A failing model does not hold back the others.
        keep_first(
            &mut first_error,
            infer_group(&model, streams, &group, &mut report),
        );
    }
    first_error.map_or(Ok(report), Err)
}

/// One model's share of [`infer_streams`]: `group` indexes streams with
/// waiting windows.
fn infer_group(
    model: &Model,
    streams: &mut [&mut Stream],
    group: &[usize],
    report: &mut InferReport,
) -> Result<()> {
    let total: usize = group.iter().map(|&i| streams[i].pending.len()).sum();
    if total == 0 {
        return Ok(());
    }
    let len = model.window_input_len();
    let mut input = Vec::with_capacity(total.min(BACKEND_BATCH) * len);
    let mut logits = vec![0.0f32; total];
    let mut scratch = Vec::new();
    // (stream, its first window not yet copied) walks all waiting windows.
    let (mut at, mut from) = (0usize, 0usize);
    let mut done = 0;
    let mut failure = None;
    while done < total {
        input.clear();
        while input.len() < BACKEND_BATCH * len && at < group.len() {
            let src = streams[group[at]].pending_input();
            let take = (src.len() - from).min(BACKEND_BATCH * len - input.len());
            input.extend_from_slice(&src[from..from + take]);
            from += take;
            if from == src.len() {
                (at, from) = (at + 1, 0);
            }
        }
        let batch = input.len() / len;
        let out = &mut logits[done..done + batch];
        if let Err(e) = model.run_windows(&input, batch, &mut scratch, out) {
            failure = Some(e);
            break;
        }
        done += batch;
        report.calls += 1;
    }
    // Hand each stream the logits of its windows that were scored.
    let mut offset = 0;
    for &i in group {
        let n = streams[i].pending.len();
        let scored = done.saturating_sub(offset).min(n);
        streams[i].apply(&logits[offset..offset + scored]);
        offset += n;
    }
    report.windows += done;
    match failure {
        None => Ok(()),
        Some(e) => Err(Error::new(
            e.status,
            format!("{} ({} windows lost)", e.message, total - done),
        )),
    }
}
