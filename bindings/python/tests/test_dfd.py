"""Tests of the Python bindings on real audio (samples/*.wav) and bad input.

DFD_LIBRARY picks the libdfd to test. When DFD_EXPECTED_SCORES names a JSON
file {"<wav file name>": {"p_fake": x, "windows": n}} (tests/bindings_python.rs
writes it from the Rust API), the scores must match it.
"""

from __future__ import annotations

import ctypes
import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

import dfd
from conftest import SAMPLES, read_wav


def score_file(model: dfd.Model, path: Path, as_float: bool = False) -> dfd.Result:
    """Pushes a file in 20 ms chunks of (frames, channels) arrays, as the C
    and Rust sides of the tests do, then flushes."""
    rate, channels, pcm = read_wav(path)
    data = pcm.astype(np.float32) / 32768.0 if as_float else pcm
    with model.open(rate, channels) as s:
        chunk = rate // 50
        for pos in range(0, len(data), chunk):
            s.push(data[pos : pos + chunk])
        s.flush()
        r = s.score()
        windows = s.read_windows()
    assert len(windows) == r.windows
    assert all(0.0 <= w.p_fake <= 1.0 and w.end > w.start for w in windows)
    return r


def test_version_and_info(model: dfd.Model) -> None:
    assert dfd.version() == "0.1.0"
    assert dfd.abi_version() == 1
    info = model.info
    assert info.backend == "cpu"
    assert info.sample_rate == 16000 and 0 < info.hop <= info.window
    assert 0.0 < info.threshold < 1.0
    assert any(b.name == "cpu" and b.available for b in dfd.list_backends())


def test_auto_prefers_ort_once_onnxruntime_is_installed() -> None:
    """With the onnxruntime wheel installed (CI installs it), the package
    points the ort plugin at its library, the plugin's probe ranks it above
    tract, and `auto` picks it; it scores as the CPU backend does."""
    import importlib.util

    if importlib.util.find_spec("onnxruntime") is None:
        if os.environ.get("CI"):
            pytest.fail("the onnxruntime wheel is not installed (pip install onnxruntime==1.32.0)")
        pytest.skip("the onnxruntime wheel is not installed")
    backends = {b.name: b for b in dfd.list_backends()}
    assert "ort" in backends, backends
    assert backends["ort"].available, backends["ort"].detail
    auto = dfd.Model.builtin()
    # A usable GPU would rank above onnxruntime.
    cuda = backends.get("cuda")
    assert auto.info.backend == ("cuda" if cuda and cuda.available else "ort")
    cpu = dfd.Model.builtin(backend="cpu")
    for path in SAMPLES:
        a, c = auto.score_file(path), cpu.score_file(path)
        assert a.windows == c.windows
        assert abs(a.p_fake - c.p_fake) < 1e-4, (path, a.p_fake, c.p_fake)


def test_samples_are_there() -> None:
    names = {p.name for p in SAMPLES}
    assert {"bonafide_fr_june.wav", "synthetic_piper_joe.wav"} <= names


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_sample_scores(model: dfd.Model, path: Path) -> None:
    r = score_file(model, path)
    assert r.windows > 0
    assert 0.0 <= r.p_fake <= 1.0
    assert r.seconds == pytest.approx(read_wav(path)[2].shape[0] / read_wav(path)[0], abs=1e-3)
    want = dfd.Verdict.SYNTHETIC if "synthetic" in path.name else dfd.Verdict.BONAFIDE
    assert r.verdict == want
    # float32 in [-1, 1] is the same audio as int16 / 32768.
    rf = score_file(model, path, as_float=True)
    assert rf.windows == r.windows
    assert rf.p_fake == pytest.approx(r.p_fake, abs=1e-6)


def test_scores_match_rust_api(model: dfd.Model) -> None:
    expected_file = os.environ.get("DFD_EXPECTED_SCORES")
    if not expected_file:
        pytest.skip("DFD_EXPECTED_SCORES not set (tests/bindings_python.rs sets it)")
    expected = json.loads(Path(expected_file).read_text())
    assert set(expected) == {p.name for p in SAMPLES}
    for path in SAMPLES:
        r = score_file(model, path)
        assert r.windows == expected[path.name]["windows"], path.name
        assert r.p_fake == pytest.approx(expected[path.name]["p_fake"], abs=1e-6), path.name


def test_shapes_interleaved(model: dfd.Model) -> None:
    """Stereo as 1-D interleaved, as (frames, 2), and as float64 give the
    same score as the mono signal duplicated on both channels."""
    rate, _, pcm = read_wav(SAMPLES[0])
    mono = pcm[:, 0]
    results = []
    for data, channels in [
        (mono, 1),
        (np.repeat(mono, 2), 2),  # 1-D interleaved
        (np.stack([mono, mono], axis=1), 2),  # (frames, channels)
        (np.stack([mono, mono], axis=1)[:, :].astype(np.float64) / 32768.0, 2),
    ]:
        with model.open(rate, channels) as s:
            s.push(data)
            s.flush()
            results.append(s.score())
    for r in results[1:]:
        assert r.windows == results[0].windows
        assert r.p_fake == pytest.approx(results[0].p_fake, abs=1e-5)


