//! `dfd scan`'s decoders (cli/src/decode.rs, compiled in as it is) on
//! arbitrary file contents: probing, demuxing and decoding every packet.
#![no_main]

use std::io::Write;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

#[path = "../../cli/src/decode.rs"]
#[allow(dead_code)]
mod decode;

/// Most decoded samples looked at per input: keeps one run short.
const MAX_SAMPLES: usize = 1 << 22;

fuzz_target!(|bytes: &[u8]| {
    // The decoder reads files; one per fuzzing process, rewritten each run.
    static DIR: OnceLock<std::path::PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("dfd-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    });
    let path = dir.join("input.wav");
    std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(bytes))
        .unwrap();
    let Ok(mut decoder) = decode::Decoder::open(&path) else {
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
