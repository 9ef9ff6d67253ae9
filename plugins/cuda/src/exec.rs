//! The executor: turns the ONNX graph into a list of kernel launches for a
//! given batch, on any [`Device`]. The CUDA device ([`crate::gpu`]) and the
//! CPU simulation used by the tests (the same kernel source compiled with
//! g++) run exactly the same launch list, so shape inference, buffer
//! planning, broadcasting and argument marshalling are verified on the CPU;
//! only the driver calls behind `Device` differ.
//!
//! Supported ops (the default detector's): ReduceMean (trailing axes), Sub,
//! Add, Mul (one-sided broadcast), Conv (2-D, groups 1), Relu, MaxPool (2-D),
//! GlobalAveragePool, Flatten, MatMul (by a constant), Cast (of constants to
//! f32: f16 weights stay f16 in device memory and are widened in the
//! kernels). Any other op is refused with `UnsupportedOp` naming it.

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::onnx::{self, Graph, Node};

/// A kernel argument. `Buf` is a device buffer id from [`Device::alloc`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Arg {
    Buf(usize),
    /// A NULL pointer (e.g. no conv bias).
    Null,
    I32(i32),
    F32(f32),
}

/// Host f32 values as the bytes a device buffer holds (little-endian).
pub fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// What the executor needs from a device.
pub trait Device {
    /// A zero-filled buffer of `bytes`; returns its id.
    fn alloc(&mut self, bytes: usize) -> Result<usize>;
    fn upload(&mut self, buf: usize, data: &[u8]) -> Result<()>;
    fn download(&mut self, buf: usize, out: &mut [u8]) -> Result<()>;
    /// Launches `kernel` over `n` work items (grid from [`crate::kernels::launch_dims`]).
    fn launch(&mut self, kernel: &'static str, n: usize, args: &[Arg]) -> Result<()>;
    /// Waits for queued work.
    fn sync(&mut self) -> Result<()>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DType {
    F32,
    F16,
}

impl DType {
    fn size(self) -> usize {
        match self {
            DType::F32 => 4,
            DType::F16 => 2,
        }
    }
}

/// A value during scheduling.
#[derive(Debug, Clone)]
struct Val {
    buf: usize,
    shape: Vec<usize>,
    dtype: DType,
}

/// One kernel launch.
#[derive(Debug, Clone, PartialEq)]
pub struct Launch {
    pub kernel: &'static str,
    pub n: usize,
    pub args: Vec<Arg>,
}

pub const SUPPORTED_OPS: &[&str] = &[
    "ReduceMean",
    "Sub",
    "Add",
    "Mul",
    "Conv",
    "Relu",
    "MaxPool",
    "GlobalAveragePool",
    "Flatten",
    "MatMul",
    "Cast",
];

/// Refuses graphs with ops outside [`SUPPORTED_OPS`] before anything is
/// allocated; the error names the first such op.
pub fn check_ops(g: &Graph) -> Result<()> {
    for n in &g.nodes {
        let domain_ok = n.domain.is_empty() || n.domain == "ai.onnx";
        if !domain_ok || !SUPPORTED_OPS.contains(&n.op_type.as_str()) {
            let op = if domain_ok {
                n.op_type.clone()
            } else {
                format!("{}:{}", n.domain, n.op_type)
            };
            return Err(Error::unsupported(format!(
                "operator {op} (node {:?}) is not supported by the CUDA backend (supported: {})",
                n.name,
                SUPPORTED_OPS.join(", ")
            )));
        }
    }
    Ok(())
}

fn prod(s: &[usize]) -> usize {
    s.iter().product()
}

fn i32_of(v: usize, what: &str) -> Result<Arg> {
    i32::try_from(v)
        .map(Arg::I32)
        .map_err(|_| Error::runtime(format!("{what} = {v} does not fit the kernels' int")))
}

/// The loaded model: constants on the device, one buffer per activation
/// (sized for `max_batch`), and the graph to schedule.
pub struct Model {
    graph: Graph,
    input_name: String,
    output_name: String,
    item_shape: Vec<usize>,
    output_len: usize,
    max_batch: usize,
    consts: HashMap<String, Val>,
    /// Activation buffers by value name, allocated at load.
    acts: HashMap<String, usize>,
}

impl Model {
    /// Checks the graph, uploads its constants and allocates activation
    /// buffers for `max_batch` items.
    pub fn load<D: Device + ?Sized>(
        dev: &mut D,
        onnx_bytes: &[u8],
        item_shape: &[usize],
        output_len: usize,
        max_batch: usize,
    ) -> Result<Model> {
        let graph = onnx::parse(onnx_bytes)?;
        check_ops(&graph)?;
        let init_names: Vec<&str> = graph.initializers.iter().map(|t| t.name.as_str()).collect();
        let inputs: Vec<_> = graph
            .inputs
            .iter()
            .filter(|i| !init_names.contains(&i.name.as_str()))
            .collect();
        if inputs.len() != 1 || graph.outputs.len() != 1 {
            return Err(Error::shape(format!(
                "the CUDA backend runs graphs with one input and one output (this one has {} and {})",
                inputs.len(),
                graph.outputs.len()
            )));
        }
        let input = inputs[0];
        if input.elem_type != onnx::FLOAT {
            return Err(Error::unsupported(format!(
                "graph input {} has element type {}, the CUDA backend takes float32",
                input.name, input.elem_type
            )));
        }
        // The declared item dims (after the batch axis) must match the host's.
        if input.dims.len() != item_shape.len() + 1
            || input.dims[1..]
                .iter()
                .zip(item_shape)
                .any(|(d, &s)| d.is_some_and(|d| d as usize != s))
        {
            return Err(Error::shape(format!(
                "graph input {} has dims {:?}, the host feeds [batch, {:?}]",
                input.name, input.dims, item_shape
            )));
        }
        let mut consts = HashMap::new();
        for t in &graph.initializers {
            let dtype = match t.data_type {
                onnx::FLOAT => DType::F32,
                onnx::FLOAT16 => DType::F16,
                // Integer constants (e.g. ReduceMean axes as an input) are read on the host.
                _ => continue,
            };
            let shape: Vec<usize> = t.dims.iter().map(|&d| d.max(0) as usize).collect();
            if t.raw.len() != prod(&shape) * dtype.size() {
                return Err(Error::invalid_model(format!(
                    "initializer {} holds {} bytes for dims {:?}",
                    t.name,
                    t.raw.len(),
                    t.dims
                )));
            }
            let buf = dev.alloc(t.raw.len().max(4))?;
            dev.upload(buf, &t.raw)?;
            consts.insert(t.name.clone(), Val { buf, shape, dtype });
        }
        let mut m = Model {
            input_name: input.name.clone(),
            output_name: graph.outputs[0].name.clone(),
            graph,
            item_shape: item_shape.to_vec(),
            output_len,
            max_batch,
            consts,
            acts: HashMap::new(),
        };
        // Allocate at max_batch by scheduling once.
        let mut pending: Vec<(String, usize)> = Vec::new();
        m.schedule(max_batch, &mut |name, bytes| {
            pending.push((name.to_string(), bytes));
            // Placeholder ids that cannot collide with real buffer ids.
            Ok(usize::MAX / 2 + pending.len())
        })?;
        for (name, bytes) in pending {
            let buf = dev.alloc(bytes.max(4))?;
            m.acts.insert(name, buf);
        }
        // The schedule must now resolve against the allocated buffers.
        m.launches(max_batch)?;
        Ok(m)
    }

    pub fn item_len(&self) -> usize {
        prod(&self.item_shape)
    }
    pub fn output_len(&self) -> usize {
        self.output_len
    }
    pub fn max_batch(&self) -> usize {
        self.max_batch
    }
    pub fn input_buf(&self) -> usize {
        self.acts[&self.input_name]
    }

    /// The launch list for `batch` items, against the allocated buffers.
    pub fn launches(&self, batch: usize) -> Result<(Vec<Launch>, usize)> {
        self.schedule(batch, &mut |name, _| {
            self.acts
                .get(name)
                .copied()
                .ok_or_else(|| Error::internal(format!("no buffer for {name}")))
        })
    }

    /// Runs `batch` items from host memory; returns `batch * output_len` values.
    pub fn run<D: Device + ?Sized>(
        &self,
        dev: &mut D,
        input: &[f32],
        batch: usize,
    ) -> Result<Vec<f32>> {
        if batch == 0 || batch > self.max_batch || input.len() != batch * self.item_len() {
            return Err(Error::arg(format!(
                "run: batch {batch} with {} values (item {}, max_batch {})",
                input.len(),
                self.item_len(),
                self.max_batch
            )));
        }
        dev.upload(self.input_buf(), &f32_bytes(input))?;
        self.run_on_device(dev, batch)
    }

    /// Runs on input already in [`input_buf`](Self::input_buf) (e.g. written
    /// by the GPU front end).
    pub fn run_on_device<D: Device + ?Sized>(&self, dev: &mut D, batch: usize) -> Result<Vec<f32>> {
        let (launches, out_buf) = self.launches(batch)?;
        for l in &launches {
            dev.launch(l.kernel, l.n, &l.args)?;
        }
        dev.sync()?;
        let mut raw = vec![0u8; batch * self.output_len * 4];
        dev.download(out_buf, &mut raw)?;
        Ok(raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect())
    }

    /// Shape inference and launch list for `batch`; `buffer(name, bytes)`
    /// gives the buffer of an activation. Returns the launches and the
    /// output buffer.
    fn schedule(
        &self,
        batch: usize,
        buffer: &mut dyn FnMut(&str, usize) -> Result<usize>,
    ) -> Result<(Vec<Launch>, usize)> {
        let mut vals: HashMap<String, Val> = self.consts.clone();
        let mut launches = Vec::new();
        let mut in_shape = vec![batch];
        in_shape.extend(&self.item_shape);
        let ib = buffer(&self.input_name, prod(&in_shape) * 4)?;
        vals.insert(
            self.input_name.clone(),
            Val {
                buf: ib,
                shape: in_shape,
                dtype: DType::F32,
            },
        );
        for node in &self.graph.nodes {
            let out = self.node(node, &vals, buffer, &mut launches)?;
            let name = node.outputs.first().ok_or_else(|| {
                Error::invalid_model(format!("node {:?} has no output", node.name))
            })?;
            vals.insert(name.clone(), out);
        }
        let out = vals.get(&self.output_name).ok_or_else(|| {
            Error::invalid_model(format!(
                "graph output {} is never computed",
                self.output_name
            ))
        })?;
        if out.dtype != DType::F32
            || out.shape.first() != Some(&batch)
            || prod(&out.shape[1..]) != self.output_len
        {
            return Err(Error::shape(format!(
                "graph output {} has shape {:?}, the host expects [{batch}, {}] floats",
                self.output_name, out.shape, self.output_len
            )));
        }
        Ok((launches, out.buf))
    }

    fn node(
        &self,
        node: &Node,
        vals: &HashMap<String, Val>,
        buffer: &mut dyn FnMut(&str, usize) -> Result<usize>,
        launches: &mut Vec<Launch>,
    ) -> Result<Val> {
        let op = node.op_type.as_str();
        let input = |i: usize| -> Result<&Val> {
            let name = node
                .inputs
                .get(i)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| {
                    Error::invalid_model(format!("{op} node {:?} lacks input {i}", node.name))
                })?;
            vals.get(name)
                .ok_or_else(|| Error::invalid_model(format!("{op}: input {name} is undefined")))
        };
        let unsupported = |why: String| {
            Error::unsupported(format!("operator {op} (node {:?}): {why}", node.name))
        };
        let out_name = node.outputs[0].as_str();
        let mut new = |shape: Vec<usize>| -> Result<Val> {
            let buf = buffer(out_name, prod(&shape) * 4)?;
            Ok(Val {
                buf,
                shape,
                dtype: DType::F32,
            })
        };
        let need_f32 = |v: &Val, what: &str| -> Result<()> {
            if v.dtype == DType::F32 {
                Ok(())
            } else {
                Err(unsupported(format!("{what} must be float32 activations")))
            }
        };
        match op {
            "Cast" => {
                let x = input(0)?;
                if node.int("to") != Some(onnx::FLOAT as i64) {
                    return Err(unsupported(format!("cast to type {:?}", node.int("to"))));
                }
                // f16 -> f32 is deferred: the consumer reads f16 storage.
                Ok(x.clone())
            }
            "ReduceMean" => {
                let x = input(0)?;
                need_f32(x, "input")?;
                let rank = x.shape.len() as i64;
                let axes: Vec<i64> = match node.ints("axes") {
                    Some(a) => a.to_vec(),
                    None => match node.inputs.get(1).filter(|s| !s.is_empty()) {
                        Some(name) => {
                            let t = self
                                .graph
                                .initializers
                                .iter()
                                .find(|t| &t.name == name)
                                .ok_or_else(|| unsupported("axes must be a constant".into()))?;
                            t.raw
                                .chunks_exact(8)
                                .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
                                .collect()
                        }
                        None => (0..rank).collect(),
                    },
                };
                let mut axes: Vec<usize> = axes
                    .iter()
                    .map(|&a| if a < 0 { a + rank } else { a } as usize)
                    .collect();
                axes.sort_unstable();
                axes.dedup();
                let first = axes.first().copied().unwrap_or(x.shape.len());
                if axes.is_empty()
                    || first == 0
                    || axes != (first..x.shape.len()).collect::<Vec<_>>()
                {
                    return Err(unsupported(format!(
                        "axes {axes:?}: only trailing axes after the batch axis are supported"
                    )));
                }
                let keep = node.int("keepdims").unwrap_or(1) != 0;
                let outer = prod(&x.shape[..first]);
                let inner = prod(&x.shape[first..]);
                let mut shape = x.shape[..first].to_vec();
                if keep {
                    shape.extend(std::iter::repeat(1).take(x.shape.len() - first));
                }
                let y = new(shape)?;
                launches.push(Launch {
                    kernel: "reduce_mean_f32",
                    n: outer,
                    args: vec![
                        Arg::Buf(x.buf),
                        Arg::Buf(y.buf),
                        i32_of(outer, "outer")?,
                        i32_of(inner, "inner")?,
                    ],
                });
                Ok(y)
            }
            "Add" | "Sub" | "Mul" => {
                let (mut a, mut b) = (input(0)?, input(1)?);
                // Commutative ops may put the broadcast operand first.
                if op != "Sub" && prod(&a.shape) < prod(&b.shape) {
                    std::mem::swap(&mut a, &mut b);
                }
                need_f32(a, "the first operand")?;
                let (inner, bn) = broadcast(&a.shape, &b.shape).ok_or_else(|| {
                    unsupported(format!("broadcast of {:?} with {:?}", a.shape, b.shape))
                })?;
                let n = prod(&a.shape);
                let y = new(a.shape.clone())?;
                let code = match op {
                    "Add" => 0,
                    "Sub" => 1,
                    _ => 2,
                };
                launches.push(Launch {
                    kernel: if b.dtype == DType::F16 {
                        "binary_f16b"
                    } else {
                        "binary_f32"
                    },
                    n,
                    args: vec![
                        Arg::Buf(a.buf),
                        Arg::Buf(b.buf),
                        Arg::Buf(y.buf),
                        i32_of(n, "elements")?,
                        i32_of(inner, "inner")?,
                        i32_of(bn, "bn")?,
                        Arg::I32(code),
                    ],
                });
                Ok(y)
            }
            "Relu" => {
                let x = input(0)?;
                need_f32(x, "input")?;
                let n = prod(&x.shape);
                let y = new(x.shape.clone())?;
                launches.push(Launch {
                    kernel: "relu_f32",
                    n,
                    args: vec![Arg::Buf(x.buf), Arg::Buf(y.buf), i32_of(n, "elements")?],
                });
                Ok(y)
            }
            "Conv" => {
                let (x, w) = (input(0)?, input(1)?);
                need_f32(x, "input")?;
                let bias = match node.inputs.get(2).filter(|s| !s.is_empty()) {
                    Some(_) => Some(input(2)?),
                    None => None,
                };
                if !self.consts.values().any(|c| c.buf == w.buf) {
                    return Err(unsupported("weights must be constants".into()));
                }
                if x.shape.len() != 4 || w.shape.len() != 4 {
                    return Err(unsupported(format!(
                        "only 2-D convolution (input {:?})",
                        x.shape
                    )));
                }
                if node.int("group").unwrap_or(1) != 1 {
                    return Err(unsupported("group != 1".into()));
                }
                if let Some(a) = node.attr("auto_pad") {
                    if !a.s.is_empty() && a.s != b"NOTSET" {
                        return Err(unsupported("auto_pad".into()));
                    }
                }
                let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]);
                let (k, wc, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3]);
                if wc != c {
                    return Err(Error::invalid_model(format!(
                        "Conv {:?}: input has {c} channels, weights {wc}",
                        node.name
                    )));
                }
                if let Some(b) = bias {
                    if b.shape != [k] || b.dtype != w.dtype {
                        return Err(unsupported(format!("bias {:?} for {k} filters", b.shape)));
                    }
                }
                let s = node.ints("strides").unwrap_or(&[1, 1]);
                let d = node.ints("dilations").unwrap_or(&[1, 1]);
                let p = node.ints("pads").unwrap_or(&[0, 0, 0, 0]);
                if s.len() != 2 || d.len() != 2 || p.len() != 4 || p[0] != p[2] || p[1] != p[3] {
                    return Err(unsupported(format!(
                        "strides {s:?}, dilations {d:?}, pads {p:?}"
                    )));
                }
                let (sh, sw, dh, dw, ph, pw) = (
                    s[0] as usize,
                    s[1] as usize,
                    d[0] as usize,
                    d[1] as usize,
                    p[0] as usize,
                    p[1] as usize,
                );
                let span_h = dh * (kh - 1) + 1;
                let span_w = dw * (kw - 1) + 1;
                if h + 2 * ph < span_h || wd + 2 * pw < span_w || sh == 0 || sw == 0 {
                    return Err(Error::shape(format!(
                        "Conv {:?}: kernel larger than input",
                        node.name
                    )));
                }
                let oh = (h + 2 * ph - span_h) / sh + 1;
                let ow = (wd + 2 * pw - span_w) / sw + 1;
                let y = new(vec![n, k, oh, ow])?;
                let mut args = vec![
                    Arg::Buf(x.buf),
                    Arg::Buf(w.buf),
                    bias.map_or(Arg::Null, |b| Arg::Buf(b.buf)),
                    Arg::Buf(y.buf),
                ];
                for (v, what) in [
                    (n, "N"),
                    (c, "C"),
                    (h, "H"),
                    (wd, "W"),
                    (k, "K"),
                    (kh, "KH"),
                    (kw, "KW"),
                    (oh, "OH"),
                    (ow, "OW"),
                    (sh, "sh"),
                    (sw, "sw"),
                    (ph, "ph"),
                    (pw, "pw"),
                    (dh, "dh"),
                    (dw, "dw"),
                ] {
                    args.push(i32_of(v, what)?);
                }
                args.push(Arg::I32(bias.is_some() as i32));
                i32_of(n * k * oh * ow, "outputs")?;
                launches.push(Launch {
                    kernel: if w.dtype == DType::F16 {
                        "conv2d_f16w"
                    } else {
                        "conv2d_f32"
                    },
                    n: n * k * oh * ow,
                    args,
                });
                Ok(y)
            }
            "MaxPool" => {
                let x = input(0)?;
                need_f32(x, "input")?;
                if x.shape.len() != 4 {
                    return Err(unsupported(format!(
                        "only 2-D pooling (input {:?})",
                        x.shape
                    )));
                }
                let k = node.ints("kernel_shape").unwrap_or(&[]);
                let s = node.ints("strides").unwrap_or(&[1, 1]);
                let p = node.ints("pads").unwrap_or(&[0, 0, 0, 0]);
                let dil_ok = node
                    .ints("dilations")
                    .is_none_or(|d| d.iter().all(|&v| v == 1));
                if k.len() != 2
                    || s.len() != 2
                    || p.len() != 4
                    || p[0] != p[2]
                    || p[1] != p[3]
                    || node.int("ceil_mode").unwrap_or(0) != 0
                    || !dil_ok
                    || node.outputs.len() > 1
                {
                    return Err(unsupported(format!(
                        "kernel {k:?}, strides {s:?}, pads {p:?}, ceil_mode, dilations or indices output"
                    )));
                }
                let (kh, kw, sh, sw, ph, pw) = (
                    k[0] as usize,
                    k[1] as usize,
                    s[0] as usize,
                    s[1] as usize,
                    p[0] as usize,
                    p[1] as usize,
                );
                let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]);
                if h + 2 * ph < kh || w + 2 * pw < kw || sh == 0 || sw == 0 {
                    return Err(Error::shape(format!(
                        "MaxPool {:?}: window larger than input",
                        node.name
                    )));
                }
                let oh = (h + 2 * ph - kh) / sh + 1;
                let ow = (w + 2 * pw - kw) / sw + 1;
                let y = new(vec![n, c, oh, ow])?;
                let mut args = vec![Arg::Buf(x.buf), Arg::Buf(y.buf)];
                for (v, what) in [
                    (n * c, "NC"),
                    (h, "H"),
                    (w, "W"),
                    (kh, "KH"),
                    (kw, "KW"),
                    (sh, "sh"),
                    (sw, "sw"),
                    (ph, "ph"),
                    (pw, "pw"),
                    (oh, "OH"),
                    (ow, "OW"),
                ] {
                    args.push(i32_of(v, what)?);
                }
                launches.push(Launch {
                    kernel: "maxpool2d_f32",
                    n: n * c * oh * ow,
                    args,
                });
                Ok(y)
            }
            "GlobalAveragePool" => {
                let x = input(0)?;
                need_f32(x, "input")?;
                if x.shape.len() < 3 {
                    return Err(unsupported(format!("input of rank {}", x.shape.len())));
                }
                let nc = x.shape[0] * x.shape[1];
                let hw = prod(&x.shape[2..]);
                let mut shape = x.shape[..2].to_vec();
                shape.extend(std::iter::repeat(1).take(x.shape.len() - 2));
                let y = new(shape)?;
                launches.push(Launch {
                    kernel: "global_avg_pool_f32",
                    n: nc,
                    args: vec![
                        Arg::Buf(x.buf),
                        Arg::Buf(y.buf),
                        i32_of(nc, "NC")?,
                        i32_of(hw, "HW")?,
                    ],
                });
                Ok(y)
            }
            "Flatten" => {
                let x = input(0)?;
                let rank = x.shape.len() as i64;
                let axis = node.int("axis").unwrap_or(1);
                let axis = if axis < 0 { axis + rank } else { axis };
                if axis != 1 {
                    return Err(unsupported(format!(
                        "axis {axis} (only 1 keeps the batch axis)"
                    )));
                }
                // A view: same buffer, new shape.
                Ok(Val {
                    buf: x.buf,
                    shape: vec![x.shape[0], prod(&x.shape[1..])],
                    dtype: x.dtype,
                })
            }
            "MatMul" => {
                let (a, b) = (input(0)?, input(1)?);
                need_f32(a, "the first operand")?;
                if a.shape.len() != 2
                    || b.shape.len() != 2
                    || !self.consts.values().any(|c| c.buf == b.buf)
                {
                    return Err(unsupported(format!(
                        "only [M, K] x constant [K, N] (got {:?} x {:?})",
                        a.shape, b.shape
                    )));
                }
                let (m, k, n) = (a.shape[0], a.shape[1], b.shape[1]);
                if b.shape[0] != k {
                    return Err(Error::invalid_model(format!(
                        "MatMul {:?}: {:?} x {:?}",
                        node.name, a.shape, b.shape
                    )));
                }
                let y = new(vec![m, n])?;
                launches.push(Launch {
                    kernel: if b.dtype == DType::F16 {
                        "matmul_f16w"
                    } else {
                        "matmul_f32"
                    },
                    n: m * n,
                    args: vec![
                        Arg::Buf(a.buf),
                        Arg::Buf(b.buf),
                        Arg::Buf(y.buf),
                        i32_of(m, "M")?,
                        i32_of(k, "K")?,
                        i32_of(n, "N")?,
                    ],
                });
                Ok(y)
            }
            other => Err(unsupported(format!("operator {other} is not supported"))),
        }
    }
}