def test_nan_samples_rejected_and_stream_usable(model: dfd.Model) -> None:
    with model.open(16000, 1) as s:
        bad = np.zeros(1600, dtype=np.float32)
        bad[100] = np.nan
        with pytest.raises(dfd.Error) as e:
            s.push(bad)
        assert e.value.status == dfd.Status.BAD_SAMPLES
        assert "NaN" in str(e.value) or "nan" in str(e.value).lower()
        bad[100] = np.inf
        with pytest.raises(dfd.Error) as e:
            s.push(bad)
        assert e.value.status == dfd.Status.BAD_SAMPLES
        s.push(np.zeros(1600, dtype=np.float32))
        assert s.score().seconds == pytest.approx(0.1)


@pytest.mark.parametrize("rate", [0, 10_000_000])
def test_bad_rate(model: dfd.Model, rate: int) -> None:
    with pytest.raises(dfd.Error) as e:
        model.open(rate, 1)
    assert e.value.status == dfd.Status.SAMPLE_RATE


def test_bad_channels(model: dfd.Model) -> None:
    with pytest.raises(dfd.Error) as e:
        model.open(16000, 0)
    assert e.value.status == dfd.Status.CHANNELS


def test_bad_pushes(model: dfd.Model) -> None:
    with model.open(16000, 2) as s:
        with pytest.raises(dfd.Error) as e:
            s.push(np.zeros(3, dtype=np.int16))  # not whole stereo frames
        assert e.value.status == dfd.Status.INVALID_ARG
        with pytest.raises(dfd.Error) as e:
            s.push(np.zeros(0, dtype=np.float32))
        assert e.value.status == dfd.Status.EMPTY_PUSH
        with pytest.raises(dfd.Error) as e:
            s.push(np.zeros(4, dtype=np.int32))
        assert e.value.status == dfd.Status.INVALID_ARG
        s.flush()
        with pytest.raises(dfd.Error) as e:
            s.push(np.zeros(4, dtype=np.int16))  # after flush, until reset
        assert e.value.status == dfd.Status.INVALID_ARG
        s.reset()
        s.push(np.zeros(4, dtype=np.int16))


