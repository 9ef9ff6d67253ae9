//! One ONNX model on onnxruntime: load, check against the host's shapes,
//! run.
//!
//! Loading: the bytes become a session (graph optimisation level 3, the
//! session's own log silenced), whose single input must be f32 of rank
//! `1 + item rank` with the host's item dims (where fixed), and whose first
//! output must hold `output_len` f32 per item. A symbolic batch axis runs a
//! host batch in one call (onnxruntime's kernels gain from it); a fixed
//! batch B runs chunks of B, the last one zero-padded.
//!
//! Threads: `threads` is onnxruntime's intra-op pool size; 0 means 1, as
//! on the CPU backend (several streams in parallel scale better than
//! threads inside one small model). `Session::run` takes `&mut`, so
//! concurrent calls each take a session from a small pool (more are made on
//! demand from the kept bytes).

use std::sync::Mutex;

use dfd_backend_abi::sdk::{self, Batching, Error, ModelSpec, Result};
use ort::logging::LogLevel;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::{TensorElementType, TensorRef, ValueType};
use ort::ErrorCode;

use crate::runtime::runtime;

/// Idle sessions kept per model (more are made on demand and dropped).
const MAX_IDLE: usize = 8;

pub struct OrtModel {
    onnx: Vec<u8>,
    threads: usize,
    batching: Batching,
    item_shape: Vec<usize>,
    item_len: usize,
    output_len: usize,
    idle: Mutex<Vec<Session>>,
}

/// What onnxruntime says (with a generic code) about an operator it lacks.
const NO_OP: [&str; 2] = [
    "is not a registered function/op",
    "Could not find an implementation for",
];

/// An onnxruntime error as a status: unreadable bytes and broken graphs are
/// `InvalidModel`, a missing operator or kernel `UnsupportedOp`, the rest `what`.
fn status(e: &ort::Error, what: fn(String) -> Error) -> Error {
    let text = e.to_string();
    if NO_OP.iter().any(|m| text.contains(m)) {
        return Error::unsupported(format!("onnxruntime: {text}"));
    }
    match e.code() {
        ErrorCode::InvalidProtobuf | ErrorCode::InvalidGraph | ErrorCode::NoModel => {
            Error::invalid_model(format!("onnxruntime cannot read the model: {text}"))
        }
        ErrorCode::NotImplemented => Error::unsupported(format!("onnxruntime: {text}")),
        _ => what(format!("onnxruntime: {text}")),
    }
}

fn dims(d: &[i64]) -> String {
    let v: Vec<String> = d
        .iter()
        .map(|&x| if x < 0 { "?".into() } else { x.to_string() })
        .collect();
    format!("[{}]", v.join(","))
}

impl OrtModel {
    pub fn load(spec: &ModelSpec) -> Result<OrtModel> {
        let mut m = OrtModel {
            onnx: spec.onnx.to_vec(),
            threads: spec.threads.max(1),
            batching: Batching::Symbolic,
            item_shape: spec.item_shape.clone(),
            item_len: spec.item_len(),
            output_len: spec.output_len,
            idle: Mutex::new(Vec::new()),
        };
        let session = m.session()?;
        m.batching = m.check(&session)?;
        m.idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(session);
        Ok(m)
    }

    fn session(&self) -> Result<Session> {
        let rt = runtime()?;
        let fail = |e: ort::Error<_>| status(&e.into(), Error::invalid_model);
        Session::builder(&rt.env)
            .map_err(|e| status(&e, Error::internal))?
            .with_log_level(LogLevel::Fatal)
            .map_err(fail)?
            .with_optimization_level(GraphOptimizationLevel::Level3)
            .map_err(fail)?
            .with_intra_threads(self.threads)
            .map_err(fail)?
            .with_inter_threads(1)
            .map_err(fail)?
            .commit_from_memory(&self.onnx)
            .map_err(|e| status(&e, Error::invalid_model))
    }

