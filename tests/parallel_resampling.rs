//! Streams that resample on several threads at once, each in a process
//! whose libsoxr has never run: libsoxr grows and fills its FFT tables
//! lazily in process-wide arrays, unguarded in the build libdfd links, and
//! one stream's first FFTs corrupted another's (wrong scores or NaN, about
//! one run in ten of `hostile_input`, 2026-12-05). Each child process
//! scores the same audio declared at eight rates on eight threads at once, then
//! each rate again alone; the two must be bit-identical.

mod common;

use std::process::Command;

use dfd::{Model, Stream};

const TEST: &str = "streams_resampling_on_many_threads_score_as_alone";
const CHILD: &str = "DFD_PARALLEL_RESAMPLING_CHILD";
/// Child processes, each one cold start of libsoxr.
const RUNS: usize = 24;
/// Declared rates: each a different conversion to the model's 16 kHz.
const RATES: [u32; 8] = [4_000, 22_050, 44_100, 8_000, 11_025, 48_000, 96_000, 6_000];

fn score(model: &Model, rate: u32, audio: &[f32]) -> (u32, u64) {
    let mut s = Stream::new(model, rate, 1).unwrap();
    s.push(audio).unwrap();
    s.flush().unwrap();
    let r = s.score();
    (r.p_fake.to_bits(), r.windows)
}

fn child() {
    let model = Model::load_builtin(&common::cpu_options()).unwrap();
    let (_, _, audio) =
        common::read_wav(&common::root().join("tests/fixtures/audio/speech_22k05.wav"));
    let together: Vec<(u32, u64)> = std::thread::scope(|scope| {
        let runs: Vec<_> = RATES
            .iter()
            .map(|&rate| {
                let (model, audio) = (&model, &audio);
                scope.spawn(move || score(model, rate, audio))
            })
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    for (&rate, got) in RATES.iter().zip(together) {
        let alone = score(&model, rate, &audio);
        assert_eq!(
            got,
            alone,
            "{rate} Hz: p_fake {} with seven other streams, {} alone",
            f32::from_bits(got.0),
            f32::from_bits(alone.0)
        );
    }
}

#[test]
fn streams_resampling_on_many_threads_score_as_alone() {
    if std::env::var_os(CHILD).is_some() {
        return child();
    }
    let exe = std::env::current_exe().unwrap();
    for run in 0..RUNS {
        let out = Command::new(&exe)
            .args(["--exact", TEST, "--nocapture", "--test-threads", "1"])
            .env(CHILD, "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "child process {run}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
