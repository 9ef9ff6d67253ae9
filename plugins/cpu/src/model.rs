//! Load, check, optimise and run one ONNX model with tract.
//!
//! Loading goes through explicit stages so that each failure gets the right
//! status:
//! 1. protobuf decode (`InvalidModel`: garbage, truncated, no graph);
//! 2. ONNX -> tract inference graph (`UnsupportedOp` when tract has no
//!    implementation of a node's operator, or refuses its attributes: the
//!    message names the operator, its domain and the node);
//! 3. the input fact: `[batch, ...input_shape]`, with the graph's own batch
//!    symbol when the batch axis is symbolic or unknown (host batches then run
//!    as single-item calls: see [`SYMBOLIC_CHUNK`] for why), or the graph's
//!    fixed batch (usually 1; items then run in chunks of that size, the last
//!    one zero-padded). Any disagreement with the host's `input_shape` or
//!    `output_len` is `ShapeMismatch` ("model input is [1,40,101] but the
//!    manifest says [1,40,100]");
//! 4. typing, the batch fixed at one call's size ([`optimize`]),
//!    `into_optimized`, plan (`UnsupportedOp` naming the operator
//!    and node when tract cannot translate one; `InvalidModel`, still naming
//!    the node, when shapes or types contradict each other, e.g. a Conv whose
//!    weights do not match its input channels).
//!
//! The plan is an `Arc<TypedSimplePlan>` (Send + Sync) shared by all calls;
//! each call takes a run state from a small pool (or spawns one), so `run`
//! may be called from any number of threads at once. A graph with recurrent
//! state (tract's `Scan`, from ONNX LSTM / GRU / RNN / Scan) keeps that state
//! between runs of one tract state, so its calls always run on a fresh state:
//! windows are independent.
//!
//! Threads: with `threads > 1` (and the default `multithread` feature) the
//! plan gets its own rayon pool of that size
//! (`tract_linalg::multithread::Executor::multithread`), which tract uses
//! inside matrix products and element-wise ops; every model created with
//! `threads > 1` owns such a pool. With 0 or 1, each `run` is
//! single-threaded on the caller's thread: throughput then comes from the host
//! running several streams (several `run` calls) at once, which is how a call
//! centre scales. For small models like the detectors shipped with libdfd the
//! per-op work is below tract's threading threshold, so extra threads rarely
//! help a single window (see the README for numbers).

use std::collections::HashMap;
use std::sync::Mutex;

use tract_onnx::pb;
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::{Factoid, GenericFactoid};
use tract_onnx::tract_hir::internal::DimLike;
use tract_onnx::tract_hir::ops::unimpl::UnimplementedOp;

use dfd_backend_abi::sdk::{self, Batching, Error, ModelSpec, Result};

use crate::pool;
use crate::TRACT_VERSION;

/// A tract error with its whole context chain on one line ("a: b: c").
pub fn chain(e: &TractError) -> String {
    format!("{e:#}")
}

/// Items per tract call when the batch axis is symbolic; the plan fixes the
/// batch at this size (see [`optimize`]).
///
/// Measured with tract 0.23.9 (AMD EPYC, AVX2+FMA, single thread, ms per
/// window at batch 1 / 2 / 4 / 8 in one call):
/// tiny-mel fp32 0.35 / 0.74 / 0.63 / 0.73; tiny-mel int8 4.5 / 4.4 / 4.7 / 5.1;
/// a 42M-MAC 4-block CNN on [1,60,200] 4.7 / 8.0 / 7.4 / 7.7.
/// Batched calls are up to 2x *slower* per window (convolutions run per
/// batch item anyway, and the larger activations fall out of cache), and a
/// plan concretised at N=8 is no better (0.48 ms/window on tiny-mel; these
/// figures predate fixing the plan's batch, see [`optimize`]). So a
/// host batch runs as a loop of single-item calls; raising this is a
/// one-line change for models where batching pays (large matrix-vector
/// heads).
pub const SYMBOLIC_CHUNK: usize = 1;

/// Idle run states kept per model (more are spawned on demand and dropped).
const MAX_IDLE_STATES: usize = 16;

