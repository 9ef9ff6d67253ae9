//! Throughput of many concurrent streams on one model (the call-centre
//! case): N streams of 8 kHz telephone speech, pushed as 16-bit PCM in
//! 20 ms packets (160 frames, as a G.711 call delivers it), spread over
//! min(N, cores) threads, each thread pushing one packet to each of its
//! streams in turn. Every stream gets 2 s of audio from its own offset;
//! the reported throughput (elements per second) is audio seconds scored
//! per wall-clock second, all streams together.
//!
//! Run: `cargo build --release --workspace && cargo bench --bench many_streams`.

#[path = "common.rs"]
mod common;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

const RATE: usize = 8000;
const SECONDS: usize = 2;
const PACKET: usize = 160;

fn many_streams(c: &mut Criterion) {
    let model = common::load("fp32");
    let speech = common::wav_i16("tests/fixtures/audio/telephone_8k.wav");
    // Stream i: 2 s starting at its own offset, looping over the clip.
    let audio: Vec<Vec<i16>> = (0..64)
        .map(|i| {
            speech
                .iter()
                .copied()
                .cycle()
                .skip(i * 1361 % speech.len())
                .take(SECONDS * RATE)
                .collect()
        })
        .collect();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut g = c.benchmark_group("many_streams");
    g.sample_size(10);
    for n in [1usize, 8, 64] {
        let threads = n.min(cores);
        g.throughput(Throughput::Elements((n * SECONDS) as u64));
        g.bench_function(format!("{n}streams/{threads}threads"), |b| {
            b.iter_batched(
                || {
                    (0..n)
                        .map(|_| dfd::Stream::new(&model, RATE as u32, 1).unwrap())
                        .collect::<Vec<_>>()
                },
                |streams| {
                    let mut per_thread: Vec<Vec<(usize, dfd::Stream)>> =
                        (0..threads).map(|_| Vec::new()).collect();
                    for (i, s) in streams.into_iter().enumerate() {
                        per_thread[i % threads].push((i, s));
                    }
                    std::thread::scope(|scope| {
                        for mine in per_thread {
                            let audio = &audio;
                            scope.spawn(move || {
                                let mut mine = mine;
                                for p in 0..SECONDS * RATE / PACKET {
                                    for (i, s) in mine.iter_mut() {
                                        let pcm = &audio[*i][p * PACKET..(p + 1) * PACKET];
                                        s.push_i16(std::hint::black_box(pcm)).unwrap();
                                    }
                                }
                                for (_, s) in mine.iter_mut() {
                                    s.flush().unwrap();
                                    std::hint::black_box(s.score());
                                }
                            });
                        }
                    });
                },
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, many_streams);
criterion_main!(benches);
