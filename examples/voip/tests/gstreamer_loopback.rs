//! End to end on loopback: GStreamer's RTP payloaders (`gst-launch-1.0`,
//! a sender not written here) stream the two sample clips in real time to
//! the monitor, each as its own SSRC and both at once, over PCMU, PCMA,
//! L16 16 kHz mono (dynamic PT 96), L16 44.1 kHz stereo (static PT 10) and
//! Opus (`opusenc ! rtpopuspay`, dynamic PT 111 mapped as in SDP,
//! `opus/48000/2`).
//! The monitor must end both calls with the right verdict, account for
//! every packet, and run the --on-synthetic hook for the synthetic call
//! only.
//!
//! Needs gst-launch-1.0 with the base and good plugins (Debian:
//! gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good);
//! without it these tests fail, they do not skip.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::*;

/// The payloading part of a gst-launch pipeline and the --pt mapping.
struct Codec {
    name: &'static str,
    pipeline: &'static str,
    pt_map: Option<&'static str>,
}

impl Codec {
    /// The model the monitor must pick: the telephone model at 8 kHz.
    fn model(&self) -> &'static str {
        if matches!(self.name, "PCMU" | "PCMA") {
            "dfd-lfb-cnn-tel-v2"
        } else {
            "dfd-lfb-cnn-v2"
        }
    }
}

/// 20 ms packets, as VoIP endpoints send them (GStreamer's default is
/// MTU-sized packets).
const PTIME: &str = "min-ptime=20000000 max-ptime=20000000";

fn run_codec(codec: &Codec) {
    // Codec names hold '/' ("L16/16000/1"): not in a file name.
    let hook_log = std::env::temp_dir().join(format!(
        "dfd-voip-hook-{}-{}.log",
        codec.name.replace('/', "_"),
        std::process::id()
    ));
    let _ = std::fs::remove_file(&hook_log);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dfd-voip-monitor"));
    cmd.args(["--listen", "127.0.0.1:0", "--json", "--max-calls", "2"])
        .args(["--idle", "2", "--duration", "120"])
        .arg("--plugin-dir")
        .arg(plugin_dir())
        .arg("--on-synthetic")
        .arg(format!(
            "echo \"$SSRC $P_FAKE\" >> '{}'",
            hook_log.display()
        ))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(m) = codec.pt_map {
        cmd.args(["--pt", m]);
    }
    let mut monitor = cmd.spawn().expect("start dfd-voip-monitor");
    let mut stderr = BufReader::new(monitor.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let addr = line
        .split("listening on ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or_else(|| panic!("monitor did not start: {line:?}"))
        .to_string();
    let port = addr.rsplit(':').next().unwrap().to_string();

    // Both calls at once, from two gst-launch processes.
    let senders: Vec<_> = [(BONAFIDE, SSRC_BONAFIDE), (SYNTHETIC, SSRC_SYNTHETIC)]
        .into_iter()
        .map(|(clip, ssrc)| {
            let pipeline = codec
                .pipeline
                .replace("{ssrc}", &ssrc.to_string())
                .replace("{ptime}", PTIME);
            let launch = format!(
                "filesrc location={} ! wavparse ! audioconvert ! audioresample ! {pipeline} ! udpsink host=127.0.0.1 port={port}",
                root().join(clip).display()
            );
            Command::new("gst-launch-1.0")
                .arg("-q")
                .args(launch.split_whitespace())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!(
                        "cannot run gst-launch-1.0 ({e}); install it: apt-get install -y gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good"
                    )
                })
        })
        .collect();
    for mut s in senders {
        let status = s.wait().unwrap();
        assert!(
            status.success(),
            "{}: gst-launch-1.0 failed: {status}",
            codec.name
        );
    }

    let out = monitor.wait_with_output().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert!(out.status.success(), "monitor failed: {rest}");
    let events: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let end = |ssrc: u32| {
        events
            .iter()
            .find(|e| e["event"] == "end" && e["ssrc"] == ssrc)
            .unwrap_or_else(|| panic!("{}: no end event for ssrc {ssrc}: {events:?}", codec.name))
            .clone()
    };
    let (b, s) = (end(SSRC_BONAFIDE), end(SSRC_SYNTHETIC));
    for (e, clip) in [(&b, BONAFIDE), (&s, SYNTHETIC)] {
        eprintln!(
            "{}: {clip}: verdict {} p_fake {:.4} ({} windows, {:.2} s, packets {}, lost {})",
            codec.name,
            e["verdict"],
            e["p_fake"],
            e["windows"],
            e["seconds"],
            e["packets"],
            e["lost"]
        );
        // Every packet arrived, in order, and the whole clip was scored.
        assert_eq!(e["lost"], 0, "{}: {clip}: {e}", codec.name);
        assert_eq!(e["duplicates"], 0, "{}: {clip}: {e}", codec.name);
        assert_eq!(e["packets"], e["played"], "{}: {clip}: {e}", codec.name);
        let secs = e["seconds"].as_f64().unwrap();
        let want = clip_seconds(clip);
        assert!(
            (secs - want).abs() < 0.05,
            "{}: {clip}: {secs} s received, the clip is {want} s",
            codec.name
        );
        assert_eq!(e["reason"], "idle");
        assert_eq!(e["model"], codec.model(), "{}: {clip}: {e}", codec.name);
    }
    assert_eq!(b["verdict"], "bonafide", "{}: {b}", codec.name);
    assert_eq!(s["verdict"], "synthetic", "{}: {s}", codec.name);
    // The hook ran for the synthetic call only.
    let hooks = std::fs::read_to_string(&hook_log).unwrap_or_default();
    let _ = std::fs::remove_file(&hook_log);
    let hooked: Vec<&str> = hooks.lines().filter_map(|l| l.split(' ').next()).collect();
    assert!(
        hooked.contains(&SSRC_SYNTHETIC.to_string().as_str()),
        "{}: hook log {hooks:?}",
        codec.name
    );
    assert!(
        !hooked.contains(&SSRC_BONAFIDE.to_string().as_str()),
        "{}: hook ran for the bona fide call: {hooks:?}",
        codec.name
    );
}

