//! RTP payload types: which codec, rate and channel count each number
//! means, and decoding one call's payloads to interleaved PCM in [-1, 1]
//! ([`PayloadDecoder`]).

use std::collections::BTreeMap;
use std::fmt;

use opusic_c::{Channels, SampleRate};

use crate::g711;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// G.711 mu-law.
    Pcmu,
    /// G.711 A-law.
    Pcma,
    /// Linear 16-bit big-endian PCM (RFC 3551 L16).
    L16,
    /// Opus (RFC 7587): always `opus/48000/2` in SDP; decoded by libopus.
    Opus,
}

/// The RTP clock rate of Opus, whatever the audio's bandwidth (RFC 7587).
const OPUS_RATE: u32 = 48_000;
/// Opus decodes (and conceals) in multiples of 2.5 ms.
const OPUS_STEP: usize = OPUS_RATE as usize / 400;
/// The longest Opus packet, 120 ms at 48 kHz: frames per decode call.
const OPUS_MAX_FRAMES: usize = OPUS_RATE as usize * 120 / 1000;

/// A payload format: encoding, clock rate (= sample rate for these
/// codecs) and interleaved channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Format {
    pub encoding: Encoding,
    pub rate: u32,
    pub channels: u32,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.encoding {
            Encoding::Pcmu => "PCMU",
            Encoding::Pcma => "PCMA",
            Encoding::L16 => "L16",
            Encoding::Opus => "opus",
        };
        write!(f, "{name}/{}/{}", self.rate, self.channels)
    }
}

impl Format {
    /// Parses `ENC/RATE[/CHANNELS]` as in SDP `a=rtpmap` (case-insensitive).
    pub fn parse(s: &str) -> Result<Format, String> {
        let parts: Vec<&str> = s.trim().split('/').collect();
        if parts.len() < 2 || parts.len() > 3 {
            return Err(format!("{s:?}: expected ENCODING/RATE[/CHANNELS]"));
        }
        let encoding = match parts[0].to_ascii_uppercase().as_str() {
            "PCMU" => Encoding::Pcmu,
            "PCMA" => Encoding::Pcma,
            "L16" => Encoding::L16,
            "OPUS" => Encoding::Opus,
            other => {
                return Err(format!(
                    "{s:?}: encoding {other} is not supported (PCMU, PCMA, L16, opus)"
                ))
            }
        };
        let rate: u32 = parts[1]
            .parse()
            .ok()
            .filter(|&r| r > 0 && r <= dfd::MAX_SAMPLE_RATE)
            .ok_or_else(|| format!("{s:?}: bad rate {:?}", parts[1]))?;
        let channels: u32 = match parts.get(2) {
            None => 1,
            Some(c) => c
                .parse()
                .ok()
                .filter(|&c| c > 0 && c <= dfd::MAX_CHANNELS)
                .ok_or_else(|| format!("{s:?}: bad channel count {c:?}"))?,
        };
        if encoding == Encoding::Opus && (rate != OPUS_RATE || channels > 2) {
            return Err(format!(
                "{s:?}: Opus is opus/48000/2 in SDP (RFC 7587), mono or stereo"
            ));
        }
        Ok(Format {
            encoding,
            rate,
            channels,
        })
    }
}

/// Decodes one call's payloads, in play order, to interleaved samples in
/// [-1, 1] at the format's rate and channel count. G.711 and L16 are
/// stateless; Opus goes through libopus, whose decoder carries state from
/// packet to packet and conceals lost packets (packet-loss concealment).
pub struct PayloadDecoder {
    channels: usize,
    codec: Codec,
}

enum Codec {
    /// One byte per sample through a G.711 table.
    G711(&'static [i16; 256]),
    L16,
    Opus(opusic_c::Decoder),
}

fn pcm16(s: i16) -> f32 {
    f32::from(s) / 32768.0
}

impl PayloadDecoder {
    pub fn new(format: Format) -> Result<PayloadDecoder, String> {
        let codec = match format.encoding {
            Encoding::Pcmu => Codec::G711(&g711::ULAW),
            Encoding::Pcma => Codec::G711(&g711::ALAW),
            Encoding::L16 => Codec::L16,
            Encoding::Opus => {
                let channels = if format.channels == 1 {
                    Channels::Mono
                } else {
                    Channels::Stereo
                };
                let decoder = opusic_c::Decoder::new(channels, SampleRate::Hz48000)
                    .map_err(|e| format!("cannot create an Opus decoder: {e:?}"))?;
                Codec::Opus(decoder)
            }
        };
        Ok(PayloadDecoder {
            channels: format.channels as usize,
            codec,
        })
    }

    /// Frames a payload holds, known before decoding (the jitter buffer
    /// needs it); 0 for a malformed Opus packet.
    pub fn frames(&self, payload: &[u8]) -> usize {
        match &self.codec {
            Codec::G711(_) => payload.len() / self.channels,
            Codec::L16 => payload.len() / (2 * self.channels),
            Codec::Opus(d) => d.get_nb_samples(payload).unwrap_or(0),
        }
    }

