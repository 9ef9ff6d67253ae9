//! A minimal ONNX reader: just the ModelProto fields the executor needs
//! (nodes, attributes, initializers, graph inputs/outputs), decoded straight
//! from the protobuf wire format. Hand-written (~200 lines) because
//! tract-onnx would pull tract into a GPU plugin and prost needs protoc to
//! generate its types at build time.

use dfd_backend_abi::sdk::{Error, Result};

/// ONNX `TensorProto.DataType` codes we read.
pub const FLOAT: i32 = 1;
pub const FLOAT16: i32 = 10;
pub const INT64: i32 = 7;

#[derive(Debug, Clone, Default)]
pub struct Tensor {
    pub name: String,
    pub dims: Vec<i64>,
    pub data_type: i32,
    /// Little-endian element bytes (raw_data, or the typed fields re-encoded).
    pub raw: Vec<u8>,
}

#[derive(Debug, Clone, Default)]
pub struct Attribute {
    pub name: String,
    pub f: Option<f32>,
    pub i: Option<i64>,
    pub ints: Vec<i64>,
    pub floats: Vec<f32>,
    pub s: Vec<u8>,
}

#[derive(Debug, Clone, Default)]
pub struct Node {
    pub op_type: String,
    pub domain: String,
    pub name: String,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub attributes: Vec<Attribute>,
}

impl Node {
    pub fn attr(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }
    pub fn ints(&self, name: &str) -> Option<&[i64]> {
        self.attr(name).map(|a| a.ints.as_slice())
    }
    pub fn int(&self, name: &str) -> Option<i64> {
        self.attr(name).and_then(|a| a.i)
    }
}

/// A graph input or output: name and dims (`None` for a symbolic dim).
#[derive(Debug, Clone, Default)]
pub struct ValueInfo {
    pub name: String,
    pub elem_type: i32,
    pub dims: Vec<Option<i64>>,
}

#[derive(Debug, Clone, Default)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub initializers: Vec<Tensor>,
    pub inputs: Vec<ValueInfo>,
    pub outputs: Vec<ValueInfo>,
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

enum Value<'a> {
    Varint(u64),
    #[allow(dead_code)]
    Fixed64(u64),
    Bytes(&'a [u8]),
    #[allow(dead_code)]
    Fixed32(u32),
}

fn corrupt(what: &str) -> Error {
    Error::invalid_model(format!("not a valid ONNX file: {what}"))
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }
    fn varint(&mut self) -> Result<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self
                .buf
                .get(self.pos)
                .ok_or_else(|| corrupt("truncated varint"))?;
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(corrupt("varint too long"))
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let end = end.ok_or_else(|| corrupt("truncated field"))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    /// Next (field number, value), or None at the end.
    fn next(&mut self) -> Result<Option<(u32, Value<'a>)>> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let field = (key >> 3) as u32;
        let v = match key & 7 {
            0 => Value::Varint(self.varint()?),
            1 => Value::Fixed64(u64::from_le_bytes(self.take(8)?.try_into().unwrap())),
            2 => {
                let n = usize::try_from(self.varint()?).map_err(|_| corrupt("length"))?;
                Value::Bytes(self.take(n)?)
            }
            5 => Value::Fixed32(u32::from_le_bytes(self.take(4)?.try_into().unwrap())),
            w => return Err(corrupt(&format!("unsupported wire type {w}"))),
        };
        Ok(Some((field, v)))
    }
}

fn string(b: &[u8]) -> Result<String> {
    String::from_utf8(b.to_vec()).map_err(|_| corrupt("string is not UTF-8"))
}

/// Repeated int64: packed (bytes) or one varint per entry.
fn push_ints(v: Value<'_>, out: &mut Vec<i64>) -> Result<()> {
    match v {
        Value::Varint(x) => out.push(x as i64),
        Value::Bytes(b) => {
            let mut r = Reader::new(b);
            while r.pos < b.len() {
                out.push(r.varint()? as i64);
            }
        }
        _ => return Err(corrupt("bad repeated int")),
    }
    Ok(())
}

fn push_floats(v: Value<'_>, out: &mut Vec<f32>) -> Result<()> {
    match v {
        Value::Fixed32(x) => out.push(f32::from_bits(x)),
        Value::Bytes(b) => {
            if b.len() % 4 != 0 {
                return Err(corrupt("packed floats"));
            }
            out.extend(
                b.chunks_exact(4)
                    .map(|c| f32::from_le_bytes(c.try_into().unwrap())),
            );
        }
        _ => return Err(corrupt("bad repeated float")),
    }
    Ok(())
}

fn tensor(b: &[u8]) -> Result<Tensor> {
    let mut t = Tensor::default();
    let mut r = Reader::new(b);
    let (mut floats, mut int32s, mut int64s) = (Vec::new(), Vec::new(), Vec::new());
    let mut external = false;
    while let Some((f, v)) = r.next()? {
        match (f, v) {
            (1, v) => push_ints(v, &mut t.dims)?,
            (2, Value::Varint(x)) => t.data_type = x as i32,
            (4, v) => push_floats(v, &mut floats)?,
            (5, v) => push_ints(v, &mut int32s)?,
            (7, v) => push_ints(v, &mut int64s)?,
            (8, Value::Bytes(s)) => t.name = string(s)?,
            (9, Value::Bytes(s)) => t.raw = s.to_vec(),
            (14, Value::Varint(1)) => external = true,
            _ => {}
        }
    }
    if external {
        return Err(Error::unsupported(format!(
            "initializer {} uses external data (not supported by the CUDA backend)",
            t.name
        )));
    }
    if t.raw.is_empty() {
        t.raw = match t.data_type {
            FLOAT => floats.iter().flat_map(|x| x.to_le_bytes()).collect(),
            // float16 values live in int32_data, one per entry (low 16 bits).
            FLOAT16 => int32s
                .iter()
                .flat_map(|&x| (x as u16).to_le_bytes())
                .collect(),
            INT64 => int64s.iter().flat_map(|x| x.to_le_bytes()).collect(),
            _ => Vec::new(),
        };
    }
    Ok(t)
}

