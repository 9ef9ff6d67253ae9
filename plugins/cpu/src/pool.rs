//! A 2x2, stride-2 max-pool for tract plans, fused with the ReLU before it
//! and the zero padding after it.
//!
//! tract 0.23's `OptMaxPool` checks each tap's bounds on its stride-2 path:
//! the default model's first pooling took 0.41 ms of its 2.2 ms per window
//! (`cargo bench --workspace --bench tract_profile`). [`MaxPool2x2`] reads
//! the four taps of each output straight from two input rows. tract also
//! keeps each block's ReLU and the next convolution's zero padding as
//! passes of their own (0.12 ms of 1.40 ms); the pool absorbs both, since
//! max(relu(a), relu(b), ..) = relu(max(a, b, ..)) and the pool writes
//! into a zeroed buffer anyway. [`rewrite`] puts it in place of every
//! pooling of a fixed shape that it computes identically (for finite
//! values; tract starts from `f32::MIN`): f32, channels before the two
//! spatial axes, a 2x2 kernel of stride 2, no dilation, no padding (a
//! trailing odd row or column is dropped, as tract and ONNX do).

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::array::{Pad, PadMode};
use tract_onnx::tract_core::ops::binary::OptBinByScalar;
use tract_onnx::tract_core::ops::cnn::OptMaxPool;
use tract_onnx::tract_core::ops::math::Max;
use tract_onnx::tract_core::ops::nn::DataFormat;

/// Max over each 2x2 block of the last two axes, stride 2; with `relu`, of
/// the block and zero; the result framed by `border` zeros on each side of
/// both spatial axes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MaxPool2x2 {
    pub relu: bool,
    pub border: usize,
}

