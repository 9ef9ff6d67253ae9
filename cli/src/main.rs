//! `dfd`: scan audio files for synthetic (deepfake) speech with libdfd.
//!
//! This file holds the command line and the dispatch; the work is in
//! [`scan`] (files → scores, decoded by `dfd_decode`), [`walk`] (arguments →
//! files), [`results`] (the scores' types and JSON), [`report`] (scores →
//! text/JSON), [`eval`] (labelled files → [`metrics`]), [`plot`] (pictures
//! of both), [`inspect`] and [`backends`].

mod backends;
mod eval;
mod inspect;
mod measure;
mod metrics;
mod model_ref;
mod outputs;
mod plot;
mod report;
mod results;
mod scan;
mod serve;
mod walk;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, LazyLock};

use clap::{Args, Parser, Subcommand};
use dfd::model::{BackendChoice, PrecisionChoice};
use model_ref::ModelRef;

/// Exit codes, documented in `--help`.
pub mod exit {
    /// Every file was scanned.
    pub const OK: u8 = 0;
    /// At least one file could not be read or decoded (the others were scanned).
    pub const FILE_FAILED: u8 = 1;
    /// Bad usage, or the model/backend could not be loaded (nothing was scanned).
    pub const USAGE: u8 = 2;
}

/// `--version` names the library too: the CLI and libdfd may be built apart.
static LONG_VERSION: LazyLock<String> =
    LazyLock::new(|| format!("{} (libdfd {})", env!("CARGO_PKG_VERSION"), dfd::VERSION));

const AFTER_HELP: &str = "\
Exit status:
  0  every file was scanned
  1  some file could not be read or decoded (the others were still scanned)
  2  usage error, or the model or backend could not be loaded

