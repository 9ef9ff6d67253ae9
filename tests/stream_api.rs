//! The streaming engine through the Rust API, on real speech, with the CPU
//! backend loaded as a shared-library plugin.

mod common;

use common::*;
use dfd::{Model, ModelOptions, Status, Stream, Verdict};

fn tiny_mel(precision: &str) -> Model {
    let opts = ModelOptions {
        precision: precision.parse().unwrap(),
        ..cpu_options()
    };
    Model::load(fixture("models/tiny-mel"), &opts).unwrap()
}

/// Pushes `samples` in chunks of the given sizes (cycled) and flushes.
fn run(
    model: &Model,
    rate: u32,
    channels: u32,
    samples: &[f32],
    chunks: &[usize],
) -> (dfd::Score, Vec<dfd::WindowScore>) {
    let mut s = Stream::new(model, rate, channels).unwrap();
    let mut windows = Vec::new();
    let mut rest = samples;
    let mut i = 0;
    while !rest.is_empty() {
        let n = (chunks[i % chunks.len()] * channels as usize).min(rest.len());
        s.push(&rest[..n]).unwrap();
        windows.extend(std::iter::from_fn(|| s.next_window()));
        rest = &rest[n..];
        i += 1;
    }
    s.flush().unwrap();
    windows.extend(std::iter::from_fn(|| s.next_window()));
    (s.score(), windows)
}

#[test]
fn loads_from_the_plugin_and_reports_it() {
    let m = tiny_mel("fp32");
    assert_eq!(m.backend_name(), "cpu");
    match m.backend_origin() {
        dfd::backend::Origin::Plugin(p) => {
            assert!(p.ends_with("libdfd_backend_cpu.so"), "{}", p.display())
        }
        other => panic!("expected the plugin, got {other:?}"),
    }
    assert_eq!(m.precision(), dfd::Precision::Fp32);
    assert_eq!(m.manifest().sample_rate, 16000);
}

#[test]
fn auto_precision_picks_a_variant_the_package_has() {
    let m = tiny_mel("auto");
    assert!(m.manifest().variants.is_empty());
    assert_eq!(m.manifest().precision, Some(m.precision()));
}

#[test]
fn scores_real_speech_with_consistent_timeline() {
    let m = tiny_mel("fp32");
    let speech = speech();
    let (score, windows) = run(&m, 16000, 1, &speech, &[16000]);
    let seconds = speech.len() as f64 / 16000.0;
    assert!((score.seconds - seconds).abs() < 1e-9);
    // 3.88 s with 1 s windows every 0.5 s: 6 full windows, then one aligned
    // to the end (0.38 s follow the last, more than half a hop).
    assert_eq!(score.windows, 7);
    assert_eq!(windows.len(), 7);
    assert_ne!(score.verdict, Verdict::Unknown);
    assert!((0.0..=1.0).contains(&score.p_fake));
    for (k, w) in windows.iter().enumerate() {
        let start = if k < 6 { 0.5 * k as f64 } else { seconds - 1.0 };
        assert!((w.start - start).abs() < 1e-9);
        assert!((w.end - w.start - 1.0).abs() < 1e-9);
    }
    assert_eq!(score.last_p_fake, windows.last().unwrap().p_fake);
    assert!(
        (score.speech_seconds - seconds).abs() < 1e-9,
        "{}",
        score.speech_seconds
    );
    // The stream score is the sigmoid of the mean window logit.
    let logit = |p: f32| (p as f64 / (1.0 - p as f64)).ln();
    let mean = windows.iter().map(|w| logit(w.p_fake)).sum::<f64>() / windows.len() as f64;
    assert!((1.0 / (1.0 + (-mean).exp()) - score.p_fake as f64).abs() < 1e-5);
}

#[test]
fn chunk_size_does_not_change_the_result() {
    let m = tiny_mel("fp32");
    let speech = speech();
    let (reference, ref_w) = run(&m, 16000, 1, &speech, &[speech.len()]);
    for chunks in [&[1usize, 2, 3][..], &[160], &[333, 4097], &[20000]] {
        let (score, w) = run(&m, 16000, 1, &speech, chunks);
        assert_eq!(score.windows, reference.windows);
        assert!(
            (score.p_fake - reference.p_fake).abs() < 1e-5,
            "{chunks:?}: {} vs {}",
            score.p_fake,
            reference.p_fake
        );
        for (a, b) in w.iter().zip(&ref_w) {
            assert!((a.p_fake - b.p_fake).abs() < 1e-5);
        }
    }
}

