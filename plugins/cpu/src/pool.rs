//! A 2x2, stride-2 max-pool for tract plans.
//!
//! tract 0.23's `OptMaxPool` checks each tap's bounds on its stride-2 path:
//! the default model's first pooling took 0.41 ms of its 2.2 ms per window
//! (`cargo bench --workspace --bench tract_profile`). [`MaxPool2x2`] reads
//! the four taps of each output straight from two input rows. [`rewrite`]
//! puts it in place of every pooling of a fixed shape that it computes
//! identically (for finite values; tract starts from `f32::MIN`): f32,
//! channels before the two spatial axes, a 2x2 kernel of stride 2, no
//! dilation, no padding (a trailing odd row or column is dropped, as tract
//! and ONNX do).

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::cnn::OptMaxPool;
use tract_onnx::tract_core::ops::nn::DataFormat;

/// Max over each 2x2 block of the last two axes, stride 2.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MaxPool2x2;

impl Op for MaxPool2x2 {
    fn name(&self) -> StaticName {
        "MaxPool2x2".into()
    }

    op_as_typed_op!();
}

impl EvalOp for MaxPool2x2 {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        let shape = input.shape();
        let rank = shape.len();
        ensure!(
            rank >= 2,
            "MaxPool2x2 needs two spatial axes, got {shape:?}"
        );
        let (h, w) = (shape[rank - 2], shape[rank - 1]);
        let (oh, ow) = (h / 2, w / 2);
        let mut out_shape: TVec<usize> = shape.into();
        out_shape[rank - 2] = oh;
        out_shape[rank - 1] = ow;
        let input = input.try_as_plain_ram()?;
        let x = input.as_slice::<f32>()?;
        let mut out = Tensor::zero::<f32>(&out_shape)?;
        let mut plain = out.try_as_plain_ram_mut()?;
        let o = plain.as_slice_mut::<f32>()?;
        if oh * ow > 0 {
            for (plane, out_plane) in x.chunks_exact(h * w).zip(o.chunks_exact_mut(oh * ow)) {
                for (y, out_row) in out_plane.chunks_exact_mut(ow).enumerate() {
                    let top = &plane[2 * y * w..][..2 * ow];
                    let bottom = &plane[(2 * y + 1) * w..][..2 * ow];
                    for ((v, t), b) in out_row
                        .iter_mut()
                        .zip(top.chunks_exact(2))
                        .zip(bottom.chunks_exact(2))
                    {
                        *v = t[0].max(t[1]).max(b[0].max(b[1]));
                    }
                }
            }
        }
        Ok(tvec!(out.into_tvalue()))
    }
}

impl TypedOp for MaxPool2x2 {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let mut shape = inputs[0].shape.to_tvec();
        let rank = shape.len();
        ensure!(rank >= 2, "MaxPool2x2 needs two spatial axes");
        for d in &mut shape[rank - 2..] {
            *d = TDim::from(d.to_usize()? as i64 / 2);
        }
        Ok(tvec!(f32::fact(shape)))
    }

    as_op!();
}

/// Whether [`MaxPool2x2`] computes what `op` computes on `input`.
fn replaceable(op: &OptMaxPool, input: &TypedFact) -> bool {
    let spec = &op.pool_spec;
    let Some(shape) = input.shape.as_concrete() else {
        return false;
    };
    let channels_first = matches!(spec.data_format, DataFormat::NCHW | DataFormat::CHW);
    let hw = &shape[shape.len().saturating_sub(2)..];
    op.with_index_outputs.is_none()
        && input.datum_type == f32::datum_type()
        && channels_first
        && hw.len() == 2
        && spec.kernel_shape[..] == [2, 2]
        && spec.strides()[..] == [2, 2]
        && spec.dilations()[..] == [1, 1]
        && spec
            .computed_padding(hw)
            .iter()
            .zip(hw)
            .all(|(p, &n)| p.pad_before == 0 && p.pad_after == 0 && p.convoluted == n / 2)
}

/// Replaces every replaceable `OptMaxPool` of an optimised model; returns
/// how many.
pub fn rewrite(model: &mut TypedModel) -> TractResult<usize> {
    let mut ids = Vec::new();
    for node in model.nodes() {
        if let Some(op) = node.op_as::<OptMaxPool>() {
            if replaceable(op, model.outlet_fact(node.inputs[0])?) {
                ids.push(node.id);
            }
        }
    }
    for &id in &ids {
        let node = model.node(id);
        TypedModelPatch::replace_single_op(model, node, &node.inputs, MaxPool2x2)?.apply(model)?;
    }
    if !ids.is_empty() {
        // Drops the replaced nodes, which a patch leaves unconnected.
        model.compact()?;
    }
    Ok(ids.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tract_onnx::tract_core::ops::cnn::{MaxPool, PaddingSpec, PoolSpec};

    fn pool_model(shape: &[usize], stride: usize, padding: PaddingSpec) -> TypedModel {
        let mut m = TypedModel::default();
        let x = m.add_source("x", f32::fact(shape)).unwrap();
        let spec = PoolSpec {
            data_format: DataFormat::NCHW,
            kernel_shape: tvec![2, 2],
            padding,
            dilations: None,
            strides: Some(tvec![stride, stride]),
            input_channels: shape[1],
            output_channels: shape[1],
        };
        let y = m.wire_node("pool", MaxPool::new(spec, None), &[x]).unwrap();
        m.select_output_outlets(&y).unwrap();
        m.into_optimized().unwrap()
    }

    fn run(m: TypedModel, input: &Tensor) -> Tensor {
        let out = m
            .into_runnable()
            .unwrap()
            .run(tvec![input.clone().into()])
            .unwrap();
        out[0].clone().into_tensor()
    }

    /// Deterministic values of both signs (a pooled map before a ReLU).
    fn input(shape: &[usize]) -> Tensor {
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n)
            .map(|i| ((i as f32 * 0.7548).sin() * 1000.0).fract() * 3.0)
            .collect();
        tensor1(&v).into_shape(shape).unwrap()
    }

    #[test]
    fn equals_tracts_pool_bit_for_bit_on_odd_and_even_maps() {
        for shape in [
            [1, 16, 60, 201],
            [1, 24, 30, 100],
            [1, 3, 7, 5],
            [2, 4, 3, 9],
        ] {
            let reference = pool_model(&shape, 2, PaddingSpec::Valid);
            let mut ours = reference.clone();
            assert_eq!(rewrite(&mut ours).unwrap(), 1, "{shape:?}");
            let x = input(&shape);
            let (want, got) = (run(reference, &x), run(ours, &x));
            assert_eq!(want.shape(), got.shape(), "{shape:?}");
            let (want, got) = (
                want.try_as_plain_ram().unwrap(),
                got.try_as_plain_ram().unwrap(),
            );
            let (want, got) = (
                want.as_slice::<f32>().unwrap(),
                got.as_slice::<f32>().unwrap(),
            );
            assert!(
                want.iter()
                    .zip(got)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "{shape:?}"
            );
        }
    }

    #[test]
    fn leaves_pools_it_does_not_compute_alone() {
        let stride1 = pool_model(&[1, 4, 8, 8], 1, PaddingSpec::Valid);
        let padded = pool_model(
            &[1, 4, 8, 8],
            2,
            PaddingSpec::Explicit(tvec![1, 1], tvec![1, 1]),
        );
        for mut m in [stride1, padded] {
            assert_eq!(rewrite(&mut m).unwrap(), 0);
        }
    }
}
