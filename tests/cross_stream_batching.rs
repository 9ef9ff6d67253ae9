//! Deferred streams and `infer_streams` on the CPU backend: the windows of
//! many streams go to the backend together (up to `BACKEND_BATCH` per
//! call), and every stream gets the scores it gets alone.

mod common;

use common::*;
use dfd::model::{BACKEND_BATCH, MAX_BATCH};
use dfd::{infer_streams, InferReport, Model, Score, Stream, WindowScore};

/// The sample clips as (rate, int16 samples).
fn clips() -> Vec<(u32, Vec<i16>)> {
    SAMPLES
        .iter()
        .map(|f| {
            let (rate, channels, pcm) = read_wav_i16(&root().join(f));
            assert_eq!(channels, 1, "{f}");
            (rate, pcm)
        })
        .collect()
}

/// Stream `i` plays clip `i % 2` looped to `seconds`, starting `i * 0.37 s`
/// into it, so that every stream holds different audio.
fn audio(i: usize, clips: &[(u32, Vec<i16>)], seconds: f64) -> (u32, Vec<i16>) {
    let (rate, clip) = &clips[i % clips.len()];
    let n = (seconds * f64::from(*rate)) as usize;
    let skip = (i as f64 * 0.37 * f64::from(*rate)) as usize;
    (
        *rate,
        clip.iter().cycle().skip(skip).take(n).copied().collect(),
    )
}

fn alone(model: &Model, rate: u32, pcm: &[i16]) -> (Score, Vec<WindowScore>) {
    let mut s = Stream::new(model, rate, 1).unwrap();
    for c in pcm.chunks(rate as usize / 50) {
        s.push_i16(c).unwrap();
    }
    s.flush().unwrap();
    (s.score(), take_windows(&mut s))
}

fn same(a: &(Score, Vec<WindowScore>), b: &(Score, Vec<WindowScore>), what: &str) {
    assert_eq!(a.0.windows, b.0.windows, "{what}");
    assert!(
        (a.0.p_fake - b.0.p_fake).abs() < 1e-5,
        "{what}: {a:?} {b:?}"
    );
    assert_eq!(a.1.len(), b.1.len(), "{what}");
    for (x, y) in a.1.iter().zip(&b.1) {
        assert_eq!((x.start, x.end), (y.start, y.end), "{what}");
        assert!((x.p_fake - y.p_fake).abs() < 1e-5, "{what}: {x:?} {y:?}");
    }
}

/// Twelve calls pushed in 20 ms packets, a tick every second scoring all
/// of them in one call: each call's results equal its results alone, and
/// each tick is one backend call.
#[test]
fn ticked_streams_match_each_stream_alone() {
    let model = Model::load_builtin(&cpu_options()).unwrap();
    assert!(
        !model.frontend_on_backend(),
        "the CPU backend takes features"
    );
    let clips = clips();
    let inputs: Vec<(u32, Vec<i16>)> = (0..12).map(|i| audio(i, &clips, 9.5)).collect();
    let mut streams: Vec<Stream> = inputs
        .iter()
        .map(|(rate, _)| {
            let mut s = Stream::new(&model, *rate, 1).unwrap();
            s.set_deferred(true).unwrap();
            assert!(s.is_deferred());
            s
        })
        .collect();
    let mut total = InferReport::default();
    let mut ticks = 0;
    for packet in 0..(9.5 * 50.0) as usize {
        for (s, (rate, pcm)) in streams.iter_mut().zip(&inputs) {
            let n = *rate as usize / 50;
            if let Some(c) = pcm.chunks(n).nth(packet) {
                s.push_i16(c).unwrap();
            }
        }
        if packet % 50 == 49 {
            let waiting: usize = streams.iter().map(Stream::pending_windows).sum();
            let mut refs: Vec<&mut Stream> = streams.iter_mut().collect();
            let r = infer_streams(&mut refs).unwrap();
            assert_eq!(r.windows, waiting);
            assert_eq!(r.calls, usize::from(waiting > 0), "tick {ticks}: {r:?}");
            assert!(streams.iter().all(|s| s.pending_windows() == 0));
            total.windows += r.windows;
            total.calls += r.calls;
            ticks += 1;
        }
    }
    assert!(total.calls >= 6 && total.windows >= 12 * 6, "{total:?}");
    for (i, (s, (rate, pcm))) in streams.iter_mut().zip(&inputs).enumerate() {
        s.flush().unwrap();
        assert_eq!(s.pending_windows(), 0);
        let got = (s.score(), take_windows(s));
        same(&got, &alone(&model, *rate, pcm), &format!("stream {i}"));
    }
}

