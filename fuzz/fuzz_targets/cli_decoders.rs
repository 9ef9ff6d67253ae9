//! `dfd scan`'s decoders (the dfd-decode crate) on arbitrary file contents:
//! probing by content, demuxing and decoding every packet.
#![no_main]

use libfuzzer_sys::fuzz_target;

/// Most decoded samples looked at per input: keeps one run short.
const MAX_SAMPLES: usize = 1 << 22;

fuzz_target!(|bytes: &[u8]| {
    let Ok(mut decoder) = dfd_decode::Decoder::from_bytes(bytes.to_vec()) else {
        return;
    };
    let mut seen = 0;
    while let Ok(Some(chunk)) = decoder.next_chunk() {
        seen += chunk.samples.len();
        if seen > MAX_SAMPLES {
            break;
        }
    }
});
