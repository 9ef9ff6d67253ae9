//! `dfd scan`: load the model once, then stream every file through a fresh
//! [`Stream`], one decoded packet at a time. With two cores or more,
//! helper threads run the network, one per core, while this one decodes
//! and computes the next windows' front end ([`Pipe`]).

use std::path::Path;
use std::sync::{mpsc, Mutex, OnceLock};
use std::time::Instant;

use dfd::{Batch, Model, ModelOptions, Score, Stream, WindowScore, MAX_CHANNELS};
use dfd_decode::Decoder;

use crate::exit;
use crate::model_ref::ModelRef;
use crate::outputs::check_writable;
use crate::plot;
use crate::report::Reporter;
use crate::results::{Envelope, FileScore};
use crate::walk::{self, Entry};
use crate::{ModelArgs, RunArgs, ScanArgs};

/// Frames pushed per call. Results are drained after each push, so the
/// stream's bounded window queue (1024) can never overflow and drop results.
const PUSH_FRAMES: usize = 8192;

pub fn run(args: &ScanArgs) -> u8 {
    if let Some(out) = &args.plot {
        let one_file = matches!(args.paths.as_slice(), [p] if !p.is_dir());
        if !one_file {
            eprintln!("dfd: --plot draws one file: give exactly one FILE, not a directory");
            return exit::USAGE;
        }
        if let Err(msg) = check_writable(out) {
            eprintln!("dfd: {msg}");
            return exit::USAGE;
        }
    }
    let keep = Keep {
        timeline: args.json || args.plot.is_some(),
        envelope: args.plot.is_some(),
    };
    let model = match load_model(&args.model) {
        Ok(model) => model,
        Err(msg) => {
            eprintln!("dfd: {msg}");
            return exit::USAGE;
        }
    };
    let inputs = walk::collect(&args.paths);
    let out = Reporter::new(
        &model,
        args.json,
        inputs.any_dir.then_some(inputs.entries.len()),
    );
    let mut failed = false;
    for entry in &inputs.entries {
        match entry {
            Entry::File(path) => {
                out.start(path);
                match scan_file(&model, path, keep) {
                    Ok(result) => {
                        out.scanned(path, &result);
                        if let Some(png) = &args.plot {
                            if let Err(msg) =
                                plot::scan::draw(png, &path.to_string_lossy(), &result, &model)
                            {
                                eprintln!("dfd: cannot draw {}: {msg}", png.display());
                                failed = true;
                            }
                        }
                    }
                    Err(msg) => {
                        failed = true;
                        out.failed(path, &msg);
                    }
                }
            }
            Entry::Unreadable(path, msg) => {
                failed = true;
                out.failed(path, msg);
            }
        }
    }
    out.finish();
    if failed {
        exit::FILE_FAILED
    } else {
        exit::OK
    }
}

/// The model: `--model`, else `$DFD_MODEL`, else the built-in default.
pub fn load_model(args: &ModelArgs) -> Result<Model, String> {
    let model = ModelRef::resolve(args.model.as_ref())?;
    Model::open(model.source(), &args.run.options())
        .map_err(|e| format!("cannot load model {}: {e}", model.describe()))
}

impl RunArgs {
    pub fn options(&self) -> ModelOptions {
        ModelOptions {
            backend: self.backend.clone(),
            precision: self.precision,
            threads: self.threads,
            plugin_dir: self.plugin_dir.clone(),
        }
    }
}

/// Decodes `path` packet by packet into a new stream and scores it, with
/// the network on helper threads where the machine has two cores or more.
pub fn scan_file(model: &Model, path: &Path, keep: Keep) -> Result<FileScore, String> {
    let decoder = Decoder::open(path)?;
    score_decoded(model, decoder, keep, Budget::UNLIMITED, network_threads())
        .map_err(|e| e.to_string())
}

/// Most network threads one scoring starts: the cores beyond these add
/// little to one file's few dozen batches.
const MAX_NETWORK_THREADS: usize = 8;

