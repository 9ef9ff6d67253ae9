//! The monitor under network impairments, through its library API with
//! simulated arrival times: the sample clips packetised as 20 ms RTP, L16
//! and Opus (encoded here by libopus at 48 kHz), sequence numbers wrapping
//! through 65535, two calls interleaved on one port, then reordered,
//! duplicated, lost and late packets.
//!
//! What must hold: reordering and duplicates change nothing (scores equal
//! the clean run bit for bit); every dropped packet is counted lost and
//! concealed with exactly its length (silence for L16, libopus's
//! packet-loss concealment for Opus), so the call keeps its timeline; a
//! packet that arrives after its slot was given up is counted late, not
//! played; each call keeps its verdict.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use dfd::{Model, ModelOptions, Verdict};
use dfd_voip_monitor::jitter::Stats;
use dfd_voip_monitor::monitor::{Event, EventKind, Models, Monitor, Options};
use dfd_voip_monitor::payload::PayloadMap;

use common::*;

const PTIME_MS: u64 = 20;
/// First sequence number: the 16-bit counter wraps a few packets in.
const SEQ0: u16 = 65_500;

/// One call: its SSRC, payload type (and its `--pt` mapping), RTP packets
/// in send order, and the seconds of audio they carry.
struct Call {
    clip: &'static str,
    ssrc: u32,
    pt: u8,
    rtpmap: String,
    frames_per_packet: usize,
    packets: Vec<Vec<u8>>,
    seconds: f64,
}

#[derive(Debug, Clone, Copy)]
enum Codec {
    /// At the clip's own rate, mono.
    L16,
    /// At 48 kHz (the clip resampled by libsoxr), mono, as `opus/48000/2`.
    Opus,
}

fn rtp(pt: u8, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(12 + payload.len());
    p.extend([0x80, pt]);
    p.extend(seq.to_be_bytes());
    p.extend(ts.to_be_bytes());
    p.extend(ssrc.to_be_bytes());
    p.extend(payload);
    p
}

/// The clip's payloads, 20 ms each, and their rate and rtpmap encoding.
fn payloads(clip: &str, codec: Codec) -> (Vec<Vec<u8>>, u32, &'static str) {
    let r = hound::WavReader::open(root().join(clip)).unwrap();
    let spec = r.spec();
    assert_eq!(spec.channels, 1);
    let pcm: Vec<i16> = r.into_samples::<i16>().map(Result::unwrap).collect();
    match codec {
        Codec::L16 => {
            let n = (spec.sample_rate as u64 * PTIME_MS / 1000) as usize;
            let payloads = pcm
                .chunks(n)
                .map(|c| c.iter().flat_map(|s| s.to_be_bytes()).collect())
                .collect();
            (payloads, spec.sample_rate, "L16")
        }
        Codec::Opus => {
            let x: Vec<f32> = pcm.iter().map(|&s| f32::from(s) / 32768.0).collect();
            let y = to_48k(&x, spec.sample_rate);
            let n = (48_000 * PTIME_MS / 1000) as usize;
            let mut encoder = opusic_c::Encoder::new(
                opusic_c::Channels::Mono,
                opusic_c::SampleRate::Hz48000,
                opusic_c::Application::Voip,
            )
            .unwrap();
            let payloads = y
                .chunks(n)
                .map(|c| {
                    let mut frame = c.to_vec();
                    frame.resize(n, 0.0); // the last packet is padded
                    let mut out = Vec::with_capacity(1500);
                    encoder.encode_float_to_vec(&frame, &mut out).unwrap();
                    out
                })
                .collect();
            (payloads, 48_000, "opus")
        }
    }
}