/// More waiting windows than one backend call takes: split into calls of
/// at most BACKEND_BATCH, one stream's windows across two calls.
#[test]
fn a_large_tick_is_split_at_the_backend_batch() {
    let model = Model::load_builtin(&cpu_options()).unwrap();
    let clips = clips();
    let n_streams = BACKEND_BATCH / MAX_BATCH + 2;
    // 17.5 s make 16 two-second windows at hop 1 s: a full deferred queue.
    let inputs: Vec<(u32, Vec<i16>)> = (0..n_streams).map(|i| audio(i, &clips, 17.5)).collect();
    let mut streams = Vec::new();
    for (rate, pcm) in &inputs {
        let mut s = Stream::new(&model, *rate, 1).unwrap();
        s.set_deferred(true).unwrap();
        s.push_i16(pcm).unwrap();
        assert_eq!(s.pending_windows(), MAX_BATCH);
        assert_eq!(s.score().windows, 0);
        streams.push(s);
    }
    let mut refs: Vec<&mut Stream> = streams.iter_mut().collect();
    let r = infer_streams(&mut refs).unwrap();
    assert_eq!(r.windows, n_streams * MAX_BATCH);
    assert_eq!(r.calls, r.windows.div_ceil(BACKEND_BATCH));
    for (i, (s, (rate, pcm))) in streams.iter_mut().zip(&inputs).enumerate() {
        s.flush().unwrap();
        same(
            &(s.score(), take_windows(s)),
            &alone(&model, *rate, pcm),
            &format!("stream {i}"),
        );
    }
}

/// A deferred stream never holds more than MAX_BATCH windows: the push
/// that completes one more scores the queue itself; nothing is lost.
#[test]
fn a_neglected_deferred_stream_scores_itself() {
    let model = Model::load_builtin(&cpu_options()).unwrap();
    let (rate, pcm) = audio(0, &clips(), 40.0);
    let mut s = Stream::new(&model, rate, 1).unwrap();
    s.set_deferred(true).unwrap();
    for c in pcm.chunks(rate as usize / 50) {
        s.push_i16(c).unwrap();
        assert!(s.pending_windows() <= MAX_BATCH);
    }
    assert!(s.score().windows >= 16, "{:?}", s.score());
    // Turning deferral off scores what waits.
    assert!(s.pending_windows() > 0);
    s.set_deferred(false).unwrap();
    assert_eq!(s.pending_windows(), 0);
    s.flush().unwrap();
    same(
        &(s.score(), take_windows(&mut s)),
        &alone(&model, rate, &pcm),
        "neglected",
    );
    // reset forgets waiting windows too.
    s.reset();
    s.set_deferred(true).unwrap();
    s.push_i16(&pcm[..rate as usize * 5]).unwrap();
    assert!(s.pending_windows() > 0);
    s.reset();
    assert_eq!((s.pending_windows(), s.score().windows), (0, 0));
}

/// Streams of two models in one call: grouped by model, one backend call
/// each; streams with nothing waiting and non-deferred streams are fine.
#[test]
fn streams_of_several_models_are_grouped() {
    let default = Model::load_builtin(&cpu_options()).unwrap();
    let tiny = Model::load(fixture("models/tiny-mel"), &cpu_options()).unwrap();
    let (rate, pcm) = audio(0, &clips(), 6.0);
    let mut streams = Vec::new();
    for (i, m) in [&default, &tiny, &default, &tiny].into_iter().enumerate() {
        let mut s = Stream::new(m, rate, 1).unwrap();
        s.set_deferred(i < 3).unwrap();
        s.push_i16(&pcm).unwrap();
        streams.push(s);
    }
    let idle = Stream::new(&default, rate, 1).unwrap();
    streams.push(idle);
    let waiting: usize = streams.iter().map(Stream::pending_windows).sum();
    assert!(streams[3].pending_windows() == 0 && streams[3].score().windows > 0);
    let mut refs: Vec<&mut Stream> = streams.iter_mut().collect();
    let r = infer_streams(&mut refs).unwrap();
    assert_eq!(
        r,
        InferReport {
            windows: waiting,
            calls: 2
        }
    );
    for (s, m) in streams.iter_mut().zip([&default, &tiny, &default, &tiny]) {
        s.flush().unwrap();
        same(
            &(s.score(), take_windows(s)),
            &alone(m, rate, &pcm),
            m.manifest().name.as_str(),
        );
    }
    assert_eq!(infer_streams(&mut []).unwrap(), InferReport::default());
}