Environment:
  DFD_MODEL        model used when --model is not given: a path or builtin:NAME (else builtin:default)
  DFD_PLUGIN_PATH  colon-separated directories searched for backend plugins
                   (after --plugin-dir, before the executable's directory)

Examples:
  dfd scan --model models/detector call.wav
  dfd scan --model models/detector --json recordings/ > scores.jsonl
  dfd eval --model models/detector testset/ --json metrics.json --plot curves.png
  dfd inspect models/detector
  dfd backends";

const EVAL_AFTER_HELP: &str = "\
Exit status:
  0  every file was scored and the metrics computed
  1  some file could not be read or decoded (left out of the metrics, which
     were computed from the rest), or the --json/--plot file could not be written
  2  usage error, the model or backend could not be loaded, DIR lacks real/
     or fake/, or a class has no file that could be scored (no metrics)

Environment:
  DFD_MODEL        model used when --model is not given: a path or builtin:NAME (else builtin:default)
  DFD_PLUGIN_PATH  colon-separated directories searched for backend plugins
                   (after --plugin-dir, before the executable's directory)

Example:
  dfd eval --model models/detector testset/ --json metrics.json --plot curves.png";

const SERVE_AFTER_HELP: &str = "\
Exit status:
  0  the server was stopped (Ctrl-C)
  2  usage error, the model or backend could not be loaded, or ADDR:PORT is taken

Examples:
  dfd serve                      # then open http://127.0.0.1:8080/
  curl -F file=@call.m4a http://127.0.0.1:8080/v1/scan
  curl --data-binary @note.opus http://127.0.0.1:8080/v1/scan";

const INSPECT_AFTER_HELP: &str = "\
Exit status:
  0  the model loads on the backend and its manifest agrees with its graph
  1  the model loads, with warnings
  2  usage error, or the model cannot be read or does not load

Example:
  dfd inspect models/detector.onnx --backend cpu";

#[derive(Parser, Debug)]
#[command(
    name = "dfd",
    version,
    long_version = LONG_VERSION.as_str(),
    about = "Detect synthetic (deepfake) speech in audio files",
    long_about = "Detect synthetic (deepfake) speech in audio files.\n\n\
        Audio is decoded and scored in a stream, window by window, so files of any \
        length use little memory. Each file gets p_fake, the model's calibrated \
        probability that its speech is synthetic, and a verdict against the \
        model's threshold.",
    after_help = AFTER_HELP,
    propagate_version = true
)]
struct Cli {
    /// Print libdfd's diagnostics on stderr (-v: info, -vv: debug), e.g. which
    /// backend and precision variant were chosen and why.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Score audio files (WAV, FLAC, MP3, Ogg Vorbis/Opus, WebM, M4A) for synthetic speech.
    #[command(
        long_about = "Score audio files for synthetic speech.\n\n\
            Decodes WAV, FLAC, MP3, Ogg Vorbis, Opus (in Ogg, WebM or Matroska) and AAC \
            (in MP4/M4A) at any sample rate and channel count, recognising the container by \
            its content, not its name (channels are averaged to mono, audio is resampled \
            to the model's rate).\n\n\
            Output, one line per file: path, p_fake (probability the speech is \
            synthetic), verdict, windows scored, the share of windows judged synthetic \
            and bona fide, and seconds of speech scored out of the file's length:\n\n  \
            call.wav: p_fake 0.912 synthetic | 7 windows: 86% synthetic, 14% bona fide | speech 3.8 s / 3.9 s\n\n\
            Silent windows are not scored; a file with no scored window gets the \
            verdict \"unknown\". Files that cannot be decoded are reported on stderr \
            and the scan goes on. With two cores or more, the network runs on a second \
            thread while the first decodes and computes the next windows' features \
            (same results; `taskset -c 0` keeps it to one core).",
        after_help = AFTER_HELP
    )]
    Scan(ScanArgs),
    /// Measure a model on labelled audio: EER, ROC AUC, confusion matrix.
    #[command(
        long_about = "Measure a model on labelled audio.\n\n\
            DIR holds a directory of bona fide speech, real/ or bonafide/, and one of \
            synthetic speech, fake/ or spoof/ (any letter case); their audio files \
            (.wav, .flac, .mp3, .ogg, .oga, .opus, .webm, .mka, .m4a, .mp4) are searched at any depth. Each file is \
            scored like `dfd scan` does (its p_fake), then the scores of both classes \
            give:\n\n  \
            - the equal error rate (EER) and its threshold, computed from the DET curve \
            as the ASVspoof 2019/2021 evaluation tools do;\n  \
            - the area under the ROC curve (AUC; ties count one half);\n  \
            - at the model's own threshold (p_fake >= threshold is synthetic, the \
            positive class): the confusion matrix, accuracy, precision, recall, F1 and \
            Matthews correlation coefficient (a ratio with a zero denominator is 0), \
            and the misclassified files, the most confidently wrong first.\n\n\
            Files that cannot be decoded are reported on stderr and under \"failed\" \
            in the JSON, and files with no scored window (too short or silent) under \
            \"unscored\"; both are left out of the metrics.",
        after_help = EVAL_AFTER_HELP
    )]
    Eval(EvalArgs),
    /// Show what libdfd understands of a model, and warn where its manifest
    /// and its ONNX graph disagree.
    #[command(
        long_about = "Show what libdfd understands of a model and check it.\n\n\
            Prints the manifest as libdfd reads it (sample rate, window and hop, the \
            front end and the feature shape it makes, output meaning, calibration, \
            threshold), the ONNX graph's inputs, outputs and operators, then loads the \
            model on the chosen backend and prints the backend and precision it runs \
            on, or why it does not load. Warnings name each disagreement between the \
            manifest and the graph (input shape, element type, output size, a graph \
            ending in Softmax or Sigmoid where the manifest expects logits).",
        after_help = INSPECT_AFTER_HELP
    )]
    Inspect(InspectArgs),
    /// Serve a web page and an HTTP/WebSocket API that score audio.
    #[command(
        long_about = "Serve a web page and an HTTP/WebSocket API that score audio.\n\n\
            The model is loaded once and shared. Open the printed address for the page: \
            drop or pick a file, or record from the microphone, and see the verdict and \
            the per-window p_fake over time.\n\n\
            API:\n  \
            POST /v1/scan   an audio file as the body or as multipart field \"file\"; \
            answers the JSON of `dfd scan --json`\n  \
            GET  /v1/live   WebSocket: send {\"sample_rate\", \"channels\", \"format\": \
            \"s16le\"|\"f32le\"}, then binary PCM; get {\"type\": \"window\"} after each \
            window; send {\"type\": \"end\"} for the {\"type\": \"result\"}\n  \
            GET  /healthz   {\"status\": \"ok\", model, backend, precision}\n  \
            GET  /metrics   Prometheus text: requests, errors, latency, windows scored\n\n\
            Refusals are JSON {\"error\", \"status\"} with a 4xx status: 400 bad request, \
            408 timeout, 413 upload or audio too large, 422 undecodable audio, 429 too \
            many concurrent requests.",
        after_help = SERVE_AFTER_HELP
    )]
    Serve(ServeArgs),
    /// List the inference backends libdfd can find and whether they run here.
    #[command(
        long_about = "List the inference backends libdfd can find and whether they run here.\n\n\
            Each backend's line says where it was found; the line below it, why it \
            runs or not and, for the CPU backend, the CPU features it dispatches on and \
            the precision order that `--precision auto` follows there.\n\n\
            --measure times every precision variant of the model on each available \
            backend (milliseconds per window, front end included, median of interleaved \
            rounds) and prints what auto picks and what was fastest here (a variant \
            beats fp32 only by more than 5 %). Run it on the device an app targets: \
            the CPU rule was measured on x86-64 only.",
        after_help = "Example:\n  dfd backends --measure --measure-seconds 5"
    )]
    Backends(BackendsArgs),
}