/// Network threads for one scoring: one per core (the decoding thread
/// mostly waits for them: the network costs several times the front end),
/// none on one core. Asked once, since the answer reads the cgroup files
/// on Linux and a directory scan asks per file.
fn network_threads() -> usize {
    static THREADS: OnceLock<usize> = OnceLock::new();
    *THREADS.get_or_init(
        || match std::thread::available_parallelism().map(|n| n.get()) {
            Ok(n) if n >= 2 => n.min(MAX_NETWORK_THREADS),
            _ => 0,
        },
    )
}

/// How much a scoring may take: audio seconds, and wall-clock time.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub max_seconds: f64,
    pub deadline: Option<Instant>,
}

impl Budget {
    pub const UNLIMITED: Budget = Budget {
        max_seconds: f64::INFINITY,
        deadline: None,
    };

    /// Whether `seconds` of audio scored by now is still within the budget.
    pub fn check(&self, seconds: f64) -> Result<(), ScoreError> {
        if seconds > self.max_seconds {
            return Err(ScoreError::TooLong(self.max_seconds));
        }
        if self.deadline.is_some_and(|d| Instant::now() > d) {
            return Err(ScoreError::TimedOut);
        }
        Ok(())
    }
}

/// Why a decoded file was not scored.
#[derive(Debug)]
pub enum ScoreError {
    /// The audio runs past the [`Budget`]'s limit (seconds).
    TooLong(f64),
    /// The [`Budget`]'s deadline passed.
    TimedOut,
    /// Undecodable, or refused by libdfd.
    Invalid(String),
}

impl std::fmt::Display for ScoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScoreError::TooLong(limit) => write!(f, "the audio is longer than {limit} s"),
            ScoreError::TimedOut => f.write_str("scoring took longer than the time allowed"),
            ScoreError::Invalid(msg) => f.write_str(msg),
        }
    }
}

impl From<String> for ScoreError {
    fn from(msg: String) -> Self {
        ScoreError::Invalid(msg)
    }
}

/// Scores a decoded file, packet by packet, within `budget`; with
/// `network_threads` > 0, the network runs on that many helper threads.
/// The results are the same either way.
pub fn score_decoded(
    model: &Model,
    decoder: Decoder,
    keep: Keep,
    budget: Budget,
    network_threads: usize,
) -> Result<FileScore, ScoreError> {
    if network_threads == 0 {
        return score_with(Scorer::new(model, keep), decoder, budget);
    }
    // One batch waiting per network thread, and one more, before the
    // decoding thread waits.
    let (to_net, jobs) = mpsc::sync_channel::<Batch>(network_threads + 1);
    let jobs = Mutex::new(jobs);
    let (to_stream, done) = mpsc::channel();
    std::thread::scope(|threads| {
        for _ in 0..network_threads {
            let (jobs, to_stream) = (&jobs, to_stream.clone());
            threads.spawn(move || loop {
                // The lock is held only while waiting for the next batch.
                let next = jobs.lock().map_or(Err(mpsc::RecvError), |jobs| jobs.recv());
                let Ok(mut batch) = next else { break };
                // A failed batch goes back too: the stream reports it.
                let _ = batch.infer();
                if to_stream.send(batch).is_err() {
                    break;
                }
            });
        }
        drop(to_stream);
        let mut scorer = Scorer::new(model, keep);
        scorer.pipe = Some(Pipe { to_net, done });
        score_with(scorer, decoder, budget)
    })
}

fn score_with(
    mut scorer: Scorer,
    mut decoder: Decoder,
    budget: Budget,
) -> Result<FileScore, ScoreError> {
    while let Some(chunk) = decoder.next_chunk()? {
        scorer.push(chunk.samples, chunk.rate, chunk.channels)?;
        budget.check(scorer.seconds())?;
    }
    let mut result = scorer.finish()?;
    result.skipped_packets = decoder.skipped_packets;
    result.truncated = decoder.truncated;
    Ok(result)
}

/// What a [`Scorer`] keeps besides the score.
#[derive(Debug, Clone, Copy, Default)]
pub struct Keep {
    /// Every window's result (`--json`, `--plot`, `serve`).
    pub timeline: bool,
    /// The waveform's [`Envelope`] (`--plot`).
    pub envelope: bool,
}

