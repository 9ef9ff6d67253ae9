"""libdfd for Python: deepfake-speech detection over the C API (ctypes).

    import dfd
    model = dfd.Model.builtin()                # or dfd.Model.load("model.onnx")
    with model.open(sample_rate=16000, channels=1) as stream:
        stream.push(pcm)                       # numpy float32 or int16
        stream.flush()                         # end of a file
        print(stream.score().p_fake)
    print(model.score_file("note.opus").verdict)   # any format dfd scan reads

Every failing call raises ``dfd.Error`` with ``.status`` (a ``dfd.Status``)
and libdfd's message. A Model may be shared by threads; a Stream is used by
one thread at a time.
"""

from __future__ import annotations

import contextlib
import ctypes
import enum
import os
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterator, List, Optional, Sequence, Tuple, TypeVar, Union

import numpy as np
import numpy.typing as npt

from . import _lib

__all__ = [
    "BUILTIN_PREFIX",
    "Backend",
    "Error",
    "Model",
    "ModelInfo",
    "Result",
    "Status",
    "Stream",
    "Verdict",
    "Window",
    "abi_version",
    "decode_file",
    "infer_streams",
    "list_backends",
    "version",
]

_c: Optional[ctypes.CDLL] = None
_c_lock = threading.Lock()
_decode: Optional[ctypes.CDLL] = None

# Samples read from a file per call (interleaved).
# How `dfd --model` and `Model.from_ref` name a built-in model: builtin:telephone.
BUILTIN_PREFIX = "builtin:"
_FILE_BLOCK = 16384
# The most channels a stream takes (DFD_MAX_CHANNELS); more are averaged.
_MAX_CHANNELS = 8


def _libdfd() -> ctypes.CDLL:
    """libdfd, loaded on first use (so importing never fails)."""
    global _c
    if _c is None:
        with _c_lock:
            if _c is None:
                _c = _lib.load()
    return _c


def _libdfd_decode() -> ctypes.CDLL:
    """libdfd_decode, loaded on the first file scored."""
    global _decode
    c = _libdfd()
    if _decode is None:
        with _c_lock:
            if _decode is None:
                _decode = _lib.load_decode(c)
    return _decode




class Status(enum.IntEnum):
    """dfd_status codes of dfd.h."""

    OK = 0
    NULL_ARG = 1
    INVALID_ARG = 2
    BAD_SAMPLES = 3
    SAMPLE_RATE = 4
    CHANNELS = 5
    EMPTY_PUSH = 6
    IO = 7
    MODEL_CORRUPT = 8
    MODEL_KIND = 9
    MODEL_UNSUPPORTED = 10
    PRECISION_UNAVAILABLE = 11
    PLUGIN_NOT_FOUND = 12
    PLUGIN_INCOMPATIBLE = 13
    BACKEND_UNAVAILABLE = 14
    BACKEND = 15
    BUFFER_TOO_SMALL = 16
    INTERNAL = 17
    NOT_BUILT = 18


# libdfd_decode's statuses (dfd_decode.h) as libdfd's: a file that cannot
# be read or decoded is IO.
_DECODE_STATUS = {
    _lib.DFD_DECODE_ERR_INVALID_ARG: Status.INVALID_ARG,
    _lib.DFD_DECODE_ERR_FILE: Status.IO,
    _lib.DFD_DECODE_ERR_INTERNAL: Status.INTERNAL,
}


def _check_decode(status: int, call: str) -> None:
    if status != _lib.DFD_DECODE_OK:
        detail = (_libdfd_decode().dfd_decode_last_error() or b"").decode("utf-8", "replace")
        raise Error(_DECODE_STATUS.get(status, status), f"{call}: {detail}")


class Verdict(enum.IntEnum):
    UNKNOWN = 0
    BONAFIDE = 1
    SYNTHETIC = 2