impl Op for MaxPool2x2 {
    fn name(&self) -> StaticName {
        "MaxPool2x2".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!(
            "relu: {}, border: {}",
            self.relu, self.border
        )])
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
        let b = self.border;
        let (fh, fw) = (oh + 2 * b, ow + 2 * b);
        let mut out_shape: TVec<usize> = shape.into();
        out_shape[rank - 2] = fh;
        out_shape[rank - 1] = fw;
        // The taps are read as a flat slice: the producer (since the ReLU
        // is absorbed, the convolution itself) must hand over a natural
        // layout, as tract's own element-wise ops check before their
        // fast path.
        ensure!(
            input.len() == shape.iter().product::<usize>()
                && input.strides() == &*Tensor::natural_strides(shape),
            "MaxPool2x2 needs a contiguous input, got shape {shape:?} strides {:?}",
            input.strides()
        );
        let input = input.try_as_plain_ram()?;
        let x = input.as_slice::<f32>()?;
        let mut out = Tensor::zero::<f32>(&out_shape)?;
        let mut plain = out.try_as_plain_ram_mut()?;
        let o = plain.as_slice_mut::<f32>()?;
        let floor = if self.relu { 0.0 } else { f32::MIN };
        if oh * ow > 0 {
            // Two passes per output row, each a loop the compiler vectorises:
            // the two input rows' maximum, then the maximum of its pairs.
            let mut rows = vec![0f32; 2 * ow];
            for (plane, out_plane) in x.chunks_exact(h * w).zip(o.chunks_exact_mut(fh * fw)) {
                for (y, out_row) in out_plane[b * fw..]
                    .chunks_exact_mut(fw)
                    .take(oh)
                    .enumerate()
                {
                    let top = &plane[2 * y * w..][..2 * ow];
                    let bottom = &plane[(2 * y + 1) * w..][..2 * ow];
                    for ((m, &t), &bt) in rows.iter_mut().zip(top).zip(bottom) {
                        *m = t.max(bt);
                    }
                    for (v, pair) in out_row[b..b + ow].iter_mut().zip(rows.chunks_exact(2)) {
                        *v = pair[0].max(pair[1]).max(floor);
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
            *d = TDim::from((d.to_usize()? / 2 + 2 * self.border) as i64);
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

/// Whether the pool is `outlet`'s only reader and the model does not
/// output it: then the pool can absorb the node on either side of it.
fn sole_reader_of(model: &TypedModel, outlet: OutletId) -> bool {
    model.outlet_successors(outlet).len() == 1
        && !model.output_outlets().unwrap_or(&[]).contains(&outlet)
}

/// Whether every value of `t` is zero.
fn is_zero(t: &Tensor) -> bool {
    t.is_all_zero().unwrap_or(false)
}

/// The input of a ReLU (`max(x, 0)` by scalar) feeding only `outlet`'s pool.
fn relu_input(model: &TypedModel, outlet: OutletId) -> TractResult<Option<OutletId>> {
    let node = model.node(outlet.node);
    let Some(op) = node.op_as::<OptBinByScalar>() else {
        return Ok(None);
    };
    Ok((op.binop.is::<Max>()
        && node.inputs.len() == 2
        && sole_reader_of(model, outlet)
        && model
            .outlet_fact(node.inputs[1])?
            .konst
            .as_deref()
            .is_some_and(is_zero))
    .then_some(node.inputs[0]))
}

/// The border of a zero `Pad` that is the pool's only reader, framing the
/// two spatial axes alike and nothing else.
fn pad_after(model: &TypedModel, pool: usize) -> Option<(usize, usize)> {
    let outlet = OutletId::new(pool, 0);
    if !sole_reader_of(model, outlet) {
        return None;
    }
    let next = model.node(model.outlet_successors(outlet)[0].node);
    let pad = next.op_as::<Pad>()?;
    let PadMode::Constant(value) = &pad.mode else {
        return None;
    };
    let rank = pad.pads.len();
    let border = pad.pads.last()?.0;
    (is_zero(value)
        && rank >= 2
        && pad.pads[..rank - 2].iter().all(|&p| p == (0, 0))
        && pad.pads[rank - 2..].iter().all(|&p| p == (border, border)))
    .then_some((next.id, border))
}

/// Replaces every replaceable `OptMaxPool` of an optimised model, with the
/// ReLU before it and the zero `Pad` after it where it is their only link;
/// returns how many pools.
pub fn rewrite(model: &mut TypedModel) -> TractResult<usize> {
    let mut pools = Vec::new();
    for node in model.nodes() {
        if let Some(op) = node.op_as::<OptMaxPool>() {
            if replaceable(op, model.outlet_fact(node.inputs[0])?) {
                pools.push(node.id);
            }
        }
    }
    for &id in &pools {
        let input = model.node(id).inputs[0];
        let relu = relu_input(model, input)?;
        let (last, border) = pad_after(model, id).unwrap_or((id, 0));
        let op = MaxPool2x2 {
            relu: relu.is_some(),
            border,
        };
        let mut patch = TypedModelPatch::default();
        let source = patch.tap_model(model, relu.unwrap_or(input))?;
        let name = model.node(id).name.clone();
        let out = patch.wire_node(name, op, &[source])?[0];
        patch.shunt_outside(model, OutletId::new(last, 0), out)?;
        patch.apply(model)?;
    }
    if !pools.is_empty() {
        // Drops the replaced nodes, which a patch leaves unconnected.
        model.compact()?;
    }
    Ok(pools.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tract_onnx::tract_core::ops::change_axes::wire_with_rank_broadcast;
    use tract_onnx::tract_core::ops::cnn::{MaxPool, PaddingSpec, PoolSpec};
    use tract_onnx::tract_core::ops::math;

    fn pool_model(shape: &[usize], stride: usize, padding: PaddingSpec) -> TypedModel {
        let mut m = TypedModel::default();
        let x = m.add_source("x", f32::fact(shape)).unwrap();
        let y = wire_pool(&mut m, x, shape, stride, padding);
        m.select_output_outlets(&[y]).unwrap();
        m.into_optimized().unwrap()
    }

    fn wire_pool(
        m: &mut TypedModel,
        x: OutletId,
        shape: &[usize],
        stride: usize,
        padding: PaddingSpec,
    ) -> OutletId {
        let spec = PoolSpec {
            data_format: DataFormat::NCHW,
            kernel_shape: tvec![2, 2],
            padding,
            dilations: None,
            strides: Some(tvec![stride, stride]),
            input_channels: shape[1],
            output_channels: shape[1],
        };
        m.wire_node("pool", MaxPool::new(spec, None), &[x]).unwrap()[0]
    }

    /// A block's tail as the ONNX graphs have it: max(x, `floor`), the
    /// pool, a constant pad of `pad` (per axis) filled with `fill`; with
    /// `relu_out`, the ReLU is a second output of the model.
    fn block_model(
        shape: &[usize],
        floor: f32,
        pad: &[(usize, usize)],
        fill: f32,
        relu_out: bool,
    ) -> TypedModel {
        let mut m = TypedModel::default();
        let x = m.add_source("x", f32::fact(shape)).unwrap();
        let k = m.add_const("floor", tensor0(floor)).unwrap();
        let r = wire_with_rank_broadcast("relu", &mut m, math::max(), &[x, k]).unwrap()[0];
        let p = wire_pool(&mut m, r, shape, 2, PaddingSpec::Valid);
        let pad_op = Pad {
            pads: pad.to_vec(),
            mode: PadMode::Constant(Arc::new(tensor0(fill))),
        };
        let y = m.wire_node("pad", pad_op, &[p]).unwrap()[0];
        let outputs: Vec<OutletId> = if relu_out { vec![y, r] } else { vec![y] };
        m.select_output_outlets(&outputs).unwrap();
        m.into_optimized().unwrap()
    }

    /// The plugin's plan of `reference` (`rewrite`d), the pools rewritten,
    /// and the ops left in it by name.
    fn rewritten(reference: &TypedModel) -> (TypedModel, usize, Vec<String>) {
        let mut ours = reference.clone();
        let n = rewrite(&mut ours).unwrap();
        let ops = ours
            .nodes()
            .iter()
            .map(|n| n.op.name().to_string())
            .collect();
        (ours, n, ops)
    }

    fn assert_bit_equal(reference: TypedModel, ours: TypedModel, x: &Tensor, what: &str) {
        let outputs = reference.output_outlets().unwrap().len();
        let run_all = |m: TypedModel| {
            m.into_runnable()
                .unwrap()
                .run(tvec![x.clone().into()])
                .unwrap()
        };
        let (want, got) = (run_all(reference), run_all(ours));
        for i in 0..outputs {
            let (want, got) = (want[i].clone().into_tensor(), got[i].clone().into_tensor());
            assert_eq!(want.shape(), got.shape(), "{what}");
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
                "{what}"
            );
        }
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
            assert_bit_equal(reference, ours, &input(&shape), &format!("{shape:?}"));
        }
    }

    #[test]
    fn absorbs_the_relu_before_and_the_zero_pad_after_bit_for_bit() {
        for shape in [[1, 16, 60, 201], [1, 3, 7, 5]] {
            let frame = [(0, 0), (0, 0), (1, 1), (1, 1)];
            let reference = block_model(&shape, 0.0, &frame, 0.0, false);
            let (ours, n, ops) = rewritten(&reference);
            assert_eq!(n, 1, "{shape:?}");
            assert_eq!(ops, ["Source", "MaxPool2x2"], "{shape:?}");
            assert_bit_equal(reference, ours, &input(&shape), &format!("{shape:?}"));
        }
    }

    #[test]
    fn leaves_what_is_not_a_relu_or_a_zero_frame_to_tract() {
        let shape = [1, 4, 8, 10];
        let frame = [(0, 0), (0, 0), (1, 1), (1, 1)];
        let uneven = [(0, 0), (0, 0), (1, 1), (0, 1)];
        let channels = [(0, 0), (1, 1), (1, 1), (1, 1)];
        // Each case, and the op of tract's that must stay in the plan.
        let cases = [
            (
                "max with 0.5, not a ReLU",
                block_model(&shape, 0.5, &frame, 0.0, false),
                "OptMaxByScalar",
            ),
            (
                "the ReLU is also an output",
                block_model(&shape, 0.0, &frame, 0.0, true),
                "OptMaxByScalar",
            ),
            (
                "pad filled with 1",
                block_model(&shape, 0.0, &frame, 1.0, false),
                "Pad",
            ),
            (
                "pad on the channel axis",
                block_model(&shape, 0.0, &channels, 0.0, false),
                "Pad",
            ),
            (
                "uneven frame",
                block_model(&shape, 0.0, &uneven, 0.0, false),
                "Pad",
            ),
        ];
        for (what, reference, kept) in cases {
            let (ours, n, ops) = rewritten(&reference);
            assert_eq!(n, 1, "{what}");
            assert!(ops.iter().any(|o| o == kept), "{what}: {ops:?}");
            assert_bit_equal(reference, ours, &input(&shape), what);
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