#[derive(Args, Debug)]
pub struct BackendsArgs {
    /// Look for backend plugins (libdfd_backend_<name>.so) here first.
    #[arg(long, value_name = "DIR")]
    pub plugin_dir: Option<PathBuf>,

    /// Time each precision variant of the model on each available backend.
    #[arg(long)]
    pub measure: bool,

    /// Model to time: a path or builtin:NAME [default: $DFD_MODEL, else the built-in default model].
    #[arg(short, long, value_name = "PATH", requires = "measure", value_parser = ModelRef::parse)]
    pub model: Option<ModelRef>,

    /// Time budget per backend, in seconds (at least 3 rounds are run).
    #[arg(long, value_name = "S", default_value_t = 2.0, requires = "measure",
          value_parser = parse_seconds)]
    pub measure_seconds: f64,
}

/// A time budget: finite, 0 to 600 s.
fn parse_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=600.0).contains(&v) => Ok(v),
        _ => Err(format!("{s:?} is not a number of seconds from 0 to 600")),
    }
}

#[derive(Args, Debug)]
pub struct ScanArgs {
    /// Audio files and directories. Directories are searched recursively for
    /// .wav, .flac, .mp3, .ogg, .oga, .opus, .webm, .mka, .m4a and .mp4 files
    /// (any letter case), in sorted order; files named explicitly are
    /// scanned whatever their extension.
    #[arg(required = true, value_name = "FILE|DIR")]
    pub paths: Vec<PathBuf>,

    #[command(flatten)]
    pub model: ModelArgs,

    /// Print one JSON object per file and line (JSON Lines) instead of text.
    ///
    /// Keys: file, model, backend, precision, threshold, p_fake, verdict
    /// ("synthetic", "bonafide" or "unknown"), windows, synthetic_share,
    /// bonafide_share, seconds, speech_seconds and timeline, the scored
    /// windows as [{"start", "end", "p_fake"}] with times in seconds.
    /// p_fake and the shares are null when no window was scored. A file
    /// that failed is {"file": ..., "error": ...}.
    #[arg(long)]
    pub json: bool,

    /// Draw the file's waveform and its per-window p_fake over time, with
    /// the model's threshold, into a PNG image (one FILE only).
    #[arg(long, value_name = "FILE.png")]
    pub plot: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address and port to listen on (port 0: any free port, printed).
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,

    #[command(flatten)]
    pub model: ModelArgs,

    /// Largest upload, and largest live message, in MiB (413 beyond).
    #[arg(long, value_name = "MIB", default_value_t = 64)]
    pub max_upload_mb: usize,

    /// Longest audio scored, uploaded or live, in seconds (413 beyond).
    #[arg(long, value_name = "S", default_value_t = 3600.0)]
    pub max_seconds: f64,

    /// Requests and live streams served at once (429 beyond).
    #[arg(long, value_name = "N", default_value_t = 4,
          value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub max_concurrent: u32,