/// The network threads' two ends: the stream's windows go out as batches
/// and come back scored, in any order (the stream accounts them in order).
struct Pipe {
    to_net: mpsc::SyncSender<Batch>,
    done: mpsc::Receiver<Batch>,
}

impl Pipe {
    /// Sends the windows that wait and takes back what is scored.
    fn exchange(&self, stream: &mut Stream) -> Result<(), String> {
        while let Some(batch) = stream.take_batch() {
            self.to_net.send(batch).map_err(|_| NET_GONE.to_string())?;
        }
        while let Ok(batch) = self.done.try_recv() {
            stream.apply_batch(batch).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Waits for every batch out (the flush scored the last windows on
    /// this thread; they are accounted behind the batches).
    fn finish(self, stream: &mut Stream) -> Result<(), String> {
        drop(self.to_net);
        let mut first_error = None;
        while stream.batches_out() > 0 {
            let batch = self.done.recv().map_err(|_| NET_GONE.to_string())?;
            if let Err(e) = stream.apply_batch(batch) {
                first_error.get_or_insert(e.to_string());
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

const NET_GONE: &str = "the network threads stopped";

/// Seconds per envelope step.
const ENVELOPE_STEP: f64 = 0.01;

/// Scores one audio source fed in pieces (decoded packets, or PCM from a
/// live client): the stream is made at the first piece, since some
/// containers only tell the rate and channel count by decoding, and every
/// window's result is read as soon as the stream has it: after the push
/// that completed it, or with a [`Pipe`] a few pushes later.
pub struct Scorer {
    model: Model,
    keep: Keep,
    threshold: f32,
    /// The stream and the input format it was opened for.
    stream: Option<(Stream, u32, u32)>,
    mono: Vec<f32>,
    fresh: Vec<WindowScore>,
    timeline: Vec<WindowScore>,
    envelope: EnvelopeBuilder,
    synthetic_windows: u64,
    read_windows: u64,
    /// Set: the stream is deferred and its windows run on the network threads.
    pipe: Option<Pipe>,
}

impl Scorer {
    pub fn new(model: &Model, keep: Keep) -> Self {
        Scorer {
            model: model.clone(),
            keep,
            threshold: model.manifest().threshold,
            stream: None,
            mono: Vec::new(),
            fresh: Vec::new(),
            timeline: Vec::new(),
            envelope: EnvelopeBuilder::default(),
            synthetic_windows: 0,
            read_windows: 0,
            pipe: None,
        }
    }

    /// Pushes interleaved frames; returns the windows scored since the last
    /// push (with a [`Pipe`], those the network threads have finished).
    /// The format must stay the one of the first push.
    pub fn push(
        &mut self,
        samples: &[f32],
        rate: u32,
        channels: u32,
    ) -> Result<&[WindowScore], String> {
        self.fresh.clear();
        let (stream, first_rate, first_channels) = match &mut self.stream {
            Some(s) => s,
            None => {
                // More channels than libdfd takes: average them here instead.
                let pushed = if channels > MAX_CHANNELS { 1 } else { channels };
                let mut s = Stream::new(&self.model, rate, pushed).map_err(|e| e.to_string())?;
                if self.pipe.is_some() {
                    s.set_deferred(true).map_err(|e| e.to_string())?;
                }
                self.envelope.samples_per_step =
                    ((f64::from(rate) * ENVELOPE_STEP).round() as usize).max(1);
                self.stream.insert((s, rate, channels))
            }
        };
        if (rate, channels) != (*first_rate, *first_channels) {
            return Err(format!(
                "the format changes mid-stream ({first_rate} Hz {first_channels} ch to {rate} Hz {channels} ch), which is not supported"
            ));
        }
        if self.keep.envelope || channels > MAX_CHANNELS {
            downmix(samples, channels as usize, &mut self.mono);
        }
        if self.keep.envelope {
            self.envelope.add(&self.mono);
        }
        let samples = if channels > MAX_CHANNELS {
            &self.mono[..]
        } else {
            samples
        };
        for piece in samples.chunks(PUSH_FRAMES * stream.channels()) {
            stream.push(piece).map_err(|e| e.to_string())?;
            if let Some(pipe) = &self.pipe {
                pipe.exchange(stream)?;
            }
            Self::drain(stream, &mut self.fresh);
        }
        self.count_fresh();
        Ok(&self.fresh)
    }

    /// Scores what is left and returns the result; an error if nothing was pushed.
    pub fn finish(mut self) -> Result<FileScore, String> {
        let Some((mut stream, _, _)) = self.stream.take() else {
            return Err("contains no audio".into());
        };
        self.fresh.clear();
        stream.flush().map_err(|e| e.to_string())?;
        if let Some(pipe) = self.pipe.take() {
            pipe.finish(&mut stream)?;
        }
        Self::drain(&mut stream, &mut self.fresh);
        self.count_fresh();
        Ok(FileScore {
            score: stream.score(),
            timeline: self.timeline,
            envelope: self.keep.envelope.then(|| self.envelope.finish()),
            synthetic_windows: self.synthetic_windows,
            read_windows: self.read_windows,
            skipped_packets: 0,
            truncated: false,
        })
    }

    /// The stream's score so far (`None` before the first push).
    pub fn score(&self) -> Option<Score> {
        self.stream.as_ref().map(|(s, _, _)| s.score())
    }

    /// Seconds of audio pushed so far.
    pub fn seconds(&self) -> f64 {
        self.score().map_or(0.0, |s| s.seconds)
    }

    /// The stream (after the first push): to defer it, or to score its
    /// held windows with other streams' ([`dfd::infer_streams`]).
    pub fn stream_mut(&mut self) -> Option<&mut Stream> {
        self.stream.as_mut().map(|(s, _, _)| s)
    }

    /// Windows a deferred stream holds back for inference.
    pub fn pending_windows(&self) -> usize {
        self.stream
            .as_ref()
            .map_or(0, |(s, _, _)| s.pending_windows())
    }

    /// Takes the windows scored since the last push or take (a deferred
    /// stream's, once [`dfd::infer_streams`] scored them).
    pub fn take_scored(&mut self) -> &[WindowScore] {
        self.fresh.clear();
        if let Some((stream, _, _)) = &mut self.stream {
            Self::drain(stream, &mut self.fresh);
        }
        self.count_fresh();
        &self.fresh
    }

    fn drain(stream: &mut Stream, into: &mut Vec<WindowScore>) {
        while let Some(w) = stream.next_window() {
            into.push(w);
        }
    }

    fn count_fresh(&mut self) {
        self.read_windows += self.fresh.len() as u64;
        let threshold = self.threshold;
        self.synthetic_windows +=
            self.fresh.iter().filter(|w| w.p_fake >= threshold).count() as u64;
        if self.keep.timeline {
            self.timeline.extend_from_slice(&self.fresh);
        }
    }
}

/// Builds an [`Envelope`] from mono samples pushed in pieces of any size.
#[derive(Default)]
struct EnvelopeBuilder {
    samples_per_step: usize,
    in_step: usize,
    current: Option<(f32, f32)>,
    min_max: Vec<(f32, f32)>,
}

impl EnvelopeBuilder {
    fn add(&mut self, mono: &[f32]) {
        for &x in mono {
            let (lo, hi) = self.current.get_or_insert((x, x));
            *lo = lo.min(x);
            *hi = hi.max(x);
            self.in_step += 1;
            if self.in_step == self.samples_per_step {
                self.min_max.extend(self.current.take());
                self.in_step = 0;
            }
        }
    }

    fn finish(mut self) -> Envelope {
        self.min_max.extend(self.current.take());
        Envelope {
            step: ENVELOPE_STEP,
            min_max: self.min_max,
        }
    }
}

fn downmix(interleaved: &[f32], channels: usize, out: &mut Vec<f32>) {
    out.clear();
    out.extend(
        interleaved
            .chunks_exact(channels)
            .map(|f| f.iter().sum::<f32>() / channels as f32),
    );
}
