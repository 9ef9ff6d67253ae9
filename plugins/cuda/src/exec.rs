//! The executor: turns the ONNX graph into a list of kernel launches for a
//! given batch, on any [`Device`]. The CUDA device ([`crate::gpu`]) and the
//! CPU simulation used by the tests (the same kernel source compiled with
//! g++) run exactly the same launch list, so shape inference, buffer
//! planning, broadcasting and argument marshalling are verified on the CPU;
//! only the driver calls behind `Device` differ.
//!
//! Each operator's scheduling is its own function in [`crate::ops`].

use std::collections::HashMap;

use dfd_backend_abi::sdk::{Error, Result};

use crate::onnx::{self, Graph};
use crate::ops::{self, Cx};

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
pub struct Val {
    pub buf: usize,
    pub shape: Vec<usize>,
    pub dtype: DType,
}

/// One kernel launch.
#[derive(Debug, Clone, PartialEq)]
pub struct Launch {
    pub kernel: &'static str,
    pub n: usize,
    pub args: Vec<Arg>,
}

pub fn prod(s: &[usize]) -> usize {
    s.iter().product()
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

/// Parses an ONNX graph and checks that this backend runs every node of it:
/// what [`Model::load`] takes, obtained before any device is opened, so a
/// refusal reads the same on every machine.
pub fn checked_graph(onnx_bytes: &[u8]) -> Result<Graph> {
    let graph = onnx::parse(onnx_bytes)?;
    ops::check(&graph)?;
    Ok(graph)
}

impl Model {
    /// Uploads the constants of a [`checked_graph`] and allocates
    /// activation buffers for `max_batch` items.
    pub fn load<D: Device + ?Sized>(
        dev: &mut D,
        graph: Graph,
        item_shape: &[usize],
        output_len: usize,
        max_batch: usize,
    ) -> Result<Model> {
        let init_names: Vec<&str> = graph.initializers.iter().map(|t| t.name.as_str()).collect();
        let inputs: Vec<_> = graph
            .inputs
            .iter()
            .filter(|i| !init_names.contains(&i.name.as_str()))
            .collect();
        if inputs.len() != 1 || graph.outputs.len() != 1 {
            return Err(Error::mismatch(format!(
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
            return Err(Error::mismatch(format!(
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
            let out = ops::schedule(&mut Cx {
                node,
                graph: &self.graph,
                vals: &vals,
                consts: &self.consts,
                buffer: &mut *buffer,
                launches: &mut launches,
            })?;
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
            return Err(Error::mismatch(format!(
                "graph output {} has shape {:?}, the host expects [{batch}, {}] floats",
                self.output_name, out.shape, self.output_len
            )));
        }
        Ok((launches, out.buf))
    }
}