    /// The graph's input and output against the host's description.
    fn check(&self, s: &Session) -> Result<Batching> {
        let [input] = s.inputs() else {
            return Err(Error::invalid_model(format!(
                "the graph has {} inputs; the onnxruntime backend feeds exactly one",
                s.inputs().len()
            )));
        };
        let want = dims(
            &self
                .item_shape
                .iter()
                .map(|&d| d as i64)
                .collect::<Vec<_>>(),
        );
        let ValueType::Tensor { ty, shape, .. } = input.dtype() else {
            return Err(Error::invalid_model("the graph input is not a tensor"));
        };
        if *ty != TensorElementType::Float32 {
            return Err(Error::invalid_model(format!(
                "model input is {ty:?}; the backend feeds f32 (keep the graph input f32 and cast inside)"
            )));
        }
        if shape.len() != self.item_shape.len() + 1 {
            return Err(Error::mismatch(format!(
                "model input is {} (rank {}, batch axis first) but the manifest says {want} plus a batch axis",
                dims(shape),
                shape.len()
            )));
        }
        let item_ok = shape[1..]
            .iter()
            .zip(&self.item_shape)
            .all(|(&d, &w)| d < 0 || d as usize == w);
        if !item_ok {
            return Err(Error::mismatch(format!(
                "model input is {} but the manifest says {want}",
                dims(&shape[1..])
            )));
        }
        let batching = match shape[0] {
            b if b < 1 => Batching::Symbolic,
            b => Batching::Fixed(b as usize),
        };
        let Some(output) = s.outputs().first() else {
            return Err(Error::invalid_model("the graph has no output"));
        };
        let ValueType::Tensor { ty, shape, .. } = output.dtype() else {
            return Err(Error::invalid_model("the graph output is not a tensor"));
        };
        if *ty != TensorElementType::Float32 {
            return Err(Error::invalid_model(format!(
                "model output is {ty:?}; the backend reads f32"
            )));
        }
        // Checked here when every item dim is known, else after each run.
        if !shape.is_empty() && shape[1..].iter().all(|&d| d >= 0) {
            let per_item: i64 = shape[1..].iter().product();
            if per_item != self.output_len as i64 {
                return Err(Error::mismatch(format!(
                    "model output is {}, i.e. {per_item} value(s) per item, but the manifest says {}",
                    dims(shape),
                    self.output_len
                )));
            }
        }
        Ok(batching)
    }

    fn take(&self) -> Result<Session> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        match idle {
            Some(s) => Ok(s),
            None => self.session(),
        }
    }

    fn put(&self, s: Session) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(s);
        }
    }

    /// One onnxruntime call on `n` items.
    fn run_chunk(&self, session: &mut Session, input: &[f32], n: usize) -> Result<Vec<f32>> {
        let mut shape = Vec::with_capacity(self.item_shape.len() + 1);
        shape.push(n as i64);
        shape.extend(self.item_shape.iter().map(|&d| d as i64));
        let tensor =
            TensorRef::from_array_view((shape, input)).map_err(|e| status(&e, Error::internal))?;
        let outputs = session
            .run(ort::inputs![tensor])
            .map_err(|e| status(&e, Error::runtime))?;
        let (out_shape, values) = outputs[0]
            .try_extract_tensor::<f32>()
            .map_err(|e| status(&e, Error::runtime))?;
        if values.len() != n * self.output_len {
            return Err(Error::runtime(format!(
                "the model produced {} values for a batch of {n} (shape {}); expected {} per item",
                values.len(),
                dims(out_shape),
                self.output_len
            )));
        }
        Ok(values.to_vec())
    }
}

impl sdk::Model for OrtModel {
    fn run(&self, input: &[f32], batch: usize) -> Result<Vec<f32>> {
        let mut session = self.take()?;
        let result = match self.batching {
            Batching::Symbolic => self.run_chunk(&mut session, input, batch),
            Batching::Fixed(b) => sdk::run_padded(input, self.item_len, self.output_len, b, |x| {
                self.run_chunk(&mut session, x, b)
            }),
        };
        // A session whose run failed is dropped, not reused.
        if result.is_ok() {
            self.put(session);
        }
        result
    }
}
