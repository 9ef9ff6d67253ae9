//! Just enough of the ONNX protobuf wire format to find `metadata_props` and
//! to summarise the graph's interface (inputs, outputs, operators).
//!
//! Hand-written on purpose: the core only needs a handful of fields of
//! `ModelProto`, which does not justify a protobuf code generator (and tract
//! stays out of the core). The walk also rejects truncated files, since every
//! length is checked against the buffer.

use crate::error::{bail, Result};
use crate::model::manifest::GraphOutput;

/// Top-level fields of `onnx.ModelProto` we look at.
const FIELD_IR_VERSION: u64 = 1;
const FIELD_OPSET_IMPORT: u64 = 8;
const FIELD_GRAPH: u64 = 7;
const FIELD_METADATA_PROPS: u64 = 14;

/// One protobuf field: its number, and its payload (length-delimited and
/// fixed fields) or value (varint fields).
struct Field<'a> {
    num: u64,
    bytes: &'a [u8],
    int: u64,
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    fn varint(&mut self) -> Result<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let Some(&byte) = self.buf.get(self.pos) else {
                bail!(
                    ModelCorrupt,
                    "ONNX file ends inside a varint at byte {}",
                    self.pos
                );
            };
            self.pos += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        bail!(ModelCorrupt, "malformed varint at byte {}", self.pos)
    }

    fn bytes(&mut self, len: u64) -> Result<&'a [u8]> {
        let end = usize::try_from(len)
            .ok()
            .and_then(|l| self.pos.checked_add(l))
            .filter(|&e| e <= self.buf.len());
        let Some(end) = end else {
            bail!(
                ModelCorrupt,
                "ONNX file is truncated: a field of {len} bytes at byte {} runs past the end ({} bytes)",
                self.pos,
                self.buf.len()
            );
        };
        let slice = &self.buf[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    /// The next field.
    fn field(&mut self) -> Result<Field<'a>> {
        let key = self.varint()?;
        let (field, wire) = (key >> 3, key & 7);
        let (payload, int) = match wire {
            0 => (&[][..], self.varint()?),
            1 => (self.bytes(8)?, 0),
            2 => {
                let len = self.varint()?;
                (self.bytes(len)?, 0)
            }
            5 => (self.bytes(4)?, 0),
            _ => bail!(
                ModelCorrupt,
                "not an ONNX file: unknown protobuf wire type {wire} at byte {}",
                self.pos
            ),
        };
        if field == 0 {
            bail!(ModelCorrupt, "not an ONNX file: protobuf field number 0");
        }
        Ok(Field {
            num: field,
            bytes: payload,
            int,
        })
    }

    /// Calls `each` on every field of this message.
    fn each(mut self, mut each: impl FnMut(Field<'a>) -> Result<()>) -> Result<()> {
        while !self.done() {
            each(self.field()?)?;
        }
        Ok(())
    }

    fn done(&self) -> bool {
        self.pos >= self.buf.len()
    }
}

/// Returns the `metadata_props` of an ONNX model as (key, value) pairs, after
/// checking that the bytes are a complete `ModelProto` with a graph.
pub fn metadata_props(bytes: &[u8]) -> Result<Vec<(String, String)>> {
    if bytes.is_empty() {
        bail!(ModelCorrupt, "model data is empty");
    }
    let (mut has_ir, mut has_graph) = (false, false);
    let mut props = Vec::new();
    Reader::new(bytes).each(|f| {
        match f.num {
            FIELD_IR_VERSION => has_ir = true,
            FIELD_GRAPH => has_graph = true,
            FIELD_METADATA_PROPS => props.push(string_pair(f.bytes)?),
            _ => {}
        }
        Ok(())
    })?;
    if !has_ir || !has_graph {
        bail!(
            ModelCorrupt,
            "not an ONNX model: {} (a truncated file loses these)",
            if has_ir { "no graph" } else { "no ir_version" }
        );
    }
    Ok(props)
}

fn string_pair(entry: &[u8]) -> Result<(String, String)> {
    let (mut key, mut value) = (String::new(), String::new());
    Reader::new(entry).each(|f| {
        match f.num {
            1 => key = text(f.bytes)?,
            2 => value = text(f.bytes)?,
            _ => {}
        }
        Ok(())
    })?;
    Ok((key, value))
}

fn text(bytes: &[u8]) -> Result<String> {
    match String::from_utf8(bytes.to_vec()) {
        Ok(s) => Ok(s),
        Err(_) => bail!(ModelCorrupt, "ONNX file holds a string that is not UTF-8"),
    }
}