def test_missing_model_file(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model.onnx"
    with pytest.raises(dfd.Error) as e:
        dfd.Model.load(missing)
    assert e.value.status == dfd.Status.IO
    assert str(missing) in e.value.message


def test_corrupt_model(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07not an onnx model")
    with pytest.raises(dfd.Error) as e:
        dfd.Model.load(bad)
    assert e.value.status in (dfd.Status.MODEL_CORRUPT, dfd.Status.MODEL_KIND)
    with pytest.raises(dfd.Error) as e:
        dfd.Model.from_bytes(b"garbage")
    assert e.value.status in (dfd.Status.MODEL_CORRUPT, dfd.Status.MODEL_KIND)


def test_bad_precision_and_backend() -> None:
    with pytest.raises(dfd.Error) as e:
        dfd.Model.builtin(precision="fp64")
    assert e.value.status == dfd.Status.INVALID_ARG
    with pytest.raises(dfd.Error) as e:
        dfd.Model.builtin(backend="nosuchbackend")
    assert e.value.status == dfd.Status.PLUGIN_NOT_FOUND


def test_closed_handles(model: dfd.Model) -> None:
    s = model.open(16000, 1)
    s.close()
    s.close()  # closing twice is fine
    with pytest.raises(dfd.Error) as e:
        s.push(np.zeros(10, dtype=np.int16))
    assert e.value.status == dfd.Status.NULL_ARG


def test_builtin_models_by_name() -> None:
    tel = dfd.Model.builtin("telephone")
    assert (tel.info.name, tel.info.sample_rate) == ("dfd-lfb-cnn-tel-v2", 8000)
    assert dfd.Model.builtin("default").info.name == dfd.Model.builtin().info.name == "dfd-lfb-cnn-v2"
    assert dfd.Model.builtin("dfd-lfb-cnn-tel-v2").info.sample_rate == 8000
    assert dfd.Model.from_ref("builtin:telephone").info.name == "dfd-lfb-cnn-tel-v2"
    assert dfd.Model.from_ref(None).info.name == "dfd-lfb-cnn-v2"
    with pytest.raises(dfd.Error) as e:
        dfd.Model.builtin("wideband")
    assert e.value.status == dfd.Status.INVALID_ARG
    assert "telephone" in str(e.value)


def test_model_freed_while_stream_open() -> None:
    m = dfd.Model.builtin()
    s = m.open(16000, 1)
    m.close()
    s.push(np.zeros(16000, dtype=np.int16))
    s.flush()
    assert math.isfinite(s.score().p_fake)
    s.close()


def test_struct_layouts_match_c_header() -> None:
    """The ctypes mirrors have the offsets and sizes the C compiler gives
    dfd.h's structs (DFD_C_LAYOUT: lines `struct field offset size` and
    `struct - 0 sizeof`, written by tests/bindings_python.rs)."""
    path = os.environ.get("DFD_C_LAYOUT")
    if not path:
        pytest.skip("DFD_C_LAYOUT not set (tests/bindings_python.rs sets it)")
    from dfd import _lib

    mirrors = {
        "dfd_model_options": _lib.ModelOptions,
        "dfd_model_info": _lib.ModelInfoC,
        "dfd_result": _lib.ResultC,
        "dfd_window": _lib.WindowC,
        "dfd_window_output": _lib.WindowOutputC,
        "dfd_backend_info": _lib.BackendInfoC,
    }
    seen = set()
    for line in Path(path).read_text().splitlines():
        struct, field, offset, size = line.split()
        mirror = mirrors[struct]
        if field == "-":
            assert ctypes.sizeof(mirror) == int(size), f"sizeof({struct})"
            continue
        desc = getattr(mirror, field)
        assert (desc.offset, desc.size) == (int(offset), int(size)), f"{struct}.{field}"
        seen.add((struct, field))
    for struct, mirror in mirrors.items():
        for name, _ in mirror._fields_:
            assert (struct, name) in seen, f"{struct}.{name} is not in dfd.h"


def test_deferred_streams_scored_together(model: dfd.Model) -> None:
    alone = {p.name: score_file(model, p) for p in SAMPLES}
    streams = []
    for path in SAMPLES:
        rate, channels, pcm = read_wav(path)
        s = model.open(rate, channels)
        s.set_deferred()
        s.push(pcm)
        assert s.score().windows == 0  # held back
        streams.append((path, s))
    scored = dfd.infer_streams([s for _, s in streams])
    assert scored > 0
    for path, s in streams:
        s.flush()
        r = s.score()
        assert r.windows == alone[path.name].windows
        assert r.p_fake == pytest.approx(alone[path.name].p_fake, abs=1e-5)
    with pytest.raises(dfd.Error) as e:
        dfd.infer_streams([streams[0][1], streams[0][1]])
    assert e.value.status == dfd.Status.INVALID_ARG
    assert dfd.infer_streams([]) == 0
    for _, s in streams:
        s.close()


def test_score_file_equals_dfd_scan(model: dfd.Model) -> None:
    """score_file decodes through libdfd_decode as `dfd scan` decodes: on
    the same files (WAV, FLAC, MP3, Vorbis, Opus in Ogg named .ogg, WebM,
    Matroska, M4A) the same score, window for window. DFD_SCAN_JSON names
    `dfd scan --json`'s output for them (tests/bindings_python.rs)."""
    scan_file = os.environ.get("DFD_SCAN_JSON")
    if not scan_file:
        pytest.skip("DFD_SCAN_JSON not set (tests/bindings_python.rs sets it)")
    lines = [json.loads(line) for line in Path(scan_file).read_text().splitlines() if line.strip()]
    assert {Path(j["file"]).suffix for j in lines} >= {".wav", ".ogg", ".webm", ".m4a"}
    for j in lines:
        assert (j["backend"], j["precision"]) == (model.info.backend, model.info.precision), j["file"]
        r = model.score_file(j["file"])
        assert r.windows == j["windows"] > 0, j["file"]
        assert np.float32(r.p_fake) == np.float32(j["p_fake"]), (j["file"], r.p_fake, j["p_fake"])
        assert r.verdict.name.lower() == j["verdict"], j["file"]
        assert r.seconds == pytest.approx(j["seconds"], abs=1e-9), j["file"]


def test_score_file_errors(model: dfd.Model, tmp_path: Path) -> None:
    """Files that cannot be scored raise dfd.Error (IO) naming the file and
    the reason; nothing crashes."""
    junk = tmp_path / "junk.m4a"
    junk.write_bytes(b"not audio at all, just some bytes" * 10)
    empty = tmp_path / "empty.opus"
    empty.write_bytes(b"")
    for path, reason in [
        (tmp_path / "missing.opus", "No such file"),
        (tmp_path, "not a regular file"),
        (junk, "not a supported audio file"),
        (empty, "not a supported audio file"),
    ]:
        with pytest.raises(dfd.Error) as e:
            model.score_file(path)
        assert e.value.status == dfd.Status.IO, path
        assert str(path) in e.value.message and reason in e.value.message, e.value.message