pub struct CpuModel {
    plan: Arc<TypedSimplePlan>,
    batching: Batching,
    item_shape: Vec<usize>,
    item_len: usize,
    output_len: usize,
    threads: usize,
    idle: Mutex<Vec<TypedSimpleState>>,
    /// The item axis of an utterance model that follows the audio.
    time_axis: Option<usize>,
    /// Some node keeps state from one run to the next: tract's `Scan` (what
    /// ONNX LSTM / GRU / RNN / Scan become) carries its hidden state over
    /// turns, for streaming. Windows are independent items, so such a model
    /// runs every call on a fresh state (a reused one would start the
    /// recurrence from the previous window's final state).
    stateful: bool,
    /// node name -> (op_type, domain), to name operators in run-time errors.
    ops: HashMap<String, (String, String)>,
}

impl std::fmt::Debug for CpuModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CpuModel")
            .field("batching", &self.batching)
            .field("item_shape", &self.item_shape)
            .field("output_len", &self.output_len)
            .field("threads", &self.threads)
            .finish()
    }
}

impl CpuModel {
    pub fn load(spec: &ModelSpec) -> Result<CpuModel> {
        let onnx = tract_onnx::onnx();

        // 1. protobuf
        let proto = onnx.proto_model_for_read(&mut &*spec.onnx).map_err(|e| {
            Error::invalid_model(format!("not a readable ONNX model: {}", chain(&e)))
        })?;
        let graph = proto
            .graph
            .as_ref()
            .ok_or_else(|| Error::invalid_model("not an ONNX model: it contains no graph"))?;
        if graph.node.is_empty() {
            return Err(Error::invalid_model(
                "not an ONNX model: its graph has no nodes",
            ));
        }
        let ops = node_ops(graph);

        // 2. ONNX -> inference graph
        let parsed = onnx
            .parse(&proto, None)
            .map_err(|e| parse_error(&e, &ops))?;
        if !parsed.unresolved_inputs.is_empty() {
            return Err(Error::invalid_model(format!(
                "the graph uses tensors it never defines: {}",
                parsed.unresolved_inputs.join(", ")
            )));
        }
        let mut model = parsed.model;
        let missing: Vec<String> = model
            .nodes()
            .iter()
            .filter(|n| n.op_is::<UnimplementedOp>())
            .map(|n| describe_node(&n.name, &ops))
            .collect();
        if !missing.is_empty() {
            return Err(Error::unsupported(format!(
                "tract {TRACT_VERSION} has no implementation of {}",
                missing.join(", ")
            )));
        }

        // 3. input and batch axis
        if model.inputs.len() != 1 {
            return Err(Error::invalid_model(format!(
                "the graph has {} inputs; the CPU backend feeds exactly one",
                model.inputs.len()
            )));
        }
        let fact = model
            .input_fact(0)
            .map_err(|e| Error::internal(chain(&e)))?
            .clone();
        let (batching, batch_dim) = check_input(&fact, &spec.item_shape, &mut model)?;
        let time_dim = match spec.time_axis {
            Some((axis, _)) => Some((axis, check_time_axis(&fact, axis, &mut model)?)),
            None => None,
        };
        let shape: TVec<TDim> = std::iter::once(batch_dim.clone())
            .chain(
                spec.item_shape
                    .iter()
                    .enumerate()
                    .map(|(i, d)| match &time_dim {
                        Some((axis, t)) if *axis == i => t.clone(),
                        _ => d.to_dim(),
                    }),
            )
            .collect();
        model
            .set_input_fact(0, f32::fact(shape).into())
            .map_err(|e| Error::internal(chain(&e)))?;

        // 4. typing, output check, optimisation, plan
        let typed = model
            .into_typed()
            .map_err(|e| translate_error("translate", &e, &ops))?;
        check_output(&typed, &batch_dim, spec.output_len)?;
        let optimized = optimize(typed, batching, &batch_dim, &ops)?;
        let options = RunOptions {
            executor: executor(spec.threads),
            ..RunOptions::default()
        };
        let plan = optimized
            .into_runnable_with_options(&options)
            .map_err(|e| translate_error("plan", &e, &ops))?;

        let item_len = spec.item_len();
        let mut m = CpuModel {
            plan,
            batching,
            item_shape: spec.item_shape.clone(),
            item_len,
            output_len: spec.output_len,
            threads: spec.threads,
            idle: Mutex::new(Vec::new()),
            time_axis: spec.time_axis.map(|(axis, _)| axis),
            stateful: false,
            ops,
        };
        // One state up front: catches plan problems at load, and the first
        // `run` does not pay for it.
        let state = m
            .plan
            .spawn()
            .map_err(|e| translate_error("plan", &e, &m.ops))?;
        m.stateful = state.op_states.iter().any(Option::is_some);
        m.put_state(state);
        Ok(m)
    }

