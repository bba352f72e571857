"""Property tests of the two body parsers a client reaches: the `.npy` header check (and the
upload finalisation behind it) and the JSON matrix parser. Whatever the bytes, the answer is
a usable matrix or an InvalidArray (a 422), never another exception (a 500), and a stored
file always holds exactly the matrix its header announces."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.domain.matrices import finalize_upload, parse_json_matrix_body, read_header
from service.errors import InvalidArray

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DESCRS = ["<f8", "<f4", ">f8", "<f2", "<i4", "|u1", "|b1", "<c16", "|O", "<U3", "V8", "<m8", "x"]
dimension = st.one_of(st.integers(-3, 6), st.integers(2**31, 2**66))
shapes = st.lists(dimension, min_size=0, max_size=3).map(tuple)


def _header(descr: str, shape: tuple[int, ...], fortran: bool) -> bytes:
    text = f"{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}"
    padded = text + " " * ((-(len(text) + 11)) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + len(padded).to_bytes(2, "little") + padded.encode()


@st.composite
def exact_npy(draw: st.DrawFn) -> bytes:
    """A header whose announced size the data matches (random bytes: NaNs and all)."""
    descr = draw(st.sampled_from(["<f8", "<f4", ">f8", "<f2", "<i4", "|u1", "|b1"]))
    shape = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    size = math.prod(shape) * np.dtype(descr).itemsize
    return _header(descr, shape, draw(st.booleans())) + draw(
        st.binary(min_size=size, max_size=size)
    )


npy_bodies = st.one_of(
    exact_npy(),
    st.binary(max_size=300),
    st.builds(
        lambda descr, shape, fortran, data: _header(descr, shape, fortran) + data,
        st.sampled_from(DESCRS),
        shapes,
        st.booleans(),
        st.binary(max_size=200),
    ),
)


@SETTINGS
@given(npy_bodies)
def test_an_npy_header_is_usable_or_refused_with_a_reason(body: bytes) -> None:
    try:
        header = read_header(io.BytesIO(body), len(body))
    except InvalidArray:
        return
    assert len(header.shape) == 2 and min(header.shape) >= 1
    assert header.dtype.kind in "iuf"
    assert header.data_offset + math.prod(header.shape) * header.dtype.itemsize == len(body)


@SETTINGS
@given(npy_bodies)
def test_an_upload_is_stored_as_announced_or_not_at_all(tmp_path_factory, body: bytes) -> None:  # type: ignore[no-untyped-def]
    folder: Path = tmp_path_factory.mktemp("upload")
    tmp, final = folder / "body.upload", folder / "stored.npy"
    tmp.write_bytes(body)
    try:
        shape, dtype = finalize_upload(tmp, final)
    except InvalidArray:
        assert not final.exists()
        return
    finally:
        assert not tmp.exists()
    stored = np.load(final, allow_pickle=False)
    assert stored.shape == shape and stored.dtype.name == dtype in ("float32", "float64")
    assert np.isfinite(stored).all()


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=30,
)
matrices = st.lists(
    st.lists(
        st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers()),
        min_size=1,
        max_size=4,
    ),
    min_size=1,
    max_size=4,
)
json_bodies = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda v: json.dumps({"data": v}).encode()),
    matrices.map(lambda m: json.dumps({"data": m}).encode()),
)


@SETTINGS
@given(json_bodies)
def test_a_json_matrix_is_usable_or_refused_with_a_reason(body: bytes) -> None:
    try:
        X, rest = parse_json_matrix_body(body)
    except InvalidArray:
        return
    document = json.loads(body)
    rows = document["data"]
    assert X.dtype == np.float64 and X.shape == (len(rows), len(rows[0]))
    assert np.isfinite(X).all()
    assert all(not isinstance(v, bool) and isinstance(v, int | float) for r in rows for v in r)
    assert "data" not in rest
