//! `dfddetect`: passes raw audio through untouched and scores it with one
//! libdfd stream. After each analysis window it posts an element message
//! `dfd-score`; at EOS it flushes the stream (the tail is scored) and posts
//! a last one with `final=true` and the whole stream's score.
//!
//! Message fields: `p-fake` (double: the window's, or the stream's in the
//! final message), `stream-p-fake` (double: whole stream so far),
//! `verdict` (string: bonafide / synthetic / unknown, of the stream so far
//! against `threshold`), `start` / `end` (guint64 ns, stream time of the
//! window), `window` (guint64, 0-based), `windows` (guint64, scored so
//! far), `final` (boolean).

use std::sync::{LazyLock, Mutex, MutexGuard};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_audio::subclass::prelude::*;
use gst_base::prelude::*;

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "dfddetect",
        gst::DebugColorFlags::empty(),
        Some("libdfd synthetic-speech detector"),
    )
});

/// Name of the element messages this element posts.
const MESSAGE: &str = "dfd-score";
/// `threshold` property value meaning "the model's calibrated threshold".
const MODEL_THRESHOLD: f64 = -1.0;

#[derive(Debug, Clone)]
struct Settings {
    model: Option<String>,
    backend: String,
    precision: String,
    threshold: f64,
    plugin_dir: Option<String>,
}

/// The properties' value for libdfd's default backend and precision.
const AUTO: &str = "auto";

impl Default for Settings {
    fn default() -> Self {
        Settings {
            model: None,
            backend: AUTO.into(),
            precision: AUTO.into(),
            threshold: MODEL_THRESHOLD,
            plugin_dir: None,
        }
    }
}

/// Sample layouts libdfd takes, as the caps negotiated them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Samples {
    I16,
    F32,
}

/// What exists between `start` and `stop`: the model, and once the caps
/// are known, the stream.
struct State {
    model: dfd::Model,
    threshold: f32,
    stream: Option<Running>,
}

struct Running {
    stream: dfd::Stream,
    samples: Samples,
    /// Stream time of the first sample pushed; windows are offset by it.
    origin: Option<gst::ClockTime>,
    windows: u64,
    /// Reused conversion buffers (buffer memory need not be aligned).
    i16_buf: Vec<i16>,
    f32_buf: Vec<f32>,
}

#[derive(Default)]
pub struct DfdDetect {
    settings: Mutex<Settings>,
    state: Mutex<Option<State>>,
}

impl DfdDetect {
    fn state(&self) -> MutexGuard<'_, Option<State>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn settings(&self) -> Settings {
        self.settings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn verdict(threshold: f32, score: &dfd::Score) -> &'static str {
        if score.windows == 0 {
            "unknown"
        } else if score.p_fake >= threshold {
            "synthetic"
        } else {
            "bonafide"
        }
    }

    fn ns(origin: gst::ClockTime, seconds: f64) -> u64 {
        origin.nseconds() + (seconds * 1e9).round() as u64
    }

    /// Posts one message per window scored since the last call.
    fn post_windows(&self, threshold: f32, run: &mut Running) {
        let origin = run.origin.unwrap_or(gst::ClockTime::ZERO);
        let mut pending = Vec::new();
        while let Some(w) = run.stream.next_window() {
            pending.push(w);
        }
        if pending.is_empty() {
            return;
        }
        let score = run.stream.score();
        for w in pending {
            let s = gst::Structure::builder(MESSAGE)
                .field("p-fake", f64::from(w.p_fake))
                .field("stream-p-fake", f64::from(score.p_fake))
                .field("verdict", Self::verdict(threshold, &score))
                .field("start", Self::ns(origin, w.start))
                .field("end", Self::ns(origin, w.end))
                .field("window", run.windows)
                .field("windows", score.windows)
                .field("final", false)
                .build();
            run.windows += 1;
            self.post(s);
        }
    }

    fn post(&self, s: gst::Structure) {
        let obj = self.obj();
        let _ = obj.post_message(gst::message::Element::builder(s).src(&*obj).build());
    }

    /// End of stream: score the tail and post the final message.
    fn finish(&self) -> Result<(), dfd::Error> {
        let mut guard = self.state();
        let Some(state) = guard.as_mut() else {
            return Ok(());
        };
        let threshold = state.threshold;
        let Some(run) = state.stream.as_mut() else {
            return Ok(());
        };
        run.stream.flush()?;
        self.post_windows(threshold, run);
        let score = run.stream.score();
        let origin = run.origin.unwrap_or(gst::ClockTime::ZERO);
        let s = gst::Structure::builder(MESSAGE)
            .field("p-fake", f64::from(score.p_fake))
            .field("stream-p-fake", f64::from(score.p_fake))
            .field("verdict", Self::verdict(threshold, &score))
            .field("start", origin.nseconds())
            .field("end", Self::ns(origin, score.seconds))
            .field("windows", score.windows)
            .field("seconds", score.seconds)
            .field("speech-seconds", score.speech_seconds)
            .field("final", true)
            .build();
        self.post(s);
        Ok(())
    }

    fn push(&self, run: &mut Running, data: &[u8]) -> Result<(), dfd::Error> {
        match run.samples {
            Samples::I16 => {
                run.i16_buf.clear();
                run.i16_buf.extend(
                    data.chunks_exact(2)
                        .map(|b| i16::from_ne_bytes([b[0], b[1]])),
                );
                run.stream.push_i16(&run.i16_buf)
            }
            Samples::F32 => {
                run.f32_buf.clear();
                run.f32_buf.extend(
                    data.chunks_exact(4)
                        .map(|b| f32::from_ne_bytes([b[0], b[1], b[2], b[3]])),
                );
                run.stream.push(&run.f32_buf)
            }
        }
    }
}

