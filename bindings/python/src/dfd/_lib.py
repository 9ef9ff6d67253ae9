"""Finding libdfd and declaring its C functions (ctypes mirror of dfd.h)."""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import importlib.util
import os
from pathlib import Path
from typing import List

ABI_VERSION = 1

# dfd_decode_status (include/dfd_decode.h).
DFD_DECODE_OK = 0
DFD_DECODE_ERR_INVALID_ARG = 1
DFD_DECODE_ERR_FILE = 2
DFD_DECODE_ERR_INTERNAL = 3


class ModelOptions(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("threads", ctypes.c_uint32),
        ("backend", ctypes.c_char_p),
        ("precision", ctypes.c_char_p),
        ("plugin_dir", ctypes.c_char_p),
    ]


class ModelInfoC(ctypes.Structure):
    _fields_ = [
        ("sample_rate", ctypes.c_uint32),
        ("window", ctypes.c_uint32),
        ("hop", ctypes.c_uint32),
        ("threshold", ctypes.c_float),
        ("name", ctypes.c_char_p),
        ("backend", ctypes.c_char_p),
        ("precision", ctypes.c_char_p),
    ]


class ResultC(ctypes.Structure):
    _fields_ = [
        ("p_fake", ctypes.c_float),
        ("last_p_fake", ctypes.c_float),
        ("windows", ctypes.c_uint64),
        ("seconds", ctypes.c_double),
        ("speech_seconds", ctypes.c_double),
        ("verdict", ctypes.c_int32),
        ("windows_dropped", ctypes.c_uint64),
    ]


class WindowC(ctypes.Structure):
    _fields_ = [
        ("start", ctypes.c_double),
        ("end", ctypes.c_double),
        ("p_fake", ctypes.c_float),
    ]


class WindowOutputC(ctypes.Structure):
    _fields_ = [
        ("start", ctypes.c_double),
        ("end", ctypes.c_double),
        ("p_fake", ctypes.c_float),
        ("logit", ctypes.c_float),
        ("raw", ctypes.c_float * 2),
        ("raw_count", ctypes.c_uint32),
    ]


class BackendInfoC(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char * 32),
        ("builtin", ctypes.c_int32),
        ("available", ctypes.c_int32),
        ("detail", ctypes.c_char * 256),
    ]


def candidates() -> List[str]:
    """Where libdfd is looked for, in order: $DFD_LIBRARY, next to this
    package, then the system loader (LD_LIBRARY_PATH, ld.so.cache)."""
    out: List[str] = []
    env = os.environ.get("DFD_LIBRARY")
    if env:
        return [env]
    here = Path(__file__).resolve().parent
    for name in ("libdfd.so", "libdfd.so.0", "libdfd.dylib"):
        if (here / name).exists():
            out.append(str(here / name))
    out.append("libdfd.so.0")
    found = ctypes.util.find_library("dfd")
    if found:
        out.append(found)
    return out


def _first_loadable(paths: List[str], missing: str) -> ctypes.CDLL:
    """The first of ``paths`` that loads; OSError ``missing`` with every reason."""
    errors = []
    for path in paths:
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            errors.append(f"{path}: {e}")
    raise OSError(f"{missing}: " + "; ".join(errors))


def point_ort_plugin_at_onnxruntime() -> None:
    """The ort backend plugin loads onnxruntime itself, from
    ``ORT_DYLIB_PATH`` first. When that is unset and the ``onnxruntime``
    PyPI package is installed, point it at that package's library (found
    without importing onnxruntime), so ``backend="ort"`` works after
    ``pip install onnxruntime`` alone."""
    if os.environ.get("ORT_DYLIB_PATH"):
        return
    try:
        spec = importlib.util.find_spec("onnxruntime")
    except (ImportError, ValueError):
        return
    for d in (spec.submodule_search_locations or []) if spec else []:
        found = sorted(glob.glob(os.path.join(d, "capi", "libonnxruntime.so*")))
        if found:
            os.environ["ORT_DYLIB_PATH"] = found[0]
            return