#[test]
fn stereo_and_resampled_input_track_the_native_stream() {
    let m = tiny_mel("fp32");
    let speech = speech();
    let (native, _) = run(&m, 16000, 1, &speech, &[4096]);
    // Identical channels downmix to the same mono signal exactly.
    let stereo: Vec<f32> = speech.iter().flat_map(|&s| [s, s]).collect();
    let (st, _) = run(&m, 16000, 2, &stereo, &[480]);
    assert!((st.p_fake - native.p_fake).abs() < 1e-6);
    // The native 22.05 kHz recording of the same speech, resampled by libdfd.
    let (rate, ch, s22) = read_wav(&fixture("audio/speech_22k05.wav"));
    let (rs, _) = run(&m, rate, ch, &s22, &[441]);
    assert_eq!(rs.windows, native.windows);
    assert!(
        (rs.p_fake - native.p_fake).abs() < 0.05,
        "22.05k {} vs 16k {}",
        rs.p_fake,
        native.p_fake
    );
}

#[test]
fn i16_push_equals_f32_push() {
    let m = tiny_mel("fp32");
    let speech = speech();
    let ints: Vec<i16> = speech
        .iter()
        .map(|&x| (x * 32768.0).round().clamp(-32768.0, 32767.0) as i16)
        .collect();
    let mut a = Stream::new(&m, 16000, 1).unwrap();
    a.push_i16(&ints).unwrap();
    let (b, _) = run(&m, 16000, 1, &speech, &[speech.len()]);
    a.flush().unwrap();
    assert!((a.score().p_fake - b.p_fake).abs() < 1e-4);
}

#[test]
fn precision_variants_track_fp32_on_speech() {
    let speech = speech();
    let (fp32, w32) = run(&tiny_mel("fp32"), 16000, 1, &speech, &[8000]);
    for (p, tol) in [("fp16", 1e-3f32), ("int8", 0.05)] {
        let (s, w) = run(&tiny_mel(p), 16000, 1, &speech, &[8000]);
        assert_eq!(s.windows, fp32.windows);
        for (a, b) in w.iter().zip(&w32) {
            assert!(
                (a.p_fake - b.p_fake).abs() < tol,
                "{p}: {} vs {}",
                a.p_fake,
                b.p_fake
            );
        }
    }
}

#[test]
fn bad_pushes_are_rejected_and_the_stream_keeps_working() {
    let m = tiny_mel("fp32");
    let speech = speech();
    let mut s = Stream::new(&m, 16000, 1).unwrap();
    s.push(&speech[..20000]).unwrap();
    let before = s.score();
    let mut bad = speech[20000..30000].to_vec();
    bad[123] = f32::NAN;
    let e = s.push(&bad).unwrap_err();
    assert_eq!(e.status, Status::BadSamples);
    assert!(e.message.contains("sample 123"), "{e}");
    bad[123] = f32::INFINITY;
    assert_eq!(s.push(&bad).unwrap_err().status, Status::BadSamples);
    assert_eq!(s.push(&[]).unwrap_err().status, Status::EmptyPush);
    assert_eq!(s.score(), before, "a rejected push must not consume audio");
    s.push(&speech[20000..]).unwrap();
    s.flush().unwrap();
    let (whole, _) = run(&m, 16000, 1, &speech, &[20000]);
    assert!((s.score().p_fake - whole.p_fake).abs() < 1e-6);
    let mut st = Stream::new(&m, 16000, 2).unwrap();
    assert_eq!(st.push(&[0.0; 3]).unwrap_err().status, Status::InvalidArg);
}

#[test]
fn out_of_range_rates_and_channels() {
    let m = tiny_mel("fp32");
    for rate in [0, 1, 3999, 384_001, u32::MAX] {
        assert_eq!(
            Stream::new(&m, rate, 1).err().unwrap().status,
            Status::SampleRate
        );
    }
    for ch in [0, 9] {
        assert_eq!(
            Stream::new(&m, 16000, ch).err().unwrap().status,
            Status::Channels
        );
    }
    for rate in [4000, 8000, 44100, 44101, 384_000] {
        Stream::new(&m, rate, 8).unwrap();
    }
}

#[test]
fn silence_is_gated_and_unknown() {
    let m = tiny_mel("fp32");
    let (score, _) = run(&m, 16000, 1, &vec![0.0; 48000], &[4800]);
    assert_eq!(score.windows, 0);
    assert_eq!(score.verdict, Verdict::Unknown);
    assert_eq!(score.speech_seconds, 0.0);
    assert_eq!(score.seconds, 3.0);
}

