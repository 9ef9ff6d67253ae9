//! Many streams on one model: 64 streams on 8 threads, each fed its own
//! audio (clip, offset, gain, channel count) in its own chunk sizes, from
//! one sample per push to seconds per push, interleaved with the other
//! streams of its thread while the other threads run the same model.
//! Every stream's result and per-window scores must be bit-identical to
//! feeding that stream's audio alone, in one push, on one thread.
//!
//! Bit-exact holds because nothing a chunk size or a neighbour can change
//! reaches the numbers: pushes are converted frame by frame, the resampler
//! always runs on its own fixed input blocks, and the CPU backend runs
//! each window of a batch as its own call on a per-call state (so batch 1
//! from small pushes and batch 16 from one big push compute the same).

mod common;

use std::sync::Arc;

use dfd::{Model, Score, Stream, WindowScore};

const STREAMS: usize = 64;
const THREADS: usize = 8;

/// One stream's input: interleaved samples at `rate` with `channels`.
struct Input {
    rate: u32,
    channels: u32,
    samples: Vec<f32>,
    /// How it is pushed, in frames per push, in order.
    chunks: Vec<usize>,
}

/// xorshift64*: a fixed, dependency-free sequence.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo + 1) as u64) as usize
    }
}

fn clips() -> Vec<(u32, Vec<f32>)> {
    [
        "samples/bonafide_fr_june.wav",
        "samples/synthetic_piper_joe.wav",
        "tests/fixtures/audio/speech_16k.wav",
        "tests/fixtures/audio/speech_22k05.wav",
        "tests/fixtures/audio/telephone_8k.wav",
    ]
    .iter()
    .map(|rel| {
        let (rate, channels, s) = common::read_wav(&common::root().join(rel));
        assert_eq!(channels, 1, "{rel}");
        (rate, s)
    })
    .collect()
}

/// Stream `i`: clip `i % 5` from an offset, scaled, mono or stereo (the
/// second channel a quieter copy), pushed in one of four chunk styles.
fn input(i: usize, clips: &[(u32, Vec<f32>)]) -> Input {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03));
    let (rate, clip) = &clips[i % clips.len()];
    let offset = rng.range(0, clip.len() / 3);
    let gain = [1.0f32, 0.5, 0.25, 0.8, 0.1][(i / clips.len()) % 5];
    let channels = 1 + (i % 3 == 2) as u32;
    let samples: Vec<f32> = clip[offset..]
        .iter()
        .flat_map(|&x| {
            let x = x * gain;
            if channels == 2 {
                vec![x, 0.5 * x]
            } else {
                vec![x]
            }
        })
        .collect();
    let frames = samples.len() / channels as usize;
    let second = *rate as usize;
    let mut chunks = Vec::new();
    let mut left = frames;
    while left > 0 {
        let n = match i % 4 {
            // One frame per push throughout.
            0 => 1,
            // Tiny pushes.
            1 => rng.range(1, 32),
            // Mixed: tiny, packet-sized, up to a second, seconds.
            2 => match rng.next() % 4 {
                0 => rng.range(1, 16),
                1 => rng.range(80, 960),
                2 => rng.range(1000, second),
                _ => rng.range(second, 3 * second),
            },
            // Seconds per push.
            _ => rng.range(second, 3 * second),
        }
        .min(left);
        chunks.push(n);
        left -= n;
    }
    Input {
        rate: *rate,
        channels,
        samples,
        chunks,
    }
}

fn drain(s: &mut Stream, out: &mut Vec<WindowScore>) {
    while let Some(w) = s.next_window() {
        out.push(w);
    }
}

/// The stream's input in one push, then flushed.
fn alone(model: &Model, input: &Input) -> (Score, Vec<WindowScore>) {
    let mut s = Stream::new(model, input.rate, input.channels).unwrap();
    let mut w = Vec::new();
    s.push(&input.samples).unwrap();
    drain(&mut s, &mut w);
    s.flush().unwrap();
    drain(&mut s, &mut w);
    (s.score(), w)
}

#[test]
fn sixty_four_streams_on_eight_threads_match_each_stream_alone() {
    let model = Model::load_builtin(&common::cpu_options()).unwrap();
    let clips = clips();
    let inputs: Arc<Vec<Input>> = Arc::new((0..STREAMS).map(|i| input(i, &clips)).collect());
    // The four chunk styles are all there, from 1 frame to seconds.
    let sizes: Vec<usize> = inputs
        .iter()
        .flat_map(|x| x.chunks.iter().copied())
        .collect();
    assert_eq!(sizes.iter().min(), Some(&1));
    assert!(*sizes.iter().max().unwrap() >= 16000);
    let reference: Vec<_> = inputs.iter().map(|x| alone(&model, x)).collect();

    // Thread t owns streams t, t+8, ...; it pushes one chunk to each of
    // them in turn until all are done.
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let model = model.clone();
            let inputs = Arc::clone(&inputs);
            std::thread::spawn(move || {
                let mine: Vec<usize> = (t..STREAMS).step_by(THREADS).collect();
                let mut streams: Vec<Stream> = mine
                    .iter()
                    .map(|&i| Stream::new(&model, inputs[i].rate, inputs[i].channels).unwrap())
                    .collect();
                let mut windows = vec![Vec::new(); mine.len()];
                let mut next_chunk = vec![0usize; mine.len()];
                let mut at = vec![0usize; mine.len()];
                loop {
                    let mut busy = false;
                    for (k, &i) in mine.iter().enumerate() {
                        let x = &inputs[i];
                        let Some(&n) = x.chunks.get(next_chunk[k]) else {
                            continue;
                        };
                        busy = true;
                        let len = n * x.channels as usize;
                        streams[k].push(&x.samples[at[k]..at[k] + len]).unwrap();
                        at[k] += len;
                        next_chunk[k] += 1;
                        drain(&mut streams[k], &mut windows[k]);
                    }
                    if !busy {
                        break;
                    }
                }
                mine.iter()
                    .enumerate()
                    .map(|(k, &i)| {
                        streams[k].flush().unwrap();
                        drain(&mut streams[k], &mut windows[k]);
                        (i, streams[k].score(), std::mem::take(&mut windows[k]))
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();

    let mut checked = 0;
    for h in handles {
        for (i, score, windows) in h.join().unwrap() {
            let (want, want_windows) = &reference[i];
            assert!(want.windows > 0, "stream {i}: no window scored");
            assert_eq!(
                &score, want,
                "stream {i}: result differs from the stream alone"
            );
            assert_eq!(
                &windows, want_windows,
                "stream {i}: per-window scores differ from the stream alone"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, STREAMS);
    // The streams differ from each other (different audio went in).
    let mut p: Vec<u32> = reference.iter().map(|(s, _)| s.p_fake.to_bits()).collect();
    p.sort_unstable();
    p.dedup();
    assert!(p.len() > STREAMS / 2, "only {} distinct results", p.len());
}
