//! RTP payload types: which codec, rate and channel count each number
//! means, and decoding payloads to interleaved 16-bit PCM.

use std::collections::BTreeMap;
use std::fmt;

use crate::g711;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// G.711 mu-law.
    Pcmu,
    /// G.711 A-law.
    Pcma,
    /// Linear 16-bit big-endian PCM (RFC 3551 L16).
    L16,
}

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
            other => {
                return Err(format!(
                    "{s:?}: encoding {other} is not supported (PCMU, PCMA, L16)"
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
        Ok(Format {
            encoding,
            rate,
            channels,
        })
    }

    /// Bytes of one frame (all channels of one sampling instant).
    pub fn frame_bytes(&self) -> usize {
        match self.encoding {
            Encoding::Pcmu | Encoding::Pcma => self.channels as usize,
            Encoding::L16 => 2 * self.channels as usize,
        }
    }

    /// Decodes a payload to interleaved samples; a trailing partial frame
    /// (a malformed packet) is ignored.
    pub fn decode(&self, payload: &[u8], out: &mut Vec<i16>) {
        let whole = payload.len() - payload.len() % self.frame_bytes();
        let payload = &payload[..whole];
        match self.encoding {
            Encoding::Pcmu => out.extend(payload.iter().map(|&b| g711::ULAW[b as usize])),
            Encoding::Pcma => out.extend(payload.iter().map(|&b| g711::ALAW[b as usize])),
            Encoding::L16 => out.extend(
                payload
                    .chunks_exact(2)
                    .map(|c| i16::from_be_bytes([c[0], c[1]])),
            ),
        }
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
        for bad in [
            "96",
            "128=L16/8000",
            "96=opus/48000/2",
            "96=L16/0",
            "96=L16/8000/9",
        ] {
            assert!(m.add(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn l16_is_big_endian_and_interleaved() {
        let f = Format::parse("L16/8000/2").unwrap();
        let mut out = Vec::new();
        // Two stereo frames and a trailing odd byte (dropped).
        f.decode(
            &[0x12, 0x34, 0xFF, 0xFE, 0x80, 0x00, 0x7F, 0xFF, 0x01],
            &mut out,
        );
        assert_eq!(out, [0x1234, -2, i16::MIN, i16::MAX]);
    }

    #[test]
    fn g711_payloads_decode_per_byte() {
        let mut out = Vec::new();
        Format::parse("PCMU/8000")
            .unwrap()
            .decode(&[0x00, 0xFF], &mut out);
        Format::parse("PCMA/8000")
            .unwrap()
            .decode(&[0xD5, 0xAA], &mut out);
        assert_eq!(out, [-32124, 0, 8, 32256]);
    }
}