/// Mono `x` at `rate` resampled to 48 kHz by libsoxr (the resampler
/// libdfd itself uses, already built: no second resampler to depend on).
fn to_48k(x: &[f32], rate: u32) -> Vec<f32> {
    let mut y = vec![0f32; x.len() * 48_000 / rate as usize + 1];
    let mut done = 0;
    // SAFETY: the lengths are the buffers'; NULL specs are libsoxr's
    // defaults (float32 in and out, high quality).
    let error = unsafe {
        soxr_sys::soxr_oneshot(
            f64::from(rate),
            48_000.0,
            1,
            x.as_ptr().cast(),
            x.len(),
            std::ptr::null_mut(),
            y.as_mut_ptr().cast(),
            y.len(),
            &mut done,
            std::ptr::null(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert!(error.is_null(), "soxr_oneshot failed");
    y.truncate(done);
    y
}

fn call(clip: &'static str, ssrc: u32, pt: u8, codec: Codec) -> Call {
    let (payloads, rate, encoding) = payloads(clip, codec);
    let n = (u64::from(rate) * PTIME_MS / 1000) as usize;
    let ts0 = 0xFFFF_0000u32 ^ ssrc; // any start; wraps for one of them
    let seconds = match codec {
        Codec::L16 => clip_seconds(clip),
        Codec::Opus => (payloads.len() * n) as f64 / f64::from(rate),
    };
    let channels = match codec {
        Codec::L16 => 1,
        Codec::Opus => 2,
    };
    let packets = payloads
        .iter()
        .enumerate()
        .map(|(i, p)| {
            rtp(
                pt,
                SEQ0.wrapping_add(i as u16),
                ts0.wrapping_add((i * n) as u32),
                ssrc,
                p,
            )
        })
        .collect();
    Call {
        clip,
        ssrc,
        pt,
        rtpmap: format!("{pt}={encoding}/{rate}/{channels}"),
        frames_per_packet: n,
        packets,
        seconds,
    }
}

/// Deterministic xorshift, so a failure replays.
struct Rng(u64);
impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// What the network does to one call's packets: (arrival slot, packet
/// index) pairs, slots in units of one packet time.
#[derive(Clone, Copy)]
struct Impairment {
    /// Percent of packets swapped with their successor.
    reorder: u64,
    /// Percent of packets sent twice (the copy a few slots later).
    duplicate: u64,
    /// Percent of packets dropped (never the first or last).
    drop: u64,
    /// Packet indices that arrive this many slots late.
    late: &'static [(usize, usize)],
}

const CLEAN: Impairment = Impairment {
    reorder: 0,
    duplicate: 0,
    drop: 0,
    late: &[],
};

/// Arrival schedule and the counts the monitor must report.
struct Schedule {
    arrivals: Vec<(usize, usize)>,
    dropped: Vec<usize>,
    duplicated: usize,
    reordered: usize,
}

fn schedule(n: usize, imp: Impairment, rng: &mut Rng) -> Schedule {
    // Only full-length packets go missing: never the (shorter) last one.
    assert!(imp.late.iter().all(|(p, _)| p + 1 < n));
    let mut order: Vec<usize> = (0..n).collect();
    let mut swapped = 0;
    let mut i = 1;
    while i + 2 < n {
        if rng.chance(imp.reorder) {
            order.swap(i, i + 1);
            swapped += 1;
            i += 2;
        } else {
            i += 1;
        }
    }
    let mut arrivals = Vec::new();
    let mut dropped = Vec::new();
    let mut duplicated = 0;
    for (slot, &p) in order.iter().enumerate() {
        if p != 0 && p != n - 1 && rng.chance(imp.drop) {
            dropped.push(p);
            continue;
        }
        let delay = imp
            .late
            .iter()
            .find(|(q, _)| *q == p)
            .map_or(0, |(_, d)| *d);
        arrivals.push((slot + delay, p));
        // (A copy of a late packet would be late too: keep counts simple.)
        if delay == 0 && rng.chance(imp.duplicate) {
            arrivals.push((slot + delay + 3, p));
            duplicated += 1;
        }
    }
    arrivals.sort_by_key(|(slot, _)| *slot); // stable: same-slot order kept
                                             // Reordered: a first arrival (not a copy, not a packet given up as
                                             // late) below the highest index already seen.
    let mut seen = vec![false; n];
    let mut top = None;
    let mut reordered = 0;
    for &(_, p) in &arrivals {
        let first = !std::mem::replace(&mut seen[p], true);
        let late = imp.late.iter().any(|(q, _)| *q == p);
        if first && !late && top.is_some_and(|t| p < t) {
            reordered += 1;
        }
        top = top.max(Some(p));
    }
    assert_eq!(swapped > 0, reordered > 0, "the schedule reorders");
    Schedule {
        arrivals,
        dropped,
        duplicated,
        reordered,
    }
}

fn model() -> Model {
    Model::load_builtin(&ModelOptions {
        backend: "cpu".parse().unwrap(),
        precision: "fp32".parse().unwrap(),
        threads: 1,
        plugin_dir: Some(plugin_dir()),
    })
    .unwrap()
}

/// Plays both calls through one monitor with the given impairments and
/// returns each call's end event, after checking the accounting.
fn run(model: &Model, calls: &[Call], imp: Impairment, seed: u64) -> Vec<Event> {
    let mut payloads = PayloadMap::default();
    for c in calls {
        payloads.add(&c.rtpmap).unwrap();
    }
    let mut monitor = Monitor::new(
        Models::single(model.clone()),
        Options {
            payloads,
            idle: Duration::from_secs(2),
            depth: 8,
            latency: Duration::from_millis(120),
        },
    );
    let peer: SocketAddr = "192.0.2.7:40000".parse().unwrap();
    let mut rng = Rng::new(seed);
    let schedules: Vec<Schedule> = calls
        .iter()
        .map(|c| schedule(c.packets.len(), imp, &mut rng))
        .collect();
    // Both calls on one port, interleaved slot by slot.
    let mut timeline: Vec<(usize, usize, usize)> = schedules
        .iter()
        .enumerate()
        .flat_map(|(c, s)| s.arrivals.iter().map(move |&(slot, p)| (slot, c, p)))
        .collect();
    timeline.sort_by_key(|&(slot, c, _)| (slot, c));
    let t0 = Instant::now();
    let at = |slot: usize| t0 + Duration::from_millis(PTIME_MS * slot as u64);
    let mut events = Vec::new();
    let mut last = 0;
    for &(slot, c, p) in &timeline {
        events.extend(monitor.datagram(&calls[c].packets[p], peer, at(slot)));
        events.extend(monitor.tick(at(slot)));
        last = slot;
    }
    events.extend(monitor.tick(at(last) + Duration::from_secs(3)));
    assert_eq!(monitor.active_calls(), 0, "idle calls must end");
    assert_eq!(monitor.ignored.malformed + monitor.ignored.unknown_pt, 0);

    calls
        .iter()
        .zip(&schedules)
        .map(|(c, s)| {
            let end: Vec<&Event> = events
                .iter()
                .filter(|e| e.ssrc == c.ssrc && e.kind == EventKind::End)
                .collect();
            assert_eq!(end.len(), 1, "{}: one end event", c.clip);
            let e = end[0].clone();
            assert_eq!(e.reason, "idle");
            assert_eq!(e.pt, c.pt);
            let j: Stats = e.jitter;
            let sent = c.packets.len() as u64;
            let dropped = s.dropped.len() as u64;
            let late = imp.late.len() as u64;
            assert_eq!(
                j.received,
                sent - dropped + s.duplicated as u64,
                "{}: {j:?}",
                c.clip
            );
            assert_eq!(j.duplicates, s.duplicated as u64, "{}: {j:?}", c.clip);
            assert_eq!(j.late, late, "{}: {j:?}", c.clip);
            assert_eq!(j.lost, dropped + late, "{}: {j:?}", c.clip);
            assert_eq!(j.played, sent - dropped - late, "{}: {j:?}", c.clip);
            assert_eq!(j.reordered, s.reordered as u64, "{}: {j:?}", c.clip);
            // Concealment: every missing packet (all full 20 ms ones)
            // replaced by exactly its length, so the call keeps its length.
            let missing = (s.dropped.len() + imp.late.len()) as u64;
            assert_eq!(
                j.concealed_frames,
                missing * c.frames_per_packet as u64,
                "{}: {j:?}",
                c.clip
            );
            let secs = e.score.seconds;
            let want = c.seconds;
            assert!(
                (secs - want).abs() < 1e-3,
                "{}: {secs} s scored, the clip is {want} s",
                c.clip
            );
            e
        })
        .collect()
}

#[test]
fn reordering_duplicates_loss_and_late_packets() {
    impairments(Codec::L16);
}

#[test]
fn opus_reordering_duplicates_loss_and_late_packets() {
    impairments(Codec::Opus);
}

fn impairments(codec: Codec) {
    let model = model();
    let calls = [
        call(BONAFIDE, SSRC_BONAFIDE, 96, codec),
        call(SYNTHETIC, SSRC_SYNTHETIC, 97, codec),
    ];

    let clean = run(&model, &calls, CLEAN, 1);
    assert_eq!(
        clean[0].score.verdict,
        Verdict::Bonafide,
        "{:?}",
        clean[0].score
    );
    assert_eq!(
        clean[1].score.verdict,
        Verdict::Synthetic,
        "{:?}",
        clean[1].score
    );

    // Reordering and duplicates within the jitter buffer's depth: the
    // audio handed to libdfd is the same, so the scores are identical.
    let shuffled = Impairment {
        reorder: 15,
        duplicate: 5,
        ..CLEAN
    };
    let got = run(&model, &calls, shuffled, 7);
    for (g, c) in got.iter().zip(&clean) {
        assert!(
            g.jitter.reordered > 0 && g.jitter.duplicates > 0,
            "{:?}",
            g.jitter
        );
        assert_eq!(g.score.p_fake, c.score.p_fake, "ssrc {:#x}", g.ssrc);
        assert_eq!(g.score.windows, c.score.windows);
        assert_eq!(g.score.verdict, c.score.verdict);
    }

    // 3 % loss, plus one packet of each call arriving 20 packet times late
    // (far past the 8-packet, 120 ms buffer): counted, concealed, and the
    // verdicts hold.
    let lossy = Impairment {
        reorder: 10,
        duplicate: 3,
        drop: 3,
        late: &[(40, 20)],
    };
    let got = run(&model, &calls, lossy, 11);
    for (g, c) in got.iter().zip(&clean) {
        assert!(g.jitter.lost > 1, "{:?}", g.jitter);
        assert_eq!(g.score.windows, c.score.windows, "ssrc {:#x}", g.ssrc);
        assert_eq!(
            g.score.verdict, c.score.verdict,
            "ssrc {:#x}: {:?}",
            g.ssrc, g.score
        );
        assert!(
            (g.score.p_fake - c.score.p_fake).abs() < 0.2,
            "ssrc {:#x}: p_fake {} with loss, {} clean",
            g.ssrc,
            g.score.p_fake,
            c.score.p_fake
        );
    }
}
