"""Data files the command line reads: `.npy` (memory-mapped, never unpickled) or a text table
of numbers (CSV, TSV, `;`- or whitespace-separated, one header line of column names allowed).

Anything else is refused with a message that says what the file looks like and how to turn it
into something readable.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

NPY_MAGIC = b"\x93NUMPY"
_SNIFF_BYTES = 65536
_DELIMITERS = ",\t;"


class DataFileError(ValueError):
    """A data file that cannot be read as a matrix; the message says why and what to do."""


def is_npy(path: Path) -> bool:
    """Whether `path` starts like an `.npy` file (False when it cannot be read)."""
    try:
        with open(path, "rb") as f:
            return f.read(len(NPY_MAGIC)) == NPY_MAGIC
    except OSError:
        return False


def read_matrix(path: Path) -> np.ndarray:
    """The matrix (n_samples, n_features) stored in `path`: an `.npy` file, memory-mapped, or
    a text table of numbers, one sample per line."""
    try:
        with open(path, "rb") as f:
            head = f.read(_SNIFF_BYTES)
    except OSError as exc:
        raise DataFileError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if head.startswith(NPY_MAGIC):
        try:
            return np.load(path, mmap_mode="r", allow_pickle=False)
        except ValueError as exc:  # object arrays, a header that does not parse
            if "object" in str(exc).lower():
                raise DataFileError(
                    f"{path} holds Python objects (pickled data), which are never loaded: "
                    "save a numeric matrix (float32 or float64)"
                ) from exc
            raise DataFileError(f"{path} is not a usable .npy file: {exc}") from exc
    if head.startswith(b"PK\x03\x04"):
        raise DataFileError(
            f"{path} is a zip archive (an .npz?), not a .npy matrix: save one array with "
            "numpy.save('X.npy', X)"
        )
    text = _as_text(head)
    if text is None:
        raise DataFileError(
            f"{path} is neither a .npy file nor a text table of numbers (it starts with "
            f"{head[:16]!r}); save the matrix with numpy.save('X.npy', X)"
        )
    return _read_table(path, text)


def _as_text(head: bytes) -> str | None:
    """The decoded start of a text file, or None for binary data."""
    if b"\x00" in head:
        return None
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 3:  # a character cut by the end of the sniffed block
            return head[: exc.start].decode("utf-8")
        return None


def _read_table(path: Path, text: str) -> np.ndarray:
    raw = text.splitlines()
    first = next((i for i, line in enumerate(raw) if line.strip() and line[0] != "#"), None)
    if first is None:
        raise DataFileError(f"{path} holds no rows of numbers")
    delimiter = next((d for d in _DELIMITERS if d in raw[first]), None)
    # a first line of names is a header (loadtxt counts comment lines in skiprows too)
    skip = 0 if _numeric(raw[first], delimiter) else first + 1
    try:
        X = np.loadtxt(
            path, delimiter=delimiter, skiprows=skip, ndmin=2, encoding="utf-8", quotechar='"'
        )
    except ValueError as exc:
        kind = {",": "CSV", "\t": "tab-separated", ";": "semicolon-separated"}.get(
            delimiter or "", "whitespace-separated"
        )
        raise DataFileError(
            f"{path} looks like a {kind} text table but is not one of numbers only "
            f"({exc}); every row must hold the same number of numeric values "
            "(one optional header line of names)"
        ) from exc
    return X


def _numeric(line: str, delimiter: str | None) -> bool:
    fields = next(csv.reader([line], delimiter=delimiter)) if delimiter else line.split()
    try:
        [float(field) for field in fields]
    except ValueError:
        return False
    return True