/// One axis of a graph input or output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dim {
    Fixed(u64),
    /// A symbolic axis (`dim_param`, e.g. "batch").
    Named(String),
    Unknown,
}

impl std::fmt::Display for Dim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Dim::Fixed(n) => write!(f, "{n}"),
            Dim::Named(name) => f.write_str(name),
            Dim::Unknown => f.write_str("?"),
        }
    }
}

/// A graph input or output as the ONNX file declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueInfo {
    pub name: String,
    /// `onnx.TensorProto.DataType` name ("float32", "float16", ...).
    pub elem_type: &'static str,
    /// `None` when the file declares no shape.
    pub dims: Option<Vec<Dim>>,
}

/// The interface of an ONNX graph, read without running it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GraphSummary {
    /// Version of the default (`ai.onnx`) operator set.
    pub opset: Option<u64>,
    /// Inputs that are not initializers (weights), in order.
    pub inputs: Vec<ValueInfo>,
    pub outputs: Vec<ValueInfo>,
    /// Operator types with their node counts, in order of first use.
    pub ops: Vec<(String, usize)>,
    /// For each output, the operator of the node that produces it.
    pub output_ops: Vec<Option<String>>,
}

/// Reads the interface of the graph of an ONNX model.
pub fn graph_summary(bytes: &[u8]) -> Result<GraphSummary> {
    metadata_props(bytes)?; // checks that this is a whole ModelProto
    let mut summary = GraphSummary::default();
    let mut graph = None;
    Reader::new(bytes).each(|f| {
        match f.num {
            FIELD_GRAPH => graph = Some(f.bytes),
            FIELD_OPSET_IMPORT => {
                let (mut domain, mut version) = (String::new(), None);
                Reader::new(f.bytes).each(|g| {
                    match g.num {
                        1 => domain = text(g.bytes)?,
                        2 => version = Some(g.int),
                        _ => {}
                    }
                    Ok(())
                })?;
                if domain.is_empty() || domain == "ai.onnx" {
                    summary.opset = version;
                }
            }
            _ => {}
        }
        Ok(())
    })?;
    let graph = graph.unwrap_or_default();
    let (mut inputs, mut initializers) = (Vec::new(), Vec::new());
    let mut producers: Vec<(String, String)> = Vec::new(); // (output name, op)
    Reader::new(graph).each(|f| {
        match f.num {
            1 => {
                let (mut op, mut outs) = (String::new(), Vec::new());
                Reader::new(f.bytes).each(|n| {
                    match n.num {
                        2 => outs.push(text(n.bytes)?),
                        4 => op = text(n.bytes)?,
                        _ => {}
                    }
                    Ok(())
                })?;
                match summary.ops.iter_mut().find(|(o, _)| *o == op) {
                    Some((_, count)) => *count += 1,
                    None => summary.ops.push((op.clone(), 1)),
                }
                producers.extend(outs.into_iter().map(|o| (o, op.clone())));
            }
            5 => {
                Reader::new(f.bytes).each(|t| {
                    if t.num == 8 {
                        initializers.push(text(t.bytes)?);
                    }
                    Ok(())
                })?;
            }
            11 => inputs.push(value_info(f.bytes)?),
            12 => summary.outputs.push(value_info(f.bytes)?),
            _ => {}
        }
        Ok(())
    })?;
    summary.inputs = inputs
        .into_iter()
        .filter(|i| !initializers.contains(&i.name))
        .collect();
    summary.output_ops = summary
        .outputs
        .iter()
        .map(|o| {
            producers
                .iter()
                .find(|(name, _)| *name == o.name)
                .map(|(_, op)| op.clone())
        })
        .collect();
    Ok(summary)
}

