"""``python -m dfd scan FILE|DIR... [--json]``: the ``dfd scan`` command of
the Rust tool, from the installed package (same lines, same JSON, same
exit status: 0 all scanned, 1 some file failed, 2 usage or model error)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import List, Optional

from . import Error, Model, version
from .scan import audio_files, score_file

OK, FILE_FAILED, USAGE = 0, 1, 2


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dfd", description="Deepfake-speech detection (libdfd).")
    parser.add_argument("--version", action="version", version=f"%(prog)s (libdfd {_version()})")
    sub = parser.add_subparsers(dest="command", required=True)
    scan = sub.add_parser("scan", help="scan audio files for synthetic speech")
    scan.add_argument("paths", nargs="+", metavar="FILE|DIR")
    scan.add_argument("--json", action="store_true", help="one JSON object per file and line")
    scan.add_argument("--model", help="model file, package or builtin:NAME (default, telephone) (default: the built-in default model)")
    scan.add_argument("--backend", help="auto (default), cpu, cuda or a plugin name")
    scan.add_argument("--precision", help="auto (default), fp32, fp16 or int8")
    scan.add_argument("--threads", type=int, default=0, help="backend threads (0: default)")
    args = parser.parse_args(argv)

    options = dict(backend=args.backend, precision=args.precision, threads=args.threads)
    try:
        model = Model.from_ref(args.model, **options)
    except Error as e:
        print(f"dfd: cannot load the model: {e.message}", file=sys.stderr)
        return USAGE
    status = OK
    for path, why in audio_files(args.paths):
        if why is None:
            try:
                result = score_file(model, path)
            except (OSError, ValueError, Error) as e:
                why = e.message if isinstance(e, Error) else str(e)
        if why is not None:
            status = FILE_FAILED
            print(f"dfd: {path}: {why}", file=sys.stderr)
            if args.json:
                print(json.dumps({"file": path, "error": why}), flush=True)
            continue
        print(json.dumps(result.json()) if args.json else result.text(), flush=True)
    return status


def _version() -> str:
    try:
        return version()
    except OSError as e:
        return f"not found: {e}"


if __name__ == "__main__":
    sys.exit(main())