class Error(Exception):
    """A failed libdfd call. ``status`` is the code, ``message`` the detail."""

    def __init__(self, status: Union[Status, int], message: str) -> None:
        try:
            status = Status(status)
        except ValueError:
            pass
        self.status = status
        self.message = message
        super().__init__(f"{getattr(status, 'name', status)}: {message}")


def _check(status: int, call: str) -> None:
    if status != 0:
        c = _libdfd()
        detail = (c.dfd_last_error() or b"").decode("utf-8", "replace")
        name = (c.dfd_status_str(status) or b"").decode()
        raise Error(status, f"{call}: {detail or name}")


@dataclass(frozen=True)
class Result:
    """Scores of a stream so far (dfd_result)."""

    p_fake: float
    last_p_fake: float
    windows: int
    seconds: float
    speech_seconds: float
    verdict: Verdict
    windows_dropped: int


@dataclass(frozen=True)
class Window:
    """One scored analysis window, times in seconds from the stream start."""

    start: float
    end: float
    p_fake: float
    #: The calibrated logit of "synthetic" (``p_fake`` is its sigmoid).
    logit: float = 0.0
    #: The model's raw output values before calibration (1 or 2 values, as
    #: the manifest's ``output`` describes), to compare with Python outputs.
    raw: Tuple[float, ...] = ()


@dataclass(frozen=True)
class ModelInfo:
    sample_rate: int
    window: int
    hop: int
    threshold: float
    name: str
    backend: str
    precision: str


@dataclass(frozen=True)
class Backend:
    name: str
    builtin: bool
    available: bool
    detail: str


def version() -> str:
    """libdfd's version, e.g. "0.1.0"."""
    return _libdfd().dfd_version().decode()


def abi_version() -> int:
    return int(_libdfd().dfd_abi_version())


def _bytes(s: Optional[Union[str, "os.PathLike[str]"]]) -> Optional[bytes]:
    return None if s is None else os.fsencode(s)


def list_backends(plugin_dir: Optional[Union[str, "os.PathLike[str]"]] = None) -> List[Backend]:
    """The backends libdfd can see on this machine, probed."""
    c = _libdfd()
    count = ctypes.c_size_t(0)
    _check(c.dfd_list_backends(_bytes(plugin_dir), None, 0, ctypes.byref(count)), "dfd_list_backends")
    buf = (_lib.BackendInfoC * max(count.value, 1))()
    _check(c.dfd_list_backends(_bytes(plugin_dir), buf, len(buf), ctypes.byref(count)), "dfd_list_backends")
    return [
        Backend(b.name.decode(), bool(b.builtin), bool(b.available), b.detail.decode("utf-8", "replace"))
        for b in buf[: min(count.value, len(buf))]
    ]


_O = TypeVar("_O", bound="_Owned")


class _Owned:
    """Owns one libdfd handle, freed by the C function named ``_free`` on
    ``close()``, at the end of a ``with`` block, or when collected."""

    _free = ""
    _what = ""
    _handle: Optional[ctypes.c_void_p] = None
    _c: ctypes.CDLL

    def _h(self) -> ctypes.c_void_p:
        if not self._handle:
            raise Error(Status.NULL_ARG, f"the {self._what} was closed")
        return self._handle

    def close(self) -> None:
        """Frees the handle now; later calls raise ``Error(NULL_ARG)``."""
        h, self._handle = self._handle, None
        if h:
            getattr(self._c, self._free)(h)

    def __enter__(self: _O) -> _O:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_handle", None):
            self.close()


