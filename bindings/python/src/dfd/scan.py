"""Scoring whole files, as ``dfd scan`` does: one result per file, as the
same JSON object (``dfd scan --json``) or text line, so that Python jobs
(``python -m dfd scan``, the Ray example) give exactly what the tool gives.

Files are decoded by libdfd_decode (``dfd.decode_file``), the decoder of
``dfd scan`` itself: the same formats, the same samples.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import Model, Verdict, Window, _file_stream

#: Extensions picked up inside directories, as ``dfd scan`` does
#: (cli/src/walk.rs), compared case-insensitively.
AUDIO_EXTENSIONS = ("wav", "flac", "mp3", "ogg", "oga", "opus", "webm", "mka", "m4a", "mp4")

Path_ = Union[str, "os.PathLike[str]"]


@dataclass
class FileScore:
    """What one file scored: its ``dfd scan --json`` object and text line."""

    file: str
    model: str
    backend: str
    precision: str
    threshold: float
    p_fake: Optional[float]
    verdict: str
    windows: int
    synthetic_share: Optional[float]
    bonafide_share: Optional[float]
    seconds: float
    speech_seconds: float
    unscored: Optional[str]
    timeline: List[Window] = field(default_factory=list)

    def json(self) -> Dict[str, Any]:
        """The object ``dfd scan --json`` prints for this file."""
        out: Dict[str, Any] = {
            "file": self.file,
            "model": self.model,
            "backend": self.backend,
            "precision": self.precision,
            "threshold": _f32(self.threshold),
            "p_fake": None if self.p_fake is None else _f32(self.p_fake),
            "verdict": self.verdict,
            "windows": self.windows,
            "synthetic_share": self.synthetic_share,
            "bonafide_share": self.bonafide_share,
            "seconds": self.seconds,
            "speech_seconds": self.speech_seconds,
        }
        if self.unscored is not None:
            out["unscored"] = self.unscored
        out["timeline"] = [
            {
                "start": w.start,
                "end": w.end,
                "p_fake": _f32(w.p_fake),
                "logit": _f32(w.logit),
                "raw": [_f32(v) for v in w.raw],
            }
            for w in self.timeline
        ]
        return out

    def text(self) -> str:
        """The line ``dfd scan`` prints for this file."""
        p = "  -  " if self.p_fake is None else f"{self.p_fake:.3f}"
        verdict = {"synthetic": "synthetic", "bonafide": "bona fide"}.get(self.verdict, "unknown")
        if self.synthetic_share is not None and self.bonafide_share is not None:
            plural = "" if self.windows == 1 else "s"
            windows = (
                f"{self.windows} window{plural}: {_pct(self.synthetic_share)}% synthetic, "
                f"{_pct(self.bonafide_share)}% bona fide"
            )
        else:
            windows = self.unscored or "no window scored"
        return (
            f"{self.file}: p_fake {p} {verdict} | {windows} | "
            f"speech {self.speech_seconds:.1f} s / {self.seconds:.1f} s"
        )


def _f32(x: float) -> float:
    """A float32 value as the shortest decimal that reads back to it, as
    Rust's serde_json writes an f32 (0.9123 rather than 0.91229999...)."""
    return float(str(np.float32(x)))


def _pct(share: float) -> str:
    """Rust's ``{:.0}`` of a percentage: round half to even, like Python's."""
    return f"{share * 100.0:.0f}"


def score_file(model: Model, path: Path_, data: Optional[bytes] = None) -> FileScore:
    """Scores one audio file with ``model``, every window kept: the file at
    ``path``, or its contents ``data`` when given (``path`` then only names
    it; the bytes go through a temporary file, since libdfd_decode reads
    files). Any format ``dfd scan`` reads, decoded by the same code.
    Raises ``dfd.Error`` for a file that cannot be decoded or audio libdfd
    refuses."""
    if data is None:
        return _score(model, os.fspath(path), path)
    with tempfile.NamedTemporaryFile(prefix="dfd-", suffix=Path(os.fspath(path)).suffix) as tmp:
        tmp.write(data)
        tmp.flush()
        return _score(model, os.fspath(path), tmp.name)


def _score(model: Model, name: str, source: Path_) -> FileScore:
    info = model.info
    timeline: List[Window] = []
    # Windows are read after each decoded block (at most a few windows), so
    # the stream's bounded window queue (1024) never overflows.
    with _file_stream(model, source, name, lambda s: timeline.extend(s.read_windows())) as (stream, unscored):
        timeline.extend(stream.read_windows())
        r = stream.score()
    scored = r.verdict != Verdict.UNKNOWN
    synthetic = sum(1 for w in timeline if np.float32(w.p_fake) >= np.float32(info.threshold))
    shares = (synthetic / len(timeline), 1.0 - synthetic / len(timeline)) if timeline else (None, None)
    return FileScore(
        file=name,
        model=info.name,
        backend=info.backend,
        precision=info.precision,
        threshold=info.threshold,
        p_fake=r.p_fake if scored else None,
        verdict=r.verdict.name.lower(),
        windows=r.windows,
        synthetic_share=shares[0],
        bonafide_share=shares[1],
        seconds=r.seconds,
        speech_seconds=r.speech_seconds,
        unscored=unscored,
        timeline=timeline,
    )


def audio_files(paths: Sequence[Path_]) -> Iterator[Tuple[str, Optional[str]]]:
    """(path, None) for each file to scan, (path, why) for each that cannot
    be: the arguments in order, each directory walked recursively in
    sorted order for audio extensions, as ``dfd scan`` expands them."""
    for arg in paths:
        p = os.fspath(arg)
        if os.path.isdir(p):
            found = False
            for f in _walk(p):
                found = True
                yield f, None
            if not found:
                exts = ", ".join(f".{e}" for e in AUDIO_EXTENSIONS)
                yield p, f"no audio files ({exts}) in this directory"
        elif os.path.exists(p):
            yield p, None
        else:
            yield p, "No such file or directory (os error 2)"


def _walk(top: str) -> Iterator[str]:
    """Audio files under ``top`` in walkdir's sort_by_file_name order:
    entries of a directory sorted by name, each subdirectory's files where
    its name falls."""
    try:
        names = sorted(os.listdir(top))
    except OSError:
        return
    for name in names:
        full = os.path.join(top, name)
        if os.path.isdir(full):
            yield from _walk(full)
        elif name.rpartition(".")[2].lower() in AUDIO_EXTENSIONS and "." in name:
            yield full
