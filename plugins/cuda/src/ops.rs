//! The operators the CUDA backend runs, one scheduling function each:
//! shape inference and the kernel launch for one ONNX node. [`OPS`] is the
//! only list of them, so what [`check`] accepts is what can be scheduled.
//!
//! Covered (the default detector's): ReduceMean (trailing axes), Sub, Add,
//! Mul (one-sided broadcast), Conv (2-D, groups 1), Relu, MaxPool (2-D),
//! GlobalAveragePool, Flatten, MatMul (by a constant), Cast (of constants to
//! f32: f16 weights stay f16 in device memory and are widened in the
//! kernels). Any other op is refused with `UnsupportedOp` naming it.

use std::collections::HashMap;

use dfd_backend_abi::sdk::{Error, Result};

use crate::exec::{prod, Arg, DType, Launch, Val};
use crate::onnx::{self, Graph, Node};

/// Schedules one node: returns its output value, pushing its launches.
type OpFn = fn(&mut Cx) -> Result<Val>;

/// Every supported operator and its scheduling function.
const OPS: &[(&str, OpFn)] = &[
    ("ReduceMean", reduce_mean),
    ("Sub", binary),
    ("Add", binary),
    ("Mul", binary),
    ("Conv", conv),
    ("Relu", relu),
    ("MaxPool", max_pool),
    ("GlobalAveragePool", global_average_pool),
    ("Flatten", flatten),
    ("MatMul", mat_mul),
    ("Cast", cast),
];

/// The supported operator names, for messages and docs.
pub fn supported() -> impl Iterator<Item = &'static str> {
    OPS.iter().map(|(name, _)| *name)
}

/// The scheduling function of `node`'s operator (default domain only).
fn lookup(node: &Node) -> Option<OpFn> {
    let domain_ok = node.domain.is_empty() || node.domain == "ai.onnx";
    OPS.iter()
        .find(|(name, _)| domain_ok && *name == node.op_type)
        .map(|(_, f)| *f)
}

/// Refuses graphs with ops outside [`OPS`] before anything is allocated;
/// the error names the first such op.
pub fn check(g: &Graph) -> Result<()> {
    match g.nodes.iter().find(|n| lookup(n).is_none()) {
        None => Ok(()),
        Some(n) => Err(unknown(n)),
    }
}

fn unknown(n: &Node) -> Error {
    let op = if n.domain.is_empty() || n.domain == "ai.onnx" {
        n.op_type.clone()
    } else {
        format!("{}:{}", n.domain, n.op_type)
    };
    let all: Vec<&str> = supported().collect();
    Error::unsupported(format!(
        "operator {op} (node {:?}) is not supported by the CUDA backend (supported: {})",
        n.name,
        all.join(", ")
    ))
}

/// Schedules `node` in `cx`'s graph.
pub fn schedule(cx: &mut Cx) -> Result<Val> {
    let f = lookup(cx.node).ok_or_else(|| unknown(cx.node))?;
    f(cx)
}

/// What an op function sees: its node, the values computed so far, the
/// graph's constants, where to get its output buffer and where to push
/// launches.
pub struct Cx<'a> {
    pub node: &'a Node,
    pub graph: &'a Graph,
    pub vals: &'a HashMap<String, Val>,
    pub consts: &'a HashMap<String, Val>,
    pub buffer: &'a mut dyn FnMut(&str, usize) -> Result<usize>,
    pub launches: &'a mut Vec<Launch>,
}

impl<'a> Cx<'a> {
    /// Input `i` of the node, which must be computed already.
    fn input(&self, i: usize) -> Result<&'a Val> {
        let (node, op) = (self.node, self.node.op_type.as_str());
        let name = node
            .inputs
            .get(i)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                Error::invalid_model(format!("{op} node {:?} lacks input {i}", node.name))
            })?;
        self.vals
            .get(name)
            .ok_or_else(|| Error::invalid_model(format!("{op}: input {name} is undefined")))
    }

    fn unsupported(&self, why: String) -> Error {
        Error::unsupported(format!(
            "operator {} (node {:?}): {why}",
            self.node.op_type, self.node.name
        ))
    }

    /// The node's f32 output of `shape`.
    fn output(&mut self, shape: Vec<usize>) -> Result<Val> {
        let out = self.node.outputs.first().ok_or_else(|| {
            Error::invalid_model(format!("node {:?} has no output", self.node.name))
        })?;
        let buf = (self.buffer)(out, prod(&shape) * 4)?;
        Ok(Val {
            buf,
            shape,
            dtype: DType::F32,
        })
    }

    fn need_f32(&self, v: &Val, what: &str) -> Result<()> {
        if v.dtype == DType::F32 {
            Ok(())
        } else {
            Err(self.unsupported(format!("{what} must be float32 activations")))
        }
    }

    /// Whether `v` is one of the graph's constants (weights).
    fn is_const(&self, v: &Val) -> bool {
        self.consts.values().any(|c| c.buf == v.buf)
    }

    fn launch(&mut self, l: Launch) {
        self.launches.push(l);
    }
}

