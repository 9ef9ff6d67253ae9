//! `dfd scan`: load the model once, then stream every file through a fresh
//! [`Stream`], one decoded packet at a time.

use std::path::{Path, PathBuf};

use dfd::{Model, ModelOptions, Score, Stream, WindowScore, MAX_CHANNELS};

use crate::decode::Decoder;
use crate::exit;
use crate::report::Reporter;
use crate::walk::{self, Entry};
use crate::{ModelArgs, RunArgs, ScanArgs};

/// Frames pushed per call. Results are drained after each push, so the
/// stream's bounded window queue (1024) can never overflow and drop results.
const PUSH_FRAMES: usize = 8192;

/// What one file scored.
pub struct FileScore {
    pub score: Score,
    /// Per-window results, in order (kept only when asked for: `--json`).
    pub timeline: Vec<WindowScore>,
    /// Windows whose own p_fake reached the model threshold.
    pub synthetic_windows: u64,
    /// Windows read from the stream (equals `score.windows`: none are dropped).
    pub read_windows: u64,
    /// Corrupt packets the decoder skipped.
    pub skipped_packets: u64,
    /// The file ended mid-packet.
    pub truncated: bool,
}

impl FileScore {
    /// Shares of windows judged synthetic and bona fide; `None` with no window scored.
    pub fn shares(&self) -> Option<(f64, f64)> {
        (self.read_windows > 0).then(|| {
            let syn = self.synthetic_windows as f64 / self.read_windows as f64;
            (syn, 1.0 - syn)
        })
    }
}

pub fn run(args: &ScanArgs) -> u8 {
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
                match scan_file(&model, path, args.json) {
                    Ok(result) => out.scanned(path, &result),
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
    let options = &args.run.options();
    match model_path(args.model.as_deref()) {
        Some(path) => Model::load(&path, options)
            .map_err(|e| format!("cannot load model {}: {e}", path.display())),
        None => Model::load_builtin(options)
            .map_err(|e| format!("cannot load the built-in default model: {e}")),
    }
}

/// `arg`, else `$DFD_MODEL`; `None` means the built-in default model.
pub fn model_path(arg: Option<&Path>) -> Option<PathBuf> {
    let env = std::env::var_os("DFD_MODEL")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    arg.map(Path::to_path_buf).or(env)
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

/// Decodes `path` packet by packet into a new stream and scores it.
pub fn scan_file(model: &Model, path: &Path, keep_timeline: bool) -> Result<FileScore, String> {
    let threshold = model.manifest().threshold;
    let mut decoder = Decoder::open(path)?;
    let (mut timeline, mut synthetic_windows, mut read_windows) = (Vec::new(), 0u64, 0u64);
    let mut drain = |stream: &mut Stream| {
        while let Some(w) = stream.next_window() {
            read_windows += 1;
            synthetic_windows += u64::from(w.p_fake >= threshold);
            if keep_timeline {
                timeline.push(w);
            }
        }
    };
    // Created at the first decoded packet: some containers only tell the
    // rate and channel count by decoding.
    let mut stream: Option<(Stream, u32, u32)> = None;
    let mut mono = Vec::new();
    while let Some(chunk) = decoder.next_chunk()? {
        let (s, rate, channels) = match &mut stream {
            Some(s) => s,
            None => {
                // More channels than libdfd takes: average them here instead.
                let pushed = if chunk.channels > MAX_CHANNELS {
                    1
                } else {
                    chunk.channels
                };
                let s = Stream::new(model, chunk.rate, pushed).map_err(|e| e.to_string())?;
                stream.insert((s, chunk.rate, chunk.channels))
            }
        };
        if (chunk.rate, chunk.channels) != (*rate, *channels) {
            return Err(format!(
                "the format changes mid-file ({} Hz {} ch to {} Hz {} ch), which is not supported",
                rate, channels, chunk.rate, chunk.channels
            ));
        }
        let samples = if chunk.channels > MAX_CHANNELS {
            downmix(chunk.samples, chunk.channels as usize, &mut mono);
            &mono[..]
        } else {
            chunk.samples
        };
        for piece in samples.chunks(PUSH_FRAMES * s.channels()) {
            s.push(piece).map_err(|e| e.to_string())?;
            drain(s);
        }
    }
    let Some((mut s, _, _)) = stream else {
        return Err("contains no audio".into());
    };
    s.flush().map_err(|e| e.to_string())?;
    drain(&mut s);
    Ok(FileScore {
        score: s.score(),
        timeline,
        synthetic_windows,
        read_windows,
        skipped_packets: decoder.skipped_packets,
        truncated: decoder.truncated,
    })
}

fn downmix(interleaved: &[f32], channels: usize, out: &mut Vec<f32>) {
    out.clear();
    out.extend(
        interleaved
            .chunks_exact(channels)
            .map(|f| f.iter().sum::<f32>() / channels as f32),
    );
}