#[test]
fn pcmu_8k() {
    run_codec(&Codec {
        name: "PCMU",
        pipeline: "audio/x-raw,rate=8000,channels=1 ! mulawenc ! rtppcmupay ssrc={ssrc} {ptime}",
        pt_map: None,
    });
}

#[test]
fn pcma_8k() {
    run_codec(&Codec {
        name: "PCMA",
        pipeline: "audio/x-raw,rate=8000,channels=1 ! alawenc ! rtppcmapay ssrc={ssrc} {ptime}",
        pt_map: None,
    });
}

#[test]
fn l16_16k_mono_dynamic_pt() {
    run_codec(&Codec {
        name: "L16/16000/1",
        pipeline:
            "audio/x-raw,format=S16BE,rate=16000,channels=1 ! rtpL16pay pt=96 ssrc={ssrc} {ptime}",
        pt_map: Some("96=L16/16000/1"),
    });
}

#[test]
fn l16_44k1_stereo_static_pt() {
    run_codec(&Codec {
        name: "L16/44100/2",
        pipeline:
            "audio/x-raw,format=S16BE,rate=44100,channels=2 ! rtpL16pay pt=10 ssrc={ssrc} {ptime}",
        pt_map: None,
    });
}

#[test]
fn opus_dynamic_pt() {
    run_codec(&Codec {
        name: "opus/48000/2",
        pipeline:
            "audio/x-raw,rate=48000,channels=2 ! opusenc ! rtpopuspay pt=111 ssrc={ssrc} {ptime}",
        pt_map: Some("111=opus/48000/2"),
    });
}