    /// Decodes a payload, appending its samples to `out`. A trailing
    /// partial frame (a malformed packet) is dropped; a malformed Opus
    /// packet is concealed.
    pub fn decode(&mut self, payload: &[u8], out: &mut Vec<f32>) {
        let frames = self.frames(payload);
        let samples = frames * self.channels;
        let decoded = match &mut self.codec {
            Codec::G711(table) => {
                out.extend(payload[..samples].iter().map(|&b| pcm16(table[b as usize])));
                true
            }
            Codec::L16 => {
                out.extend(
                    payload[..2 * samples]
                        .chunks_exact(2)
                        .map(|c| pcm16(i16::from_be_bytes([c[0], c[1]]))),
                );
                true
            }
            Codec::Opus(d) => {
                let at = out.len();
                out.resize(at + samples, 0.0);
                let decoded = d.decode_float_to_slice(payload, &mut out[at..], false);
                let n = decoded.as_ref().map_or(0, |&n| n.min(frames));
                out.truncate(at + n * self.channels);
                decoded.is_ok()
            }
        };
        if !decoded {
            self.conceal(frames, out);
        }
    }

    /// Appends `frames` standing in for lost packets: libopus's concealment
    /// for Opus (in 2.5 ms steps), silence for the rest and other codecs.
    pub fn conceal(&mut self, frames: usize, out: &mut Vec<f32>) {
        let end = out.len() + frames * self.channels;
        if let Codec::Opus(d) = &mut self.codec {
            let mut left = frames / OPUS_STEP * OPUS_STEP;
            while left > 0 {
                let step = left.min(OPUS_MAX_FRAMES);
                let at = out.len();
                out.resize(at + step * self.channels, 0.0);
                // An empty packet asks libopus to conceal `step` frames.
                let done = d
                    .decode_float_to_slice(&[], &mut out[at..], false)
                    .unwrap_or(0)
                    .min(step);
                out.truncate(at + done * self.channels);
                if done == 0 {
                    break;
                }
                left -= done;
            }
        }
        out.resize(end, 0.0);
    }
}

/// Payload type numbers to formats: the static ones of RFC 3551 that these
/// codecs have (0 PCMU, 8 PCMA, 10 L16 stereo, 11 L16 mono) plus mappings
/// given on the command line.
#[derive(Debug, Clone)]
pub struct PayloadMap {
    map: BTreeMap<u8, Format>,
}

impl Default for PayloadMap {
    fn default() -> Self {
        let f = |encoding, rate, channels| Format {
            encoding,
            rate,
            channels,
        };
        let map = BTreeMap::from([
            (0, f(Encoding::Pcmu, 8000, 1)),
            (8, f(Encoding::Pcma, 8000, 1)),
            (10, f(Encoding::L16, 44100, 2)),
            (11, f(Encoding::L16, 44100, 1)),
        ]);
        PayloadMap { map }
    }
}

impl PayloadMap {
    /// Adds or replaces a mapping given as `PT=ENC/RATE[/CHANNELS]`,
    /// e.g. `96=L16/16000/1`.
    pub fn add(&mut self, spec: &str) -> Result<(), String> {
        let (pt, format) = spec
            .split_once('=')
            .ok_or_else(|| format!("{spec:?}: expected PT=ENCODING/RATE[/CHANNELS]"))?;
        let pt: u8 = pt
            .trim()
            .parse()
            .ok()
            .filter(|&p| p < 128)
            .ok_or_else(|| format!("{spec:?}: payload type must be 0..=127"))?;
        self.map.insert(pt, Format::parse(format)?);
        Ok(())
    }

    pub fn get(&self, pt: u8) -> Option<Format> {
        self.map.get(&pt).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_and_dynamic_payload_types() {
        let mut m = PayloadMap::default();
        assert_eq!(m.get(0).unwrap().to_string(), "PCMU/8000/1");
        assert_eq!(m.get(8).unwrap().to_string(), "PCMA/8000/1");
        assert_eq!(m.get(10).unwrap().to_string(), "L16/44100/2");
        assert_eq!(m.get(11).unwrap().to_string(), "L16/44100/1");
        assert_eq!(m.get(96), None);
        m.add("96=L16/16000/1").unwrap();
        m.add("97=pcma/16000").unwrap();
        assert_eq!(m.get(96).unwrap().to_string(), "L16/16000/1");
        assert_eq!(m.get(97).unwrap().to_string(), "PCMA/16000/1");
        m.add("111=opus/48000/2").unwrap();
        assert_eq!(m.get(111).unwrap().to_string(), "opus/48000/2");
        for bad in [
            "96",
            "128=L16/8000",
            "96=opus/16000/2",
            "96=opus/48000/6",
            "96=speex/16000",
            "96=L16/0",
            "96=L16/8000/9",
        ] {
            assert!(m.add(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn l16_is_big_endian_and_interleaved() {
        let mut d = PayloadDecoder::new(Format::parse("L16/8000/2").unwrap()).unwrap();
        let mut out = Vec::new();
        // Two stereo frames and a trailing odd byte (dropped).
        let payload = [0x12, 0x34, 0xFF, 0xFE, 0x80, 0x00, 0x7F, 0xFF, 0x01];
        assert_eq!(d.frames(&payload), 2);
        d.decode(&payload, &mut out);
        assert_eq!(out, [0x1234, -2, i16::MIN, i16::MAX].map(pcm16));
        d.conceal(3, &mut out);
        assert_eq!(out.len(), 4 + 6);
        assert!(out[4..].iter().all(|&s| s == 0.0));
    }

    #[test]
    fn g711_payloads_decode_per_byte() {
        let mut out = Vec::new();
        let decoder = |f: &str| PayloadDecoder::new(Format::parse(f).unwrap()).unwrap();
        decoder("PCMU/8000").decode(&[0x00, 0xFF], &mut out);
        decoder("PCMA/8000").decode(&[0xD5, 0xAA], &mut out);
        assert_eq!(out, [-32124, 0, 8, 32256].map(pcm16));
    }
}