def load() -> ctypes.CDLL:
    point_ort_plugin_at_onnxruntime()
    lib = _first_loadable(candidates(), "libdfd not found (set DFD_LIBRARY to the path of libdfd.so)")
    _declare(lib)
    abi = lib.dfd_abi_version()
    if abi != ABI_VERSION:
        raise OSError(f"libdfd at {lib._name} has C ABI {abi}, these bindings need {ABI_VERSION}")
    return lib


def decode_candidates(libdfd: ctypes.CDLL) -> List[str]:
    """Where libdfd_decode is looked for: the directory of the libdfd in
    use (as it was named, links not followed), else the system loader; so
    it is found wherever libdfd was, and never pairs with another copy."""
    where = os.path.dirname(os.path.abspath(libdfd._name)) if os.sep in libdfd._name else None
    if where:
        return [os.path.join(where, name) for name in ("libdfd_decode.so", "libdfd_decode.dylib")]
    return ["libdfd_decode.so.0"]


def load_decode(libdfd: ctypes.CDLL) -> ctypes.CDLL:
    """libdfd_decode (audio files to PCM, include/dfd_decode.h), for
    Model.score_file."""
    lib = _first_loadable(decode_candidates(libdfd), "libdfd_decode not found next to libdfd")
    P = ctypes.POINTER
    st = ctypes.c_int32
    vp = ctypes.c_void_p
    sig = {
        "dfd_decode_last_error": (ctypes.c_char_p, []),
        "dfd_decoder_open": (st, [ctypes.c_char_p, P(vp)]),
        "dfd_decoder_read": (
            st,
            [vp, P(ctypes.c_float), ctypes.c_size_t, P(ctypes.c_size_t), P(ctypes.c_uint32), P(ctypes.c_uint32)],
        ),
        "dfd_decoder_close": (None, [vp]),
    }
    for name, (restype, argtypes) in sig.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    return lib


def _declare(lib: ctypes.CDLL) -> None:
    P = ctypes.POINTER
    st = ctypes.c_int32
    vp = ctypes.c_void_p
    sig = {
        "dfd_version": (ctypes.c_char_p, []),
        "dfd_abi_version": (ctypes.c_uint32, []),
        "dfd_status_str": (ctypes.c_char_p, [st]),
        "dfd_last_error": (ctypes.c_char_p, []),
        "dfd_list_backends": (st, [ctypes.c_char_p, P(BackendInfoC), ctypes.c_size_t, P(ctypes.c_size_t)]),
        "dfd_model_options_init": (st, [P(ModelOptions)]),
        "dfd_model_load": (st, [ctypes.c_char_p, P(ModelOptions), P(vp)]),
        "dfd_model_load_from_memory": (st, [ctypes.c_char_p, ctypes.c_size_t, P(ModelOptions), P(vp)]),
        "dfd_model_load_builtin": (st, [P(ModelOptions), P(vp)]),
        "dfd_model_load_builtin_named": (st, [ctypes.c_char_p, P(ModelOptions), P(vp)]),
        "dfd_model_get_info": (st, [vp, P(ModelInfoC)]),
        "dfd_model_free": (None, [vp]),
        "dfd_open": (st, [vp, ctypes.c_uint32, ctypes.c_uint32, P(vp)]),
        "dfd_push_samples": (st, [vp, P(ctypes.c_float), ctypes.c_size_t]),
        "dfd_push_samples_i16": (st, [vp, P(ctypes.c_int16), ctypes.c_size_t]),
        "dfd_flush": (st, [vp]),
        "dfd_score": (st, [vp, P(ResultC)]),
        "dfd_read_windows": (st, [vp, P(WindowC), ctypes.c_size_t, P(ctypes.c_size_t)]),
        "dfd_read_window_outputs": (st, [vp, P(WindowOutputC), ctypes.c_size_t, P(ctypes.c_size_t)]),
        "dfd_reset": (st, [vp]),
        "dfd_set_deferred": (st, [vp, ctypes.c_int32]),
        "dfd_infer_streams": (st, [P(vp), ctypes.c_size_t, P(ctypes.c_size_t)]),
        "dfd_close": (None, [vp]),
    }
    for name, (restype, argtypes) in sig.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
