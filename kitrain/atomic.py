"""Atomic publication on the local (or mounted shared) file system, for the stages after Spark.

A stage writes into a hidden temporary directory beside its final output and renames it into place
only when everything is written; on any error the temporary directory is removed. Readers therefore
see the old complete output or the new complete output, never a partial one, and a rerun replaces
only its own output.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_dir(final: str | os.PathLike[str]) -> Iterator[Path]:
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".{final.name}.tmp-{uuid.uuid4().hex}"
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = final.parent / f".{final.name}.old-{uuid.uuid4().hex}"
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    shutil.rmtree(old, ignore_errors=True)


def read_json(path: str | os.PathLike[str]) -> Any:
    """A JSON file's content, or None where the file does not exist (an optional report)."""
    path = Path(path)
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def parquet_files(path: str | os.PathLike[str]) -> list[Path]:
    """The parquet files of an output directory, in name order (none if it does not exist)."""
    path = Path(path)
    return sorted(path.glob("*.parquet")) if path.is_dir() else []


def write_json(path: str | os.PathLike[str], data: Any) -> None:
    """Write JSON atomically (temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
