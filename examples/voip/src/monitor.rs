//! The monitor: one jitter buffer and one dfd stream per SSRC, fed from
//! RTP datagrams; reports when a call's verdict changes and when it ends.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use dfd::model::Builtin;
use dfd::{Model, Stream, Verdict};
use rtp_types::RtpPacket;
use serde_json::json;

use crate::jitter::{self, JitterBuffer, Packet, Release};
use crate::payload::{Format, PayloadDecoder, PayloadMap};

#[derive(Debug, Clone)]
pub struct Options {
    pub payloads: PayloadMap,
    /// A call with no packet for this long has ended.
    pub idle: Duration,
    /// Jitter buffer: packets held and time waited for a missing packet.
    pub depth: usize,
    pub latency: Duration,
}

/// Counters of datagrams that belong to no call.
#[derive(Debug, Default, Clone, Copy)]
pub struct Ignored {
    /// Not RTP version 2, or truncated.
    pub malformed: u64,
    /// RTCP multiplexed on the port (RFC 5761 payload types 72-76).
    pub rtcp: u64,
    /// A payload type with no mapping (`--pt`).
    pub unknown_pt: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// The call's verdict changed (also the first verdict).
    Verdict,
    /// The call ended (idle timeout or shutdown); its stream was flushed.
    End,
}

/// A call's state at an event.
#[derive(Debug, Clone)]
pub struct Event {
    pub kind: EventKind,
    pub ssrc: u32,
    pub peer: SocketAddr,
    pub format: Format,
    pub pt: u8,
    /// Seconds since the call's first packet.
    pub at: f64,
    pub score: dfd::Score,
    pub jitter: jitter::Stats,
    /// Packets dropped because their payload type changed to another format.
    pub other_format: u64,
    /// Why the call ended (`End` only): "idle" or "shutdown".
    pub reason: &'static str,
    /// The name of the model scoring the call.
    pub model: String,
}

pub fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Unknown => "unknown",
        Verdict::Bonafide => "bonafide",
        Verdict::Synthetic => "synthetic",
    }
}

impl Event {
    pub fn to_json(&self) -> serde_json::Value {
        let s = &self.score;
        let j = &self.jitter;
        json!({
            "event": match self.kind { EventKind::Verdict => "verdict", EventKind::End => "end" },
            "ssrc": self.ssrc,
            "peer": self.peer.to_string(),
            "pt": self.pt,
            "codec": self.format.to_string(),
            "model": self.model,
            "at": self.at,
            "verdict": verdict_name(s.verdict),
            "p_fake": s.p_fake,
            "last_p_fake": s.last_p_fake,
            "windows": s.windows,
            "seconds": s.seconds,
            "speech_seconds": s.speech_seconds,
            "packets": j.received,
            "played": j.played,
            "lost": j.lost,
            "late": j.late,
            "duplicates": j.duplicates,
            "reordered": j.reordered,
            "resyncs": j.resyncs,
            "concealed_seconds": j.concealed_frames as f64 / f64::from(self.format.rate),
            "other_format": self.other_format,
            "reason": if self.kind == EventKind::End { Some(self.reason) } else { None },
        })
    }

    pub fn to_line(&self) -> String {
        let s = &self.score;
        let j = &self.jitter;
        let what = match self.kind {
            EventKind::Verdict => "verdict".to_string(),
            EventKind::End => format!("end ({})", self.reason),
        };
        format!(
            "ssrc={:#010x} {} {} {what}: {} p_fake={:.3} (last {:.3}, {} windows, {:.1} s audio) at {:.1} s; packets {} lost {} late {} dup {} reordered {}",
            self.ssrc,
            self.peer,
            self.format,
            verdict_name(s.verdict),
            s.p_fake,
            s.last_p_fake,
            s.windows,
            s.seconds,
            self.at,
            j.received,
            j.lost,
            j.late,
            j.duplicates,
            j.reordered,
        )
    }
}

/// The models a monitor scores with: calls whose payload runs at 8 kHz or
/// less get `narrowband` (by default the built-in telephone model), wider
/// ones `wideband`.
#[derive(Clone)]
pub struct Models {
    pub narrowband: Model,
    pub wideband: Model,
}

impl Models {
    /// One model for every payload.
    pub fn single(model: Model) -> Models {
        Models {
            narrowband: model.clone(),
            wideband: model,
        }
    }

    pub fn for_rate(&self, rate: u32) -> &Model {
        match Builtin::for_rate(rate) {
            Builtin::Telephone => &self.narrowband,
            Builtin::Default => &self.wideband,
        }
    }
}

struct Call {
    peer: SocketAddr,
    pt: u8,
    format: Format,
    stream: Stream,
    jb: JitterBuffer,
    first_seen: Instant,
    last_seen: Instant,
    reported: Verdict,
    other_format: u64,
    decoder: PayloadDecoder,
    /// Decoded (or concealed) samples of the release being played.
    pcm: Vec<f32>,
}

pub struct Monitor {
    models: Models,
    opts: Options,
    calls: HashMap<u32, Call>,
    pub ignored: Ignored,
    /// Payload types already warned about.
    warned_pt: Vec<u8>,
}

impl Monitor {
    pub fn new(models: Models, opts: Options) -> Monitor {
        Monitor {
            models,
            opts,
            calls: HashMap::new(),
            ignored: Ignored::default(),
            warned_pt: Vec::new(),
        }
    }

    pub fn active_calls(&self) -> usize {
        self.calls.len()
    }

