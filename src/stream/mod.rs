//! The streaming engine: pushed PCM in, calibrated scores out.
//!
//! push → f32 mono (downmix) → resample to the model rate → window buffer →
//! energy gate → front end → batched inference → per-window p(fake) →
//! running aggregate and verdict.
//!
//! Windows overlap (the default model's by half); the front end copies the
//! frames a window shares with the previous one instead of recomputing them
//! ([`Frontend::compute_at`]).
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
//!
//! A deferred stream can also hand its windows to another thread
//! ([`Stream::take_batch`], [`Batch`]) and take the results back in any
//! order: a file scorer runs the network on one core while the next
//! windows' front end runs on another.
//!
//! A stream of an utterance model (manifest `utterance`) also keeps its
//! first `max_audio` samples: at flush they are scored as one window of
//! their own length, which gives the stream's p_fake (the notebook's score
//! of a file); the fixed windows scored while pushing are the live view.

mod handoff;

use std::collections::VecDeque;
use std::fmt;

pub use handoff::{Batch, MAX_HELD_WINDOWS};
use handoff::{Ledger, Scored};

use crate::error::{bail, Error, Result, Status};
use crate::frontend::Frontend;
use crate::limits;
use crate::model::{Aggregate, Model, BACKEND_BATCH, MAX_BATCH};
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
    /// Whole stream, by the manifest's `aggregate` rule (default: sigmoid
    /// of the mean calibrated logit of scored windows); 0 until the first
    /// window is scored (see `verdict`).
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
    /// Why no window has been scored (`None` once one is).
    pub unscored: Option<Unscored>,
}

/// Why a stream has no score yet.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Unscored {
    /// Less audio than one window so far (the stream is not flushed).
    Waiting { have: f64, window: f64 },
    /// Flushed shorter than one window, with less than the manifest's
    /// `min_audio`.
    TooShort { have: f64, need: f64 },
    /// Flushed shorter than one window, and the front end's `fill` is
    /// `none`: a short stream is never completed.
    NoFill { have: f64, window: f64 },
    /// Every window was quieter than the energy gate.
    Silent { windows: u64, gate_dbfs: f32 },
}

impl fmt::Display for Unscored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Unscored::Waiting { have, window } => write!(
                f,
                "no window scored yet: a window needs {window:.2} s of audio, got {have:.2} s so far"
            ),
            Unscored::TooShort { have, need } => write!(
                f,
                "nothing scored: the model needs {need:.2} s of audio (manifest min_audio), got {have:.2} s"
            ),
            Unscored::NoFill { have, window } => write!(
                f,
                "nothing scored: the model needs a whole window of {window:.2} s (frontend fill \"none\"), got {have:.2} s"
            ),
            Unscored::Silent { windows, gate_dbfs } => write!(
                f,
                "nothing scored: all {windows} windows were quieter than the energy gate ({gate_dbfs} dBFS)"
            ),
        }
    }
}

/// One scored analysis window, times in seconds from the stream start.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowScore {
    pub start: f64,
    pub end: f64,
    pub p_fake: f32,
    /// The calibrated logit of "synthetic" (`p_fake` is its sigmoid).
    pub logit: f32,
    /// The model's raw output for this window, before calibration.
    pub raw: RawOutput,
}

/// A window's raw model output: the one or two values of the manifest's
/// `output` (a logit, two logits, two probabilities or a bona fide score),
/// to compare with the model's Python outputs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RawOutput {
    values: [f32; 2],
    len: usize,
}

impl RawOutput {
    /// `values` has one or two items (the manifest's output length).
    fn new(values: &[f32]) -> RawOutput {
        let mut v = [0.0; 2];
        v[..values.len()].copy_from_slice(values);
        RawOutput {
            values: v,
            len: values.len(),
        }
    }

    pub fn as_slice(&self) -> &[f32] {
        &self.values[..self.len]
    }
}