class Model(_Owned):
    """A loaded model: immutable, shareable by threads and streams. Open
    streams keep it alive: closing it while they are open is safe.

    ``backend``: "auto" (default: the best-ranked backend that runs here,
    see :func:`list_backends`), "cpu", "rten", "ort", "cuda" or a plugin name;
    ``precision``: "auto" (default), "fp32", "fp16", "int8";
    ``plugin_dir``: searched for plugins first; ``threads``: 0 = default.
    """

    _free = "dfd_model_free"
    _what = "model"

    def __init__(self, _handle: ctypes.c_void_p) -> None:
        self._handle = _handle
        self._c = _libdfd()

    @staticmethod
    def _options(
        backend: Optional[str], precision: Optional[str], threads: int, plugin_dir: Any
    ) -> _lib.ModelOptions:
        o = _lib.ModelOptions()
        _check(_libdfd().dfd_model_options_init(ctypes.byref(o)), "dfd_model_options_init")
        o.threads = threads
        o.backend = _bytes(backend)
        o.precision = _bytes(precision)
        o.plugin_dir = _bytes(plugin_dir)
        return o

    @classmethod
    def load(
        cls,
        path: Union[str, "os.PathLike[str]"],
        *,
        backend: Optional[str] = None,
        precision: Optional[str] = None,
        threads: int = 0,
        plugin_dir: Optional[Union[str, "os.PathLike[str]"]] = None,
    ) -> "Model":
        """Loads an .onnx model (manifest embedded or sidecar) or a package directory."""
        o = cls._options(backend, precision, threads, plugin_dir)
        h = ctypes.c_void_p()
        _check(_libdfd().dfd_model_load(os.fsencode(path), ctypes.byref(o), ctypes.byref(h)), "dfd_model_load")
        return cls(h)

    @classmethod
    def from_bytes(
        cls,
        data: bytes,
        *,
        backend: Optional[str] = None,
        precision: Optional[str] = None,
        threads: int = 0,
        plugin_dir: Optional[Union[str, "os.PathLike[str]"]] = None,
    ) -> "Model":
        """Loads an ONNX model (manifest embedded) from memory."""
        o = cls._options(backend, precision, threads, plugin_dir)
        h = ctypes.c_void_p()
        data = bytes(data)
        _check(
            _libdfd().dfd_model_load_from_memory(data, len(data), ctypes.byref(o), ctypes.byref(h)),
            "dfd_model_load_from_memory",
        )
        return cls(h)

    @classmethod
    def builtin(
        cls,
        name: Optional[str] = None,
        *,
        backend: Optional[str] = None,
        precision: Optional[str] = None,
        threads: int = 0,
        plugin_dir: Optional[Union[str, "os.PathLike[str]"]] = None,
    ) -> "Model":
        """A detector compiled into libdfd: ``None`` or ``"default"`` (16 kHz),
        ``"telephone"`` (8 kHz calls: G.711, GSM, iLBC, AMR-NB), or a model
        name such as ``"dfd-lfb-cnn-tel-v2"``."""
        o = cls._options(backend, precision, threads, plugin_dir)
        h = ctypes.c_void_p()
        _check(
            _libdfd().dfd_model_load_builtin_named(
                name.encode() if name is not None else None, ctypes.byref(o), ctypes.byref(h)
            ),
            "dfd_model_load_builtin_named",
        )
        return cls(h)

    @classmethod
    def from_ref(
        cls,
        ref: Optional[str] = None,
        *,
        backend: Optional[str] = None,
        precision: Optional[str] = None,
        threads: int = 0,
        plugin_dir: Optional[Union[str, "os.PathLike[str]"]] = None,
    ) -> "Model":
        """A model named as ``dfd --model`` names it: a file or package path,
        ``builtin:NAME`` (``builtin:telephone``), or ``None`` for the
        built-in default model."""
        opts = dict(backend=backend, precision=precision, threads=threads, plugin_dir=plugin_dir)
        if ref is None:
            return cls.builtin(**opts)
        if ref.startswith(BUILTIN_PREFIX):
            return cls.builtin(ref[len(BUILTIN_PREFIX):], **opts)
        return cls.load(ref, **opts)

    @property
    def info(self) -> ModelInfo:
        i = _lib.ModelInfoC()
        _check(self._c.dfd_model_get_info(self._h(), ctypes.byref(i)), "dfd_model_get_info")
        s = lambda b: (b or b"").decode()  # noqa: E731
        return ModelInfo(
            i.sample_rate, i.window, i.hop, float(i.threshold), s(i.name), s(i.backend), s(i.precision)
        )

    def open(self, sample_rate: int, channels: int = 1) -> "Stream":
        """A stream for audio at ``sample_rate`` Hz with ``channels`` channels."""
        return Stream(self, sample_rate, channels)

    def score_file(self, path: Union[str, "os.PathLike[str]"]) -> Result:
        """Decodes an audio file and scores it whole, as ``dfd scan`` does:
        WAV, FLAC, MP3, Ogg Vorbis or Opus, WebM/Matroska Opus, MP4/M4A AAC,
        recognised by content, the same samples and score as ``dfd scan``
        (through :func:`decode_file`). Raises ``dfd.Error`` (status IO) for a
        file that cannot be read or decoded."""
        with _file_stream(self, path, os.fspath(path)) as (stream, _):
            return stream.score()