    /// Takes one UDP datagram received at `now` and scores whatever audio
    /// it makes due.
    pub fn datagram(&mut self, data: &[u8], peer: SocketAddr, now: Instant) -> Vec<Event> {
        let mut events = Vec::new();
        let rtp = match RtpPacket::parse(data) {
            Ok(p) => p,
            Err(_) => {
                self.ignored.malformed += 1;
                return events;
            }
        };
        let pt = rtp.payload_type();
        if (72..=76).contains(&pt) {
            self.ignored.rtcp += 1;
            return events;
        }
        let Some(format) = self.opts.payloads.get(pt) else {
            self.ignored.unknown_pt += 1;
            if !self.warned_pt.contains(&pt) {
                self.warned_pt.push(pt);
                eprintln!(
                    "dfd-voip-monitor: payload type {pt} from {peer} has no mapping (add --pt {pt}=ENC/RATE/CH); ignoring it"
                );
            }
            return events;
        };
        let ssrc = rtp.ssrc();
        if !self.calls.contains_key(&ssrc) {
            let opened = Stream::new(
                self.models.for_rate(format.rate),
                format.rate,
                format.channels,
            )
            .map_err(|e| e.to_string())
            .and_then(|s| Ok((s, PayloadDecoder::new(format)?)));
            let (stream, decoder) = match opened {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("dfd-voip-monitor: ssrc {ssrc:#010x}: cannot open a stream for {format}: {e}");
                    self.ignored.unknown_pt += 1;
                    return events;
                }
            };
            let jb = JitterBuffer::new(jitter::Config {
                depth: self.opts.depth,
                latency: self.opts.latency,
                max_gap_frames: format.rate as usize,
            });
            self.calls.insert(
                ssrc,
                Call {
                    peer,
                    pt,
                    format,
                    stream,
                    jb,
                    first_seen: now,
                    last_seen: now,
                    reported: Verdict::Unknown,
                    other_format: 0,
                    decoder,
                    pcm: Vec::new(),
                },
            );
        }
        let call = self.calls.get_mut(&ssrc).expect("inserted above");
        call.last_seen = now;
        if format != call.format {
            call.other_format += 1;
            return events;
        }
        call.jb.insert(
            Packet {
                seq: rtp.sequence_number(),
                timestamp: rtp.timestamp(),
                frames: call.decoder.frames(rtp.payload()),
                payload: rtp.payload().to_vec(),
            },
            now,
        );
        call.play(ssrc, now, false, &mut events);
        events
    }

    /// Releases audio whose wait is over and ends calls idle for longer
    /// than the timeout. Call it regularly (every few tens of ms).
    pub fn tick(&mut self, now: Instant) -> Vec<Event> {
        let mut events = Vec::new();
        for (&ssrc, call) in self.calls.iter_mut() {
            call.play(ssrc, now, false, &mut events);
        }
        let idle: Vec<u32> = self
            .calls
            .iter()
            .filter(|(_, c)| now.saturating_duration_since(c.last_seen) >= self.opts.idle)
            .map(|(&s, _)| s)
            .collect();
        for ssrc in idle {
            self.end(ssrc, now, "idle", &mut events);
        }
        events
    }

    /// Ends every call (shutdown).
    pub fn finish(&mut self, now: Instant) -> Vec<Event> {
        let mut events = Vec::new();
        let mut ssrcs: Vec<u32> = self.calls.keys().copied().collect();
        ssrcs.sort_unstable();
        for ssrc in ssrcs {
            self.end(ssrc, now, "shutdown", &mut events);
        }
        events
    }

    fn end(&mut self, ssrc: u32, now: Instant, reason: &'static str, events: &mut Vec<Event>) {
        let Some(mut call) = self.calls.remove(&ssrc) else {
            return;
        };
        call.play(ssrc, now, true, events);
        if let Err(e) = call.stream.flush() {
            eprintln!("dfd-voip-monitor: ssrc {ssrc:#010x}: {e}");
        }
        call.check_verdict(ssrc, now, events);
        events.push(call.event(EventKind::End, ssrc, now, reason));
    }
}

impl Call {
    /// Pushes the audio the jitter buffer releases (all of it when
    /// `drain`) into the stream.
    fn play(&mut self, ssrc: u32, now: Instant, drain: bool, events: &mut Vec<Event>) {
        let released: Vec<Release> = if drain {
            self.jb.drain(now)
        } else {
            std::iter::from_fn(|| self.jb.pop(now)).collect()
        };
        if released.is_empty() {
            return;
        }
        for r in released {
            self.pcm.clear();
            match r {
                Release::Audio(p) => self.decoder.decode(&p.payload, &mut self.pcm),
                Release::Gap { frames, .. } => self.decoder.conceal(frames, &mut self.pcm),
            }
            if self.pcm.is_empty() {
                continue;
            }
            if let Err(e) = self.stream.push(&self.pcm) {
                eprintln!("dfd-voip-monitor: ssrc {ssrc:#010x}: {e}");
            }
        }
        self.check_verdict(ssrc, now, events);
    }

    fn check_verdict(&mut self, ssrc: u32, now: Instant, events: &mut Vec<Event>) {
        let v = self.stream.score().verdict;
        if v != self.reported && v != Verdict::Unknown {
            self.reported = v;
            events.push(self.event(EventKind::Verdict, ssrc, now, ""));
        }
    }

    fn event(&self, kind: EventKind, ssrc: u32, now: Instant, reason: &'static str) -> Event {
        Event {
            kind,
            ssrc,
            peer: self.peer,
            format: self.format,
            pt: self.pt,
            at: now.saturating_duration_since(self.first_seen).as_secs_f64(),
            score: self.stream.score(),
            jitter: self.jb.stats(),
            other_format: self.other_format,
            reason,
            model: self.stream.model().manifest().name.clone(),
        }
    }
}
