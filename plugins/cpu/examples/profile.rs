//! Per-node profile of a model in tract, as the CPU backend loads it: where
//! a window's time goes, node by node of the optimised plan, and how that
//! compares with the node's multiply-accumulates.
//!
//! ```sh
//! cargo run --release -p dfd-backend-cpu --example profile -- \
//!     [models/dfd-lfb-cnn/model.fp32.onnx] [--batch symbolic|N] [--runs 200]
//! ```
//!
//! `--batch symbolic` plans with a symbolic batch axis (how the backend ran
//! until it pinned N = 1); `--batch 1` plans at the concrete shape.

use std::time::{Duration, Instant};

use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid;
use tract_onnx::tract_hir::internal::DimLike;

fn main() -> TractResult<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opt = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let path = args
        .first()
        .filter(|a| !a.starts_with("--"))
        .cloned()
        .unwrap_or_else(|| "models/dfd-lfb-cnn/model.fp32.onnx".into());
    let batch = opt("--batch").unwrap_or_else(|| "1".into());
    let runs: usize = opt("--runs").map_or(200, |r| r.parse().expect("--runs N"));

    let mut model = tract_onnx::onnx().model_for_path(&path)?;
    let fact = model.input_fact(0)?.clone();
    let item: Vec<usize> = fact
        .shape
        .dims()
        .skip(1)
        .map(|d| {
            d.concretize()
                .and_then(|d| d.to_usize().ok())
                .expect("fixed item dims")
        })
        .collect();
    let n: TDim = match batch.as_str() {
        "symbolic" => model.symbols.new_with_prefix("N").into(),
        b => b.parse::<usize>().expect("--batch symbolic|N").into(),
    };
    let shape: TVec<TDim> = std::iter::once(n)
        .chain(item.iter().map(|&d| d.into()))
        .collect();
    model.set_input_fact(0, f32::fact(shape).into())?;
    let plan = model.into_optimized()?.into_runnable()?;

    let mut concrete = vec![1usize];
    concrete.extend(&item);
    let input = Tensor::from_shape(
        &concrete,
        &(0..concrete.iter().product::<usize>())
            .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
            .collect::<Vec<_>>(),
    )?;
    let mut state = plan.spawn()?;
    let nodes = plan.model().nodes().len();
    let mut per_node = vec![Duration::ZERO; nodes];
    let mut total = Duration::ZERO;
    for run in 0..runs + 10 {
        let t0 = Instant::now();
        let mut times = vec![Duration::ZERO; nodes];
        state.run_plan_with_eval(
            tvec!(input.clone().into_tvalue()),
            |ctx, st, node, inputs| {
                let t = Instant::now();
                let r = tract_onnx::tract_core::plan::eval(ctx, st, node, inputs);
                times[node.id] += t.elapsed();
                r
            },
        )?;
        if run >= 10 {
            // The first runs warm caches and allocators.
            total += t0.elapsed();
            for (acc, t) in per_node.iter_mut().zip(times) {
                *acc += t;
            }
        }
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3 / runs as f64;
    println!(
        "{path}, batch {batch}, {runs} runs: {:.3} ms per window",
        ms(total)
    );
    let mut rows: Vec<(usize, Duration)> = per_node.into_iter().enumerate().collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.1));
    for (id, t) in rows.into_iter().filter(|r| !r.1.is_zero()) {
        let node = plan.model().node(id);
        println!(
            "{:8.3} ms  {:5.1} %  #{id} {} {}",
            ms(t),
            100.0 * t.as_secs_f64() / total.as_secs_f64(),
            node.op().name(),
            node.name
        );
    }
    Ok(())
}
