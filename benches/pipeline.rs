//! The three costs of scoring audio, on the model in `DFD_BENCH_MODEL`
//! (default: the shipped model `models/dfd-lfb-cnn`), single-threaded:
//! - `frontend/1s`: the front end for one second of audio at the model rate;
//! - `inference/<precision>/batch<N>`: the network per window;
//! - `stream/10s/<precision>`: pushing 10 s of 16 kHz speech end to end
//!   (resampling off, front end, gate, batched inference). The real-time
//!   factor is this time divided by 10 s.
//!
//! Run: `cargo build --release --workspace && cargo bench --bench pipeline`.

#[path = "common.rs"]
mod common;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

fn frontend(c: &mut Criterion) {
    let model = common::load("fp32");
    let m = model.manifest();
    let speech = common::speech();
    let windows_per_second = m.sample_rate as f64 / m.hop as f64;
    let mut fe = model.frontend().clone();
    let mut out = vec![0.0; fe.output_len()];
    let window = &speech[..m.window];
    let mut g = c.benchmark_group("frontend");
    // One second of audio = sample_rate / hop windows.
    g.bench_function("1s", |b| {
        b.iter(|| {
            for _ in 0..windows_per_second.round() as usize {
                fe.compute(std::hint::black_box(window), &mut out);
            }
        })
    });
    g.finish();
}

fn inference(c: &mut Criterion) {
    let mut g = c.benchmark_group("inference");
    for precision in ["fp32", "fp16", "int8"] {
        let model = common::load(precision);
        let n = model.manifest().input_len();
        for batch in [1usize, 8] {
            let feats = vec![0.1f32; n * batch];
            let mut scratch = Vec::new();
            let mut logits = vec![0.0; batch];
            g.throughput(Throughput::Elements(batch as u64));
            g.bench_function(format!("{precision}/batch{batch}"), |b| {
                b.iter(|| {
                    model
                        .infer(
                            std::hint::black_box(&feats),
                            batch,
                            &mut scratch,
                            &mut logits,
                        )
                        .unwrap()
                })
            });
        }
    }
    g.finish();
}

fn stream(c: &mut Criterion) {
    let speech = common::speech();
    let ten: Vec<f32> = speech.iter().copied().cycle().take(160_000).collect();
    let mut g = c.benchmark_group("stream");
    g.sample_size(20);
    for precision in ["fp32", "fp16", "int8"] {
        let model = common::load(precision);
        g.bench_function(format!("10s/{precision}"), |b| {
            b.iter_batched(
                || dfd::Stream::new(&model, 16000, 1).unwrap(),
                |mut s| {
                    for chunk in ten.chunks(320) {
                        s.push(chunk).unwrap();
                    }
                    s.score()
                },
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, frontend, inference, stream);
criterion_main!(benches);
