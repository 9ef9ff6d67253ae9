//! Just enough of the ONNX protobuf wire format to find `metadata_props`.
//!
//! Hand-written on purpose: the core only needs one repeated string map from
//! the top-level `ModelProto`, which does not justify a protobuf code
//! generator (and tract stays out of the core). The walk also rejects
//! truncated files, since every length is checked against the buffer.

use crate::error::{bail, Result};

/// Top-level fields of `onnx.ModelProto` we look at.
const FIELD_IR_VERSION: u64 = 1;
const FIELD_GRAPH: u64 = 7;
const FIELD_METADATA_PROPS: u64 = 14;

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
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

    /// Next (field number, payload); payload is empty for fixed/varint fields.
    fn field(&mut self) -> Result<(u64, &'a [u8])> {
        let key = self.varint()?;
        let (field, wire) = (key >> 3, key & 7);
        let payload = match wire {
            0 => {
                self.varint()?;
                &[][..]
            }
            1 => self.bytes(8)?,
            2 => {
                let len = self.varint()?;
                self.bytes(len)?
            }
            5 => self.bytes(4)?,
            _ => bail!(
                ModelCorrupt,
                "not an ONNX file: unknown protobuf wire type {wire} at byte {}",
                self.pos
            ),
        };
        if field == 0 {
            bail!(ModelCorrupt, "not an ONNX file: protobuf field number 0");
        }
        Ok((field, payload))
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
    let mut r = Reader { buf: bytes, pos: 0 };
    let (mut has_ir, mut has_graph) = (false, false);
    let mut props = Vec::new();
    while !r.done() {
        let (field, payload) = r.field()?;
        match field {
            FIELD_IR_VERSION => has_ir = true,
            FIELD_GRAPH => has_graph = true,
            FIELD_METADATA_PROPS => props.push(string_pair(payload)?),
            _ => {}
        }
    }
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
    let mut r = Reader { buf: entry, pos: 0 };
    let (mut key, mut value) = (String::new(), String::new());
    while !r.done() {
        let (field, payload) = r.field()?;
        let text = || {
            String::from_utf8(payload.to_vec()).map_err(|_| {
                crate::Error::new(crate::Status::ModelCorrupt, "ONNX metadata is not UTF-8")
            })
        };
        match field {
            1 => key = text()?,
            2 => value = text()?,
            _ => {}
        }
    }
    Ok((key, value))
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
    fn text_is_not_onnx() {
        let err = metadata_props(b"hello, this is not a model").unwrap_err();
        assert_eq!(err.status, Status::ModelCorrupt);
    }
}