fn attribute(b: &[u8]) -> Result<Attribute> {
    let mut a = Attribute::default();
    let mut r = Reader::new(b);
    while let Some((f, v)) = r.next()? {
        match (f, v) {
            (1, Value::Bytes(s)) => a.name = string(s)?,
            (2, Value::Fixed32(x)) => a.f = Some(f32::from_bits(x)),
            (3, Value::Varint(x)) => a.i = Some(x as i64),
            (4, Value::Bytes(s)) => a.s = s.to_vec(),
            (7, v) => push_floats(v, &mut a.floats)?,
            (8, v) => push_ints(v, &mut a.ints)?,
            _ => {}
        }
    }
    Ok(a)
}

fn node(b: &[u8]) -> Result<Node> {
    let mut n = Node::default();
    let mut r = Reader::new(b);
    while let Some((f, v)) = r.next()? {
        match (f, v) {
            (1, Value::Bytes(s)) => n.inputs.push(string(s)?),
            (2, Value::Bytes(s)) => n.outputs.push(string(s)?),
            (3, Value::Bytes(s)) => n.name = string(s)?,
            (4, Value::Bytes(s)) => n.op_type = string(s)?,
            (5, Value::Bytes(s)) => n.attributes.push(attribute(s)?),
            (7, Value::Bytes(s)) => n.domain = string(s)?,
            _ => {}
        }
    }
    Ok(n)
}

fn value_info(b: &[u8]) -> Result<ValueInfo> {
    let mut vi = ValueInfo::default();
    let mut r = Reader::new(b);
    while let Some((f, v)) = r.next()? {
        match (f, v) {
            (1, Value::Bytes(s)) => vi.name = string(s)?,
            // TypeProto.tensor_type (1) -> elem_type (1), shape (2) -> dim (1)
            (2, Value::Bytes(tp)) => {
                let mut r = Reader::new(tp);
                while let Some((f, v)) = r.next()? {
                    let (1, Value::Bytes(tt)) = (f, v) else {
                        continue;
                    };
                    let mut r = Reader::new(tt);
                    while let Some((f, v)) = r.next()? {
                        match (f, v) {
                            (1, Value::Varint(e)) => vi.elem_type = e as i32,
                            (2, Value::Bytes(shape)) => {
                                let mut r = Reader::new(shape);
                                while let Some((f, v)) = r.next()? {
                                    let (1, Value::Bytes(dim)) = (f, v) else {
                                        continue;
                                    };
                                    let mut d = None;
                                    let mut r = Reader::new(dim);
                                    while let Some((f, v)) = r.next()? {
                                        if let (1, Value::Varint(x)) = (f, v) {
                                            d = Some(x as i64);
                                        }
                                    }
                                    vi.dims.push(d);
                                }
                            }
                            _ => {}
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Ok(vi)
}

/// Parses an ONNX ModelProto.
pub fn parse(bytes: &[u8]) -> Result<Graph> {
    let mut r = Reader::new(bytes);
    let mut graph = None;
    while let Some((f, v)) = r.next()? {
        if let (7, Value::Bytes(g)) = (f, v) {
            graph = Some(g);
        }
    }
    let g = graph.ok_or_else(|| corrupt("no graph"))?;
    let mut out = Graph::default();
    let mut r = Reader::new(g);
    while let Some((f, v)) = r.next()? {
        match (f, v) {
            (1, Value::Bytes(b)) => out.nodes.push(node(b)?),
            (5, Value::Bytes(b)) => out.initializers.push(tensor(b)?),
            (11, Value::Bytes(b)) => out.inputs.push(value_info(b)?),
            (12, Value::Bytes(b)) => out.outputs.push(value_info(b)?),
            _ => {}
        }
    }
    if out.nodes.is_empty() {
        return Err(corrupt("graph has no nodes"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_default_model() {
        let bytes = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../models/dfd-lfb-cnn/model.fp16.onnx"
        ))
        .unwrap();
        let g = parse(&bytes).unwrap();
        assert_eq!(g.inputs.len(), 1);
        assert_eq!(g.inputs[0].dims, vec![None, Some(1), Some(60), Some(201)]);
        let conv = g.nodes.iter().find(|n| n.op_type == "Conv").unwrap();
        assert_eq!(conv.ints("pads").unwrap(), &[1, 1, 1, 1]);
        let w = g
            .initializers
            .iter()
            .find(|t| t.name == "conv2.w.f16")
            .unwrap();
        assert_eq!(
            (w.dims.as_slice(), w.data_type, w.raw.len()),
            (&[24i64, 16, 3, 3][..], FLOAT16, 24 * 16 * 9 * 2)
        );
    }

    #[test]
    fn garbage_is_invalid_model() {
        let e = parse(&[0xff, 0xff, 0xff]).unwrap_err();
        assert_eq!(e.status, dfd_backend_abi::BackendStatus::InvalidModel);
    }
}
