//! Batch scaling of a backend (the GPU question: how many windows per
//! launch pay off?). For batch 1, 2, 4, ..., 256 of the default model's
//! 2-s windows: the network alone on libdfd's features (`Model::infer`),
//! and the whole path from raw windows, front end included, as deferred
//! streams feed it (`infer_streams`: the front end runs on the backend when
//! it can, else on the CPU inside the pushes). Throughput is windows per
//! second.
//!
//! `DFD_BENCH_BACKEND` picks the backend (default `cpu`; `cuda` needs the
//! plugin and a GPU), `DFD_BENCH_PRECISION` the variant (default `fp32`).
//! Run: `cargo build --release --workspace && cargo bench --bench backend_batch`.

#[path = "common.rs"]
mod common;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use dfd::model::BACKEND_BATCH;

fn model() -> dfd::Model {
    let backend = std::env::var("DFD_BENCH_BACKEND").unwrap_or_else(|_| "cpu".into());
    let precision = std::env::var("DFD_BENCH_PRECISION").unwrap_or_else(|_| "fp32".into());
    let opts = dfd::ModelOptions {
        backend: backend.parse().unwrap(),
        precision: precision.parse().unwrap(),
        threads: 0,
        plugin_dir: Some(common::plugin_dir()),
    };
    dfd::Model::load(common::model_path(), &opts).unwrap()
}

fn backend_batch(c: &mut Criterion) {
    let model = model();
    let m = model.manifest();
    let speech = common::speech();
    // Window i starts at its own offset into the looped clip.
    let window = |i: usize| -> Vec<f32> {
        speech
            .iter()
            .copied()
            .cycle()
            .skip(i * 3001 % speech.len())
            .take(m.window)
            .collect()
    };
    let mut fe = model.frontend().clone();
    let feats: Vec<f32> = (0..BACKEND_BATCH)
        .flat_map(|i| {
            let mut f = vec![0.0; fe.output_len()];
            fe.compute(&window(i), &mut f);
            f
        })
        .collect();
    let pcm: Vec<Vec<i16>> = (0..BACKEND_BATCH)
        .map(|i| window(i).iter().map(|&v| (v * 32767.0) as i16).collect())
        .collect();
    let name = format!(
        "{}/{}{}",
        model.backend_name(),
        model.precision().as_str(),
        if model.frontend_on_backend() {
            "/frontend-on-backend"
        } else {
            ""
        }
    );
    let mut g = c.benchmark_group(format!("backend_batch/{name}"));
    g.sample_size(10);
    let mut scratch = Vec::new();
    let mut logits = vec![0.0; BACKEND_BATCH];
    for batch in [1usize, 2, 4, 8, 16, 32, 64, 128, 256] {
        g.throughput(Throughput::Elements(batch as u64));
        let n = batch * m.input_len();
        g.bench_function(format!("network/{batch}"), |b| {
            b.iter(|| {
                model
                    .infer(&feats[..n], batch, &mut scratch, &mut logits[..batch])
                    .unwrap()
            })
        });
        // One window per deferred stream, all scored in one call.
        g.bench_function(format!("streams/{batch}"), |b| {
            b.iter_batched(
                || {
                    (0..batch)
                        .map(|_| {
                            let mut s = dfd::Stream::new(&model, m.sample_rate, 1).unwrap();
                            s.set_deferred(true).unwrap();
                            s
                        })
                        .collect::<Vec<_>>()
                },
                |mut streams| {
                    for (s, p) in streams.iter_mut().zip(&pcm) {
                        s.push_i16(p).unwrap();
                    }
                    let mut refs: Vec<&mut dfd::Stream> = streams.iter_mut().collect();
                    let r = dfd::infer_streams(&mut refs).unwrap();
                    assert_eq!((r.windows, r.calls), (batch, 1));
                },
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, backend_batch);
criterion_main!(benches);
