"""The wheel carries libdfd (with its built-in model) and the backend
plugins, built by cargo from this checkout and put inside the package,
where ``_lib.py`` loads libdfd and libdfd finds its plugins (next to
itself): no environment variable is needed once installed.

Cargo is run as ``cargo build``, not through setuptools-rust or maturin:
both run ``cargo rustc --crate-type cdylib``, a different cargo unit from
the workspace's own build, so libdfd and the plugins would be compiled
again and the next ``cargo build`` would recompile them once more.

``DFD_CARGO_PROFILE`` picks the cargo profile (default ``release``), and
``CARGO_TARGET_DIR`` the target directory, as for any cargo build.
``DFD_PREBUILT_LIBS=DIR`` takes the libraries from DIR instead (a
workspace build made them already: the test suite's wheel test packs the
libraries the other tests ran, rather than a `-p dfd` build whose
dependency features differ from the workspace's and would compile tract
again).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Tuple

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

try:
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # setuptools < 70.1
    from wheel.bdist_wheel import bdist_wheel

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

#: (cargo package, the shared library it builds) for each library the
#: package carries; they all go into the package directory, next to libdfd.
NATIVE: List[Tuple[str, str]] = [
    ("dfd", "libdfd.so"),
    ("dfd-backend-cpu", "libdfd_backend_cpu.so"),
    # onnxruntime's backend: usable once `pip install onnxruntime` is done
    # (the package points the plugin at that library, see _lib.py).
    ("dfd-backend-ort", "libdfd_backend_ort.so"),
    # The compact CPU backend on RTen (4-5 MB; fp32 and fp16, no int8).
    ("dfd-backend-rten", "libdfd_backend_rten.so"),
    # Audio files to PCM for Model.score_file and `python -m dfd scan`
    # (needs the system's libopus.so.0).
    ("dfd-decode", "libdfd_decode.so"),
]


def cargo_build() -> Dict[str, Path]:
    """Builds the NATIVE libraries; returns each file name's built path,
    as cargo reports its artifacts."""
    manifest = ROOT / "Cargo.toml"
    if not manifest.is_file():
        sys.exit(
            f"dfd's wheel is built from a libdfd checkout ({manifest} not found): "
            "run `pip wheel ./bindings/python` or `pip install ./bindings/python` there"
        )
    profile = os.environ.get("DFD_CARGO_PROFILE", "release")
    cmd = [os.environ.get("CARGO", "cargo"), "build", "--lib", "--locked"]
    cmd += ["--manifest-path", str(manifest), "--profile", profile]
    cmd += ["--message-format=json-render-diagnostics"]
    for package, _ in NATIVE:
        cmd += ["-p", package]
    print(" ".join(cmd), file=sys.stderr, flush=True)
    out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    if out.returncode != 0:
        sys.exit(f"cargo build failed ({out.returncode}); its messages are above")
    wanted = {name for _, name in NATIVE}
    built: Dict[str, Path] = {}
    for line in out.stdout.splitlines():
        msg = json.loads(line)
        if msg.get("reason") == "compiler-artifact":
            for f in msg["filenames"]:
                if Path(f).name in wanted:
                    built[Path(f).name] = Path(f)
    missing = wanted - built.keys()
    if missing:
        sys.exit(f"cargo built no {', '.join(sorted(missing))}")
    return built


def prebuilt(directory: Path) -> Dict[str, Path]:
    """The NATIVE libraries found in ``directory``."""
    found = {name: directory / name for _, name in NATIVE}
    missing = [name for name, path in found.items() if not path.is_file()]
    if missing:
        sys.exit(f"DFD_PREBUILT_LIBS={directory} lacks {', '.join(missing)}")
    return found


class BuildWithCargo(build_py):
    """The Python files, then the cargo-built libraries beside them."""

    def run(self) -> None:
        super().run()
        package = Path(self.build_lib) / "dfd"
        package.mkdir(parents=True, exist_ok=True)
        given = os.environ.get("DFD_PREBUILT_LIBS")
        libraries = prebuilt(Path(given)) if given else cargo_build()
        for name, path in libraries.items():
            shutil.copyfile(path, package / name)
            os.chmod(package / name, 0o755)


class NativeDistribution(Distribution):
    """A platform wheel: it carries native libraries."""

    def has_ext_modules(self) -> bool:
        return True


class PlatformWheel(bdist_wheel):
    """``py3-none-<platform>``: the package loads libdfd with ctypes, so one
    wheel serves every Python 3, but only this platform."""

    def get_tag(self) -> Tuple[str, str, str]:
        return "py3", "none", super().get_tag()[2]


setup(
    distclass=NativeDistribution,
    cmdclass={"build_py": BuildWithCargo, "bdist_wheel": PlatformWheel},
)
