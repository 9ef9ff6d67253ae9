//! Finding and loading backends.
//!
//! A backend named `<name>` is `libdfd_backend_<name>.so`, searched in order
//! in: the directory given in the model options, each directory of
//! `DFD_PLUGIN_PATH` (colon-separated), the directory libdfd itself was loaded
//! from and its `dfd/plugins` subdirectory (the install layout
//! `lib/dfd/plugins`). When libdfd is linked statically, "itself" is the
//! executable, so `../lib/dfd/plugins` next to it is searched as well.
//! Plugins are opened with `RTLD_NOW | RTLD_LOCAL` and never unloaded.
//!
//! `auto` ranks every backend it can see (the built-in ones, the shipped
//! names, any `libdfd_backend_*.so` on the search path) by what it reports
//! about this machine: backends whose probe succeeds, highest score first
//! (ties by name), as ggml's backend registry does. So an installed
//! onnxruntime or third-party plugin wins over tract without libdfd knowing
//! its name.

use std::collections::HashMap;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use dfd_backend_abi::{BackendTable, EntryFn, ABI_VERSION, ENTRY_SYMBOL, MIN_TABLE_SIZE};
use once_cell::sync::Lazy;

use super::{Backend, Origin};
use crate::error::{bail, Error, Result, Status};
use crate::log::log;
use crate::model::BackendChoice;

/// Backends libdfd ships: listed even when their plugin is missing, so
/// `dfd backends` says why.
const SHIPPED: [&str; 4] = ["cpu", "rten", "ort", "cuda"];

/// Loaded plugins by file path, and the built-in backends by name.
static LOADED: Lazy<Mutex<HashMap<PathBuf, Arc<Backend>>>> = Lazy::new(Default::default);

#[cfg(feature = "builtin-cpu")]
static BUILTIN_CPU: Lazy<Arc<Backend>> = Lazy::new(|| {
    Arc::new(
        Backend::new(dfd_backend_cpu::table(), Origin::Builtin).expect("built-in table is valid"),
    )
});

fn builtin(name: &str) -> Option<Arc<Backend>> {
    #[cfg(feature = "builtin-cpu")]
    if name == "cpu" {
        return Some(Arc::clone(&BUILTIN_CPU));
    }
    let _ = name;
    None
}

/// One row of [`list`].
#[derive(Clone)]
pub struct BackendInfo {
    pub name: String,
    /// The loaded backend; `None` when no plugin file was found or it
    /// could not be loaded.
    pub backend: Option<Arc<Backend>>,
    pub available: bool,
    /// What `auto` ranks by: the backend's score when available, else 0.
    pub score: u32,
    /// The probe's message, or why the backend could not be loaded.
    pub detail: String,
}

impl BackendInfo {
    /// Where the backend's code lives; `None` when it was not found.
    pub fn origin(&self) -> Option<&Origin> {
        self.backend.as_ref().map(|b| b.origin())
    }
}

impl std::fmt::Debug for BackendInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackendInfo")
            .field("name", &self.name)
            .field("origin", &self.origin())
            .field("available", &self.available)
            .field("score", &self.score)
            .field("detail", &self.detail)
            .finish()
    }
}

pub fn file_name(name: &str) -> String {
    format!("libdfd_backend_{name}.so")
}

/// The plugin search path for the given options directory, in search order.
pub fn search_dirs(plugin_dir: Option<&Path>) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    dirs.extend(plugin_dir.map(Path::to_path_buf));
    if let Some(path) = std::env::var_os("DFD_PLUGIN_PATH") {
        dirs.extend(std::env::split_paths(&path).filter(|p| !p.as_os_str().is_empty()));
    }
    if let Some(own) = own_dir() {
        dirs.push(own.clone());
        dirs.push(own.join("dfd/plugins"));
        if let Some(parent) = own.parent() {
            dirs.push(parent.join("lib/dfd/plugins"));
        }
    }
    dirs
}

/// Directory of the object file containing libdfd (the .so, or the
/// executable when linked statically).
fn own_dir() -> Option<PathBuf> {
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    // SAFETY: dladdr only reads the address and fills `info`.
    let ok = unsafe { libc::dladdr(own_dir as *const libc::c_void, &mut info) };
    let path = if ok != 0 && !info.dli_fname.is_null() {
        // SAFETY: dladdr returned a NUL-terminated path owned by the loader.
        let bytes = unsafe { std::ffi::CStr::from_ptr(info.dli_fname) }.to_bytes();
        PathBuf::from(std::ffi::OsStr::from_bytes(bytes))
    } else {
        std::env::current_exe().ok()?
    };
    let path = std::fs::canonicalize(&path).unwrap_or(path);
    path.parent().map(Path::to_path_buf)
}

pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Loads a plugin file, checking it is a libdfd backend of our ABI version.
fn load_plugin(path: &Path) -> Result<Arc<Backend>> {
    let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mut loaded = LOADED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(b) = loaded.get(&key) {
        return Ok(Arc::clone(b));
    }
    let shown = path.display();
    // SAFETY: loading runs the library's initialisers; that is what a plugin is.
    let lib = unsafe {
        libloading::os::unix::Library::open(
            Some(&key),
            libloading::os::unix::RTLD_NOW | libloading::os::unix::RTLD_LOCAL,
        )
    }
    .map_err(|e| {
        Error::new(
            Status::PluginIncompatible,
            format!("cannot load plugin {shown}: {}", with_reason(&e)),
        )
    })?;
    // SAFETY: the symbol, if present, has the ABI's entry type.
    let entry: EntryFn = match unsafe { lib.get::<EntryFn>(ENTRY_SYMBOL) } {
        Ok(sym) => *sym,
        Err(e) => bail!(
            PluginIncompatible,
            "{shown} is not a libdfd backend plugin (no dfd_backend_v1 symbol: {})",
            with_reason(&e)
        ),
    };
    // SAFETY: calling the plugin's entry point as the ABI defines it.
    let table_ptr = unsafe { entry() };
    if table_ptr.is_null() {
        bail!(PluginIncompatible, "{shown}: dfd_backend_v1 returned NULL");
    }
    // Read only the two leading u32 before trusting the rest of the table.
    // SAFETY: every ABI version starts with these two fields.
    let (version, size) = unsafe { ((*table_ptr).abi_version, (*table_ptr).table_size) };
    if version != ABI_VERSION {
        bail!(
            PluginIncompatible,
            "{shown}: plugin ABI version {version}, this libdfd needs {ABI_VERSION}"
        );
    }
    if (size as usize) < MIN_TABLE_SIZE {
        bail!(
            PluginIncompatible,
            "{shown}: plugin table is {size} bytes, expected at least {MIN_TABLE_SIZE}"
        );
    }
    // Never unload: the table and the code it points to must stay valid.
    std::mem::forget(lib);
    // SAFETY: checked version and size; the table is static in the plugin
    // and at least `size` bytes long.
    let table = unsafe { full_table(table_ptr, size as usize) };
    let backend = Arc::new(Backend::new(table, Origin::Plugin(key.clone()))?);
    log!(
        Info,
        "loaded backend plugin {} from {}",
        backend.name(),
        key.display()
    );
    loaded.insert(key, Arc::clone(&backend));
    Ok(backend)
}

/// libloading's error with the loader's own reason (`dlerror()`), which
/// its `Display` leaves to `source()`.
fn with_reason(e: &libloading::Error) -> String {
    match std::error::Error::source(e) {
        Some(reason) => format!("{e}: {reason}"),
        None => e.to_string(),
    }
}

/// A plugin directory named explicitly (the options' `plugin_dir`) must be
/// one: a typo there is an error, never a silent search elsewhere.
pub fn check_plugin_dir(plugin_dir: Option<&Path>) -> Result<()> {
    match plugin_dir {
        Some(dir) if !dir.is_dir() => bail!(
            PluginNotFound,
            "plugin directory {}: {}",
            dir.display(),
            dir_state(dir)
        ),
        _ => Ok(()),
    }
}

/// Why a search directory holds no plugins, or "" when it is a directory.
fn dir_state(dir: &Path) -> &'static str {
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => "",
        Ok(_) => "not a directory",
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => "does not exist",
        Err(_) => "cannot be read",
    }
}

/// The plugin's table, or for a plugin whose table ends before the end of
/// the optional fields (an older plugin) a copy of the fields it has with
/// every later optional field absent (NULL), so the host never reads past
/// the plugin's table nor uses a half-present field.
///
/// # Safety
/// `ptr` must point to a static table of at least `size >= MIN_TABLE_SIZE` bytes.
unsafe fn full_table(ptr: *const BackendTable, size: usize) -> &'static BackendTable {
    if size >= std::mem::size_of::<BackendTable>() {
        // SAFETY: the whole table is there (caller's contract).
        return unsafe { &*ptr };
    }
    // Optional fields are pointer-sized: keep the whole ones only.
    let field = std::mem::size_of::<usize>();
    let have = size - (size - MIN_TABLE_SIZE) % field;
    let mut copy = Box::new(std::mem::MaybeUninit::<BackendTable>::zeroed());
    // SAFETY: `have <= size` bytes are readable at `ptr` and fit in the
    // copy; the zeroed rest are `None` function pointers.
    unsafe {
        std::ptr::copy_nonoverlapping(ptr.cast::<u8>(), copy.as_mut_ptr().cast::<u8>(), have);
        Box::leak(copy).assume_init_ref()
    }
}