    /// Items per tract call: the graph's fixed batch, or
    /// [`SYMBOLIC_CHUNK`] for a symbolic batch axis.
    pub fn chunk(&self) -> usize {
        match self.batching {
            Batching::Symbolic => SYMBOLIC_CHUNK,
            Batching::Fixed(b) => b,
        }
    }

    fn run_chunk(&self, input: &[f32], n: usize, item: &[usize]) -> Result<Vec<f32>> {
        let mut shape = Vec::with_capacity(item.len() + 1);
        shape.push(n);
        shape.extend_from_slice(item);
        let t = Tensor::from_shape(&shape, input).map_err(|e| Error::internal(chain(&e)))?;
        let mut state = self.take_state()?;
        // A state whose run failed is dropped, not reused.
        let outputs = state
            .run(tvec!(t.into_tvalue()))
            .map_err(|e| self.run_error(&e))?;
        if !self.stateful {
            self.put_state(state);
        }
        let out = outputs
            .first()
            .ok_or_else(|| Error::runtime("the model produced no output"))?;
        let view = out
            .try_as_plain_ram()
            .map_err(|e| Error::runtime(chain(&e)))?;
        let values = view
            .as_slice::<f32>()
            .map_err(|e| Error::runtime(chain(&e)))?;
        if values.len() != n * self.output_len {
            return Err(Error::runtime(format!(
                "the model produced {} values for a batch of {n} (shape {:?}); expected {} per item",
                values.len(),
                out.shape(),
                self.output_len
            )));
        }
        Ok(values.to_vec())
    }

    fn take_state(&self) -> Result<TypedSimpleState> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        match idle {
            Some(s) => Ok(s),
            None => self.plan.spawn().map_err(|e| Error::runtime(chain(&e))),
        }
    }

    fn put_state(&self, s: TypedSimpleState) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE_STATES {
            idle.push(s);
        }
    }

    fn run_error(&self, e: &TractError) -> Error {
        let text = chain(e);
        match blame(&text, &self.ops) {
            Some(name) => Error::runtime(format!(
                "tract failed running {}: {text}",
                describe_node(&name, &self.ops)
            )),
            None => Error::runtime(format!("tract failed running the model: {text}")),
        }
    }
}

impl sdk::Model for CpuModel {
    /// Runs `batch` items in calls of [`CpuModel::chunk`] items (the last
    /// call of a fixed-batch graph zero-padded).
    fn run(&self, input: &[f32], _batch: usize) -> Result<Vec<f32>> {
        let chunk = self.chunk();
        sdk::run_padded(input, self.item_len, self.output_len, chunk, |x| {
            self.run_chunk(x, chunk, &self.item_shape)
        })
    }

    /// Runs one item whose time axis has `frames` entries (the SDK checked
    /// `frames` against `max_frames` and the input's length), zero-padded to
    /// a call of [`CpuModel::chunk`] items.
    fn run_frames(&self, input: &[f32], frames: usize) -> Result<Vec<f32>> {
        let Some(axis) = self.time_axis else {
            return Err(Error::arg(
                "run_frames: the model was created without a time_axis",
            ));
        };
        let mut item = self.item_shape.clone();
        item[axis] = frames;
        let chunk = self.chunk();
        let mut out = if chunk > 1 {
            let mut padded = input.to_vec();
            padded.resize(chunk * input.len(), 0.0);
            self.run_chunk(&padded, chunk, &item)?
        } else {
            self.run_chunk(input, 1, &item)?
        };
        out.truncate(self.output_len);
        Ok(out)
    }
}

/// Node name -> (op_type, domain), naming nodes the way tract-onnx does
/// (the node name, else its first output, else "<index>-<op_type>").
fn node_ops(graph: &pb::GraphProto) -> HashMap<String, (String, String)> {
    let mut m = HashMap::new();
    for n in &graph.node {
        let name = if !n.name.is_empty() {
            n.name.clone()
        } else if n.output.first().is_some_and(|o| !o.is_empty()) {
            n.output[0].clone()
        } else {
            continue;
        };
        m.insert(name, (n.op_type.clone(), n.domain.clone()));
    }
    m
}

/// `operator com.example.WaveletPool (node "wavelet_pool")`.
fn describe_node(name: &str, ops: &HashMap<String, (String, String)>) -> String {
    match ops.get(name) {
        Some((op, domain)) if !domain.is_empty() && domain != "ai.onnx" => {
            format!("operator {op} (domain {domain}) in node \"{name}\"")
        }
        Some((op, _)) => format!("operator {op} in node \"{name}\""),
        None => format!("node \"{name}\""),
    }
}