fn i32_of(v: usize, what: &str) -> Result<Arg> {
    i32::try_from(v)
        .map(Arg::I32)
        .map_err(|_| Error::runtime(format!("{what} = {v} does not fit the kernels' int")))
}

/// Cast of a constant to f32: f16 -> f32 is deferred, the consumer reads f16 storage.
fn cast(cx: &mut Cx) -> Result<Val> {
    let x = cx.input(0)?;
    if cx.node.int("to") != Some(onnx::FLOAT as i64) {
        return Err(cx.unsupported(format!("cast to type {:?}", cx.node.int("to"))));
    }
    // f16 -> f32 is deferred: the consumer reads f16 storage.
    Ok(x.clone())
}

/// ReduceMean over trailing axes after the batch axis.
fn reduce_mean(cx: &mut Cx) -> Result<Val> {
    let x = cx.input(0)?;
    cx.need_f32(x, "input")?;
    let rank = x.shape.len() as i64;
    let axes: Vec<i64> = match cx.node.ints("axes") {
        Some(a) => a.to_vec(),
        None => match cx.node.inputs.get(1).filter(|s| !s.is_empty()) {
            Some(name) => {
                let t = cx
                    .graph
                    .initializers
                    .iter()
                    .find(|t| &t.name == name)
                    .ok_or_else(|| cx.unsupported("axes must be a constant".into()))?;
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
    if axes.is_empty() || first == 0 || axes != (first..x.shape.len()).collect::<Vec<_>>() {
        return Err(cx.unsupported(format!(
            "axes {axes:?}: only trailing axes after the batch axis are supported"
        )));
    }
    let keep = cx.node.int("keepdims").unwrap_or(1) != 0;
    let outer = prod(&x.shape[..first]);
    let inner = prod(&x.shape[first..]);
    let mut shape = x.shape[..first].to_vec();
    if keep {
        shape.extend(std::iter::repeat_n(1, x.shape.len() - first));
    }
    let y = cx.output(shape)?;
    cx.launch(Launch {
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

/// Add, Sub, Mul with a one-sided broadcast of the second operand.
fn binary(cx: &mut Cx) -> Result<Val> {
    let op = cx.node.op_type.as_str();
    let (mut a, mut b) = (cx.input(0)?, cx.input(1)?);
    // Commutative ops may put the broadcast operand first.
    if op != "Sub" && prod(&a.shape) < prod(&b.shape) {
        std::mem::swap(&mut a, &mut b);
    }
    cx.need_f32(a, "the first operand")?;
    let (inner, bn) = broadcast(&a.shape, &b.shape)
        .ok_or_else(|| cx.unsupported(format!("broadcast of {:?} with {:?}", a.shape, b.shape)))?;
    let n = prod(&a.shape);
    let y = cx.output(a.shape.clone())?;
    let code = match op {
        "Add" => 0,
        "Sub" => 1,
        _ => 2,
    };
    cx.launch(Launch {
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

/// Relu.
fn relu(cx: &mut Cx) -> Result<Val> {
    let x = cx.input(0)?;
    cx.need_f32(x, "input")?;
    let n = prod(&x.shape);
    let y = cx.output(x.shape.clone())?;
    cx.launch(Launch {
        kernel: "relu_f32",
        n,
        args: vec![Arg::Buf(x.buf), Arg::Buf(y.buf), i32_of(n, "elements")?],
    });
    Ok(y)
}

/// 2-D Conv, groups 1, constant weights (f32 or f16), optional bias.
fn conv(cx: &mut Cx) -> Result<Val> {
    let (x, w) = (cx.input(0)?, cx.input(1)?);
    cx.need_f32(x, "input")?;
    let bias = match cx.node.inputs.get(2).filter(|s| !s.is_empty()) {
        Some(_) => Some(cx.input(2)?),
        None => None,
    };
    if !cx.is_const(w) {
        return Err(cx.unsupported("weights must be constants".into()));
    }
    if x.shape.len() != 4 || w.shape.len() != 4 {
        return Err(cx.unsupported(format!("only 2-D convolution (input {:?})", x.shape)));
    }
    if cx.node.int("group").unwrap_or(1) != 1 {
        return Err(cx.unsupported("group != 1".into()));
    }
    if let Some(a) = cx.node.attr("auto_pad") {
        if !a.s.is_empty() && a.s != b"NOTSET" {
            return Err(cx.unsupported("auto_pad".into()));
        }
    }
    let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]);
    let (k, wc, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3]);
    if wc != c {
        return Err(Error::invalid_model(format!(
            "Conv {:?}: input has {c} channels, weights {wc}",
            cx.node.name
        )));
    }
    if let Some(b) = bias {
        if b.shape != [k] || b.dtype != w.dtype {
            return Err(cx.unsupported(format!("bias {:?} for {k} filters", b.shape)));
        }
    }
    let s = cx.node.ints("strides").unwrap_or(&[1, 1]);
    let d = cx.node.ints("dilations").unwrap_or(&[1, 1]);
    let p = cx.node.ints("pads").unwrap_or(&[0, 0, 0, 0]);
    if s.len() != 2 || d.len() != 2 || p.len() != 4 || p[0] != p[2] || p[1] != p[3] {
        return Err(cx.unsupported(format!("strides {s:?}, dilations {d:?}, pads {p:?}")));
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
        return Err(Error::mismatch(format!(
            "Conv {:?}: kernel larger than input",
            cx.node.name
        )));
    }
    let oh = (h + 2 * ph - span_h) / sh + 1;
    let ow = (wd + 2 * pw - span_w) / sw + 1;
    let y = cx.output(vec![n, k, oh, ow])?;
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
    cx.launch(Launch {
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

/// 2-D MaxPool without ceil mode, dilation or indices.
fn max_pool(cx: &mut Cx) -> Result<Val> {
    let x = cx.input(0)?;
    cx.need_f32(x, "input")?;
    if x.shape.len() != 4 {
        return Err(cx.unsupported(format!("only 2-D pooling (input {:?})", x.shape)));
    }
    let k = cx.node.ints("kernel_shape").unwrap_or(&[]);
    let s = cx.node.ints("strides").unwrap_or(&[1, 1]);
    let p = cx.node.ints("pads").unwrap_or(&[0, 0, 0, 0]);
    let dil_ok = cx
        .node
        .ints("dilations")
        .is_none_or(|d| d.iter().all(|&v| v == 1));
    if k.len() != 2
        || s.len() != 2
        || p.len() != 4
        || p[0] != p[2]
        || p[1] != p[3]
        || cx.node.int("ceil_mode").unwrap_or(0) != 0
        || !dil_ok
        || cx.node.outputs.len() > 1
    {
        return Err(cx.unsupported(format!(
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
        return Err(Error::mismatch(format!(
            "MaxPool {:?}: window larger than input",
            cx.node.name
        )));
    }
    let oh = (h + 2 * ph - kh) / sh + 1;
    let ow = (w + 2 * pw - kw) / sw + 1;
    let y = cx.output(vec![n, c, oh, ow])?;
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
    cx.launch(Launch {
        kernel: "maxpool2d_f32",
        n: n * c * oh * ow,
        args,
    });
    Ok(y)
}

/// GlobalAveragePool over every axis after the channels.
fn global_average_pool(cx: &mut Cx) -> Result<Val> {
    let x = cx.input(0)?;
    cx.need_f32(x, "input")?;
    if x.shape.len() < 3 {
        return Err(cx.unsupported(format!("input of rank {}", x.shape.len())));
    }
    let nc = x.shape[0] * x.shape[1];
    let hw = prod(&x.shape[2..]);
    let mut shape = x.shape[..2].to_vec();
    shape.extend(std::iter::repeat_n(1, x.shape.len() - 2));
    let y = cx.output(shape)?;
    cx.launch(Launch {
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

/// Flatten at axis 1: a view of the same buffer.
fn flatten(cx: &mut Cx) -> Result<Val> {
    let x = cx.input(0)?;
    let rank = x.shape.len() as i64;
    let axis = cx.node.int("axis").unwrap_or(1);
    let axis = if axis < 0 { axis + rank } else { axis };
    if axis != 1 {
        return Err(cx.unsupported(format!("axis {axis} (only 1 keeps the batch axis)")));
    }
    // A view: same buffer, new shape.
    Ok(Val {
        buf: x.buf,
        shape: vec![x.shape[0], prod(&x.shape[1..])],
        dtype: x.dtype,
    })
}

/// MatMul of [M, K] activations by a constant [K, N].
fn mat_mul(cx: &mut Cx) -> Result<Val> {
    let (a, b) = (cx.input(0)?, cx.input(1)?);
    cx.need_f32(a, "the first operand")?;
    if a.shape.len() != 2 || b.shape.len() != 2 || !cx.is_const(b) {
        return Err(cx.unsupported(format!(
            "only [M, K] x constant [K, N] (got {:?} x {:?})",
            a.shape, b.shape
        )));
    }
    let (m, k, n) = (a.shape[0], a.shape[1], b.shape[1]);
    if b.shape[0] != k {
        return Err(Error::invalid_model(format!(
            "MatMul {:?}: {:?} x {:?}",
            cx.node.name, a.shape, b.shape
        )));
    }
    let y = cx.output(vec![m, n])?;
    cx.launch(Launch {
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