/// One audio stream scored by a model. Owned by one thread at a time.
pub struct Stream {
    model: Model,
    rate: u32,
    channels: usize,
    window: usize,
    hop: usize,
    /// RMS below which a window is not scored; `None`: no gate.
    min_rms: Option<f32>,
    resampler: Option<StreamResampler>,
    frontend: Frontend,
    /// Values per window handed to the backend (features or samples).
    input_len: usize,
    /// Complete windows wait for [`infer_streams`] (or a full batch).
    deferred: bool,
    mono: Vec<f32>,
    /// Model-rate samples: `buf[0]` is sample `at.buf_start`; it keeps at
    /// most the last window's worth besides what the next window needs, for
    /// the end-aligned window at flush.
    buf: Vec<f32>,
    /// Windows waiting for inference (features, or samples when the backend
    /// computes the front end) and their (start, end) samples.
    feats: Vec<f32>,
    pending: Vec<(u64, u64)>,
    net_out: Vec<f32>,
    logits: Vec<f32>,
    queue: VecDeque<WindowScore>,
    /// An utterance model's audio from the stream start, at most `max_audio`
    /// samples (empty for other models).
    utterance: Vec<f32>,
    /// `max_audio` of an utterance model, 0 for other models.
    max_utterance: usize,
    /// Windows handed out as batches, and results waiting on them.
    ledger: Ledger,
    at: Progress,
}

/// Where a stream is: everything [`Stream::reset`] returns to zero.
#[derive(Default)]
struct Progress {
    /// Model-rate index of `Stream::buf[0]`.
    buf_start: u64,
    /// Model-rate index where the next window starts.
    next: u64,
    /// Frames pushed, at the caller's rate.
    frames_in: u64,
    windows_formed: u64,
    /// Windows scored (formed and above the gate).
    windows: u64,
    sum_logit: f64,
    first_logit: f32,
    max_logit: f32,
    last_logit: f32,
    speech_samples: u64,
    scored_until: u64,
    /// Per-window results dropped from the full queue, unread.
    dropped: u64,
    flushed: bool,
    /// Model-rate samples the stream ended with, when shorter than a window
    /// (an utterance model: shorter than `min_audio`).
    short: Option<u64>,
    /// The calibrated logit of the whole utterance, once scored at flush.
    utterance_logit: Option<f32>,
}