/// The outermost node of the model an error message names: tract writes
/// nodes as `#12 "name" Op`, and derived nodes as `"name.suffix"`.
fn blame(text: &str, ops: &HashMap<String, (String, String)>) -> Option<String> {
    let mut best: Option<(usize, &String)> = None;
    for name in ops.keys() {
        for pat in [
            format!("\"{name}\""),
            format!("\"{name}."),
            format!(" {name} ("),
        ] {
            if let Some(pos) = text.find(&pat) {
                // earliest mention wins; at equal position the longer name
                if best.is_none_or(|(p, n)| pos < p || (pos == p && name.len() > n.len())) {
                    best = Some((pos, name));
                }
            }
        }
    }
    best.map(|(_, n)| n.clone())
}

fn parse_error(e: &TractError, ops: &HashMap<String, (String, String)>) -> Error {
    let text = chain(e);
    match blame(&text, ops) {
        Some(name) => Error::unsupported(format!(
            "tract {TRACT_VERSION} cannot build {}: {text}",
            describe_node(&name, ops)
        )),
        None => Error::invalid_model(format!("tract could not read the ONNX graph: {text}")),
    }
}

fn translate_error(stage: &str, e: &TractError, ops: &HashMap<String, (String, String)>) -> Error {
    let text = chain(e);
    // Contradictory shapes or types (e.g. a Conv whose weights do not match
    // its input channels): the graph itself is inconsistent.
    let inconsistent = text.contains("Impossible to unify");
    match blame(&text, ops) {
        Some(name) if inconsistent => Error::invalid_model(format!(
            "the graph is inconsistent at {}: {text}",
            describe_node(&name, ops)
        )),
        Some(name) => Error::unsupported(format!(
            "tract {TRACT_VERSION} cannot {stage} {}: {text}",
            describe_node(&name, ops)
        )),
        None => Error::invalid_model(format!("tract could not {stage} the model: {text}")),
    }
}

/// Optimises the typed graph; a symbolic batch axis is first fixed at
/// [`SYMBOLIC_CHUNK`] items, the size of every call on it, because tract
/// plans a concrete shape better than a symbolic one (the shipped detector,
/// `cargo bench --bench tract_profile`: 2.41 against 2.98 ms per window on
/// a quiet machine, 2.8 against 7.0 ms on a loaded one, where the symbolic
/// plan's separate im2col and pooling passes suffer most).
/// Then 2x2 max-pools get [`pool::MaxPool2x2`].
/// Where fixing it fails (an op tract cannot re-type with the batch bound,
/// e.g. a `Range` over the batch size), the symbolic graph is optimised
/// instead: slower, but it loads as before. A fixed batch, or a batch that
/// is an expression rather than one symbol, is optimised as is.
pub fn optimize(
    typed: TypedModel,
    batching: Batching,
    batch: &TDim,
    ops: &HashMap<String, (String, String)>,
) -> Result<TypedModel> {
    let mut optimized = None;
    if let (Batching::Symbolic, TDim::Sym(n)) = (batching, batch) {
        let chunk = HashMap::from([(n.clone(), TDim::from(SYMBOLIC_CHUNK as i64))]);
        optimized = typed
            .set_symbols(&chunk)
            .and_then(|m| m.into_optimized())
            .ok();
    }
    let mut optimized = match optimized {
        Some(m) => m,
        None => typed
            .into_optimized()
            .map_err(|e| translate_error("optimise", &e, ops))?,
    };
    pool::rewrite(&mut optimized).map_err(|e| translate_error("optimise", &e, ops))?;
    Ok(optimized)
}

/// The executor for `threads` (None: single-threaded on the caller's thread).
#[cfg(feature = "multithread")]
fn executor(threads: usize) -> Option<tract_linalg::multithread::Executor> {
    (threads > 1).then(|| tract_linalg::multithread::Executor::multithread(threads))
}

/// Built without the `multithread` feature: `threads` is ignored.
#[cfg(not(feature = "multithread"))]
fn executor(_threads: usize) -> Option<tract_linalg::multithread::Executor> {
    None
}

fn fmt_dims<T: std::fmt::Display>(dims: impl IntoIterator<Item = T>) -> String {
    let v: Vec<String> = dims.into_iter().map(|d| d.to_string()).collect();
    format!("[{}]", v.join(","))
}