/// A string property where NULL means "auto".
fn or_auto(value: &glib::Value) -> String {
    value
        .get::<Option<String>>()
        .expect("type checked upstream")
        .unwrap_or_else(|| AUTO.into())
}

#[glib::object_subclass]
impl ObjectSubclass for DfdDetect {
    const NAME: &'static str = "GstDfdDetect";
    type Type = super::DfdDetect;
    type ParentType = gst_audio::AudioFilter;
}

impl ObjectImpl for DfdDetect {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPS: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecString::builder("model")
                    .nick("Model")
                    .blurb("Model file (.onnx), package directory, or builtin:telephone (8 kHz calls) / builtin:default; unset: libdfd's built-in default model")
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("backend")
                    .nick("Backend")
                    .blurb("auto, cpu, cuda or a plugin name (a named backend that cannot run is an error)")
                    .default_value(Some(AUTO))
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("precision")
                    .nick("Precision")
                    .blurb("auto, fp32, fp16 or int8 (variants of a model package)")
                    .default_value(Some(AUTO))
                    .mutable_ready()
                    .build(),
                glib::ParamSpecDouble::builder("threshold")
                    .nick("Threshold")
                    .blurb("p_fake at or above which the verdict is synthetic; -1: the model's calibrated threshold")
                    .minimum(MODEL_THRESHOLD)
                    .maximum(1.0)
                    .default_value(MODEL_THRESHOLD)
                    .mutable_ready()
                    .build(),
                glib::ParamSpecString::builder("plugin-dir")
                    .nick("Plugin directory")
                    .blurb("Searched for libdfd backend plugins before DFD_PLUGIN_PATH")
                    .mutable_ready()
                    .build(),
            ]
        });
        PROPS.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = self.settings.lock().unwrap_or_else(|e| e.into_inner());
        match pspec.name() {
            "model" => s.model = value.get().expect("type checked upstream"),
            "backend" => s.backend = or_auto(value),
            "precision" => s.precision = or_auto(value),
            "threshold" => s.threshold = value.get().expect("type checked upstream"),
            "plugin-dir" => s.plugin_dir = value.get().expect("type checked upstream"),
            other => unreachable!("no property {other}"),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = self.settings();
        match pspec.name() {
            "model" => s.model.to_value(),
            "backend" => s.backend.to_value(),
            "precision" => s.precision.to_value(),
            "threshold" => s.threshold.to_value(),
            "plugin-dir" => s.plugin_dir.to_value(),
            other => unreachable!("no property {other}"),
        }
    }
}

impl GstObjectImpl for DfdDetect {}

impl ElementImpl for DfdDetect {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "Deepfake speech detector",
                "Filter/Analyzer/Audio",
                "Passes audio through and posts a dfd-score element message (p-fake, verdict, \
                 window start and end) per analysis window and at EOS, scored by libdfd",
                "libdfd",
            )
        });
        Some(&*META)
    }
}

