//! G.711 decoding (ITU-T G.711, the formulas of Sun's reference `g711.c`,
//! which Python's `audioop` and most VoIP stacks use).

/// One mu-law (PCMU) byte to a linear 16-bit sample.
pub const fn ulaw_to_linear(u: u8) -> i16 {
    let u = !u;
    let t = ((((u & 0x0F) as i32) << 3) + 0x84) << ((u & 0x70) >> 4);
    (if u & 0x80 != 0 { 0x84 - t } else { t - 0x84 }) as i16
}

/// One A-law (PCMA) byte to a linear 16-bit sample.
pub const fn alaw_to_linear(a: u8) -> i16 {
    let a = a ^ 0x55;
    let seg = (a & 0x70) >> 4;
    let mut t = ((a & 0x0F) as i32) << 4;
    match seg {
        0 => t += 8,
        1 => t += 0x108,
        _ => t = (t + 0x108) << (seg - 1),
    }
    (if a & 0x80 != 0 { t } else { -t }) as i16
}

/// Decoding tables, built once at compile time from the functions above.
pub static ULAW: [i16; 256] = table(true);
pub static ALAW: [i16; 256] = table(false);

const fn table(ulaw: bool) -> [i16; 256] {
    let mut out = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        out[i] = if ulaw {
            ulaw_to_linear(i as u8)
        } else {
            alaw_to_linear(i as u8)
        };
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // `audioop.ulaw2lin(bytes(range(256)), 2)` and `alaw2lin`, CPython 3.11.
    include!("g711_audioop_tables.rs");

    #[test]
    fn ulaw_matches_audioop_for_every_code() {
        for b in 0..=255u8 {
            assert_eq!(ulaw_to_linear(b), ULAW_AUDIOOP[b as usize], "code {b:#04x}");
            assert_eq!(ULAW[b as usize], ULAW_AUDIOOP[b as usize], "table {b:#04x}");
        }
    }

    #[test]
    fn alaw_matches_audioop_for_every_code() {
        for b in 0..=255u8 {
            assert_eq!(alaw_to_linear(b), ALAW_AUDIOOP[b as usize], "code {b:#04x}");
            assert_eq!(ALAW[b as usize], ALAW_AUDIOOP[b as usize], "table {b:#04x}");
        }
    }

    #[test]
    fn g711_landmarks() {
        // Full-scale and zero codes of both laws (G.711 tables 1a/2a).
        assert_eq!(ulaw_to_linear(0x00), -32124);
        assert_eq!(ulaw_to_linear(0x80), 32124);
        assert_eq!(ulaw_to_linear(0xFF), 0);
        assert_eq!(ulaw_to_linear(0x7F), 0);
        assert_eq!(alaw_to_linear(0xD5), 8);
        assert_eq!(alaw_to_linear(0x55), -8);
        assert_eq!(alaw_to_linear(0xAA), 32256);
        assert_eq!(alaw_to_linear(0x2A), -32256);
    }
}
