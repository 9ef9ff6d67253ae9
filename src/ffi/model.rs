//! `dfd_model_*`: loading, describing and freeing models.

use std::ffi::{c_char, c_void, CString};
use std::path::PathBuf;

use super::{arg, arg_mut, dfd_status, guard, opt_str};
use crate::error::{bail, Result};
use crate::model::{Builtin, Model, ModelOptions};

/// A loaded model. Immutable: one model may be used by any number of
/// streams on any number of threads at once. Free with `dfd_model_free`
/// after every stream opened on it is closed.
pub struct dfd_model {
    pub(crate) model: Model,
    name: CString,
    backend: CString,
    precision: CString,
}

/// Options for loading a model. Initialise with `dfd_model_options_init`,
/// then change fields; `NULL` strings mean the default.
#[repr(C)]
pub struct dfd_model_options {
    /// `sizeof(dfd_model_options)`, set by `dfd_model_options_init`; lets
    /// the struct grow in later versions without breaking callers.
    pub struct_size: u32,
    /// Backend worker threads; 0 = backend default; at most
    /// `DFD_MAX_THREADS` (else `DFD_ERR_INVALID_ARG`).
    pub threads: u32,
    /// "auto" (default: the backend whose probe scores highest among those
    /// that can run here and take the model: cuda, ort, cpu, rten or any
    /// plugin; `dfd backends` shows the ranking), "cpu", "rten", "ort",
    /// "cuda" or a plugin name. A named backend that cannot run is an error, never a silent
    /// fallback.
    pub backend: *const c_char,
    /// "auto" (default: the fastest variant on this machine), "fp32",
    /// "fp16" or "int8". Only model package directories hold several.
    pub precision: *const c_char,
    /// Directory searched for `libdfd_backend_<name>.so` before
    /// `DFD_PLUGIN_PATH` and libdfd's own directory; NULL = none. A
    /// directory given here must exist (else `DFD_ERR_PLUGIN_NOT_FOUND`).
    pub plugin_dir: *const c_char,
}

/// What libdfd understood of a loaded model. Strings belong to the model
/// and stay valid until `dfd_model_free`.
#[repr(C)]
pub struct dfd_model_info {
    /// Rate the model runs at; pushed audio is resampled to it.
    pub sample_rate: u32,
    /// Analysis window and hop, in samples at `sample_rate`.
    pub window: u32,
    pub hop: u32,
    /// Stream p_fake at or above this gives `DFD_VERDICT_SYNTHETIC`.
    pub threshold: f32,
    pub name: *const c_char,
    /// The backend the model actually runs on ("cpu", "cuda", ...).
    pub backend: *const c_char,
    /// The precision variant loaded ("fp32", "fp16", "int8").
    pub precision: *const c_char,
}

/// Fills `options` with the defaults (auto backend, auto precision).
#[no_mangle]
pub unsafe extern "C" fn dfd_model_options_init(options: *mut dfd_model_options) -> dfd_status {
    guard(|| {
        *arg_mut(options, "options")? = dfd_model_options {
            struct_size: std::mem::size_of::<dfd_model_options>() as u32,
            threads: 0,
            backend: std::ptr::null(),
            precision: std::ptr::null(),
            plugin_dir: std::ptr::null(),
        };
        Ok(())
    })
}

fn options_from_c(options: *const dfd_model_options) -> Result<ModelOptions> {
    let mut out = ModelOptions::default();
    if options.is_null() {
        return Ok(out);
    }
    let o = arg(options, "options")?;
    if (o.struct_size as usize) < std::mem::size_of::<dfd_model_options>() {
        bail!(
            InvalidArg,
            "options.struct_size is {}; call dfd_model_options_init first",
            o.struct_size
        );
    }
    if let Some(b) = opt_str(o.backend, "options.backend")? {
        out.backend = b.parse()?;
    }
    if let Some(p) = opt_str(o.precision, "options.precision")? {
        out.precision = p.parse()?;
    }
    out.plugin_dir = opt_str(o.plugin_dir, "options.plugin_dir")?.map(PathBuf::from);
    out.threads = o.threads;
    Ok(out)
}

fn wrap(model: Model) -> *mut dfd_model {
    let c = |s: &str| CString::new(s.replace('\0', " ")).unwrap_or_default();
    Box::into_raw(Box::new(dfd_model {
        name: c(&model.manifest().name),
        backend: c(model.backend_name()),
        precision: c(model.precision().as_str()),
        model,
    }))
}