@contextlib.contextmanager
def _file_stream(
    model: Model,
    path: Union[str, "os.PathLike[str]"],
    name: str,
    after_push: Callable[[Stream], None] = lambda s: None,
) -> Iterator[Tuple[Stream, Optional[str]]]:
    """A stream fed the decoded file at ``path`` block by block (a file with
    more channels than a stream accepts averaged to mono, as ``dfd scan``
    does), ``after_push`` called after each push, then flushed; yields the
    stream and :meth:`Stream.flush`'s reason for scoring nothing, and closes
    the stream after. ``name`` names the file in errors."""
    stream: Optional[Stream] = None
    try:
        for rate, channels, frames in decode_file(path):
            if channels > _MAX_CHANNELS:
                frames, channels = frames.mean(axis=1, dtype=np.float32), 1
            if stream is None:
                stream = Stream(model, rate, channels)
            elif (stream.sample_rate, stream.channels) != (rate, channels):
                raise Error(Status.INVALID_ARG, f"{name}: the format changes mid-file")
            stream.push(frames)
            after_push(stream)
        if stream is None:
            raise Error(Status.IO, f"{name}: contains no audio")
        unscored = stream.flush()
        yield stream, unscored
    finally:
        if stream is not None:
            stream.close()


def decode_file(path: Union[str, "os.PathLike[str]"]) -> Iterator[Tuple[int, int, np.ndarray]]:
    """The audio of a file in blocks, as ``dfd scan`` decodes it: (sample
    rate, channels, float32 frames shaped (frames, channels)). Any format
    ``dfd scan`` reads, recognised by content; decoding is libdfd_decode's,
    loaded from the directory of the libdfd in use, so no Python audio
    library is needed. Raises ``dfd.Error`` (status IO) for a file that
    cannot be read or decoded."""
    d = _libdfd_decode()
    h = ctypes.c_void_p()
    _check_decode(d.dfd_decoder_open(os.fsencode(path), ctypes.byref(h)), "dfd_decoder_open")
    try:
        block = np.empty(_FILE_BLOCK, dtype=np.float32)
        n, rate, channels = ctypes.c_size_t(), ctypes.c_uint32(), ctypes.c_uint32()
        while True:
            _check_decode(
                d.dfd_decoder_read(
                    h,
                    block.ctypes.data_as(ctypes.POINTER(ctypes.c_float)),
                    block.size,
                    ctypes.byref(n),
                    ctypes.byref(rate),
                    ctypes.byref(channels),
                ),
                "dfd_decoder_read",
            )
            if n.value == 0:
                return
            yield rate.value, channels.value, block[: n.value].reshape(-1, channels.value).copy()
    finally:
        d.dfd_decoder_close(h)