/// One-sided numpy broadcast of `b` onto `a`'s shape, as `(inner, bn)` with
/// `b` indexed by `(i / inner) % bn`: `b`'s non-1 dims must be one contiguous
/// run equal to `a`'s. `None` when the kernels cannot express it.
pub fn broadcast(a: &[usize], b: &[usize]) -> Option<(usize, usize)> {
    if b.len() > a.len() {
        return None;
    }
    let mut bb = vec![1; a.len() - b.len()];
    bb.extend_from_slice(b);
    let live: Vec<usize> = (0..a.len()).filter(|&d| bb[d] != 1).collect();
    let Some((&lo, &hi)) = live.first().zip(live.last()) else {
        return Some((1, 1));
    };
    if (lo..=hi).any(|d| bb[d] != a[d]) {
        return None;
    }
    Some((prod(&a[hi + 1..]), prod(&a[lo..=hi])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_rules() {
        assert_eq!(
            broadcast(&[4, 1, 60, 201], &[4, 1, 1, 1]),
            Some((60 * 201, 4))
        );
        assert_eq!(broadcast(&[4, 64], &[64]), Some((1, 64)));
        assert_eq!(broadcast(&[4, 64], &[4, 64]), Some((1, 256)));
        assert_eq!(broadcast(&[4, 64], &[1]), Some((1, 1)));
        assert_eq!(broadcast(&[4, 3, 5], &[4, 1, 5]), None);
        assert_eq!(broadcast(&[4, 64], &[2, 4, 64]), None);
    }
}