/// Finds backend `name` (built in first, then the search path) without probing it.
fn find(name: &str, plugin_dir: Option<&Path>) -> Result<Arc<Backend>> {
    if !valid_name(name) {
        bail!(
            InvalidArg,
            "invalid backend name {name:?} (use lowercase letters, digits, '_')"
        );
    }
    if let Some(b) = builtin(name) {
        return Ok(b);
    }
    check_plugin_dir(plugin_dir)?;
    let dirs = search_dirs(plugin_dir);
    let file = file_name(name);
    for dir in &dirs {
        let path = dir.join(&file);
        if path.is_file() {
            let backend = load_plugin(&path)?;
            if backend.name() != name {
                bail!(
                    PluginIncompatible,
                    "{} calls itself {:?}, not {name:?}",
                    path.display(),
                    backend.name()
                );
            }
            return Ok(backend);
        }
    }
    let searched: Vec<String> = dirs
        .iter()
        .map(|d| match dir_state(d) {
            "" => d.display().to_string(),
            why => format!("{} ({why})", d.display()),
        })
        .collect();
    bail!(
        PluginNotFound,
        "backend {name:?}: {file} not found in [{}]; set the plugin directory or DFD_PLUGIN_PATH",
        searched.join(", ")
    )
}

/// Resolves a backend choice to a backend that can run here. `auto` takes
/// the best-ranked available backend of [`list`] and logs the ranking; a
/// named backend that cannot run is an error.
pub fn resolve(choice: &BackendChoice, plugin_dir: Option<&Path>) -> Result<Arc<Backend>> {
    check_plugin_dir(plugin_dir)?;
    let choice = match choice {
        BackendChoice::Auto => return auto(plugin_dir),
        BackendChoice::Named(name) => name,
    };
    let backend = find(choice, plugin_dir)?;
    let (ok, detail) = backend.probe();
    if !ok {
        bail!(
            BackendUnavailable,
            "backend {choice} cannot run here: {detail}"
        );
    }
    Ok(backend)
}

/// The available backend whose probe scores highest (see [`list`]).
fn auto(plugin_dir: Option<&Path>) -> Result<Arc<Backend>> {
    let ranked = list(plugin_dir);
    let why = |b: &BackendInfo| format!("{} ({}: {})", b.name, b.score, b.detail);
    let order: Vec<String> = ranked.iter().map(why).collect();
    if let Some(best) = ranked.iter().find(|b| b.available) {
        if let Some(backend) = &best.backend {
            log!(
                Info,
                "backend auto: using {}; ranked by probe score: {}",
                best.name,
                order.join("; ")
            );
            return Ok(Arc::clone(backend));
        }
    }
    bail!(PluginNotFound, "no backend can run: {}", order.join("; "));
}

/// Every backend libdfd can see (the shipped names, the built-in ones and
/// any `libdfd_backend_*.so` on the search path), each probed, in the order
/// `auto` ranks them: available ones by score, highest first, then the
/// unavailable ones; ties by name.
pub fn list(plugin_dir: Option<&Path>) -> Vec<BackendInfo> {
    let mut names: Vec<String> = SHIPPED.iter().map(|s| s.to_string()).collect();
    for dir in search_dirs(plugin_dir) {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            if let Some(name) = file
                .strip_prefix("libdfd_backend_")
                .and_then(|f| f.strip_suffix(".so"))
            {
                if valid_name(name) && !names.iter().any(|n| n == name) {
                    names.push(name.to_string());
                }
            }
        }
    }
    let mut rows: Vec<BackendInfo> = names
        .into_iter()
        .map(|name| match find(&name, plugin_dir) {
            Ok(b) => {
                let (available, detail) = b.probe();
                BackendInfo {
                    name,
                    score: if available { b.score() } else { 0 },
                    backend: Some(b),
                    available,
                    detail,
                }
            }
            Err(e) => BackendInfo {
                name,
                backend: None,
                available: false,
                score: 0,
                detail: e.message,
            },
        })
        .collect();
    rows.sort_by(|a, b| {
        (b.available, b.score)
            .cmp(&(a.available, a.score))
            .then_with(|| a.name.cmp(&b.name))
    });
    rows
}