fn fmt_factoid(d: &GenericFactoid<TDim>) -> String {
    match d {
        GenericFactoid::Only(d) => d.to_string(),
        GenericFactoid::Any => "?".to_string(),
    }
}

/// Checks the graph's declared input against the host's item shape and
/// decides the batching. Returns the batch dim to use in the input fact.
fn check_input(
    fact: &InferenceFact,
    item_shape: &[usize],
    model: &mut InferenceModel,
) -> Result<(Batching, TDim)> {
    if let Some(dt) = fact.datum_type.concretize() {
        if dt != f32::datum_type() {
            return Err(Error::invalid_model(format!(
                "model input is {dt:?}; the CPU backend feeds f32 (keep the graph input f32 and cast inside)"
            )));
        }
    }
    let manifest = fmt_dims(item_shape);
    if fact.shape.is_open() {
        // Rank unknown: trust the host, symbolic batch.
        return Ok((
            Batching::Symbolic,
            model.symbols.new_with_prefix("N").into(),
        ));
    }
    let dims: Vec<GenericFactoid<TDim>> = fact.shape.dims().cloned().collect();
    let graph_item = || fmt_dims(dims.iter().skip(1).map(fmt_factoid));
    if dims.len() != item_shape.len() + 1 {
        return Err(Error::mismatch(format!(
            "model input is {} (rank {}, batch axis first) but the manifest says {manifest} plus a batch axis",
            fmt_dims(dims.iter().map(fmt_factoid)),
            dims.len()
        )));
    }
    for (d, want) in dims.iter().skip(1).zip(item_shape) {
        if let GenericFactoid::Only(d) = d {
            if let Ok(v) = d.to_i64() {
                if v != *want as i64 {
                    return Err(Error::mismatch(format!(
                        "model input is {} but the manifest says {manifest}",
                        graph_item()
                    )));
                }
            }
        }
    }
    let batch = match &dims[0] {
        GenericFactoid::Only(d) => match d.to_i64() {
            Ok(b) if b >= 1 => (Batching::Fixed(b as usize), d.clone()),
            Ok(b) => {
                return Err(Error::invalid_model(format!(
                    "model input has a batch axis of {b}"
                )));
            }
            Err(_) => (Batching::Symbolic, d.clone()),
        },
        GenericFactoid::Any => (
            Batching::Symbolic,
            model.symbols.new_with_prefix("N").into(),
        ),
    };
    Ok(batch)
}

/// The symbol of an utterance model's time axis: the graph's own when that
/// axis is symbolic (e.g. `frames`) or unknown, a new one otherwise refused:
/// a fixed length there cannot follow the audio.
fn check_time_axis(fact: &InferenceFact, axis: usize, model: &mut InferenceModel) -> Result<TDim> {
    let dim = if fact.shape.is_open() {
        None
    } else {
        fact.shape.dims().nth(axis + 1).cloned()
    };
    match dim {
        Some(GenericFactoid::Only(d)) => match d.to_i64() {
            Ok(v) => Err(Error::mismatch(format!(
                "model input axis {} (time_axis {axis} of the item) is fixed at {v}; an utterance model needs a symbolic time axis (export it with dynamic_axes)",
                axis + 1
            ))),
            Err(_) => Ok(d),
        },
        _ => Ok(model.symbols.new_with_prefix("T").into()),
    }
}

fn check_output(model: &TypedModel, batch: &TDim, output_len: usize) -> Result<()> {
    let fact = model
        .output_fact(0)
        .map_err(|e| Error::internal(chain(&e)))?;
    if fact.datum_type != f32::datum_type() {
        return Err(Error::invalid_model(format!(
            "model output is {:?}; the CPU backend reads f32",
            fact.datum_type
        )));
    }
    let shape = fact.shape.to_tvec();
    let item: Option<usize> = shape
        .iter()
        .skip(1)
        .map(|d| d.to_usize().ok())
        .try_fold(1usize, |acc, d| d.map(|d| acc * d));
    if shape.is_empty() || &shape[0] != batch || item != Some(output_len) {
        return Err(Error::mismatch(format!(
            "model output is {} for an input batch of {batch}, i.e. {} value(s) per item, but the manifest says {output_len}",
            fmt_dims(shape.iter()),
            item.map(|i| i.to_string()).unwrap_or_else(|| "a variable number of".into()),
        )));
    }
    Ok(())
}