#[test]
fn flush_scores_a_clip_shorter_than_a_window() {
    let m = tiny_mel("fp32");
    let speech = speech();
    let clip = &speech[8000..8000 + 11000];
    let mut s = Stream::new(&m, 16000, 1).unwrap();
    s.push(clip).unwrap();
    assert_eq!(s.score().windows, 0);
    s.flush().unwrap();
    let score = s.score();
    assert_eq!(score.windows, 1);
    let w = s.next_window().unwrap();
    assert!((w.end - 11000.0 / 16000.0).abs() < 1e-9);
    assert_eq!(s.push(clip).unwrap_err().status, Status::InvalidArg);
    s.reset();
    s.push(clip).unwrap();
    // Too short (under half a window): nothing to score.
    let mut t = Stream::new(&m, 16000, 1).unwrap();
    t.push(&speech[..7000]).unwrap();
    t.flush().unwrap();
    assert_eq!(t.score().windows, 0);
}

#[test]
fn resampled_flush_emits_the_tail() {
    // 1.2 s at 44.1 kHz: without flushing the resampler the last samples
    // would stay inside it and the one-window clip would not be scored.
    let m = tiny_mel("fp32");
    let tone: Vec<f32> = (0..52920).map(|i| (i as f32 * 0.05).sin() * 0.3).collect();
    let mut s = Stream::new(&m, 44100, 1).unwrap();
    s.push(&tone).unwrap();
    s.flush().unwrap();
    assert_eq!(s.score().windows, 1);
}

#[test]
fn reset_forgets_everything() {
    let m = tiny_mel("fp32");
    let speech = speech();
    let mut s = Stream::new(&m, 16000, 1).unwrap();
    s.push(&speech).unwrap();
    s.reset();
    let empty = s.score();
    assert_eq!(
        (empty.windows, empty.seconds, empty.verdict),
        (0, 0.0, Verdict::Unknown)
    );
    assert!(s.next_window().is_none());
    s.push(&speech).unwrap();
    s.flush().unwrap();
    let (fresh, _) = run(&m, 16000, 1, &speech, &[speech.len()]);
    assert_eq!(s.score(), fresh);
    // Nothing of the old audio is reused at the same positions (the front
    // end keeps the last window's frames for the next, overlapping one):
    // one window of it, then other audio whose first window is gated out,
    // so that its first scored window overlaps the old one.
    let window = m.manifest().window;
    let mut other = vec![0.0; window];
    other.extend(speech.iter().rev().map(|v| v * 0.5));
    s.reset();
    s.push(&speech[..window]).unwrap();
    s.reset();
    s.push(&other).unwrap();
    s.flush().unwrap();
    let windows: Vec<_> = std::iter::from_fn(|| s.next_window()).collect();
    let (fresh, fresh_windows) = run(&m, 16000, 1, &other, &[other.len()]);
    assert_eq!((s.score(), windows), (fresh, fresh_windows));
}

#[test]
fn unread_windows_are_bounded_and_counted() {
    let m = tiny_mel("fp32");
    let speech = speech();
    let mut s = Stream::new(&m, 16000, 1).unwrap();
    // ~10 minutes of audio, never reading the per-window queue.
    for _ in 0..160 {
        s.push(&speech).unwrap();
    }
    let score = s.score();
    assert!(score.windows > dfd::stream::WINDOW_QUEUE as u64);
    assert_eq!(
        score.windows_dropped,
        score.windows - dfd::stream::WINDOW_QUEUE as u64
    );
    let mut n = 0;
    let mut last = f64::MIN;
    while let Some(w) = s.next_window() {
        assert!(w.start > last);
        last = w.start;
        n += 1;
    }
    assert_eq!(n, dfd::stream::WINDOW_QUEUE);
}

#[test]
fn one_model_many_threads() {
    let m = tiny_mel("fp32");
    let speech = speech();
    let (reference, _) = run(&m, 16000, 1, &speech, &[1000]);
    std::thread::scope(|scope| {
        for t in 0..4 {
            let (m, speech) = (&m, &speech);
            scope.spawn(move || {
                let (s, _) = run(m, 16000, 1, speech, &[37 + t * 100]);
                assert!((s.p_fake - reference.p_fake).abs() < 1e-5);
            });
        }
    });
}

#[test]
fn raw_waveform_model_runs() {
    let m = Model::load(fixture("models/tiny-raw.onnx"), &cpu_options()).unwrap();
    let (score, _) = run(&m, 16000, 1, &speech(), &[3000]);
    assert_eq!(score.windows, 7);
    assert!((0.0..=1.0).contains(&score.p_fake));
}
