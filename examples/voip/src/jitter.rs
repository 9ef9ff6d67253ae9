//! A jitter buffer for one RTP stream (one SSRC): puts packets back in
//! sequence-number order (16-bit numbers that wrap), drops duplicates and
//! packets that arrive after their slot was given up, and marks the gap of
//! lost packets with its length (from the RTP timestamps), so that the
//! audio played keeps the sender's timeline: the player fills it (silence,
//! or the codec's own concealment).
//!
//! A missing packet is waited for until `depth` newer packets are held or
//! the oldest held packet has waited `latency`; then its slot is declared
//! lost. Times are passed in, so the buffer is deterministic under test.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

/// A packet further ahead than this (in sequence numbers) or further
/// behind than `MAX_MISORDER` is taken as a sender restart (RFC 3550,
/// appendix A.1): the buffer starts over from it.
const MAX_DROPOUT: u64 = 3000;
const MAX_MISORDER: u64 = 100;
/// Lost sequence numbers remembered, to tell a late packet from a duplicate.
const LOST_MEMORY: usize = 512;

#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// Newer packets held at most while waiting for a missing one.
    pub depth: usize,
    /// Longest a held packet waits for a missing predecessor.
    pub latency: Duration,
    /// Most silence inserted for one gap, in frames (a sender that jumps
    /// its timestamp by minutes gets this much, not minutes).
    pub max_gap_frames: usize,
}

/// One received packet. Its payload is decoded when played, in order: a
/// stateful decoder (Opus) must see packets in sequence, and conceal the
/// lost ones where they were.
#[derive(Debug, Clone, PartialEq)]
pub struct Packet {
    pub seq: u16,
    /// RTP timestamp (frames at the payload's clock rate).
    pub timestamp: u32,
    /// Frames the payload holds.
    pub frames: usize,
    pub payload: Vec<u8>,
}

/// What the buffer hands on, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Release {
    Audio(Packet),
    /// The place of `packets` lost packets, `frames` long, to conceal.
    Gap {
        frames: usize,
        packets: u64,
    },
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Packets given to `insert`.
    pub received: u64,
    /// Packets handed on as audio.
    pub played: u64,
    /// Dropped: a copy of this sequence number was held or already played.
    pub duplicates: u64,
    /// Dropped: arrived after its slot had been declared lost.
    pub late: u64,
    /// Sequence numbers declared lost (concealed).
    pub lost: u64,
    /// Frames concealed in place of lost packets.
    pub concealed_frames: u64,
    /// Packets that arrived after a packet with a higher sequence number.
    pub reordered: u64,
    /// Sender restarts (sequence number jumps), see `MAX_DROPOUT`.
    pub resyncs: u64,
}

pub struct JitterBuffer {
    cfg: Config,
    /// Extended (unwrapped) sequence number of the next packet to hand on.
    next: Option<u64>,
    /// Expected timestamp of the next packet.
    next_ts: u32,
    /// Frames of the last played packet (silence length when timestamps
    /// do not tell).
    last_frames: usize,
    /// Highest extended sequence number seen.
    top: u64,
    held: BTreeMap<u64, (Instant, Packet)>,
    /// Handed on before anything held (after a restart).
    ready: VecDeque<Release>,
    lost_recent: VecDeque<u64>,
    stats: Stats,
}

