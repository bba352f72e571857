"""POST/GET/DELETE /v1/datasets, in-process, with every refusal."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import httpx
import numpy as np
import pytest
from service_testing import NPY, assert_problem, in_process_client, make_settings, matrix, npy

from service.app import create_app

pytestmark = pytest.mark.anyio


async def test_upload_npy_streams_and_reports_metadata(client: httpx.AsyncClient) -> None:
    X = matrix(50, 9).astype(np.float32)
    body = npy(X)
    r = await client.post("/v1/datasets?name=patches", content=body, headers={"Content-Type": NPY})
    assert r.status_code == 201, r.text
    ds = r.json()
    assert r.headers["location"] == f"/v1/datasets/{ds['id']}"
    assert (ds["n_samples"], ds["n_features"], ds["dtype"]) == (50, 9, "float32")
    assert ds["sha256"] == hashlib.sha256(body).hexdigest() and ds["name"] == "patches"
    r = await client.get(f"/v1/datasets/{ds['id']}")
    assert r.status_code == 200 and r.json() == ds


async def test_upload_json_and_integer_npy_become_float64(app, client) -> None:  # type: ignore[no-untyped-def]
    r = await client.post("/v1/datasets", json={"data": [[1, 2], [3, 4.5]], "name": "tiny"})
    assert r.status_code == 201, r.text
    assert (r.json()["n_samples"], r.json()["dtype"], r.json()["name"]) == (2, "float64", "tiny")
    # a matrix sent as JSON is stored as .npy; its sha256 is that of the stored file
    stored = app.state.service.layout.dataset(r.json()["id"]).read_bytes()
    assert r.json()["sha256"] == hashlib.sha256(stored).hexdigest()
    np.testing.assert_array_equal(np.load(io.BytesIO(stored)), [[1.0, 2.0], [3.0, 4.5]])
    ints = np.arange(12, dtype=">i4").reshape(4, 3)  # big-endian integers are converted
    r = await client.post("/v1/datasets", content=npy(ints), headers={"Content-Type": NPY})
    assert r.status_code == 201 and r.json()["dtype"] == "float64"


async def test_list_pages_and_delete(client: httpx.AsyncClient) -> None:
    ids = []
    for i in range(3):
        r = await client.post("/v1/datasets", json={"data": [[float(i), 1.0]]})
        ids.append(r.json()["id"])
    r = await client.get("/v1/datasets", params={"limit": 2})
    page = r.json()
    assert page["count"] == 3 and len(page["data"]) == 2
    r = await client.get("/v1/datasets", params={"limit": 2, "offset": 2})
    assert len(r.json()["data"]) == 1
    assert (await client.delete(f"/v1/datasets/{ids[0]}")).status_code == 204
    assert_problem(await client.get(f"/v1/datasets/{ids[0]}"), 404, "not-found")
    assert_problem(await client.delete(f"/v1/datasets/{ids[0]}"), 404, "not-found")
    assert_problem(await client.get("/v1/datasets", params={"limit": 0}), 422, "validation")


async def test_nan_is_refused_saying_where(client: httpx.AsyncClient) -> None:
    X = matrix(20, 4)
    X[3, 2] = np.nan
    X[7, 1] = np.inf
    problem = assert_problem(
        await client.post("/v1/datasets", content=npy(X), headers={"Content-Type": NPY}),
        422,
        "invalid-array",
    )
    assert "NaN" in problem["detail"] and "row 3, column 2" in problem["detail"], problem
    r = await client.post(
        "/v1/datasets",
        content=b'{"data": [[1.0, NaN], [2.0, 3.0]]}',
        headers={"Content-Type": "application/json"},
    )
    assert "row 0, column 1" in assert_problem(r, 422, "invalid-array")["detail"]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (npy(np.array([[1, None]], dtype=object), allow_pickle=True), "never unpickled"),
        (npy(np.zeros(3, dtype=[("a", "f8")])), "structured"),
        (npy(np.zeros((2, 2), dtype=np.complex128)), "complex"),
        (npy(np.zeros((2, 2), dtype="U3")), "not numeric"),
        (npy(np.zeros(5)), "2-D"),
        (npy(np.zeros((2, 2, 2))), "2-D"),
        (npy(np.zeros((0, 3))), "empty"),
        (npy(np.zeros((4, 4)))[:-8], "malformed"),
        (b"not an npy file at all", "text, not a .npy file"),
        (b"1.0,2.0\n3.0,4.0\n", "CSV, not a .npy file"),
        (b"\x00\x01binary", "not a .npy file"),
        (b"", "the body is empty"),
    ],
)
async def test_bad_npy_is_refused(client: httpx.AsyncClient, body: bytes, words: str) -> None:
    r = await client.post("/v1/datasets", content=body, headers={"Content-Type": NPY})
    assert words in assert_problem(r, 422, "invalid-array")["detail"]


async def test_pickle_payload_never_runs(client: httpx.AsyncClient, tmp_path) -> None:  # type: ignore[no-untyped-def]
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (marker.write_text, ("x",))

    body = npy(np.array([[Evil()]], dtype=object), allow_pickle=True)
    r = await client.post("/v1/datasets", content=body, headers={"Content-Type": NPY})
    assert_problem(r, 422, "invalid-array")
    assert not marker.exists()


async def test_bad_json_bodies(client: httpx.AsyncClient) -> None:
    cases = [
        b"{",
        b"[1, 2]",
        b'{"data": [[1, 2], [3]]}',
        b'{"data": [["a", "b"]]}',
        b'{"data": []}',
    ]
    for body in cases:
        r = await client.post(
            "/v1/datasets", content=body, headers={"Content-Type": "application/json"}
        )
        assert_problem(r, 422, "invalid-array")


async def test_unsupported_media_type(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/datasets", content=b"1,2\n3,4", headers={"Content-Type": "text/csv"})
    assert_problem(r, 415, "unsupported-media-type")


async def test_too_large_by_content_length_is_refused_before_reading(app, client) -> None:  # type: ignore[no-untyped-def]
    limit = app.state.service.settings.max_upload_bytes
    consumed = False

    async def body():  # type: ignore[no-untyped-def]
        nonlocal consumed
        consumed = True
        yield b"x"

    headers = {"Content-Type": NPY, "Content-Length": str(limit + 1)}
    r = await client.post("/v1/datasets", content=body(), headers=headers)
    assert_problem(r, 413, "payload-too-large")
    assert not consumed


async def test_too_large_while_streaming(app, client) -> None:  # type: ignore[no-untyped-def]
    app.state.service.settings.max_upload_bytes = 1000
    try:

        async def chunks():  # type: ignore[no-untyped-def]
            for _ in range(10):
                yield b"\0" * 300

        r = await client.post("/v1/datasets", content=chunks(), headers={"Content-Type": NPY})
        assert_problem(r, 413, "payload-too-large")
    finally:
        app.state.service.settings.max_upload_bytes = 4 * 2**30
    leftovers = list(app.state.service.layout.tmp.iterdir())
    assert leftovers == []


async def test_json_body_limit(app, client) -> None:  # type: ignore[no-untyped-def]
    limit = app.state.service.settings.max_json_bytes
    r = await client.post(
        "/v1/datasets",
        content=b"{}",
        headers={"Content-Type": "application/json", "Content-Length": str(limit + 1)},
    )
    assert_problem(r, 413)


@pytest.mark.parametrize("path", ["/v1/datasets", "/v1/jobs"])
async def test_json_body_streaming_past_the_limit(tmp_path: Path, path: str) -> None:
    """A chunked body (no Content-Length) is cut off at the limit with the same problem as a
    Content-Length over it. (No lifespan: the refusal needs no database or cluster.)"""
    app = create_app(make_settings(tmp_path, "tcp://127.0.0.1:9", max_json_bytes=1000))

    async def chunks():  # type: ignore[no-untyped-def]
        yield b'{"data": ['
        for _ in range(20):
            yield b"[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0],"
        yield b"[0.0]]}"

    async with in_process_client(app) as client:
        r = await client.post(path, content=chunks(), headers={"Content-Type": "application/json"})
    problem = assert_problem(r, 413, "payload-too-large")
    assert problem["limit"] == 1000 and "1000 bytes" in problem["detail"]


async def test_auth_and_tenants(client, bob, anonymous) -> None:  # type: ignore[no-untyped-def]
    r = await client.post("/v1/datasets", json={"data": [[1.0, 2.0]]})
    ds = r.json()["id"]
    r = await anonymous.get(f"/v1/datasets/{ds}")
    assert_problem(r, 401, "unauthorized")
    assert r.headers["www-authenticate"].startswith("Bearer")
    r = await anonymous.get("/v1/datasets", headers={"Authorization": "Bearer wrong-key-123456789"})
    assert_problem(r, 401, "unauthorized")
    r = await anonymous.get("/v1/datasets", headers={"Authorization": "Basic YTpi"})
    assert_problem(r, 401, "unauthorized")
    assert_problem(await bob.get(f"/v1/datasets/{ds}"), 404, "not-found")
    assert_problem(await bob.delete(f"/v1/datasets/{ds}"), 404, "not-found")
    assert (await bob.get("/v1/datasets")).json()["count"] == 0
