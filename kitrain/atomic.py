"""Atomic publication on the local (or mounted shared) file system, for the stages after Spark.

A stage writes into a hidden new version of its output directory and, only when everything is
written, points the output's name (a symbolic link) at it in one atomic rename; on any error the new
version is removed. Readers, and a process killed at any moment, therefore see the old complete
output or the new complete output, never a partial one, and a rerun replaces only its own output.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_dir(final: str | os.PathLike[str]) -> Iterator[Path]:
    """Write a directory's content into a fresh hidden version, then publish it in one step.

    ``final`` is a symbolic link to the current version (``.<name>.v-<id>`` beside it), and
    publishing replaces the link with ``os.replace``, which is atomic: a reader, or a process
    killed at any moment, sees the old complete output or the new one, never neither and never a
    mix. (Renaming directories cannot do that: the old one has to move away first.) An output
    directory of an older kitrain, a plain directory, is moved aside once and replaced by the link.
    On an error the new version is removed and the old output stays.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tag = uuid.uuid4().hex
    version = final.parent / f".{final.name}.v-{tag}"
    version.mkdir()
    try:
        yield version
    except BaseException:
        shutil.rmtree(version, ignore_errors=True)
        raise
    previous = None
    if final.is_symlink():
        previous = final.parent / os.readlink(final)
    elif final.exists():
        previous = final.parent / f".{final.name}.old-{tag}"
        os.replace(final, previous)
    link = final.parent / f".{final.name}.link-{tag}"
    os.symlink(version.name, link)  # relative: the run directory can be moved or copied
    os.replace(link, final)
    if previous is not None and previous.resolve() != version.resolve():
        shutil.rmtree(previous, ignore_errors=True)


def read_json(path: str | os.PathLike[str]) -> Any:
    """A JSON file's content, or None where the file does not exist (an optional report)."""
    path = Path(path)
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


class CorruptFileError(ValueError):
    """An output file of a run that cannot be read; the message names it."""


class MissingColumnsError(ValueError):
    """A complete output file of a run that lacks columns a later stage reads; the message names
    the file and the columns (a missing column is not a corrupt file)."""


def _corrupt(path: str | os.PathLike[str], exc: Exception) -> CorruptFileError:
    """The error of a run directory's parquet file that pyarrow cannot read."""
    return CorruptFileError(f"cannot read {path}: not a complete parquet file ({exc}); run the "
                            "stage that writes it again")


def check_columns(path: str | os.PathLike[str], columns: list[str]) -> None:
    """Raise :class:`MissingColumnsError` naming the file and the columns of ``columns`` that the
    parquet file at ``path`` does not have (its footer only is read); :class:`CorruptFileError`
    if it is not a parquet file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        names = set(pq.read_schema(path).names)
    except (pa.ArrowInvalid, OSError) as exc:
        raise _corrupt(path, exc) from None
    missing = [c for c in columns if c not in names]
    if missing:
        raise MissingColumnsError(f"{path} has no column(s) {missing}: it was written by another "
                                  "version of the stage before; run that stage again")


def read_table(path: str | os.PathLike[str], columns: list[str] | None = None) -> Any:
    """One parquet file of a run directory, or an error naming it (a truncated copy, a file
    overwritten by something else, a file without a column asked for) instead of a bare pyarrow
    message."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if columns is not None:
        check_columns(path, columns)
    try:
        return pq.read_table(path, columns=columns)
    except (pa.ArrowInvalid, OSError) as exc:
        raise _corrupt(path, exc) from None


def read_batches(path: str | os.PathLike[str], columns: list[str], batch_rows: int) -> Iterator[Any]:
    """One parquet file's ``columns`` as Arrow tables of up to ``batch_rows`` rows, read one
    after the other (a row group at a time), with :func:`read_table`'s errors."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    check_columns(path, columns)
    try:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows, columns=columns):
            yield pa.Table.from_batches([batch])
    except (pa.ArrowInvalid, OSError) as exc:
        raise _corrupt(path, exc) from None


def filtered_tables(files: list[Path], columns: list[str] | None, where: dict[str, int],
                    batch_rows: int | None = None) -> Iterator[Any]:
    """Each file's ``columns`` (None: all) as an Arrow table, only the rows whose columns in
    ``where`` equal the values given (kept in Arrow, before pandas sees them), one file at a time
    (with ``batch_rows``: in tables of up to that many rows, so that not even one file is held
    whole), without the pandas metadata (the caller makes its own frame). The stages that read a
    slice of a split (train: the classifier rows; finetune: the fine-tuning rows) read it this way."""
    import pyarrow.compute as pc

    for file in files:
        if batch_rows is not None and columns is not None:
            tables = read_batches(file, columns, batch_rows)
        else:
            tables = iter([read_table(file, columns=columns)])
        for table in tables:
            for name, value in where.items():
                table = table.filter(pc.equal(table[name], value))
            yield table.replace_schema_metadata(None)


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


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write a text file atomically (temporary file beside it, then rename), so a reader such as a
    browser or a web server never gets half a page; the temporary file goes on an error."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def file_lock(path: str | os.PathLike[str]) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if missing) for the block: processes that
    read, decide and write a shared file (a claim, a link and its record) do so one at a time."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
