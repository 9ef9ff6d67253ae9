//! `dfddetect` in real GStreamer pipelines run by `gst-launch-1.0 -m`: the
//! two samples through decodebin, float stereo 48 kHz (and the audio must
//! pass through untouched), an Opus/WebM file through GStreamer's own
//! decoders, and an RTP receive pipeline fed in real time by the VoIP
//! tests' sender. The final `dfd-score` message must equal `dfd scan` of
//! the same audio (recorded with a `tee` in the same pipeline where the
//! audio is made by GStreamer). Bad settings must be GStreamer errors.
//!
//! Needs gst-launch-1.0 / gst-inspect-1.0 with the base and good plugins
//! (.ci/run installs them); without them these tests fail, never skip.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn sample(name: &str) -> PathBuf {
    root().join("samples").join(name)
}

/// `target/<profile>`.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(Path::parent).unwrap().to_path_buf()
}

/// The newer copy of a built file in `target/<profile>` or its `deps/`.
fn artifact(file: &str) -> PathBuf {
    let t = target_dir();
    [t.clone(), t.join("deps")]
        .into_iter()
        .map(|d| d.join(file))
        .filter_map(|p| Some((std::fs::metadata(&p).ok()?.modified().ok()?, p)))
        .max_by_key(|(m, _)| *m)
        .map(|(_, p)| p)
        .unwrap_or_else(|| panic!("{file} not built: run `cargo test --workspace`"))
}

/// A directory holding only this build's libgstdfd.so (GStreamer scans
/// every library in GST_PLUGIN_PATH; target/ holds hundreds) and a
/// private registry, so tests never see another build's plugin.
struct Gst {
    dir: tempfile::TempDir,
}

impl Gst {
    fn new() -> Gst {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("plugins")).unwrap();
        std::fs::copy(
            artifact("libgstdfd.so"),
            dir.path().join("plugins/libgstdfd.so"),
        )
        .unwrap();
        Gst { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn cmd(&self, tool: &str) -> Command {
        let mut c = Command::new(tool);
        c.env("GST_PLUGIN_PATH", self.path("plugins"))
            .env("GST_REGISTRY", self.path("registry.bin"))
            .env(
                "DFD_PLUGIN_PATH",
                artifact("libdfd_backend_cpu.so").parent().unwrap(),
            );
        c
    }

    /// `gst-launch-1.0 -m PIPELINE`, which must succeed.
    fn launch(&self, pipeline: &str) -> Messages {
        let out = self.launch_raw(pipeline);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "gst-launch-1.0 {pipeline} failed:\n{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Messages::parse(&text)
    }

    fn launch_raw(&self, pipeline: &str) -> Output {
        self.cmd("gst-launch-1.0")
            .arg("-m")
            .args(pipeline.split_whitespace())
            .output()
            .unwrap_or_else(|e| panic!("cannot run gst-launch-1.0 ({e}): apt-get install gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good"))
    }
}

/// The `dfd-score` messages of one run, in order.
struct Messages(Vec<BTreeMap<String, String>>);

impl Messages {
    /// Parses gst-launch's `Got message ... (element): dfd-score, k=(type)v, ...;` lines.
    fn parse(text: &str) -> Messages {
        let msgs = text
            .lines()
            .filter_map(|l| l.split_once("(element): dfd-score, "))
            .map(|(_, fields)| {
                fields
                    .trim_end_matches(';')
                    .split(", ")
                    .filter_map(|kv| {
                        let (k, v) = kv.split_once('=')?;
                        let v = v.split_once(')').map_or(v, |(_, v)| v);
                        Some((k.to_string(), v.trim_matches('"').to_string()))
                    })
                    .collect()
            })
            .collect();
        Messages(msgs)
    }

    fn windows(&self) -> Vec<&BTreeMap<String, String>> {
        self.0.iter().filter(|m| m["final"] == "false").collect()
    }