    /// Seconds a live stream may stay silent (no message) before it is closed.
    #[arg(long, value_name = "S", default_value_t = 30)]
    pub idle_timeout: u64,

    /// Seconds one request or live stream may take in all (408 beyond).
    #[arg(long, value_name = "S", default_value_t = 600)]
    pub timeout: u64,

    /// Milliseconds between the rounds that score the windows of all live
    /// streams together in shared backend batches: a window's score comes
    /// at most this long (plus the round's inference) after its audio.
    #[arg(long, value_name = "MS", default_value_t = 25,
          value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub batch_tick_ms: u64,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Model package directory, .onnx model file, or builtin:NAME (default, telephone) [default: $DFD_MODEL, else the built-in default model].
    #[arg(value_name = "MODEL", value_parser = ModelRef::parse)]
    pub model: Option<ModelRef>,

    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Directory holding real/ (or bonafide/) and fake/ (or spoof/).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,

    #[command(flatten)]
    pub model: ModelArgs,

    /// Also write the metrics as one JSON object to FILE.
    ///
    /// Keys: eer, eer_threshold, auc, accuracy, precision, recall, f1, mcc,
    /// confusion {tp, fp, tn, fn} (synthetic is the positive class),
    /// n_real, n_fake (files in the metrics), threshold (the model's),
    /// model {name, backend, precision}, misclassified [{path, label,
    /// p_fake}] with label "bonafide" or "synthetic", failed [{path,
    /// error}] and unscored [path].
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// Draw the ROC curve, the DET curve (probit axes) and the histograms of
    /// p_fake of both classes into one PNG image.
    #[arg(long, value_name = "FILE.png")]
    pub plot: Option<PathBuf>,
}

/// Which model to load and how to run it (`scan` and `eval`).
#[derive(Args, Debug)]
pub struct ModelArgs {
    /// Model package directory, .onnx model file, or builtin:NAME [default: $DFD_MODEL, else the built-in default model].
    ///
    /// A package directory holds manifest.json and its precision variants; a
    /// .onnx file carries its manifest inside or in a sidecar <name>.json.
    /// builtin:default (16 kHz) and builtin:telephone (8 kHz calls) name the
    /// models compiled into libdfd.
    #[arg(short, long, value_name = "PATH", value_parser = ModelRef::parse)]
    pub model: Option<ModelRef>,

    #[command(flatten)]
    pub run: RunArgs,
}

/// How to run a model: backend, precision variant, threads, plugins.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// Inference backend: "auto" picks the available one whose probe scores
    /// highest (see `dfd backends`): cuda, then ort, then cpu.
    #[arg(short, long, value_name = "NAME", default_value = "auto")]
    pub backend: BackendChoice,

    /// Precision variant of a model package ("auto", "fp32", "fp16" or
    /// "int8"); "auto" picks the backend's fastest.
    #[arg(short, long, value_name = "P", default_value = "auto")]
    pub precision: PrecisionChoice,

    /// Backend worker threads (0 = the backend's default).
    #[arg(short, long, value_name = "N", default_value_t = 0)]
    pub threads: u32,

    /// Look for backend plugins (libdfd_backend_<name>.so) here first.
    #[arg(long, value_name = "DIR")]
    pub plugin_dir: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    install_logger(cli.verbose);
    let code = match cli.command {
        Command::Scan(args) => scan::run(&args),
        Command::Eval(args) => eval::run(&args),
        Command::Inspect(args) => inspect::run(&args),
        Command::Serve(args) => serve::run(&args),
        Command::Backends(args) => match backends::run(args.plugin_dir.as_deref()) {
            code if args.measure && code == exit::OK => measure::run(&args),
            code => code,
        },
    };
    ExitCode::from(code)
}

/// libdfd is silent unless given a logger; `-v` routes its messages to stderr.
fn install_logger(verbose: u8) {
    use dfd::log::Level;
    let level = match verbose {
        0 => return,
        1 => Level::Info,
        _ => Level::Debug,
    };
    let logger: dfd::log::Logger = Arc::new(|level: Level, msg: &str| {
        let tag = format!("{level:?}").to_lowercase();
        eprintln!("dfd: [{tag}] {msg}");
    });
    dfd::log::set_logger(Some((level, logger)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
