//! The CUDA [`Device`]: cudarc driver API, kernels compiled by NVRTC at load.
//!
//! NOT RUN ON A GPU: this file is compiled and its launch lists are the ones
//! the CPU simulation verifies, but the driver calls themselves (allocation,
//! copies, cuLaunchKernel) have never executed on a device. See README.md.

use std::collections::HashMap;
use std::sync::Arc;

use cudarc::driver::{CudaContext, CudaFunction, CudaSlice, CudaStream, DevicePtr};
use cudarc::nvrtc::{compile_ptx_with_opts, CompileOptions};

use crate::exec::{Arg, Device};
use crate::kernels;
use crate::probe::no_panic;
use dfd_backend_abi::sdk::{Error, Result};

fn drv(what: &str) -> impl Fn(cudarc::driver::DriverError) -> Error + '_ {
    move |e| Error::runtime(format!("CUDA {what}: {e}"))
}

/// Compiles the embedded kernel source with NVRTC; the error carries the log.
pub fn compile() -> Result<cudarc::nvrtc::Ptx> {
    compile_source(&kernels::source())
}

/// Compiles CUDA C source with NVRTC (the same options the plugin uses at
/// load time); an error carries NVRTC's log. Needs libnvrtc, not a GPU.
pub fn compile_source(src: &str) -> Result<cudarc::nvrtc::Ptx> {
    crate::probe::nvrtc_present()?;
    no_panic("NVRTC", || {
        compile_ptx_with_opts(
            src,
            CompileOptions {
                name: Some("dfd_kernels.cu".into()),
                ..Default::default()
            },
        )
        .map_err(|e| Error::runtime(format!("NVRTC failed to compile the kernels: {e}")))
    })
}

pub struct Gpu {
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    funcs: HashMap<&'static str, CudaFunction>,
    bufs: Vec<CudaSlice<u8>>,
}

impl Gpu {
    /// A context on device 0, its own stream, and every kernel loaded.
    pub fn new() -> Result<Gpu> {
        crate::probe::probe()?;
        let ptx = compile()?;
        no_panic("CUDA context", || {
            let ctx = CudaContext::new(0).map_err(drv("context"))?;
            let stream = ctx.new_stream().map_err(drv("stream"))?;
            let module = ctx.load_module(ptx).map_err(drv("module load"))?;
            let mut funcs = HashMap::new();
            for name in kernels::all_kernels() {
                funcs.insert(name, module.load_function(name).map_err(drv(name))?);
            }
            Ok(Gpu {
                ctx,
                stream,
                funcs,
                bufs: Vec::new(),
            })
        })
    }

    fn buf(&self, id: usize) -> Result<&CudaSlice<u8>> {
        self.bufs
            .get(id)
            .ok_or_else(|| Error::internal(format!("no device buffer {id}")))
    }
}

impl Device for Gpu {
    fn alloc(&mut self, bytes: usize) -> Result<usize> {
        let _ = &self.ctx;
        let b = self.stream.alloc_zeros::<u8>(bytes).map_err(drv("alloc"))?;
        self.bufs.push(b);
        Ok(self.bufs.len() - 1)
    }

    fn upload(&mut self, id: usize, data: &[u8]) -> Result<()> {
        let stream = Arc::clone(&self.stream);
        let b = self
            .bufs
            .get_mut(id)
            .ok_or_else(|| Error::internal(format!("no device buffer {id}")))?;
        if data.len() > b.len() {
            return Err(Error::internal("upload larger than its buffer"));
        }
        let mut view = b.slice_mut(..data.len());
        stream.memcpy_htod(data, &mut view).map_err(drv("upload"))
    }

    fn download(&mut self, id: usize, out: &mut [u8]) -> Result<()> {
        let b = self.buf(id)?;
        if out.len() > b.len() {
            return Err(Error::internal("download larger than its buffer"));
        }
        let view = b.slice(..out.len());
        self.stream.memcpy_dtoh(&view, out).map_err(drv("download"))
    }

    fn launch(&mut self, kernel: &'static str, n: usize, args: &[Arg]) -> Result<()> {
        let f = self
            .funcs
            .get(kernel)
            .ok_or_else(|| Error::internal(format!("kernel {kernel} not loaded")))?;
        // One 8-byte slot per argument; cuLaunchKernel reads each parameter
        // through a pointer to its value (exactly what the CPU shim does).
        let mut slots = vec![0u64; args.len()];
        let mut guards = Vec::new();
        for (slot, a) in slots.iter_mut().zip(args) {
            *slot = match *a {
                Arg::Buf(id) => {
                    let (ptr, guard) = self.buf(id)?.device_ptr(&self.stream);
                    guards.push(guard);
                    ptr
                }
                Arg::Null => 0,
                Arg::I32(v) => v as u32 as u64,
                Arg::F32(v) => v.to_bits() as u64,
            };
        }
        let mut params: Vec<*mut std::ffi::c_void> =
            slots.iter_mut().map(|s| (s as *mut u64).cast()).collect();
        let (grid, block) = kernels::launch_dims(n);
        // SAFETY: the parameter list matches the kernel's signature (the
        // executor builds it from the same table the CPU simulation checks);
        // 4-byte parameters are read from the low bytes of their slot
        // (little-endian), 8-byte ones (pointers) from the whole slot.
        unsafe {
            cudarc::driver::result::launch_kernel(
                f.cu_function(),
                (grid, 1, 1),
                (block, 1, 1),
                0,
                self.stream.cu_stream(),
                &mut params,
            )
        }
        .map_err(drv(kernel))?;
        drop(guards);
        Ok(())
    }

    fn sync(&mut self) -> Result<()> {
        self.stream.synchronize().map_err(drv("synchronize"))
    }
}
