//! Soak: one stream fed an hour of audio (default: 3600 s) as a live call
//! delivers it, 20 ms packets of 48 kHz stereo 16-bit PCM (resampled to the
//! model's rate), windows read as they come, the stream score read every
//! second. The process's resident memory is sampled every 5 minutes of
//! audio: a leak or an unbounded buffer shows as growth after warm-up. A
//! measurement, not a timed test.
//!
//! Run: `cargo build --release --workspace --benches && cargo bench --workspace --bench soak`
//! (`--workspace` keeps the release build's feature set: nothing rebuilds)
//! (`DFD_SOAK_SECONDS` changes the audio length).

#[path = "common.rs"]
mod common;

use std::time::Instant;

const RATE: usize = 48_000;
const CHANNELS: usize = 2;
const PACKET: usize = RATE / 50;
const SAMPLE_EVERY: usize = 300;

/// Resident set size of this process, in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn main() {
    // `cargo bench` passes --bench; nothing else is read from the arguments.
    let seconds: usize = std::env::var("DFD_SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3600);
    let model = common::load("fp32");
    // The 16 kHz speech fixture, looped, stands in for a 48 kHz call: what
    // is measured is the stream's memory over time, not what it detects.
    let speech = common::wav_i16("tests/fixtures/audio/speech_16k.wav");
    let mut stream = dfd::Stream::new(&model, RATE as u32, CHANNELS as u32).unwrap();
    let mut packet = vec![0i16; PACKET * CHANNELS];
    let (mut at, mut windows) = (0usize, 0u64);
    let started = Instant::now();
    println!("audio_s  rss_kib  windows  wall_s");
    let mut samples = Vec::new();
    for second in 0..seconds {
        for _ in 0..50 {
            for frame in packet.chunks_exact_mut(CHANNELS) {
                // Each clip sample held three frames (16 kHz -> 48 kHz), the
                // right channel slightly quieter.
                let s = speech[(at / 3) % speech.len()];
                frame[0] = s;
                frame[1] = s - s / 8;
                at += 1;
            }
            stream.push_i16(&packet).unwrap();
            while stream.next_window().is_some() {
                windows += 1;
            }
        }
        let score = stream.score();
        assert!((0.0..=1.0).contains(&score.p_fake));
        if (second + 1) % SAMPLE_EVERY == 0 || second == 0 {
            let rss = rss_kib();
            samples.push(rss);
            println!(
                "{:7}  {rss:7}  {windows:7}  {:6.1}",
                second + 1,
                started.elapsed().as_secs_f64()
            );
        }
    }
    stream.flush().unwrap();
    let score = stream.score();
    let wall = started.elapsed().as_secs_f64();
    let after_warmup = samples.get(1).copied().unwrap_or(samples[0]);
    let (min, max) = samples[1.min(samples.len() - 1)..]
        .iter()
        .fold((u64::MAX, 0), |(lo, hi), &r| (lo.min(r), hi.max(r)));
    println!(
        "soak: {seconds} s of audio in {wall:.0} s ({:.0}x real time), {} windows scored, {} dropped unread, p_fake {:.3}",
        seconds as f64 / wall,
        score.windows,
        score.windows_dropped,
        score.p_fake
    );
    println!(
        "soak: RSS after {SAMPLE_EVERY} s {after_warmup} KiB, then min {min} KiB, max {max} KiB, at the end {} KiB (growth {} KiB)",
        samples[samples.len() - 1],
        max.saturating_sub(after_warmup)
    );
}
