"""What makes a body's matrix usable: `.npy` headers and values, and JSON matrices, checked
without ever unpickling, with an InvalidArray (a 422) naming what is wrong.

An `.npy` header is read with `numpy.lib.format` directly, so an object or structured dtype is
refused before any data is touched; the data itself is then memory-mapped and scanned in
chunks, so checking a file never needs the file's size in memory.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
from numpy.lib import format as npy_format

import solvers

from ..errors import InvalidArray, InvalidJson
from ..store.arrays import publish

_CHUNK_ROWS = 65536
_SCAN_ITEMS = 1 << 20


@dataclass(frozen=True)
class NpyHeader:
    shape: tuple[int, ...]
    dtype: np.dtype
    fortran_order: bool
    data_offset: int


NPY_MAGIC = b"\x93NUMPY"


def _not_npy(start: bytes) -> str:
    """What a body that is not `.npy` looks like, and what to send instead."""
    remedy = (
        "send the matrix as .npy (numpy.save; Content-Type: application/x-npy) or as JSON "
        '{"data": [[...], ...]} (Content-Type: application/json)'
    )
    if not start:
        return f"the body is empty; {remedy}"
    try:
        text = start.decode("utf-8")
    except UnicodeDecodeError:
        return f"the body is not a .npy file (it starts with {start[:8]!r}); {remedy}"
    if "\x00" in text:
        return f"the body is not a .npy file (it starts with {start[:8]!r}); {remedy}"
    kind = "CSV" if "," in text else "text"
    return f"the body is {kind}, not a .npy file (it starts with {text[:24]!r}); {remedy}"


def _header_fields(f: IO[bytes]) -> tuple[Any, bool, np.dtype]:
    """(shape, fortran_order, dtype) of the `.npy` header at `f`, which is left at the data;
    InvalidArray when it is malformed (or, read from a prefix of a body, incomplete)."""
    try:
        version = npy_format.read_magic(f)
        if version == (1, 0):
            return npy_format.read_array_header_1_0(f)
        if version in ((2, 0), (3, 0)):
            return npy_format.read_array_header_2_0(f)
    except Exception as exc:  # numpy raises ValueError/OSError/SyntaxError for bad headers
        # numpy's message may quote Python objects of its header parser (with addresses)
        reason = re.sub(r"<[^<>]* at 0x[0-9a-fA-F]+>", "an expression", str(exc))[:200]
        raise InvalidArray(f"malformed .npy file: {reason}") from None
    raise InvalidArray(f"unsupported .npy format version {version}")


def read_header(f: IO[bytes], size: int) -> NpyHeader:
    """Parse and check an `.npy` header; raise InvalidArray naming what is wrong."""
    start = f.read(len(NPY_MAGIC))
    f.seek(-len(start), io.SEEK_CUR)
    if start != NPY_MAGIC:
        raise InvalidArray(_not_npy(f.read(64)))
    shape, fortran_order, dtype = _header_fields(f)
    if dtype.hasobject:
        raise InvalidArray("object arrays are refused: .npy data is never unpickled")
    if dtype.names is not None or dtype.subdtype is not None:
        raise InvalidArray(f"structured dtype {dtype} is refused; send a plain numeric matrix")
    if dtype.kind == "c":
        raise InvalidArray(f"complex dtype {dtype} is refused; only real data is supported")
    if dtype.kind == "b":
        raise InvalidArray("boolean data is refused (as JSON true/false are): send 0 and 1")
    if dtype.kind not in "iuf":
        raise InvalidArray(f"dtype {dtype} is not numeric; send float32 or float64")
    if len(shape) != 2:
        raise InvalidArray(f"expected a 2-D matrix (n_samples, n_features); got shape {shape}")
    if any(isinstance(d, bool) for d in shape):  # numpy takes True for 1
        raise InvalidArray(f"malformed .npy file: shape {tuple(shape)} holds a boolean")
    if any(d < 0 for d in shape):
        raise InvalidArray(f"malformed .npy file: negative dimension in shape {tuple(shape)}")
    if 0 in shape:
        raise InvalidArray(f"data is empty: shape {tuple(shape)}")
    offset = f.tell()
    # Python integers: an int64 product would wrap (2³² × 2³² rows × columns is 0 in int64)
    expected = offset + math.prod(shape) * dtype.itemsize
    if size != expected:
        raise InvalidArray(
            f"malformed .npy file: the header announces shape {shape} of {dtype} "
            f"({expected} bytes in all) but the file has {size} bytes"
        )
    return NpyHeader(tuple(shape), dtype, bool(fortran_order), offset)


def check_matrix(X: np.ndarray) -> np.ndarray:
    """`solvers.validate_data`, with its message as an InvalidArray."""
    try:
        return solvers.validate_data(X, name="data")
    except solvers.InvalidInputError as exc:
        raise InvalidArray(str(exc)) from exc


def scan_values(path: Path, header: NpyHeader) -> None:
    """Raise InvalidArray when the values are unusable (`solvers.ValueScan`: NaN/Inf, with
    their count and first position, or too large in magnitude).

    The file is read in blocks (not memory-mapped), so checking it costs a block of memory,
    whatever its size.
    """
    total = math.prod(header.shape)
    scan = solvers.ValueScan()
    with open(path, "rb") as f:
        f.seek(header.data_offset)
        while scan.done < total:
            block = np.fromfile(f, dtype=header.dtype, count=min(_SCAN_ITEMS, total - scan.done))
            if block.size == 0:
                raise InvalidArray("malformed .npy file: shorter than its header says")
            scan.add(block)
    _report(scan, header)


def _report(scan: solvers.ValueScan, header: NpyHeader) -> None:
    problem = scan.problem("data", header.shape, header.fortran_order)
    if problem is not None:
        raise InvalidArray(problem)


class StreamScan:
    """`scan_values` done on an upload's bytes as they arrive, so that the file is not read
    back: only for native float32/float64 data (anything else is scanned after conversion,
    as before). Feed it every byte in order; it never raises, `finalize_upload` does."""

    _MAX_HEADER = 1 << 20

    def __init__(self) -> None:
        self.header: tuple[tuple[int, ...], np.dtype, bool, int] | None = None
        self.usable = True
        self.values = solvers.ValueScan()
        self._pending = b""

    def feed(self, data: bytes) -> None:
        if not self.usable:
            return
        if self.header is None:
            self._pending += data
            if not self._parse_header():
                return
            data, self._pending = self._pending, b""
        elif self._pending:
            data, self._pending = self._pending + data, b""
        assert self.header is not None
        itemsize = self.header[1].itemsize
        usable = len(data) - len(data) % itemsize
        if usable < len(data):
            self._pending = data[usable:]
        if usable:
            self.values.add(np.frombuffer(data, dtype=self.header[1], count=usable // itemsize))

    def _parse_header(self) -> bool:
        f = io.BytesIO(self._pending)
        try:
            shape, fortran_order, dtype = _header_fields(f)
        except InvalidArray:
            if len(self._pending) > self._MAX_HEADER:  # malformed: finalize_upload says why
                self.usable, self._pending = False, b""
            return False
        if dtype.hasobject or dtype.names is not None or dtype != solvers.working_dtype(dtype):
            self.usable, self._pending = False, b""
            return False
        offset = f.tell()
        self.header = (tuple(shape), dtype, bool(fortran_order), offset)
        self._pending = self._pending[offset:]
        return True

    def covers(self, header: NpyHeader) -> bool:
        total = math.prod(header.shape)
        return (
            self.usable
            and self.header
            == (header.shape, header.dtype, header.fortran_order, header.data_offset)
            and self.values.done == total
            and not self._pending
        )


def finalize_upload(
    tmp: Path, final: Path, scanned: StreamScan | None = None
) -> tuple[tuple[int, int], str]:
    """Check an uploaded `.npy` file and move it to `final` as native float32/float64.

    Returns (shape, dtype name). Other real dtypes (integers, float16, big-endian) are converted
    chunk by chunk into a new file; `tmp` is removed in every case. `scanned`: the finiteness
    scan already done on the bytes as they were received (used when it covers the file).
    """
    converted = tmp.with_suffix(".conv")
    try:
        with open(tmp, "rb") as f:
            header = read_header(f, os.fstat(f.fileno()).st_size)
        target = solvers.working_dtype(header.dtype)
        if header.dtype != target:
            source = np.load(tmp, mmap_mode="r", allow_pickle=False)
            out = npy_format.open_memmap(converted, mode="w+", dtype=target, shape=source.shape)
            for start in range(0, source.shape[0], _CHUNK_ROWS):
                out[start : start + _CHUNK_ROWS] = source[start : start + _CHUNK_ROWS]
            out.flush()
            del out, source
            tmp.unlink()
            converted.rename(tmp)
            with open(tmp, "rb") as f:
                header = read_header(f, os.fstat(f.fileno()).st_size)
        if scanned is not None and scanned.covers(header):
            _report(scanned.values, header)
        else:
            scan_values(tmp, header)
        publish(tmp, final)
        return (int(header.shape[0]), int(header.shape[1])), target.name
    finally:
        tmp.unlink(missing_ok=True)
        converted.unlink(missing_ok=True)


def npy_from_bytes(body: bytes) -> np.ndarray:
    """A checked matrix from `.npy` bytes held in memory (small bodies only)."""
    f = io.BytesIO(body)
    header = read_header(f, len(body))
    f.seek(0)
    array = np.load(f, allow_pickle=False)
    assert array.shape == header.shape
    return check_matrix(array)


def parse_json(body: bytes) -> Any:
    """The JSON document of a request body; InvalidArray naming what makes it unreadable
    (not UTF-8, not JSON, nested too deeply, an integer too long to read)."""
    try:
        return json.loads(body)
    except UnicodeDecodeError as exc:
        raise InvalidJson(f"body is not UTF-8 text, so not JSON: {exc.reason}") from None
    except json.JSONDecodeError as exc:
        raise InvalidJson(f"body is not valid JSON: {exc}") from None
    except RecursionError:
        raise InvalidJson("body is not usable JSON: nested too deeply") from None
    except ValueError as exc:  # an integer of more than sys.get_int_max_str_digits() digits
        raise InvalidJson(f"body is not usable JSON: {exc}") from None


def _describe_value(value: Any) -> str | None:
    """What makes one matrix entry not a number (None for a usable number)."""
    if isinstance(value, bool):
        return f"{str(value).lower()}, not a number"
    if value is None:
        return "null, not a number"
    if isinstance(value, str):
        return f"the string {value[:20]!r}, not a number"
    if isinstance(value, int):
        try:
            float(value)
        except OverflowError:
            return f"an integer of {len(str(value))} digits, beyond float64's range"
        return None
    if isinstance(value, float):
        return None
    return f"a {type(value).__name__}, not a number"


def _first_non_number(rows: list[Any], field: str) -> str:
    for i, row in enumerate(rows):
        for j, value in enumerate(row):
            why = _describe_value(value)
            if why is not None:
                return f"{field}[{i}][{j}] is {why}: a matrix holds numbers only"
    return f"{field} must contain only numbers"


def matrix_from_json(value: Any, field: str = "data", body: bytes | None = None) -> np.ndarray:
    """A checked float64 matrix from a JSON list of rows: numbers only (no strings, true,
    false or null, which numpy would turn into numbers or NaN), finite (NaN/Infinity tokens
    are reported with their position). `body`, the raw request, spares the search for true and
    false when it has none."""
    if not isinstance(value, list) or not value or not all(isinstance(r, list) for r in value):
        raise InvalidArray(f"{field} must be a non-empty list of rows (a list of lists of numbers)")
    width = len(value[0])
    for i, row in enumerate(value):
        if len(row) != width:
            raise InvalidArray(f"{field}: row {i} has {len(row)} values, row 0 has {width}")
    if body is None or b"true" in body or b"false" in body:  # numpy reads them as 1 and 0
        if any(isinstance(v, bool) for row in value for v in row):
            raise InvalidArray(_first_non_number(value, field))
    try:
        array = np.asarray(value)  # numbers give an int or float array; anything else not
    except (TypeError, ValueError, OverflowError):
        array = np.empty(0, dtype=object)
    if array.dtype.kind not in "iuf" or array.ndim != 2:
        raise InvalidArray(_first_non_number(value, field))
    return check_matrix(array.astype(np.float64, copy=False))


def parse_json_matrix_body(body: bytes) -> tuple[np.ndarray, dict[str, Any]]:
    """({"data": rows, ...} → matrix, the other fields) from a JSON request body."""
    document, X = matrix_document(body)
    if X is None:
        raise InvalidArray('JSON body must be an object with a "data" matrix')
    return X, document


def matrix_document(body: bytes) -> tuple[Any, np.ndarray | None]:
    """(the other fields, the checked "data" matrix) of a JSON body, or (the document, None)
    when it has no "data" (or a null one). Runs in the API's JSON helper process for large
    bodies (`api.json_bodies`), so it imports nothing of the web layer."""
    document = parse_json(body)
    if not isinstance(document, dict) or document.get("data") is None:
        return document, None
    data = document.pop("data")
    return document, matrix_from_json(data, body=body)
