//! Finding and starting onnxruntime, which this plugin neither links nor
//! ships.
//!
//! `libonnxruntime.so` is looked for, in order:
//! 1. `ORT_DYLIB_PATH` (the `ort` crate's convention): a file path. When
//!    set it is the only candidate, so a wrong path is reported, never
//!    silently replaced by another copy;
//! 2. next to this plugin (the directory of `libdfd_backend_ort.so`, i.e.
//!    the `plugin_dir` option or `DFD_PLUGIN_PATH` entry it was found in):
//!    `libonnxruntime.so`, then `libonnxruntime.so.1`;
//! 3. the system: `libonnxruntime.so` / `libonnxruntime.so.1` through the
//!    dynamic loader (`LD_LIBRARY_PATH`, `ld.so.cache`).
//!
//! Each candidate is opened and its version read (`OrtGetApiBase`) before
//! `ort` sees it: a library without that symbol is not onnxruntime, and one
//! older than 1.[`MIN_MINOR`] lacks the C API this plugin calls. The first
//! usable one is loaded once per process with a silent logger (a library
//! must not print).

use std::ffi::CStr;
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use dfd_backend_abi::sdk::{Error, Result};
use ort::environment::Environment;

/// Oldest onnxruntime minor version (1.x) whose C API `ort` speaks here.
pub const MIN_MINOR: u32 = ort::MINOR_VERSION;

/// The environment variable naming the library file.
pub const ENV: &str = "ORT_DYLIB_PATH";

/// File names tried next to the plugin and on the system.
const NAMES: [&str; 2] = ["libonnxruntime.so", "libonnxruntime.so.1"];

/// Where a library candidate came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    EnvVar,
    NextToPlugin,
    System,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Source::EnvVar => ENV,
            Source::NextToPlugin => "next to the plugin",
            Source::System => "the system library path",
        })
    }
}

/// A usable onnxruntime library.
#[derive(Debug, Clone)]
pub struct Library {
    /// The file the loader opened (canonical; a system candidate's bare
    /// name resolved), which `ort` loads.
    pub path: PathBuf,
    /// As the library reports it, e.g. "1.32.0".
    pub version: String,
    pub source: Source,
}

/// The library candidates in search order (see the module doc).
pub fn candidates() -> Vec<(PathBuf, Source)> {
    if let Some(path) = std::env::var_os(ENV).filter(|p| !p.is_empty()) {
        return vec![(PathBuf::from(path), Source::EnvVar)];
    }
    let mut out = Vec::new();
    if let Some(dir) = plugin_dir() {
        for name in NAMES {
            let path = dir.join(name);
            if path.is_file() {
                out.push((path, Source::NextToPlugin));
            }
        }
    }
    out.extend(NAMES.map(|n| (PathBuf::from(n), Source::System)));
    out
}

/// Directory of the object holding this code (the plugin, or the
/// executable when compiled in).
fn plugin_dir() -> Option<PathBuf> {
    object_file(plugin_dir as *const libc::c_void)?
        .parent()
        .map(Path::to_path_buf)
}

/// The file of the loaded object that holds `addr` (dladdr), canonical.
fn object_file(addr: *const libc::c_void) -> Option<PathBuf> {
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    // SAFETY: dladdr only reads the address and fills `info`.
    let ok = unsafe { libc::dladdr(addr, &mut info) };
    if ok == 0 || info.dli_fname.is_null() {
        return None;
    }
    // SAFETY: dladdr returned a NUL-terminated path owned by the loader.
    let bytes = unsafe { CStr::from_ptr(info.dli_fname) }.to_bytes();
    let path = PathBuf::from(std::ffi::OsStr::from_bytes(bytes));
    Some(std::fs::canonicalize(&path).unwrap_or(path))
}