impl JitterBuffer {
    pub fn new(cfg: Config) -> JitterBuffer {
        JitterBuffer {
            cfg,
            next: None,
            next_ts: 0,
            last_frames: 0,
            top: 0,
            held: BTreeMap::new(),
            ready: VecDeque::new(),
            lost_recent: VecDeque::new(),
            stats: Stats::default(),
        }
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Unwraps a 16-bit sequence number to the extended number closest to
    /// the highest seen (starting at 2^32 so that early reordering cannot
    /// go below zero).
    fn extend(&mut self, seq: u16) -> u64 {
        if self.next.is_none() {
            self.top = (1 << 32) | u64::from(seq);
            return self.top;
        }
        let delta = i64::from(seq.wrapping_sub(self.top as u16) as i16);
        (self.top as i64 + delta) as u64
    }

    /// Takes a packet that arrived at `now`.
    pub fn insert(&mut self, packet: Packet, now: Instant) {
        self.stats.received += 1;
        let ext = self.extend(packet.seq);
        let Some(next) = self.next else {
            self.start_at(ext, &packet);
            self.held.insert(ext, (now, packet));
            return;
        };
        if ext > next + MAX_DROPOUT || ext + MAX_MISORDER < next {
            // The sender restarted: hand on what is held, start over here.
            self.stats.resyncs += 1;
            while let Some(r) = self.release(now, true) {
                self.ready.push_back(r);
            }
            self.held.clear();
            self.top = (1 << 32) | u64::from(packet.seq);
            let ext = self.top;
            self.start_at(ext, &packet);
            self.held.insert(ext, (now, packet));
            return;
        }
        if ext < next {
            if self.lost_recent.contains(&ext) {
                self.stats.late += 1;
            } else {
                self.stats.duplicates += 1;
            }
            return;
        }
        if self.held.contains_key(&ext) {
            self.stats.duplicates += 1;
            return;
        }
        if ext < self.top {
            self.stats.reordered += 1;
        }
        self.top = self.top.max(ext);
        self.held.insert(ext, (now, packet));
    }

    fn start_at(&mut self, ext: u64, packet: &Packet) {
        self.next = Some(ext);
        self.next_ts = packet.timestamp;
        self.top = ext;
    }

    /// The next packet or gap that is due at `now`, in order; `None` when
    /// the next slot is still worth waiting for.
    pub fn pop(&mut self, now: Instant) -> Option<Release> {
        self.release(now, false)
    }

    /// Everything held, in order, gaps concealed (the stream has ended).
    pub fn drain(&mut self, now: Instant) -> Vec<Release> {
        std::iter::from_fn(|| self.release(now, true)).collect()
    }

    fn release(&mut self, now: Instant, force: bool) -> Option<Release> {
        if let Some(r) = self.ready.pop_front() {
            return Some(r);
        }
        let next = self.next?;
        if let Some((_, packet)) = self.held.remove(&next) {
            self.next = Some(next + 1);
            self.next_ts = packet.timestamp.wrapping_add(packet.frames as u32);
            self.last_frames = packet.frames;
            self.stats.played += 1;
            return Some(Release::Audio(packet));
        }
        let (&first, (_, packet)) = self.held.iter().next()?;
        let oldest = self.held.values().map(|(t, _)| *t).min()?;
        let overdue = force
            || self.held.len() > self.cfg.depth
            || now.saturating_duration_since(oldest) >= self.cfg.latency;
        if !overdue {
            return None;
        }
        // Slots next..first are lost: silence as long as the timestamps
        // say, or as the packets around the gap.
        let missing = first - next;
        let by_ts = packet.timestamp.wrapping_sub(self.next_ts) as i32;
        let frames = if by_ts > 0 {
            by_ts as usize
        } else {
            missing as usize * self.last_frames.max(packet.frames)
        }
        .min(self.cfg.max_gap_frames);
        self.stats.lost += missing;
        self.stats.concealed_frames += frames as u64;
        for seq in next.max(first.saturating_sub(LOST_MEMORY as u64))..first {
            if self.lost_recent.len() == LOST_MEMORY {
                self.lost_recent.pop_front();
            }
            self.lost_recent.push_back(seq);
        }
        self.next = Some(first);
        self.next_ts = packet.timestamp;
        Some(Release::Gap {
            frames,
            packets: missing,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAMES: usize = 160;

    fn cfg() -> Config {
        Config {
            depth: 4,
            latency: Duration::from_millis(100),
            max_gap_frames: 8000,
        }
    }

    /// Packet `seq` of a 20 ms, 8 kHz stream whose first packet is `seq0`;
    /// its payload bytes all hold `seq` so the order can be read back.
    fn packet(seq: u16, seq0: u16) -> Packet {
        let n = seq.wrapping_sub(seq0) as u32;
        Packet {
            seq,
            timestamp: 1000u32.wrapping_add(n * FRAMES as u32),
            frames: FRAMES,
            payload: vec![seq as u8; FRAMES],
        }
    }

    /// Inserts `seqs` in arrival order (all at `t0`), then drains.
    fn run(seqs: &[u16], seq0: u16) -> (Vec<Release>, Stats) {
        let mut jb = JitterBuffer::new(cfg());
        let t0 = Instant::now();
        let mut out = Vec::new();
        for &s in seqs {
            jb.insert(packet(s, seq0), t0);
            out.extend(std::iter::from_fn(|| jb.pop(t0)));
        }
        out.extend(jb.drain(t0));
        (out, jb.stats())
    }

    /// `Some(seq)` for audio, `None` for one lost packet's silence.
    fn order(out: &[Release]) -> Vec<Option<u16>> {
        out.iter()
            .flat_map(|r| match r {
                Release::Audio(p) => vec![Some(p.seq)],
                Release::Gap { frames, packets } => {
                    assert_eq!(*frames, *packets as usize * FRAMES, "silence length");
                    vec![None; *packets as usize]
                }
            })
            .collect()
    }

    #[test]
    fn reorders_within_the_depth() {
        let (out, st) = run(&[10, 12, 11, 14, 13, 15], 10);
        assert_eq!(order(&out), (10..=15).map(Some).collect::<Vec<_>>());
        assert_eq!(st.reordered, 2);
        assert_eq!((st.lost, st.duplicates, st.late), (0, 0, 0));
        assert_eq!(st.played, 6);
    }

    #[test]
    fn drops_duplicates_held_or_played() {
        let (out, st) = run(&[1, 2, 2, 4, 3, 4, 1, 5], 1);
        assert_eq!(order(&out), (1..=5).map(Some).collect::<Vec<_>>());
        assert_eq!(st.duplicates, 3);
        assert_eq!((st.received, st.played), (8, 5));
    }

    #[test]
    fn conceals_loss_with_silence_of_the_timestamp_gap() {
        // 3 and 4 never come: after `depth` (4) newer packets are held,
        // the gap is given up and filled with 2 packets of silence.
        let (out, st) = run(&[1, 2, 5, 6, 7, 8, 9, 10], 1);
        let mut want: Vec<Option<u16>> = vec![Some(1), Some(2), None, None];
        want.extend((5..=10).map(Some));
        assert_eq!(order(&out), want);
        assert_eq!(st.lost, 2);
        assert_eq!(st.concealed_frames, 2 * FRAMES as u64);
        assert!(matches!(
            out[2],
            Release::Gap {
                frames: 320,
                packets: 2
            }
        ));
    }

    #[test]
    fn a_packet_after_its_slot_was_given_up_is_late() {
        let (out, st) = run(&[1, 3, 4, 5, 6, 7, 2, 8], 1);
        let mut want: Vec<Option<u16>> = vec![Some(1), None];
        want.extend((3..=8).map(Some));
        assert_eq!(order(&out), want);
        assert_eq!((st.lost, st.late, st.duplicates), (1, 1, 0));
    }

    #[test]
    fn waits_for_a_missing_packet_until_the_latency() {
        let mut jb = JitterBuffer::new(cfg());
        let t0 = Instant::now();
        jb.insert(packet(1, 1), t0);
        assert!(matches!(jb.pop(t0), Some(Release::Audio(_))));
        jb.insert(packet(3, 1), t0);
        assert_eq!(jb.pop(t0 + Duration::from_millis(99)), None);
        assert_eq!(
            jb.pop(t0 + Duration::from_millis(100)),
            Some(Release::Gap {
                frames: FRAMES,
                packets: 1
            })
        );
        assert!(matches!(jb.pop(t0), Some(Release::Audio(p)) if p.seq == 3));
        assert_eq!(jb.pop(t0), None);
    }

    #[test]
    fn sequence_numbers_wrap_around() {
        // 65533, 65534, 65535, 0, 1, 2 with reordering, a duplicate and a
        // loss across the wrap.
        let seqs = [65533, 65535, 65534, 1, 0, 0, 3, 4, 5, 6, 7];
        let (out, st) = run(&seqs, 65533);
        let want = [
            Some(65533),
            Some(65534),
            Some(65535),
            Some(0),
            Some(1),
            None,
            Some(3),
            Some(4),
            Some(5),
            Some(6),
            Some(7),
        ];
        assert_eq!(order(&out), want);
        assert_eq!((st.duplicates, st.lost, st.reordered), (1, 1, 2));
        assert_eq!(st.resyncs, 0);
        // The timestamp wraps too: silence comes from the timestamp gap.
        let mut jb = JitterBuffer::new(cfg());
        let t0 = Instant::now();
        let p = |seq: u16, ts: u32| Packet {
            seq,
            timestamp: ts,
            frames: FRAMES,
            payload: vec![0; FRAMES],
        };
        jb.insert(p(65535, u32::MAX - 159), t0);
        jb.insert(p(1, 160), t0);
        let out = jb.drain(t0);
        assert_eq!(
            out[1],
            Release::Gap {
                frames: FRAMES,
                packets: 1
            }
        );
    }

    #[test]
    fn a_sequence_jump_restarts_the_stream() {
        let (out, st) = run(&[100, 101, 40000, 40001], 100);
        assert_eq!(
            order(&out),
            [Some(100), Some(101), Some(40000), Some(40001)]
        );
        assert_eq!((st.resyncs, st.lost), (1, 0));
    }
}
