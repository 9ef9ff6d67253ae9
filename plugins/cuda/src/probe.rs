//! Can the CUDA backend run here? Driver library, device, NVRTC, in that order.
//!
//! cudarc loads libcuda / libnvrtc lazily and *panics* when a library or a
//! symbol is missing (`CudaContext::new` with no libcuda panics), so the
//! library checks come first (`is_culib_present`, which only tries to dlopen)
//! and every driver call runs inside `catch_unwind`: a driver library without
//! a symbol we need reads as "unavailable", never as a crash.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;

use cudarc::driver::result as drv;

use dfd_backend_abi::sdk::{Error, Result};

/// What the probe found on a machine that can run the backend.
#[derive(Debug, Clone)]
pub struct Found {
    pub device_name: String,
    pub compute_capability: (i32, i32),
    pub devices: i32,
    pub driver_version: i32,
}

impl Found {
    pub fn describe(&self) -> String {
        format!(
            "cuda: {} (sm_{}{}), {} device(s), driver API {}.{}",
            self.device_name,
            self.compute_capability.0,
            self.compute_capability.1,
            self.devices,
            self.driver_version / 1000,
            (self.driver_version % 1000) / 10
        )
    }
}

/// Runs `f`, turning a panic inside cudarc (missing library or symbol) into
/// an `Unavailable` error that says what was being done.
pub fn no_panic<T>(what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => {
            let msg = if let Some(s) = p.downcast_ref::<&str>() {
                s.to_string()
            } else if let Some(s) = p.downcast_ref::<String>() {
                s.clone()
            } else {
                "unknown panic".into()
            };
            Err(Error::unavailable(format!("{what}: {msg}")))
        }
    }
}

/// Probes once per process (cuInit is process-wide; the answer cannot change).
pub fn probe() -> Result<Found> {
    static PROBE: OnceLock<Result<Found>> = OnceLock::new();
    PROBE.get_or_init(probe_uncached).clone()
}

fn probe_uncached() -> Result<Found> {
    // SAFETY: only tries to dlopen the library names cudarc knows.
    if !no_panic("looking for libcuda", || {
        Ok(unsafe { cudarc::driver::sys::is_culib_present() })
    })? {
        return Err(Error::unavailable(
            "no CUDA driver: libcuda.so.1 not found (install the NVIDIA driver; \
             it is searched on the dynamic loader's path)",
        ));
    }
    let found = no_panic("CUDA driver library is unusable", || {
        drv::init().map_err(|e| {
            Error::unavailable(format!("CUDA driver present but cuInit failed: {e}"))
        })?;
        let devices = drv::device::get_count()
            .map_err(|e| Error::unavailable(format!("cuDeviceGetCount failed: {e}")))?;
        if devices < 1 {
            return Err(Error::unavailable("CUDA driver present but no CUDA device"));
        }
        let dev = drv::device::get(0)
            .map_err(|e| Error::unavailable(format!("cuDeviceGet(0) failed: {e}")))?;
        let device_name = drv::device::get_name(dev).unwrap_or_else(|_| "unknown device".into());
        use cudarc::driver::sys::CUdevice_attribute as A;
        // SAFETY: `dev` is a valid device handle from cuDeviceGet.
        let major = unsafe {
            drv::device::get_attribute(dev, A::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)
        }
        .unwrap_or(0);
        let minor = unsafe {
            drv::device::get_attribute(dev, A::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)
        }
        .unwrap_or(0);
        let mut driver_version = 0i32;
        // SAFETY: writes one int.
        let _ = unsafe { cudarc::driver::sys::cuDriverGetVersion(&mut driver_version) };
        Ok(Found {
            device_name,
            compute_capability: (major, minor),
            devices,
            driver_version,
        })
    })?;
    nvrtc_present()?;
    Ok(found)
}

/// The kernels are compiled at load time: libnvrtc must be loadable.
pub fn nvrtc_present() -> Result<()> {
    // SAFETY: only tries to dlopen the library names cudarc knows.
    let present = no_panic("looking for libnvrtc", || {
        Ok(unsafe { cudarc::nvrtc::sys::is_culib_present() })
    })?;
    if present {
        Ok(())
    } else {
        Err(Error::unavailable(
            "CUDA device found but NVRTC (libnvrtc.so.12) is missing: install the CUDA \
             runtime compiler (e.g. `pip install nvidia-cuda-nvrtc-cu12` and add its lib \
             directory to LD_LIBRARY_PATH, or the distribution's libnvrtc package)",
        ))
    }
}
