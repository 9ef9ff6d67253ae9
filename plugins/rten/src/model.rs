//! One ONNX model on RTen: load, check against the host's shapes, run.
//!
//! Loading: rten parses the bytes and plans the graph; an operator it lacks
//! is `UnsupportedOp` naming it, unreadable bytes `InvalidModel`. The single
//! input must be f32 of rank `1 + item rank` with the host's item dims
//! (where fixed); the output must hold `output_len` f32 per item. A
//! symbolic batch axis runs a host batch in one call; a fixed batch B runs
//! chunks of B, the last one zero-padded.
//!
//! Threads: rten runs every graph on a rayon pool. `threads` 0 uses rten's
//! shared pool (one thread per physical core, or `RTEN_NUM_THREADS`), which
//! concurrent calls share; `threads` N gives the model its own pool of N.
//! `rten::Model::run` takes `&self`, so calls from any number of threads
//! need no locking here.

use std::sync::Arc;

use dfd_backend_abi::sdk::{self, Batching, Error, ModelSpec, Result};
use rten::{
    DataType, Dimension, LoadError, LoadErrorKind, Model, RunError, RunOptions, ThreadPool,
    ValueType,
};
use rten_tensor::prelude::*;
use rten_tensor::{Tensor, TensorView};

pub struct RtenModel {
    model: Model,
    /// The model's own pool (`threads` > 0); `None`: rten's shared one.
    pool: Option<Arc<ThreadPool>>,
    batching: Batching,
    item_shape: Vec<usize>,
    item_len: usize,
    output_len: usize,
}

/// What rten says of an operator it lacks ("X operator not supported or
/// not enabled"), leaves out of this build ("X operator not enabled because
/// rten was compiled without ..."), or knows in a newer opset only.
const NO_OP: [&str; 3] = [
    "operator not supported",
    "operator not enabled",
    "but only version",
];

/// A load error as a status: a missing operator is `UnsupportedOp` (so
/// `auto` can fall back to tract), anything else `InvalidModel`.
fn load_status(e: &LoadError) -> Error {
    let text = e.to_string();
    match e.kind() {
        LoadErrorKind::OperatorInvalid if NO_OP.iter().any(|m| text.contains(m)) => {
            Error::unsupported(format!("rten: {text}"))
        }
        _ => Error::invalid_model(format!("rten cannot load the model: {text}")),
    }
}

fn run_status(e: &RunError) -> Error {
    Error::runtime(format!("rten: {e}"))
}

fn dims(d: &[Option<usize>]) -> String {
    let v: Vec<String> = d
        .iter()
        .map(|x| x.map_or("?".into(), |n| n.to_string()))
        .collect();
    format!("[{}]", v.join(","))
}

/// A node's shape with symbolic dims as `None`; `None` when unknown.
fn shape_of(model: &Model, id: rten::NodeId) -> Option<Vec<Option<usize>>> {
    let shape = model.node_info(id)?.shape()?;
    Some(
        shape
            .iter()
            .map(|d| match d {
                Dimension::Fixed(n) => Some(*n),
                Dimension::Symbolic(_) => None,
            })
            .collect(),
    )
}

impl RtenModel {
    pub fn load(spec: &ModelSpec) -> Result<RtenModel> {
        let model = Model::load(spec.onnx.to_vec()).map_err(|e| load_status(&e))?;
        let mut m = RtenModel {
            model,
            pool: (spec.threads > 0).then(|| Arc::new(ThreadPool::with_num_threads(spec.threads))),
            batching: Batching::Symbolic,
            item_shape: spec.item_shape.clone(),
            item_len: spec.item_len(),
            output_len: spec.output_len,
        };
        m.batching = m.check()?;
        Ok(m)
    }

    /// The graph's input and output against the host's description.
    fn check(&self) -> Result<Batching> {
        let [input] = self.model.input_ids() else {
            return Err(Error::invalid_model(format!(
                "the graph has {} inputs; the rten backend feeds exactly one",
                self.model.input_ids().len()
            )));
        };
        let want = dims(&self.item_shape.iter().map(|&d| Some(d)).collect::<Vec<_>>());
        if let Some(ty) = self.model.node_info(*input).and_then(|i| i.dtype()) {
            if ty != ValueType::Tensor(DataType::Float) {
                return Err(Error::invalid_model(format!(
                    "model input is {ty}; the backend feeds f32 (keep the graph input f32 and cast inside)"
                )));
            }
        }
        let Some(shape) = shape_of(&self.model, *input) else {
            // No declared shape: every call is checked by rten as it runs.
            return Ok(Batching::Symbolic);
        };
        if shape.len() != self.item_shape.len() + 1 {
            return Err(Error::mismatch(format!(
                "model input is {} (rank {}, batch axis first) but the manifest says {want} plus a batch axis",
                dims(&shape),
                shape.len()
            )));
        }
        let item_ok = shape[1..]
            .iter()
            .zip(&self.item_shape)
            .all(|(d, &w)| d.is_none_or(|d| d == w));
        if !item_ok {
            return Err(Error::mismatch(format!(
                "model input is {} but the manifest says {want}",
                dims(&shape[1..])
            )));
        }
        let batching = match shape[0] {
            None | Some(0) => Batching::Symbolic,
            Some(b) => Batching::Fixed(b),
        };
        let Some(&output) = self.model.output_ids().first() else {
            return Err(Error::invalid_model("the graph has no output"));
        };
        // Checked here when every item dim is known, else after each run.
        if let Some(shape) = shape_of(&self.model, output) {
            if let Some(item) = shape.get(1..).filter(|s| s.iter().all(Option::is_some)) {
                let per_item: usize = item.iter().flatten().product();
                if per_item != self.output_len {
                    return Err(Error::mismatch(format!(
                        "model output is {}, i.e. {per_item} value(s) per item, but the manifest says {}",
                        dims(&shape),
                        self.output_len
                    )));
                }
            }
        }
        Ok(batching)
    }

    /// One rten call on `n` items.
    fn run_chunk(&self, input: &[f32], n: usize) -> Result<Vec<f32>> {
        let mut shape = Vec::with_capacity(self.item_shape.len() + 1);
        shape.push(n);
        shape.extend(&self.item_shape);
        let view = TensorView::from_data(&shape, input);
        let options = RunOptions::default().with_thread_pool(self.pool.clone());
        let out = self
            .model
            .run_one(view.into(), Some(options))
            .map_err(|e| run_status(&e))?;
        let out: Tensor<f32> = out
            .try_into()
            .map_err(|_| Error::runtime("the model's output is not f32"))?;
        if out.len() != n * self.output_len {
            return Err(Error::runtime(format!(
                "the model produced {} values for a batch of {n} (shape {:?}); expected {} per item",
                out.len(),
                out.shape(),
                self.output_len
            )));
        }
        Ok(out.to_vec())
    }
}

impl sdk::Model for RtenModel {
    fn run(&self, input: &[f32], batch: usize) -> Result<Vec<f32>> {
        match self.batching {
            Batching::Symbolic => self.run_chunk(input, batch),
            Batching::Fixed(b) => sdk::run_padded(input, self.item_len, self.output_len, b, |x| {
                self.run_chunk(x, b)
            }),
        }
    }
}