/// Opens `path` and returns its onnxruntime version and the file the
/// loader opened for it (a bare name resolved through the library path),
/// or why it cannot be used: not loadable, not onnxruntime, or older than
/// 1.[`MIN_MINOR`]. That file, not the name, is what `ort` then loads, so
/// the library checked is the library used.
pub fn inspect(path: &Path) -> std::result::Result<(String, PathBuf), String> {
    // SAFETY: loading a library runs its initialisers; onnxruntime's are
    // what any user of it runs.
    let lib = unsafe { libloading::Library::new(path) }.map_err(|e| {
        // libloading keeps dlerror()'s text (which names the file) in the source.
        match std::error::Error::source(&e) {
            Some(why) => format!("cannot load it: {why}"),
            None => format!("cannot load {}: {e}", path.display()),
        }
    })?;
    // SAFETY: the symbol, when present, has the C API's type.
    let get_base = unsafe {
        lib.get::<unsafe extern "C" fn() -> *const ort::sys::OrtApiBase>(b"OrtGetApiBase\0")
    }
    .map_err(|_| "not onnxruntime (no OrtGetApiBase symbol)".to_string())?;
    let file = object_file(*get_base as *const libc::c_void).unwrap_or_else(|| path.to_path_buf());
    // SAFETY: OrtGetApiBase takes nothing and returns a static table.
    let base = unsafe { get_base() };
    if base.is_null() {
        return Err("OrtGetApiBase returned NULL".into());
    }
    // SAFETY: a static NUL-terminated string per the C API.
    let version = unsafe { CStr::from_ptr(((*base).GetVersionString)()) }
        .to_string_lossy()
        .into_owned();
    let mut parts = version.split('.').map(|p| p.parse::<u32>().ok());
    let (major, minor) = (parts.next().flatten(), parts.next().flatten());
    match (major, minor) {
        (Some(1), Some(minor)) if minor >= MIN_MINOR => {}
        _ => {
            return Err(format!(
            "onnxruntime {version} is too old or unknown: this plugin needs 1.{MIN_MINOR} or newer"
        ))
        }
    }
    // SAFETY: as above; a NULL table means the API level is unsupported.
    if unsafe { ((*base).GetApi)(ort::sys::ORT_API_VERSION) }.is_null() {
        return Err(format!(
            "onnxruntime {version} does not offer C API version {}",
            ort::sys::ORT_API_VERSION
        ));
    }
    Ok((version, file))
}

/// The first usable candidate, or why there is none (every path tried).
pub fn locate() -> Result<Library> {
    let mut tried = Vec::new();
    for (path, source) in candidates() {
        match inspect(&path) {
            Ok((version, file)) => {
                return Ok(Library {
                    path: file,
                    version,
                    source,
                })
            }
            Err(why) => tried.push(format!("{} ({source}): {why}", path.display())),
        }
    }
    Err(Error::unavailable(format!(
        "no usable onnxruntime (tried {}); install onnxruntime 1.{MIN_MINOR}+ \
         (e.g. `pip install onnxruntime`) and set {ENV} to its libonnxruntime.so, \
         or put the library next to the plugin or on the system library path",
        tried.join("; ")
    )))
}

/// onnxruntime, loaded, with its process-wide environment.
pub struct Runtime {
    pub library: Library,
    pub env: Environment,
}

/// Loads onnxruntime once per process; later calls return the first
/// outcome (the `ort` crate keeps one library per process).
pub fn runtime() -> Result<&'static Runtime> {
    static RUNTIME: OnceLock<Result<Runtime>> = OnceLock::new();
    RUNTIME.get_or_init(start).as_ref().map_err(Clone::clone)
}

fn start() -> Result<Runtime> {
    let library = locate()?;
    let fail = |e: String| {
        Error::unavailable(format!(
            "onnxruntime {} at {}: {e}",
            library.version,
            library.path.display()
        ))
    };
    let env = ort::init_from(&library.path)
        .map_err(|e| fail(e.to_string()))?
        .with_name("dfd")
        // Silent: a library must not print; errors come back as statuses.
        .with_logger(Arc::new(|_, _, _, _, _| {}))
        .build()
        .map_err(|e| fail(e.to_string()))?;
    Ok(Runtime { library, env })
}
