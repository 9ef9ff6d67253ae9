//! A simulated device for machines without a GPU: the kernel files compiled
//! as C++ for the CPU (`tests/shim/kernels_cpu.cpp` with
//! `tests/shim/cuda_shim.h`, every block and thread of a launch run in
//! turn), behind the same [`Device`] trait as the CUDA device. With
//! `DFD_CUDA_SIMULATOR=/path/to/kernels_cpu.so` in the environment the
//! plugin reports itself available and runs every launch list there, so the
//! whole path through libdfd (plugin ABI, front end on the backend,
//! batching across streams) is tested on any CI machine. For testing only:
//! it is slow, and it is not a GPU.

use std::ffi::{c_char, c_void, CString};
use std::path::{Path, PathBuf};

use crate::exec::{Arg, Device};
use crate::kernels;
use dfd_backend_abi::sdk::{Error, Result};

/// Environment variable naming the simulator's kernel library.
pub const ENV: &str = "DFD_CUDA_SIMULATOR";

/// `dfd_cpu_launch(name, grid, block, params)`: 0, or 1 for an unknown kernel.
type LaunchFn = unsafe extern "C" fn(*const c_char, u32, u32, *mut *mut c_void) -> i32;

/// The simulator library named by [`ENV`], if set.
pub fn configured() -> Option<PathBuf> {
    std::env::var_os(ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// Host buffers (8-byte aligned) and the CPU-compiled kernels.
pub struct CpuSim {
    launch: LaunchFn,
    bufs: Vec<Vec<u64>>,
    /// Launches run so far.
    pub launches: usize,
    /// Bytes allocated so far (what the same loads take on a GPU).
    pub allocated: usize,
}

impl CpuSim {
    /// Loads the simulator library (kept loaded for the process).
    pub fn open(path: &Path) -> Result<CpuSim> {
        // SAFETY: loading a library runs its initialisers; the simulator is
        // a plain C++ file without any.
        let lib = unsafe { libloading::Library::new(path) }.map_err(|e| {
            Error::unavailable(format!(
                "{ENV}={}: cannot load the simulator: {e}",
                path.display()
            ))
        })?;
        // SAFETY: the symbol has the launcher's signature (kernels_cpu.cpp).
        let launch = unsafe { lib.get::<LaunchFn>(b"dfd_cpu_launch\0") }
            .map(|f| *f)
            .map_err(|e| {
                Error::unavailable(format!("{ENV}={}: no dfd_cpu_launch: {e}", path.display()))
            })?;
        std::mem::forget(lib);
        Ok(CpuSim {
            launch,
            bufs: Vec::new(),
            launches: 0,
            allocated: 0,
        })
    }

    fn buf(&mut self, id: usize) -> Result<&mut Vec<u64>> {
        self.bufs
            .get_mut(id)
            .ok_or_else(|| Error::internal(format!("no simulated buffer {id}")))
    }
}

impl Device for CpuSim {
    fn alloc(&mut self, bytes: usize) -> Result<usize> {
        self.bufs.push(vec![0u64; bytes.div_ceil(8)]);
        self.allocated += bytes;
        Ok(self.bufs.len() - 1)
    }

    fn upload(&mut self, buf: usize, data: &[u8]) -> Result<()> {
        let b = self.buf(buf)?;
        if data.len() > b.len() * 8 {
            return Err(Error::internal("upload larger than its buffer"));
        }
        // SAFETY: the buffer holds at least data.len() bytes (checked).
        unsafe {
            std::ptr::copy_nonoverlapping(data.as_ptr(), b.as_mut_ptr().cast::<u8>(), data.len())
        };
        Ok(())
    }

    fn download(&mut self, buf: usize, out: &mut [u8]) -> Result<()> {
        let b = self.buf(buf)?;
        if out.len() > b.len() * 8 {
            return Err(Error::internal("download larger than its buffer"));
        }
        // SAFETY: as for upload.
        unsafe {
            std::ptr::copy_nonoverlapping(b.as_ptr().cast::<u8>(), out.as_mut_ptr(), out.len())
        };
        Ok(())
    }

    fn launch(&mut self, kernel: &'static str, n: usize, args: &[Arg]) -> Result<()> {
        // The same marshalling as the CUDA device: one 8-byte slot per argument.
        let mut slots = Vec::with_capacity(args.len());
        for a in args {
            slots.push(match *a {
                Arg::Buf(id) => self.buf(id)?.as_mut_ptr() as u64,
                Arg::Null => 0,
                Arg::I32(v) => v as u32 as u64,
                Arg::F32(v) => v.to_bits() as u64,
            });
        }
        let mut params: Vec<*mut c_void> =
            slots.iter_mut().map(|s| (s as *mut u64).cast()).collect();
        let (grid, block) = kernels::launch_dims(n);
        let name = CString::new(kernel).map_err(|_| Error::internal("kernel name with NUL"))?;
        // SAFETY: the parameter list matches the kernel (the executor builds
        // it from the table the NVRTC and g++ builds of the kernels check).
        let rc = unsafe { (self.launch)(name.as_ptr(), grid, block, params.as_mut_ptr()) };
        self.launches += 1;
        if rc != 0 {
            return Err(Error::internal(format!(
                "kernel {kernel} unknown to the simulator"
            )));
        }
        Ok(())
    }

    fn sync(&mut self) -> Result<()> {
        Ok(())
    }
}