/// Model-rate audio into the window buffer, and into the utterance up to
/// `max` samples.
fn keep(out: &[f32], buf: &mut Vec<f32>, utterance: &mut Vec<f32>, max: usize) {
    buf.extend_from_slice(out);
    let room = max - utterance.len().min(max);
    utterance.extend_from_slice(&out[..room.min(out.len())]);
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
            min_rms: m.gate.min_dbfs.map(|db| 10f32.powf(db / 20.0)),
            resampler,
            frontend,
            input_len,
            deferred: false,
            mono: Vec::with_capacity(BLOCK),
            buf: Vec::with_capacity(2 * m.window + BLOCK * 8),
            feats: vec![0.0; MAX_BATCH * input_len],
            pending: Vec::with_capacity(MAX_BATCH),
            net_out: Vec::with_capacity(MAX_BATCH * 2),
            logits: vec![0.0; MAX_BATCH],
            queue: VecDeque::with_capacity(64),
            utterance: Vec::new(),
            max_utterance: m.utterance.map_or(0, |u| u.max_audio),
            ledger: Ledger::new(),
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

    /// Hands the waiting windows of a deferred stream out, to run on any
    /// thread ([`Batch::infer`]) and give back with
    /// [`apply_batch`](Self::apply_batch); `None` when none wait. Until
    /// they are back, later results wait too (at most
    /// [`MAX_HELD_WINDOWS`]), so the stream accounts every window in order.
    pub fn take_batch(&mut self) -> Option<Batch> {
        if self.pending.is_empty() {
            return None;
        }
        // `pending_input()` would borrow all of `self` beside the ledger.
        let input = &self.feats[..self.pending.len() * self.input_len];
        let spans = self.pending.drain(..).collect();
        Some(self.ledger.hand_out(&self.model, spans, input))
    }

    /// Takes back a batch of this stream's windows (run or not: one not run
    /// is run here) and accounts its results, and any that waited on it, in
    /// window order. A batch taken before a [`reset`](Self::reset) is
    /// ignored. On a backend error its windows are lost (the error says
    /// how many) and later ones are accounted.
    pub fn apply_batch(&mut self, batch: Batch) -> Result<()> {
        let (groups, result) = self.ledger.give_back(batch);
        self.account_groups(groups);
        result
    }

    /// Batches handed out and not given back.
    pub fn batches_out(&self) -> usize {
        self.ledger.out()
    }

    /// Gives up on every batch out (a worker lost it, or it was given to
    /// another stream): their windows are lost, giving them back later
    /// fails, and the results that waited on them are accounted now.
    /// Returns how many batches were written off.
    pub fn write_off_batches(&mut self) -> usize {
        let out = self.ledger.out();
        let groups = self.ledger.write_off(0);
        self.account_groups(groups);
        out
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
        let (buf, utt, max) = (&mut self.buf, &mut self.utterance, self.max_utterance);
        match &mut self.resampler {
            Some(r) => r.process(&self.mono, &mut |out| {
                keep(out, buf, utt, max);
                Ok(())
            })?,
            None => keep(&self.mono, buf, utt, max),
        }
        self.drain_windows()
    }

    /// Model-rate index one past the last sample received.
    fn data_end(&self) -> u64 {
        self.at.buf_start + self.buf.len() as u64
    }

    fn drain_windows(&mut self) -> Result<()> {
        // A backend error loses the windows of that call (the error says how
        // many) but never the audio: every window still forms and moves on.
        let mut first_error = None;
        while self.data_end() >= self.at.next + self.window as u64 {
            self.at.windows_formed += 1;
            let at = (self.at.next - self.at.buf_start) as usize;
            keep_first(&mut first_error, self.take_window(at, self.window));
            self.at.next += self.hop as u64;
        }
        // Keep what the next window needs and the last window's worth (the
        // end-aligned window at flush); `next` is never past the data end.
        let keep_from = self
            .at
            .next
            .min(self.data_end().saturating_sub(self.window as u64));
        let drop = (keep_from.max(self.at.buf_start) - self.at.buf_start) as usize;
        self.buf.drain(..drop);
        self.at.buf_start += drop as u64;
        if !self.deferred {
            keep_first(&mut first_error, self.run_batch());
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Gates the window at `buf[at..]` (`len` real samples, the rest
    /// completed by the fill rule) and queues its features for inference.
    fn take_window(&mut self, at: usize, len: usize) -> Result<()> {
        if self.quiet(&self.buf[at..at + len]) {
            return Ok(());
        }
        // A full queue is scored first; this window is queued either way.
        let scored = if self.pending.len() == MAX_BATCH {
            self.run_batch()
        } else {
            Ok(())
        };
        let w = &self.buf[at..at + self.window];
        let start = self.at.buf_start + at as u64;
        let n = self.input_len;
        let slot = self.pending.len();
        let dst = &mut self.feats[slot * n..(slot + 1) * n];
        if self.model.frontend_on_backend() {
            dst.copy_from_slice(w);
        } else if len < self.window && self.frontend.fills_frames() {
            if let Err(e) = self.frontend.compute_short(&w[..len], dst) {
                return scored.and(Err(Error::new(
                    Status::ModelKind,
                    format!("a {len}-sample window: {e}"),
                )));
            }
        } else {
            self.frontend.compute_at(w, start, dst);
        }
        self.pending.push((start, start + len as u64));
        scored
    }

    /// Whether `audio` is below the energy gate.
    fn quiet(&self, audio: &[f32]) -> bool {
        let rms = (audio.iter().map(|x| x * x).sum::<f32>() / audio.len() as f32).sqrt();
        self.min_rms.is_some_and(|min| rms < min)
    }

    /// Scores an utterance model's whole utterance (its first `max_audio`
    /// samples) as one window of its own length, when it has `min_audio`
    /// and passes the gate.
    fn score_utterance(&mut self) -> Result<()> {
        let have = self.utterance.len();
        let m = self.model.manifest();
        if have < m.min_audio() {
            self.at.short = Some(have as u64);
            return Ok(());
        }
        self.at.windows_formed += 1;
        if self.quiet(&self.utterance) {
            return Ok(());
        }
        let mut frontend = Frontend::new(&m.frontend, m.sample_rate, have).map_err(|e| {
            Error::new(
                Status::ModelKind,
                format!("the front end of a {have}-sample utterance: {e}"),
            )
        })?;
        let mut features = vec![0.0; frontend.output_len()];
        frontend.compute(&self.utterance, &mut features);
        let per_frame = self.model.utterance_frame_len().unwrap_or(1);
        let mut raw = Vec::new();
        let z = self
            .model
            .run_utterance(&features, features.len() / per_frame, &mut raw)?;
        self.pending.push((0, have as u64));
        self.apply(&[z], &raw);
        self.at.utterance_logit = Some(z);
        Ok(())
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
        let (logits, raw) = (
            std::mem::take(&mut self.logits),
            std::mem::take(&mut self.net_out),
        );
        self.apply(&logits[..batch], &raw);
        (self.logits, self.net_out) = (logits, raw);
        Ok(())
    }

    /// The waiting windows as backend input, `input_len` values each.
    fn pending_input(&self) -> &[f32] {
        &self.feats[..self.pending.len() * self.input_len]
    }

    /// Accounts the calibrated logits (and raw outputs, `raw.len() /
    /// logits.len()` values each) of the first `logits.len()` waiting
    /// windows and forgets all waiting windows. While batches are out the
    /// results wait behind theirs.
    fn apply(&mut self, logits: &[f32], raw: &[f32]) {
        let spans = std::mem::take(&mut self.pending);
        let n = logits.len();
        if self.ledger.busy() {
            let scored = Scored {
                logits: logits.to_vec(),
                raw: raw[..n * self.model.manifest().output.len()].to_vec(),
            };
            let groups = self.ledger.hold(spans[..n].to_vec(), scored);
            self.account_groups(groups);
        } else {
            self.account(&spans[..n], logits, raw);
        }
        self.pending = spans;
        self.pending.clear();
    }

    fn account_groups(&mut self, groups: handoff::Groups) {
        for (spans, scored) in groups {
            self.account(&spans, &scored.logits, &scored.raw);
        }
    }

    /// Adds scored windows (`spans`, in window order) to the stream's
    /// scores and its per-window queue.
    fn account(&mut self, spans: &[(u64, u64)], logits: &[f32], raw: &[f32]) {
        let m = self.model.manifest();
        let (rate, per) = (f64::from(m.sample_rate), m.output.len());
        for (i, &z) in logits.iter().enumerate() {
            // A completed short window ends where the audio ends; overlapping
            // windows add only their new samples to speech_seconds.
            let (start, end) = spans[i];
            if self.at.windows == 0 {
                (self.at.first_logit, self.at.max_logit) = (z, z);
            }
            self.at.windows += 1;
            self.at.sum_logit += f64::from(z);
            self.at.max_logit = self.at.max_logit.max(z);
            self.at.last_logit = z;
            self.at.speech_samples += end - start.max(self.at.scored_until).min(end);
            self.at.scored_until = self.at.scored_until.max(end);
            if self.queue.len() == WINDOW_QUEUE {
                self.queue.pop_front();
                self.at.dropped += 1;
            }
            self.queue.push_back(WindowScore {
                start: start as f64 / rate,
                end: end as f64 / rate,
                p_fake: sigmoid(f64::from(z)) as f32,
                logit: z,
                raw: RawOutput::new(&raw[i * per..(i + 1) * per]),
            });
        }
    }

    /// Ends the stream: pushes the resampler's last samples through (the
    /// stream then holds `ceil(frames * model_rate / rate)` samples, the
    /// length `librosa.load(sr=...)` gives), scores the windows they
    /// complete, and then:
    /// - a stream shorter than one window is scored when it has at least
    ///   the manifest's `min_audio`, completed by the front end's `fill`
    ///   rule (zeros by default; `frame_fill` completes the features);
    /// - otherwise, with `end_window` (the default), when the audio after
    ///   the last window is at least half a hop, one more window aligned to
    ///   the end of the audio is scored.
    ///
    /// An utterance model's stream instead scores its whole utterance (its
    /// first `max_audio` samples, when at least `min_audio`) as one window
    /// of its own length, whose score becomes the stream's p_fake.
    ///
    /// After a flush the stream accepts no more audio until [`Stream::reset`].
    /// Batches still out are accounted when given back; the windows the
    /// flush completes are scored here and wait behind them.
    pub fn flush(&mut self) -> Result<()> {
        if self.at.flushed {
            return Ok(());
        }
        self.at.flushed = true;
        if let Some(r) = &mut self.resampler {
            let out_rate = u64::from(self.model.manifest().sample_rate);
            let expected = (self.at.frames_in * out_rate).div_ceil(u64::from(self.rate));
            let (buf, utt, max) = (&mut self.buf, &mut self.utterance, self.max_utterance);
            r.finish(&mut |out| {
                keep(out, buf, utt, max);
                Ok(())
            })?;
            // libsoxr ends at the rounded length; librosa pads to the ceiling.
            let keep = (expected - self.at.buf_start.min(expected)) as usize;
            self.buf.resize(keep, 0.0);
            let utterance = (expected as usize).min(self.max_utterance);
            self.utterance.resize(utterance, 0.0);
        }
        let mut first_error = None;
        keep_first(&mut first_error, self.drain_windows());
        if self.max_utterance > 0 {
            // The whole utterance replaces the short and end windows.
            keep_first(&mut first_error, self.run_batch());
            keep_first(&mut first_error, self.score_utterance());
            return first_error.map_or(Ok(()), Err);
        }
        let m = self.model.manifest();
        let (min_audio, end_window) = (m.min_audio(), m.end_window);
        let (window, min_tail) = (self.window as u64, (self.hop as u64).div_ceil(2));
        let data_end = self.data_end();
        if self.at.windows_formed == 0 {
            let have = self.buf.len();
            self.at.short = Some(have as u64);
            if have >= min_audio {
                self.buf.resize(self.window, 0.0);
                if self.frontend.complete_window(&mut self.buf, have) {
                    self.at.windows_formed += 1;
                    keep_first(&mut first_error, self.take_window(0, have));
                }
                self.buf.truncate(have);
            }
        } else if end_window && data_end >= self.at.next - self.hop as u64 + window + min_tail {
            // The last window formed ended `tail` samples before the end.
            self.at.windows_formed += 1;
            let at = (data_end - window - self.at.buf_start) as usize;
            keep_first(&mut first_error, self.take_window(at, self.window));
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
            let z = match (self.at.utterance_logit, m.aggregate) {
                (Some(z), _) => f64::from(z),
                (None, Aggregate::Mean) => self.at.sum_logit / self.at.windows as f64,
                (None, Aggregate::First) => f64::from(self.at.first_logit),
                (None, Aggregate::Max) => f64::from(self.at.max_logit),
            };
            let p = sigmoid(z) as f32;
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
            unscored: self.unscored(),
        }
    }

    /// Why nothing is scored, while nothing is.
    fn unscored(&self) -> Option<Unscored> {
        if self.at.windows > 0 || !self.pending.is_empty() || self.ledger.busy() {
            return None;
        }
        let m = self.model.manifest();
        let secs = |n: u64| n as f64 / f64::from(m.sample_rate);
        let window = secs(self.window as u64);
        if self.at.windows_formed > 0 {
            return Some(Unscored::Silent {
                windows: self.at.windows_formed,
                gate_dbfs: m.gate.min_dbfs.unwrap_or(f32::NEG_INFINITY),
            });
        }
        Some(match self.at.short {
            None => Unscored::Waiting {
                have: secs(self.data_end()),
                window,
            },
            Some(have) if have as usize >= m.min_audio() => Unscored::NoFill {
                have: secs(have),
                window,
            },
            Some(have) => Unscored::TooShort {
                have: secs(have),
                need: secs(m.min_audio() as u64),
            },
        })
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
        self.utterance.clear();
        self.pending.clear();
        self.queue.clear();
        self.at = Progress::default();
        self.frontend.forget();
        self.ledger.reset();
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
    let per = model.manifest().output.len();
    let mut raw = vec![0.0f32; total * per];
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
        raw[done * per..(done + batch) * per].copy_from_slice(&scratch[..batch * per]);
        done += batch;
        report.calls += 1;
    }
    // Hand each stream the logits of its windows that were scored.
    let mut offset = 0;
    for &i in group {
        let n = streams[i].pending.len();
        let scored = done.saturating_sub(offset).min(n);
        streams[i].apply(
            &logits[offset..offset + scored],
            &raw[offset * per..(offset + scored) * per],
        );
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
