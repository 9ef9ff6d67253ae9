//! Where tract spends a window's time: a per-node profile of one ONNX model
//! as the CPU plugin plans it, and the plan variants worth comparing
//! (issue 16: "tract near its best").
//!
//!     cargo bench --workspace --bench tract_profile
//!     DFD_PROFILE_MODEL=path/to/model.onnx DFD_PROFILE_RUNS=500 cargo bench --workspace --bench tract_profile
//!
//! Default model: the shipped `models/dfd-lfb-cnn/model.fp32.onnx`, batch 1,
//! one thread. Prints, for each plan variant, the median time per window
//! over interleaved runs; then the per-node profile of the plugin's own
//! plan (the batch fixed at 1, `model::optimize`): time per node,
//! its share, and for the matrix products the achieved multiply-accumulates
//! per second. Not a criterion bench: the answer is a table, not a
//! regression check.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use dfd_backend_abi::sdk::Batching;
use dfd_backend_cpu::model::optimize;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::{Cost, OpState};
use tract_onnx::tract_core::plan::{eval, EvalContext};
use tract_onnx::tract_hir::infer::Factoid;
use tract_onnx::tract_hir::internal::DimLike;

fn model_path() -> std::path::PathBuf {
    std::env::var_os("DFD_PROFILE_MODEL")
        .map(Into::into)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../models/dfd-lfb-cnn/model.fp32.onnx"
            ))
        })
}

/// The item shape: the graph's input without its batch axis.
fn item_shape(model: &InferenceModel) -> Vec<usize> {
    let fact = model.input_fact(0).unwrap();
    let shape = fact.shape.concretize().expect("input rank must be known");
    shape[1..]
        .iter()
        .map(|d| d.to_usize().expect("fixed item shape"))
        .collect()
}

/// The graph typed with a symbolic batch axis, then optimised the plugin's
/// way (`model::optimize`: the batch fixed at one call's size) or with the
/// batch left symbolic.
fn plan(plugins_way: bool) -> (Arc<TypedSimplePlan>, Vec<usize>) {
    let mut model = tract_onnx::onnx().model_for_path(model_path()).unwrap();
    let item = item_shape(&model);
    let batch: TDim = model.symbols.new_with_prefix("N").into();
    let shape: TVec<TDim> = std::iter::once(batch.clone())
        .chain(item.iter().map(|d| d.to_dim()))
        .collect();
    model.set_input_fact(0, f32::fact(shape).into()).unwrap();
    let typed = model.into_typed().unwrap();
    let optimized = if plugins_way {
        optimize(typed, Batching::Symbolic, &batch, &HashMap::new()).unwrap()
    } else {
        typed.into_optimized().unwrap()
    };
    (optimized.into_runnable().unwrap(), item)
}

fn input(item: &[usize]) -> Tensor {
    let n: usize = item.iter().product();
    let mut shape = vec![1];
    shape.extend_from_slice(item);
    // Deterministic, speech-like spread of normalised log energies.
    let data: Vec<f32> = (0..n)
        .map(|i| ((i * 7919) % 1000) as f32 / 250.0 - 2.0)
        .collect();
    Tensor::from_shape(&shape, &data).unwrap()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Multiply-accumulates of a node from its operator's own cost model.
fn macs(plan: &TypedSimplePlan, node: usize) -> f64 {
    let model = plan.model();
    let n = model.node(node);
    let inputs = model.node_input_facts(node).unwrap();
    let Ok(costs) = n.op.cost(&inputs) else {
        return 0.0;
    };
    costs
        .iter()
        .filter(|(c, _)| matches!(c, Cost::FMA(_)))
        .filter_map(|(_, d)| d.to_i64().ok())
        .sum::<i64>() as f64
}

fn main() {
    let runs: usize = std::env::var("DFD_PROFILE_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    println!("model {}", model_path().display());
    let variants = [
        ("batch fixed at 1 (the plugin's plan)", plan(true)),
        ("batch left symbolic", plan(false)),
    ];
    let x = input(&variants[0].1 .1);
    let mut states: Vec<_> = variants
        .iter()
        .map(|(_, (p, _))| p.spawn().unwrap())
        .collect();
    let mut times = vec![Vec::with_capacity(runs); variants.len()];
    for _ in 0..20 {
        for s in &mut states {
            s.run(tvec!(x.clone().into_tvalue())).unwrap();
        }
    }
    // Interleaved, so both variants see the same machine load.
    for _ in 0..runs {
        for (s, t) in states.iter_mut().zip(&mut times) {
            let t0 = Instant::now();
            s.run(tvec!(x.clone().into_tvalue())).unwrap();
            t.push(t0.elapsed());
        }
    }
    let outputs: Vec<Vec<f32>> = states
        .iter_mut()
        .map(|s| {
            let o = s.run(tvec!(x.clone().into_tvalue())).unwrap();
            o[0].try_as_plain_ram()
                .unwrap()
                .as_slice::<f32>()
                .unwrap()
                .to_vec()
        })
        .collect();
    for ((name, _), t) in variants.iter().zip(times) {
        println!(
            "{name:40} {:8.3} ms per window (median of {runs})",
            median(t).as_secs_f64() * 1e3
        );
    }
    println!("outputs {:?}", outputs);

    // Per-node profile of the plugin's plan.
    let (plan, _) = &variants[0].1;
    let mut state = plan.spawn().unwrap();
    let nodes = plan.model().nodes().len();
    let mut spent = vec![Duration::ZERO; nodes];
    for _ in 0..runs {
        state
            .run_plan_with_eval(
                tvec!(x.clone().into_tvalue()),
                |ctx: &EvalContext,
                 st: Option<&mut (dyn OpState + 'static)>,
                 node: &TypedNode,
                 inputs| {
                    let t0 = Instant::now();
                    let r = eval(ctx, st, node, inputs);
                    spent[node.id] += t0.elapsed();
                    r
                },
            )
            .unwrap();
    }
    let total: Duration = spent.iter().sum();
    println!(
        "\nper node, the plugin's plan ({} nodes, {:.3} ms per window in nodes):",
        nodes,
        total.as_secs_f64() * 1e3 / runs as f64
    );
    println!(
        "{:>8} {:>6} {:>10} {:>8}  node",
        "ms", "share", "MMAC", "GMAC/s"
    );
    let mut order: Vec<usize> = (0..nodes).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(spent[i]));
    for i in order.into_iter().filter(|&i| !spent[i].is_zero()) {
        let ms = spent[i].as_secs_f64() * 1e3 / runs as f64;
        let m = macs(plan, i);
        let node = plan.model().node(i);
        let rate = if m > 0.0 {
            format!("{:8.2}", m / (ms * 1e-3) / 1e9)
        } else {
            format!("{:>8}", "")
        };
        println!(
            "{ms:8.3} {:5.1}% {:10.2} {rate}  #{i} {} ({}) -> {}",
            100.0 * spent[i].as_secs_f64() / total.as_secs_f64(),
            m / 1e6,
            node.name,
            node.op.name(),
            plan.model()
                .outlet_fact(OutletId::new(i, 0))
                .map(|f| format!("{:?}", f.shape))
                .unwrap_or_default(),
        );
    }
}