    fn last(&self) -> &BTreeMap<String, String> {
        let finals: Vec<_> = self.0.iter().filter(|m| m["final"] == "true").collect();
        assert_eq!(finals.len(), 1, "one final message: {:?}", self.0);
        assert_eq!(
            self.0.last(),
            Some(finals[0]),
            "the final message is the last"
        );
        finals[0]
    }
}

fn num(m: &BTreeMap<String, String>, k: &str) -> f64 {
    m[k].parse()
        .unwrap_or_else(|_| panic!("{k} = {:?} in {m:?}", m[k]))
}

/// `dfd scan --json [--model MODEL] FILE`: (p_fake, windows, verdict).
fn dfd_scan(file: &Path, model: Option<&str>) -> (f64, u64, String) {
    let cli = target_dir().join("dfd");
    assert!(
        cli.exists(),
        "{} not built: run `cargo test --workspace`",
        cli.display()
    );
    let out = Command::new(&cli)
        .args(["scan", "--json"])
        .args(model.map(|m| ["--model", m]).into_iter().flatten())
        .arg(file)
        .env(
            "DFD_PLUGIN_PATH",
            artifact("libdfd_backend_cpu.so").parent().unwrap(),
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().next().unwrap()).unwrap();
    (
        v["p_fake"].as_f64().unwrap(),
        v["windows"].as_u64().unwrap(),
        v["verdict"].as_str().unwrap().to_string(),
    )
}

/// The element's messages against `dfd scan` of `audio`: equal score,
/// equal window count, one message per window with increasing times.
fn check_against_scan(msgs: &Messages, audio: &Path) -> String {
    check_against_scan_with(msgs, audio, None)
}

/// As [`check_against_scan`], with the element and `dfd scan` on `model`.
fn check_against_scan_with(msgs: &Messages, audio: &Path, model: Option<&str>) -> String {
    let last = msgs.last();
    let (p_fake, windows, verdict) = dfd_scan(audio, model);
    eprintln!(
        "{}: element p_fake {} ({} windows, {}), dfd scan {p_fake} ({windows}, {verdict})",
        audio.display(),
        last["p-fake"],
        last["windows"],
        last["verdict"]
    );
    assert!(
        (num(last, "p-fake") - p_fake).abs() < 1e-5,
        "{last:?} vs dfd scan {p_fake}"
    );
    assert_eq!(num(last, "windows") as u64, windows, "{last:?}");
    assert_eq!(last["verdict"], verdict, "{last:?}");
    let per_window = msgs.windows();
    assert_eq!(per_window.len() as u64, windows);
    for (i, w) in per_window.iter().enumerate() {
        assert_eq!(num(w, "window") as usize, i);
        assert!(num(w, "end") > num(w, "start"), "{w:?}");
        let p = num(w, "p-fake");
        assert!((0.0..=1.0).contains(&p), "{w:?}");
    }
    last["verdict"].clone()
}

#[test]
fn gst_inspect_describes_the_element() {
    let gst = Gst::new();
    let out = gst
        .cmd("gst-inspect-1.0")
        .arg("dfddetect")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for want in [
        "Filter/Analyzer/Audio",
        "dfd-score",
        "S16LE",
        "F32LE",
        "[ 1, 384000 ]",
        "[ 1, 8 ]",
        "model ",
        "backend ",
        "precision ",
        "threshold ",
        "plugin-dir ",
    ] {
        assert!(text.contains(want), "gst-inspect lacks {want:?}:\n{text}");
    }
}

#[test]
fn samples_through_decodebin_score_as_dfd_scan() {
    let gst = Gst::new();
    for (name, want) in [
        ("bonafide_fr_june.wav", "bonafide"),
        ("synthetic_piper_joe.wav", "synthetic"),
    ] {
        let path = sample(name);
        let msgs = gst.launch(&format!(
            "filesrc location={} ! decodebin ! audioconvert ! dfddetect ! fakesink",
            path.display()
        ));
        assert_eq!(check_against_scan(&msgs, &path), want, "{name}");
        let last = msgs.last();
        let seconds = num(last, "seconds");
        let len = hound::WavReader::open(&path)
            .map(|r| r.duration() as f64 / r.spec().sample_rate as f64);
        assert!((seconds - len.unwrap()).abs() < 1e-3, "{last:?}");
        assert_eq!(num(last, "end"), (seconds * 1e9).round(), "{last:?}");
    }
}

/// `model=builtin:telephone`: the 8 kHz model compiled into libdfd, as
/// `dfd scan --model builtin:telephone` scores the same file.
#[test]
fn builtin_telephone_model_by_name() {
    let gst = Gst::new();
    for (name, want) in [
        ("bonafide_fr_june.wav", "bonafide"),
        ("synthetic_piper_joe.wav", "synthetic"),
    ] {
        let path = sample(name);
        let msgs = gst.launch(&format!(
            "filesrc location={} ! decodebin ! audioconvert ! dfddetect model=builtin:telephone ! fakesink",
            path.display()
        ));
        let got = check_against_scan_with(&msgs, &path, Some("builtin:telephone"));
        assert_eq!(got, want, "{name}");
    }
}

/// F32, stereo, 48 kHz: scored as `dfd scan` scores the same float WAV, and
/// the buffers leave the element as they came (a tee records both sides).
#[test]
fn float_stereo_passes_through_untouched() {
    let gst = Gst::new();
    let (before, after) = (gst.path("before.wav"), gst.path("after.wav"));
    let msgs = gst.launch(&format!(
        "filesrc location={} ! decodebin ! audioconvert ! audioresample \
         ! audio/x-raw,format=F32LE,rate=48000,channels=2 ! tee name=t \
         t. ! queue ! wavenc ! filesink location={} \
         t. ! queue ! dfddetect ! wavenc ! filesink location={}",
        sample("synthetic_piper_joe.wav").display(),
        before.display(),
        after.display()
    ));
    let (a, b) = (
        std::fs::read(&before).unwrap(),
        std::fs::read(&after).unwrap(),
    );
    assert!(a.len() > 48000 * 8, "{} bytes", a.len());
    assert!(a == b, "the element changed the audio");
    assert_eq!(check_against_scan(&msgs, &before), "synthetic");
}

/// Opus in WebM, encoded and decoded by GStreamer's own elements.
#[test]
fn opus_webm_through_gstreamer_decoders() {
    let gst = Gst::new();
    let webm = gst.path("bonafide.webm");
    gst.launch(&format!(
        "filesrc location={} ! wavparse ! audioconvert ! audioresample ! opusenc bitrate=32000 \
         ! webmmux ! filesink location={}",
        sample("bonafide_fr_june.wav").display(),
        webm.display()
    ));
    let decoded = gst.path("decoded.wav");
    let msgs = gst.launch(&format!(
        "filesrc location={} ! decodebin ! audioconvert ! audio/x-raw,format=S16LE ! tee name=t \
         t. ! queue ! wavenc ! filesink location={} t. ! queue ! dfddetect ! fakesink",
        webm.display(),
        decoded.display()
    ));
    check_against_scan(&msgs, &decoded);
}

/// The receive side of a call: RTP/PCMU from the VoIP tests' sender
/// (GStreamer's payloader, 20 ms packets, in real time) through the jitter
/// buffer and the G.711 decoder into the element.
#[test]
fn rtp_pcmu_receive_pipeline() {
    let gst = Gst::new();
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let received = gst.path("received.wav");
    let pipeline = format!(
        "udpsrc address=127.0.0.1 port={port} \
         caps=application/x-rtp,media=audio,clock-rate=8000,encoding-name=PCMU,payload=0 \
         ! rtpjitterbuffer ! rtppcmudepay ! mulawdec ! tee name=t \
         t. ! queue ! wavenc ! filesink location={} t. ! queue ! dfddetect ! fakesink",
        received.display()
    );
    let mut receiver = gst
        .cmd("gst-launch-1.0")
        .args(["-m", "-e"])
        .args(pipeline.split_whitespace())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Its output, read by a thread; the sender starts once it is PLAYING.
    let (playing_tx, playing_rx) = std::sync::mpsc::channel();
    let stdout = receiver.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            if line.contains("Setting pipeline to PLAYING") {
                let _ = playing_tx.send(());
            }
            text.push_str(&line);
            text.push('\n');
        }
        text
    });
    playing_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the receiver never reached PLAYING");
    let clip = sample("synthetic_piper_joe.wav");
    let sender = gst
        .cmd("gst-launch-1.0")
        .arg("-q")
        .args(
            format!(
                "filesrc location={} ! wavparse ! audioconvert ! audioresample \
                 ! audio/x-raw,rate=8000,channels=1 ! mulawenc \
                 ! rtppcmupay min-ptime=20000000 max-ptime=20000000 \
                 ! udpsink host=127.0.0.1 port={port}",
                clip.display()
            )
            .split_whitespace(),
        )
        .status()
        .unwrap();
    assert!(sender.success());
    std::thread::sleep(Duration::from_millis(500));
    // -e: SIGINT sends EOS down the pipeline; the element scores the tail.
    let kill = Command::new("kill")
        .args(["-INT", &receiver.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = receiver.wait_with_output().unwrap();
    let text = reader.join().unwrap();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let msgs = Messages::parse(&text);
    assert_eq!(check_against_scan(&msgs, &received), "synthetic");
    let seconds = num(msgs.last(), "seconds");
    let len =
        hound::WavReader::open(&clip).map(|r| r.duration() as f64 / r.spec().sample_rate as f64);
    assert!((seconds - len.unwrap()).abs() < 0.1, "{seconds} s received");
}

#[test]
fn bad_settings_are_gstreamer_errors() {
    let gst = Gst::new();
    for (props, want) in [
        ("model=/nonexistent/model.onnx", "cannot load the model"),
        ("model=builtin:wideband", "no built-in model"),
        ("backend=nosuchbackend", "cannot load the model"),
        ("backend=Not-A-Name", "invalid backend name"),
        ("precision=fp8", "unknown precision"),
    ] {
        let out = gst.launch_raw(&format!(
            "filesrc location={} ! decodebin ! audioconvert ! dfddetect {props} ! fakesink",
            sample("bonafide_fr_june.wav").display()
        ));
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // The element's error message and a failing exit code, never a signal.
        assert!(
            matches!(out.status.code(), Some(c) if c != 0),
            "{props}: {:?} {text}",
            out.status
        );
        assert!(
            text.contains("dfddetect0") && text.contains(want),
            "{props}: {text}"
        );
    }
}