/// The same model with only one of its graph outputs, chosen by position or
/// by name (manifest `graph_output`): for graphs that also return
/// embeddings or hidden states (AASIST's `forward` returns
/// `(last_hidden, output)`). The other outputs are removed from
/// `GraphProto.output`; their nodes stay and are pruned by the backend.
/// Every other byte of the file is kept as it is.
pub fn select_output(bytes: &[u8], which: &GraphOutput) -> Result<Vec<u8>> {
    metadata_props(bytes)?; // a whole ModelProto with a graph
    let mut out = Vec::with_capacity(bytes.len());
    for (num, raw, payload) in raw_fields(bytes)? {
        if num != FIELD_GRAPH {
            out.extend_from_slice(raw);
            continue;
        }
        let fields = raw_fields(payload)?;
        let names: Vec<String> = fields
            .iter()
            .filter(|(n, ..)| *n == FIELD_GRAPH_OUTPUT)
            .map(|(_, _, p)| value_info(p).map(|v| v.name))
            .collect::<Result<_>>()?;
        let keep = match which {
            GraphOutput::Index(i) if *i < names.len() => *i,
            GraphOutput::Name(name) if names.contains(name) => {
                names.iter().position(|n| n == name).unwrap_or(0)
            }
            _ => bail!(
                ModelKind,
                "manifest graph_output {} is not an output of the graph (its outputs: {})",
                which,
                names
                    .iter()
                    .enumerate()
                    .map(|(i, n)| format!("{i}: {n:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let mut graph = Vec::with_capacity(payload.len());
        let mut k = 0;
        for (n, raw, _) in fields {
            if n == FIELD_GRAPH_OUTPUT {
                k += 1;
                if k - 1 != keep {
                    continue;
                }
            }
            graph.extend_from_slice(raw);
        }
        put_varint(FIELD_GRAPH << 3 | 2, &mut out);
        put_varint(graph.len() as u64, &mut out);
        out.extend_from_slice(&graph);
    }
    Ok(out)
}

/// `GraphProto.output`.
const FIELD_GRAPH_OUTPUT: u64 = 12;

/// Every field of a message as (number, its raw bytes with key and length,
/// its payload).
fn raw_fields(buf: &[u8]) -> Result<Vec<(u64, &[u8], &[u8])>> {
    let mut r = Reader::new(buf);
    let mut fields = Vec::new();
    while !r.done() {
        let start = r.pos;
        let f = r.field()?;
        fields.push((f.num, &buf[start..r.pos], f.bytes));
    }
    Ok(fields)
}

fn put_varint(mut v: u64, out: &mut Vec<u8>) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// `ValueInfoProto` { name = 1, type = 2: TypeProto { tensor_type = 1:
/// { elem_type = 1, shape = 2: { dim = 1: { dim_value = 1, dim_param = 2 } } } } }
fn value_info(bytes: &[u8]) -> Result<ValueInfo> {
    let mut info = ValueInfo {
        name: String::new(),
        elem_type: "undefined",
        dims: None,
    };
    Reader::new(bytes).each(|f| {
        match f.num {
            1 => info.name = text(f.bytes)?,
            2 => Reader::new(f.bytes).each(|t| {
                if t.num != 1 {
                    return Ok(());
                }
                Reader::new(t.bytes).each(|tt| {
                    match tt.num {
                        1 => info.elem_type = elem_type_name(tt.int),
                        2 => {
                            let dims = info.dims.get_or_insert_with(Vec::new);
                            Reader::new(tt.bytes).each(|d| {
                                if d.num == 1 {
                                    let mut dim = Dim::Unknown;
                                    Reader::new(d.bytes).each(|v| {
                                        match v.num {
                                            1 => dim = Dim::Fixed(v.int),
                                            2 => dim = Dim::Named(text(v.bytes)?),
                                            _ => {}
                                        }
                                        Ok(())
                                    })?;
                                    dims.push(dim);
                                }
                                Ok(())
                            })?;
                        }
                        _ => {}
                    }
                    Ok(())
                })
            })?,
            _ => {}
        }
        Ok(())
    })?;
    Ok(info)
}

fn elem_type_name(code: u64) -> &'static str {
    match code {
        1 => "float32",
        2 => "uint8",
        3 => "int8",
        5 => "int16",
        6 => "int32",
        7 => "int64",
        9 => "bool",
        10 => "float16",
        11 => "float64",
        16 => "bfloat16",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Status;

    fn varint(mut v: u64, out: &mut Vec<u8>) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }

    fn len_field(field: u64, payload: &[u8], out: &mut Vec<u8>) {
        varint(field << 3 | 2, out);
        varint(payload.len() as u64, out);
        out.extend_from_slice(payload);
    }

    /// A model whose graph has the given outputs (names only) and a node.
    fn model_with_outputs(names: &[&str]) -> Vec<u8> {
        let mut g = Vec::new();
        let mut node = Vec::new();
        len_field(2, b"y", &mut node);
        len_field(4, b"Relu", &mut node);
        len_field(1, &node, &mut g);
        for n in names {
            let mut vi = Vec::new();
            len_field(1, n.as_bytes(), &mut vi);
            len_field(12, &vi, &mut g);
        }
        len_field(2, b"graph-name", &mut g);
        let mut m = Vec::new();
        varint(FIELD_IR_VERSION << 3, &mut m);
        varint(8, &mut m);
        len_field(FIELD_GRAPH, &g, &mut m);
        let mut e = Vec::new();
        len_field(1, b"k", &mut e);
        len_field(2, b"v", &mut e);
        len_field(FIELD_METADATA_PROPS, &e, &mut m);
        m
    }

    #[test]
    fn select_output_keeps_one_graph_output() {
        let m = model_with_outputs(&["hidden", "logits", "probs"]);
        let names = |b: &[u8]| -> Vec<String> {
            graph_summary(b)
                .unwrap()
                .outputs
                .into_iter()
                .map(|o| o.name)
                .collect()
        };
        assert_eq!(names(&m), ["hidden", "logits", "probs"]);
        let by_index = select_output(&m, &GraphOutput::Index(1)).unwrap();
        assert_eq!(names(&by_index), ["logits"]);
        let by_name = select_output(&m, &GraphOutput::Name("probs".into())).unwrap();
        assert_eq!(names(&by_name), ["probs"]);
        // Everything else is untouched: the node, the graph name, metadata.
        assert_eq!(
            graph_summary(&by_name).unwrap().ops,
            [("Relu".to_string(), 1)]
        );
        assert_eq!(
            metadata_props(&by_name).unwrap(),
            [("k".into(), "v".into())]
        );
        // Only the two dropped outputs are gone: 2 bytes of key and length
        // around a ValueInfoProto of 2 + name bytes.
        assert_eq!(by_index.len(), m.len() - (4 + 6) - (4 + 5));
        for bad in [GraphOutput::Index(3), GraphOutput::Name("logit".into())] {
            let e = select_output(&m, &bad).unwrap_err();
            assert_eq!(e.status, Status::ModelKind);
            assert!(
                e.message
                    .contains("0: \"hidden\", 1: \"logits\", 2: \"probs\""),
                "{}",
                e.message
            );
        }
    }

    fn model(props: &[(&str, &str)]) -> Vec<u8> {
        let mut m = Vec::new();
        varint(FIELD_IR_VERSION << 3, &mut m);
        varint(8, &mut m);
        len_field(FIELD_GRAPH, b"\x0a\x03abc", &mut m);
        for (k, v) in props {
            let mut e = Vec::new();
            len_field(1, k.as_bytes(), &mut e);
            len_field(2, v.as_bytes(), &mut e);
            len_field(FIELD_METADATA_PROPS, &e, &mut m);
        }
        m
    }

    #[test]
    fn reads_props() {
        let m = model(&[("dfd.manifest", "{}"), ("x", "y")]);
        let props = metadata_props(&m).unwrap();
        assert_eq!(
            props,
            vec![
                ("dfd.manifest".into(), "{}".into()),
                ("x".into(), "y".into())
            ]
        );
    }

    #[test]
    fn no_truncation_yields_a_manifest() {
        let m = model(&[("dfd.manifest", "{\"a\":1}")]);
        // A cut either breaks a length (corrupt) or falls on the boundary
        // before the metadata, which then is simply missing (the loader
        // reports that as "not a libdfd model").
        for cut in 0..m.len() {
            match metadata_props(&m[..cut]) {
                Err(err) => assert_eq!(err.status, Status::ModelCorrupt, "cut at {cut}: {err}"),
                Ok(props) => assert!(props.is_empty(), "cut at {cut} kept {props:?}"),
            }
        }
    }

    #[test]
    fn summarises_the_default_model_graph() {
        let bytes = include_bytes!("../../models/dfd-lfb-cnn/model.fp32.onnx");
        let g = graph_summary(bytes).unwrap();
        assert_eq!(g.opset, Some(17));
        // The 14 initializers are not inputs.
        assert_eq!(g.inputs.len(), 1);
        assert_eq!(g.inputs[0].name, "features");
        assert_eq!(g.inputs[0].elem_type, "float32");
        assert_eq!(
            g.inputs[0].dims,
            Some(vec![
                Dim::Named("N".into()),
                Dim::Fixed(1),
                Dim::Fixed(60),
                Dim::Fixed(201)
            ])
        );
        assert_eq!(g.outputs.len(), 1);
        assert_eq!(g.outputs[0].name, "logit");
        assert_eq!(g.output_ops, vec![Some("Add".to_string())]);
        assert!(g.ops.contains(&("Conv".to_string(), 5)));
        assert!(g.ops.contains(&("MaxPool".to_string(), 4)));
    }

    #[test]
    fn graph_summary_rejects_what_is_not_onnx() {
        let err = graph_summary(b"hello, this is not a model").unwrap_err();
        assert_eq!(err.status, Status::ModelCorrupt);
    }

    #[test]
    fn text_is_not_onnx() {
        let err = metadata_props(b"hello, this is not a model").unwrap_err();
        assert_eq!(err.status, Status::ModelCorrupt);
    }
}
