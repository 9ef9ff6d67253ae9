//! A manifest alone (sidecar / package `manifest.json`): parsing,
//! validation against the limits, and building the front end it describes,
//! which then computes one window of features.
#![no_main]

use dfd::frontend::Frontend;
use dfd::model::Manifest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let Ok(m) = Manifest::from_json(text, "fuzz") else {
        return;
    };
    let _ = m.input_len();
    if let Ok(mut frontend) = Frontend::new(&m.frontend, m.sample_rate, m.window) {
        // Bounded by the limits; a window of a quiet tone keeps it cheap enough.
        if frontend.output_len() <= 1 << 16 && m.window <= 1 << 16 {
            let window: Vec<f32> = (0..m.window)
                .map(|i| (i as f32 * 0.01).sin() * 0.1)
                .collect();
            let mut out = vec![0.0; frontend.output_len()];
            frontend.compute(&window, &mut out);
        }
    }
});