/// Loads a model from an `.onnx` file (manifest embedded or in a sidecar
/// `<stem>.json`) or a model package directory. `options` may be NULL.
/// Only regular files are read, models of at most `DFD_MAX_MODEL_BYTES`
/// and manifests of at most `DFD_MAX_MANIFEST_BYTES` (else `DFD_ERR_IO`);
/// a manifest beyond the documented limits is `DFD_ERR_MODEL_KIND`.
/// On success `*out` receives the model.
#[no_mangle]
pub unsafe extern "C" fn dfd_model_load(
    path: *const c_char,
    options: *const dfd_model_options,
    out: *mut *mut dfd_model,
) -> dfd_status {
    guard(|| {
        let out = arg_mut(out, "out")?;
        let Some(path) = opt_str(path, "path")? else {
            bail!(NullArg, "argument `path` is NULL")
        };
        let model = Model::load(path, &options_from_c(options)?)?;
        *out = wrap(model);
        Ok(())
    })
}

/// Loads a model from an ONNX file in memory (manifest embedded), at most
/// `DFD_MAX_MODEL_BYTES` long. The bytes are copied; the caller may free
/// them when this returns.
#[no_mangle]
pub unsafe extern "C" fn dfd_model_load_from_memory(
    data: *const c_void,
    len: usize,
    options: *const dfd_model_options,
    out: *mut *mut dfd_model,
) -> dfd_status {
    guard(|| {
        let out = arg_mut(out, "out")?;
        if data.is_null() {
            bail!(NullArg, "argument `data` is NULL");
        }
        crate::limits::check_model_len(len)?;
        // SAFETY: the caller provides `len` readable bytes at `data`.
        let bytes = unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) };
        let model = Model::load_from_memory(bytes, &options_from_c(options)?)?;
        *out = wrap(model);
        Ok(())
    })
}

/// Loads the default detector compiled into libdfd (no file needed).
/// `options` may be NULL; its precision picks a variant as for a package.
/// Returns `DFD_ERR_NOT_BUILT` when libdfd was built without the
/// `builtin-model` cargo feature.
#[no_mangle]
pub unsafe extern "C" fn dfd_model_load_builtin(
    options: *const dfd_model_options,
    out: *mut *mut dfd_model,
) -> dfd_status {
    guard(|| {
        let out = arg_mut(out, "out")?;
        let model = Model::load_builtin(&options_from_c(options)?)?;
        *out = wrap(model);
        Ok(())
    })
}

/// Loads one of the models compiled into libdfd by name: its role,
/// `"default"` (16 kHz, what `dfd_model_load_builtin` loads) or
/// `"telephone"` (8 kHz, for G.711 / GSM / iLBC / AMR-NB calls), or its
/// model name (`"dfd-lfb-cnn-tel-v2"`); NULL is the default model.
/// `options` may be NULL. An unknown
/// name is `DFD_ERR_INVALID_ARG` (the message lists the names);
/// `DFD_ERR_NOT_BUILT` without the `builtin-model` cargo feature.
#[no_mangle]
pub unsafe extern "C" fn dfd_model_load_builtin_named(
    name: *const c_char,
    options: *const dfd_model_options,
    out: *mut *mut dfd_model,
) -> dfd_status {
    guard(|| {
        let out = arg_mut(out, "out")?;
        let which = match opt_str(name, "name")? {
            Some(name) => Builtin::from_name(name)?,
            None => Builtin::Default,
        };
        let model = Model::load_builtin_named(which, &options_from_c(options)?)?;
        *out = wrap(model);
        Ok(())
    })
}

/// Describes a loaded model.
#[no_mangle]
pub unsafe extern "C" fn dfd_model_get_info(
    model: *const dfd_model,
    out: *mut dfd_model_info,
) -> dfd_status {
    guard(|| {
        let m = arg(model, "model")?;
        let out = arg_mut(out, "out")?;
        let man = m.model.manifest();
        *out = dfd_model_info {
            sample_rate: man.sample_rate,
            window: man.window as u32,
            hop: man.hop as u32,
            threshold: man.threshold,
            name: m.name.as_ptr(),
            backend: m.backend.as_ptr(),
            precision: m.precision.as_ptr(),
        };
        Ok(())
    })
}

/// Frees a model. NULL is a no-op. Streams hold their own reference, so a
/// model freed while streams are open stays alive until the last closes.
#[no_mangle]
pub unsafe extern "C" fn dfd_model_free(model: *mut dfd_model) {
    super::guard_value((), || {
        if !model.is_null() {
            // SAFETY: `model` came from `wrap` and is freed once by contract.
            drop(unsafe { Box::from_raw(model) });
        }
    })
}
