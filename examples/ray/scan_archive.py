"""Scans an audio archive for synthetic speech on a Ray cluster and writes
one Parquet row per file.

    python scan_archive.py ARCHIVE_DIR... --out results/ [--address auto]
    python scan_archive.py --list files.txt --out results/

Ray Data reads the files (directory trees, recursively, for the audio
extensions ``dfd scan`` picks up, or the paths listed one per line in
``--list``), a pool of actors each loads the model once and scores the
files of each batch it is given, and the results are written as Parquet
files under ``--out``. A file that cannot be decoded becomes a row with
``error`` set, never a failed job; an actor that dies (a killed process, a
lost node) is restarted by Ray and its batches run again, so no file is
lost. Each node needs the ``dfd`` wheel installed (or ``--wheel`` to ship it
with the job).

Columns: path, p_fake (null when nothing was scored), verdict
("synthetic", "bonafide", "unknown", or null for an error), windows,
timeline (the per-window [start, end, p_fake], seconds), seconds, model,
backend, precision, error.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Dict, List, Optional

import pyarrow as pa
import ray

import dfd
from dfd.scan import AUDIO_EXTENSIONS, score_file

WINDOW = pa.struct([("start", pa.float64()), ("end", pa.float64()), ("p_fake", pa.float32())])

SCHEMA = pa.schema(
    [
        ("path", pa.string()),
        ("p_fake", pa.float32()),
        ("verdict", pa.string()),
        ("windows", pa.int64()),
        ("timeline", pa.list_(WINDOW)),
        ("seconds", pa.float64()),
        ("model", pa.string()),
        ("backend", pa.string()),
        ("precision", pa.string()),
        ("error", pa.string()),
    ]
)


class Scorer:
    """One per actor: loads the model once, then scores each batch of files
    (Ray Data's rows ``path`` and ``bytes``) into rows of ``SCHEMA``."""

    def __init__(self, model: Optional[str], backend: Optional[str], threads: int) -> None:
        options = dict(backend=backend, threads=threads)
        self.model = dfd.Model.from_ref(model, **options)
        self.info = self.model.info

    def __call__(self, batch: pa.Table) -> pa.Table:
        paths = batch.column("path").to_pylist()
        contents = batch.column("bytes").to_pylist()
        return pa.Table.from_pylist([self.row(p, b) for p, b in zip(paths, contents)], schema=SCHEMA)

    def row(self, path: str, data: bytes) -> Dict[str, Any]:
        try:
            r = score_file(self.model, path, data)
        except (ValueError, dfd.Error) as e:
            return {
                "path": path,
                "error": e.message if isinstance(e, dfd.Error) else str(e),
                "model": self.info.name,
                "backend": self.info.backend,
                "precision": self.info.precision,
            }
        return {
            "path": path,
            "p_fake": r.p_fake,
            "verdict": r.verdict,
            "windows": r.windows,
            "timeline": [{"start": w.start, "end": w.end, "p_fake": w.p_fake} for w in r.timeline],
            "seconds": r.seconds,
            "model": r.model,
            "backend": r.backend,
            "precision": r.precision,
        }


def scan(
    inputs: List[str],
    out: str,
    *,
    explicit_files: bool,
    actors: int,
    threads: int,
    batch_size: int,
    model: Optional[str],
    backend: Optional[str] = None,
) -> None:
    """The job: read, score on ``actors`` actors of ``threads`` CPUs each, write."""
    files = ray.data.read_binary_files(
        inputs,
        include_paths=True,
        # Files named one by one are scanned whatever their name, as by `dfd scan`.
        file_extensions=None if explicit_files else list(AUDIO_EXTENSIONS),
    )
    scored = files.map_batches(
        Scorer,
        fn_constructor_kwargs={"model": model, "backend": backend, "threads": threads},
        batch_format="pyarrow",
        batch_size=batch_size,
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_cpus=threads,
    )
    scored.write_parquet(out)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("paths", nargs="*", help="directories (searched recursively) or files")
    ap.add_argument("--list", help="a file of paths to scan, one per line")
    ap.add_argument("--out", required=True, help="directory for the Parquet files")
    ap.add_argument("--address", default=None, help="Ray cluster address (default: RAY_ADDRESS, or a local Ray)")
    ap.add_argument("--actors", type=int, default=2, help="scoring actors in the pool (default 2)")
    ap.add_argument("--threads", type=int, default=1, help="CPUs and backend threads per actor (default 1)")
    ap.add_argument("--batch-size", type=int, default=16, help="files per batch given to an actor (default 16)")
    ap.add_argument("--model", help="model file or package on every node, or builtin:NAME (default: the built-in default model)")
    ap.add_argument("--backend", help="auto (default), cpu, ort, cuda or a plugin name, as for dfd scan")
    ap.add_argument("--wheel", help="the dfd wheel to install on the workers (runtime_env pip)")
    args = ap.parse_args(argv)

    inputs = list(args.paths)
    if args.list:
        with open(args.list, encoding="utf-8") as f:
            inputs += [line.strip() for line in f if line.strip()]
    if not inputs:
        ap.error("give directories or files, or --list")
    runtime_env = {"pip": [args.wheel]} if args.wheel else None
    ray.init(address=args.address, runtime_env=runtime_env, log_to_driver=False)
    scan(
        inputs,
        args.out,
        explicit_files=not any(os.path.isdir(p) for p in inputs),
        actors=args.actors,
        threads=args.threads,
        batch_size=args.batch_size,
        model=args.model,
        backend=args.backend,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