class Stream(_Owned):
    """One audio stream at a fixed rate and channel count."""

    _free = "dfd_close"
    _what = "stream"

    def __init__(self, model: Model, sample_rate: int, channels: int = 1) -> None:
        self._c = _libdfd()
        if not 0 <= sample_rate < 2**32 or not 0 <= channels < 2**32:
            raise Error(Status.INVALID_ARG, f"sample_rate {sample_rate} / channels {channels} out of range")
        h = ctypes.c_void_p()
        _check(self._c.dfd_open(model._h(), sample_rate, channels, ctypes.byref(h)), "dfd_open")
        self._handle = h
        self.sample_rate = sample_rate
        self.channels = channels

    def push(self, samples: npt.ArrayLike) -> None:
        """Pushes interleaved audio: int16 samples, or float samples in
        [-1, 1] (float32; other float dtypes are converted). Any shape whose
        C-order flattening is interleaved frames: 1-D ``[f0c0, f0c1, f1c0, ...]``
        or 2-D ``(frames, channels)``. The sample count must be a multiple of
        the channel count."""
        a = np.asarray(samples)
        if a.dtype == np.int16:
            a = np.ascontiguousarray(a).reshape(-1)
            fn, ctype, call = self._c.dfd_push_samples_i16, ctypes.c_int16, "dfd_push_samples_i16"
        elif a.dtype.kind == "f":
            a = np.ascontiguousarray(a, dtype=np.float32).reshape(-1)
            fn, ctype, call = self._c.dfd_push_samples, ctypes.c_float, "dfd_push_samples"
        else:
            raise Error(Status.INVALID_ARG, f"samples of dtype {a.dtype}: give int16, or float in [-1, 1]")
        if a.size % self.channels:
            raise Error(
                Status.INVALID_ARG, f"{a.size} samples is not a whole number of {self.channels}-channel frames"
            )
        frames = a.size // self.channels
        _check(fn(self._h(), a.ctypes.data_as(ctypes.POINTER(ctype)), frames), call)

    def flush(self) -> Optional[str]:
        """Ends the stream (end of a file): scores the tail. Returns why
        nothing was scored (too short for the model, or only silence), or
        None when a window was scored."""
        _check(self._c.dfd_flush(self._h()), "dfd_flush")
        if self.score().windows:
            return None
        return (self._c.dfd_last_error() or b"").decode("utf-8", "replace")

    def reset(self) -> None:
        _check(self._c.dfd_reset(self._h()), "dfd_reset")

    def set_deferred(self, deferred: bool = True) -> None:
        """Deferred: pushes queue the windows they complete (at most 16) for
        :func:`infer_streams`, which scores many streams in one backend call.
        Turning it off scores what waits."""
        _check(self._c.dfd_set_deferred(self._h(), 1 if deferred else 0), "dfd_set_deferred")

    def score(self) -> Result:
        r = _lib.ResultC()
        _check(self._c.dfd_score(self._h(), ctypes.byref(r)), "dfd_score")
        return Result(
            float(r.p_fake),
            float(r.last_p_fake),
            int(r.windows),
            float(r.seconds),
            float(r.speech_seconds),
            Verdict(r.verdict),
            int(r.windows_dropped),
        )

    def read_windows(self, max_windows: int = 1024) -> List[Window]:
        """Takes up to ``max_windows`` unread per-window results, oldest first."""
        buf = (_lib.WindowOutputC * max(max_windows, 1))()
        n = ctypes.c_size_t(0)
        _check(
            self._c.dfd_read_window_outputs(self._h(), buf, max_windows, ctypes.byref(n)),
            "dfd_read_window_outputs",
        )
        return [
            Window(w.start, w.end, float(w.p_fake), float(w.logit), tuple(float(v) for v in w.raw[: w.raw_count]))
            for w in buf[: n.value]
        ]


def infer_streams(streams: Sequence[Stream]) -> int:
    """Scores the windows that deferred ``streams`` hold back, the windows of
    all streams on one model in one backend call (up to 256 each); returns
    the number of windows scored. A stream may appear only once."""
    c = _libdfd()
    handles = (ctypes.c_void_p * max(len(streams), 1))(*[s._h() for s in streams])
    n = ctypes.c_size_t(0)
    _check(c.dfd_infer_streams(handles, len(streams), ctypes.byref(n)), "dfd_infer_streams")
    return n.value