impl BaseTransformImpl for DfdDetect {
    const MODE: gst_base::subclass::BaseTransformMode =
        gst_base::subclass::BaseTransformMode::AlwaysInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = true;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = true;

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let s = self.settings();
        let settings_error = |e: dfd::Error| gst::error_msg!(gst::LibraryError::Settings, ["{e}"]);
        let options = dfd::ModelOptions {
            backend: s.backend.parse().map_err(settings_error)?,
            precision: s.precision.parse().map_err(settings_error)?,
            plugin_dir: s.plugin_dir.clone().map(Into::into),
            ..Default::default()
        };
        let model = match s.model.as_deref() {
            Some(m) => match dfd::model::Builtin::from_ref(m) {
                Some(b) => b.and_then(|b| dfd::Model::load_builtin_named(b, &options)),
                None => dfd::Model::load(m, &options),
            },
            None => dfd::Model::load_builtin(&options),
        }
        .map_err(|e| {
            gst::error_msg!(
                gst::LibraryError::Init,
                [
                    "cannot load the model {}: {e}",
                    s.model.as_deref().unwrap_or("(built-in)")
                ]
            )
        })?;
        let threshold = if s.threshold >= 0.0 {
            s.threshold as f32
        } else {
            model.manifest().threshold
        };
        gst::info!(
            CAT,
            imp = self,
            "model {} on {}, threshold {threshold}",
            model.manifest().name,
            model.backend_name()
        );
        *self.state() = Some(State {
            model,
            threshold,
            stream: None,
        });
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *self.state() = None;
        Ok(())
    }

    fn transform_ip_passthrough(
        &self,
        buf: &gst::Buffer,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let stream_time = buf.pts().and_then(|pts| {
            self.obj()
                .segment()
                .downcast_ref::<gst::ClockTime>()?
                .to_stream_time(pts)
        });
        let mut guard = self.state();
        let state = guard.as_mut().ok_or(gst::FlowError::Flushing)?;
        let threshold = state.threshold;
        let run = state.stream.as_mut().ok_or(gst::FlowError::NotNegotiated)?;
        if run.origin.is_none() {
            run.origin = Some(stream_time.unwrap_or(gst::ClockTime::ZERO));
        }
        let map = buf.map_readable().map_err(|_| {
            gst::element_imp_error!(self, gst::CoreError::Failed, ["cannot map the buffer"]);
            gst::FlowError::Error
        })?;
        if map.is_empty() {
            return Ok(gst::FlowSuccess::Ok);
        }
        if let Err(e) = self.push(run, &map) {
            gst::element_imp_error!(self, gst::LibraryError::Failed, ["libdfd: {e}"]);
            return Err(gst::FlowError::Error);
        }
        self.post_windows(threshold, run);
        Ok(gst::FlowSuccess::Ok)
    }

    fn sink_event(&self, event: gst::Event) -> bool {
        match event.view() {
            gst::EventView::Eos(_) => {
                if let Err(e) = self.finish() {
                    gst::element_imp_error!(self, gst::LibraryError::Failed, ["libdfd: {e}"]);
                }
            }
            // A seek: the audio that follows is a new timeline.
            gst::EventView::FlushStop(_) => {
                if let Some(run) = self.state().as_mut().and_then(|s| s.stream.as_mut()) {
                    run.stream.reset();
                    run.origin = None;
                    run.windows = 0;
                }
            }
            _ => (),
        }
        self.parent_sink_event(event)
    }
}

impl AudioFilterImpl for DfdDetect {
    fn allowed_caps() -> &'static gst::Caps {
        static CAPS: LazyLock<gst::Caps> = LazyLock::new(|| {
            gst_audio::AudioCapsBuilder::new_interleaved()
                .format_list([gst_audio::AUDIO_FORMAT_S16, gst_audio::AUDIO_FORMAT_F32])
                .rate_range(1..=dfd::MAX_SAMPLE_RATE as i32)
                .channels_range(1..=dfd::MAX_CHANNELS as i32)
                .build()
        });
        &CAPS
    }

    /// New caps: a new stream at their rate and channel count (a format
    /// change mid-stream starts a new timeline).
    fn setup(&self, info: &gst_audio::AudioInfo) -> Result<(), gst::LoggableError> {
        let samples = match info.format() {
            f if f == gst_audio::AUDIO_FORMAT_S16 => Samples::I16,
            f if f == gst_audio::AUDIO_FORMAT_F32 => Samples::F32,
            f => return Err(gst::loggable_error!(CAT, "format {f:?} not in the caps")),
        };
        let mut guard = self.state();
        let state = guard
            .as_mut()
            .ok_or_else(|| gst::loggable_error!(CAT, "caps before start"))?;
        let stream = dfd::Stream::new(&state.model, info.rate(), info.channels()).map_err(|e| {
            gst::element_imp_error!(self, gst::LibraryError::Settings, ["libdfd: {e}"]);
            gst::loggable_error!(CAT, "dfd stream: {e}")
        })?;
        state.stream = Some(Running {
            stream,
            samples,
            origin: None,
            windows: 0,
            i16_buf: Vec::new(),
            f32_buf: Vec::new(),
        });
        Ok(())
    }
}
