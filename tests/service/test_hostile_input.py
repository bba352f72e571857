"""What a hostile or careless client sends, answered as a trusted service answers it: the
right 4xx as problem JSON naming the problem, never a 500, and nothing stored that cannot be
used. One case per finding of issue 12 (the probes that found them, and their kin)."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi import FastAPI
from service_testing import (
    NPY,
    assert_problem,
    fitted,
    matrix,
    npy,
    parse_sse,
    upload,
    wait_for,
)

pytestmark = pytest.mark.anyio

JSON = {"Content-Type": "application/json"}


def npy_header(descr: str, shape: tuple[int, ...]) -> bytes:
    """A version-1.0 `.npy` header announcing `shape` of `descr`, with no data after it."""
    text = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}"
    padded = text.ljust(128 - 10 - 1) + "\n"
    return b"\x93NUMPY\x01\x00" + len(padded).to_bytes(2, "little") + padded.encode()


async def _counts(client: httpx.AsyncClient) -> tuple[int, int]:
    datasets = (await client.get("/v1/datasets")).json()["count"]
    jobs = (await client.get("/v1/jobs")).json()["count"]
    return datasets, jobs


@pytest.fixture
async def model_id(client: httpx.AsyncClient) -> str:
    return str((await fitted(client))["model_id"])  # 16 features


@pytest.mark.parametrize(
    ("descr", "shape"),
    [
        ("<f4", (2**32, 2**32)),  # 2⁶⁴ values: an int64 product wraps to 0 bytes
        ("<f2", (2**32, 2**32)),
        ("<f2", (2**63, 2)),
        ("<f8", (2**64, 1)),
        ("<f8", (-1, 4)),
    ],
)
async def test_npy_headers_announcing_impossible_sizes(
    client: httpx.AsyncClient, model_id: str, descr: str, shape: tuple[int, ...]
) -> None:
    before = await _counts(client)
    body = npy_header(descr, shape)
    r = await client.post("/v1/datasets", content=body, headers={"Content-Type": NPY})
    assert "malformed .npy file" in assert_problem(r, 422, "invalid-array")["detail"]
    r = await client.post(
        f"/v1/models/{model_id}/encode", content=body, headers={"Content-Type": NPY}
    )
    assert_problem(r, 422, "invalid-array")
    assert await _counts(client) == before


async def test_a_header_parse_error_names_no_memory_address(client: httpx.AsyncClient) -> None:
    body = npy_header("<f8", (1, 2)).replace(b"(1, 2)", b"(f(), 2)")
    r = await client.post("/v1/datasets", content=body, headers={"Content-Type": NPY})
    detail = assert_problem(r, 422, "invalid-array")["detail"]
    assert "malformed .npy file" in detail and " at 0x" not in detail


async def test_a_boolean_dimension_is_malformed(client: httpx.AsyncClient) -> None:
    """numpy reads shape (True, 2) as (1, 2); a header that says True is not a shape."""
    body = npy_header("<f8", (True, 2)) + np.zeros(2).tobytes()
    r = await client.post("/v1/datasets", content=body, headers={"Content-Type": NPY})
    assert "holds a boolean" in assert_problem(r, 422, "invalid-array")["detail"]
    assert await _counts(client) == (0, 0)


@pytest.mark.parametrize(
    "option", ["dictionary_penalty", "tol", "code_tol", "time_limit", "alpha", "averaging"]
)
async def test_infinite_options_are_refused(client: httpx.AsyncClient, option: str) -> None:
    """JSON's 1e400 reads as inf: refused before any job exists (it ran, and failed or made
    an all-NaN dictionary)."""
    dataset_id = await upload(client, matrix(20, 4))
    before = await _counts(client)
    body = f'{{"dataset_id": "{dataset_id}", "n_components": 2, "{option}": 1e400}}'
    r = await client.post("/v1/jobs", content=body.encode(), headers=JSON)
    problem = assert_problem(r, 422, "validation")
    assert option in problem["detail"] and "finite" in problem["detail"]
    assert await _counts(client) == before


async def test_encode_with_an_infinite_alpha_is_refused(
    client: httpx.AsyncClient, model_id: str
) -> None:
    body = b'{"data": [[' + b"0.5, " * 15 + b'0.5]], "alpha": 1e400}'
    r = await client.post(f"/v1/models/{model_id}/encode", content=body, headers=JSON)
    assert "finite" in assert_problem(r, 422, "invalid-input")["detail"]


DEEP = "[" * 5000 + "]" * 5000


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (DEEP, "nested too deeply"),
        ("[[1" + "0" * 400 + ", 1]]", "beyond float64's range"),
        ("[[1" + "0" * 5000 + ", 1]]", "digits"),
    ],
)
async def test_unreadable_json_is_a_422_not_a_500(
    client: httpx.AsyncClient, model_id: str, data: str, words: str
) -> None:
    before = await _counts(client)
    r = await client.post("/v1/datasets", content=f'{{"data": {data}}}'.encode(), headers=JSON)
    assert words in assert_problem(r, 422, "invalid-array")["detail"]
    r = await client.post(
        f"/v1/models/{model_id}/encode", content=f'{{"data": {data}}}'.encode(), headers=JSON
    )
    assert words in assert_problem(r, 422, "invalid-array")["detail"]
    r = await client.post(
        "/v1/jobs", content=f'{{"data": {data}, "n_components": 1}}'.encode(), headers=JSON
    )
    assert r.status_code in (400, 422) and r.headers["content-type"].startswith(
        "application/problem+json"
    ), r.text
    assert await _counts(client) == before


@pytest.mark.parametrize(
    ("value", "words"),
    [("null", "null, not a number"), ('"1.5"', "the string '1.5'"), ("true", "true")],
)
async def test_matrix_entries_are_numbers_only_everywhere(
    client: httpx.AsyncClient, model_id: str, value: str, words: str
) -> None:
    """The same rule, and the same answer, for an upload, an encode and a job's inline data:
    numbers only (a string "1.5" was stored as 1.5 on upload and refused inline; null read as
    NaN)."""
    before = await _counts(client)
    row = ", ".join([value] + ["1"] * 15)
    r = await client.post("/v1/datasets", content=f'{{"data": [[{row}]]}}'.encode(), headers=JSON)
    assert f"data[0][0] is {words}" in assert_problem(r, 422, "invalid-array")["detail"]
    r = await client.post(
        f"/v1/models/{model_id}/encode", content=f'{{"data": [[{row}]]}}'.encode(), headers=JSON
    )
    assert f"data[0][0] is {words}" in assert_problem(r, 422, "invalid-array")["detail"]
    r = await client.post(
        "/v1/jobs", content=f'{{"data": [[{row}]], "n_components": 1}}'.encode(), headers=JSON
    )
    assert f"data[0][0] is {words}" in assert_problem(r, 422, "invalid-array")["detail"]
    assert await _counts(client) == before


async def test_values_too_large_for_the_arithmetic_are_refused_everywhere(
    client: httpx.AsyncClient, model_id: str
) -> None:
    """Finite values whose squares overflow float64 (1e160 and up): stored, they made fits
    that "succeeded" with codes of zero and an objective of null. Refused as every other
    unusable matrix is: uploads (.npy scanned as it streams, and after conversion), inline job
    data and encode, with the same words, nothing stored."""
    X = matrix(40, 16)
    X[3, 5] = 1e160
    before = await _counts(client)
    json_body = json.dumps({"data": X.tolist()}).encode()
    answers = [
        await client.post("/v1/datasets", content=npy(X), headers={"Content-Type": NPY}),
        await client.post(
            "/v1/datasets", content=npy(X.astype(">f8")), headers={"Content-Type": NPY}
        ),
        await client.post("/v1/datasets", content=json_body, headers=JSON),
        await client.post(
            "/v1/jobs",
            content=json.dumps({"data": X.tolist(), "n_components": 2}).encode(),
            headers=JSON,
        ),
        await client.post(f"/v1/models/{model_id}/encode", content=json_body, headers=JSON),
        await client.post(
            f"/v1/models/{model_id}/encode", content=npy(X), headers={"Content-Type": NPY}
        ),
    ]
    for r in answers:
        detail = assert_problem(r, 422, "invalid-array")["detail"]
        assert "too large in magnitude for float64" in detail and "1e+160" in detail, detail
    assert await _counts(client) == before


async def test_boolean_npy_is_refused_as_json_booleans_are(client: httpx.AsyncClient) -> None:
    body = npy(np.ones((3, 2), dtype=bool))
    r = await client.post("/v1/datasets", content=body, headers={"Content-Type": NPY})
    assert "boolean" in assert_problem(r, 422, "invalid-array")["detail"]


async def test_a_compressed_body_is_unsupported_media(client: httpx.AsyncClient) -> None:
    headers = {**JSON, "Content-Encoding": "gzip"}
    r = await client.post("/v1/datasets", content=b"\x1f\x8b\x08\x00", headers=headers)
    assert "Content-Encoding 'gzip'" in assert_problem(r, 415, "unsupported-media-type")["detail"]


async def test_a_last_event_id_beyond_int64_gives_a_whole_stream(client: httpx.AsyncClient) -> None:
    job = await fitted(client, max_iter=3, tol=0.0)
    r = await client.get(f"/v1/jobs/{job['id']}/events", headers={"Last-Event-ID": str(2**64)})
    assert r.status_code == 200
    events = parse_sse(r.text)
    assert [e["event"] for e in events] == ["status"]
    assert json.loads(events[0]["data"])["state"] == "succeeded"


async def test_a_trailing_slash_is_not_redirected_to_the_hosts_name(
    client: httpx.AsyncClient,
) -> None:
    r = await client.post("/v1/datasets/", headers={"Host": "evil.example"})
    assert_problem(r, 404)
    assert "location" not in r.headers


async def test_a_client_gone_mid_upload_leaves_nothing(app: FastAPI) -> None:
    """The upload's connection drops after part of the body: no dataset, no temporary file,
    no error logged as an unhandled one."""
    from service_testing import ALICE_KEY, auth

    sent: list[dict[str, Any]] = []
    body = npy(matrix(2000, 16))
    messages = [
        {"type": "http.request", "body": body[: len(body) // 2], "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    headers = [(k.lower().encode(), v.encode()) for k, v in auth(ALICE_KEY).items()]
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/v1/datasets", "raw_path": b"/v1/datasets",
        "query_string": b"", "root_path": "", "server": ("testserver", 80),
        "client": ("127.0.0.1", 1), "headers": [*headers, (b"content-type", NPY.encode())],
    }  # fmt: skip
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    assert start["status"] == 400
    layout = app.state.service.layout
    assert list(layout.tmp.iterdir()) == [] and list((layout.root / "datasets").iterdir()) == []


def _rows_body(n: int, p: int, **fields: Any) -> bytes:
    rows = np.random.default_rng(0).standard_normal((n, p)).round(6).tolist()
    return json.dumps({"data": rows, **fields}).encode()


async def test_cheap_limits_come_before_the_parse_of_a_big_body(
    app: FastAPI, client: httpx.AsyncClient, model_id: str
) -> None:
    """n_components over the limit, an encode over its value limit: answered from the bytes,
    before a 40 MiB body is parsed (the parse took 14 s and 2 GB first)."""
    state = app.state.service
    limit = state.settings.max_n_components
    big = _rows_body(250_000, 16, n_components=limit + 1)
    r = await client.post("/v1/jobs", content=big, headers=JSON)
    assert str(limit) in assert_problem(r, 422, "invalid-input")["detail"]
    state.settings.encode_max_values = 1000
    try:
        r = await client.post(f"/v1/models/{model_id}/encode", content=big, headers=JSON)
        assert_problem(r, 413, "payload-too-large")
    finally:
        state.settings.encode_max_values = 4_000_000
    assert state.json_bodies._pool is None  # no parse was started for either


async def test_a_big_json_body_is_parsed_while_other_requests_go_on(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """The event loop keeps turning while a large inline-data job is parsed (in the helper
    process): the JSON decoder holds the GIL, so in the API process every request waited."""
    import asyncio

    body = _rows_body(250_000, 16, n_components=8, max_iter=1)
    gaps: list[float] = []
    done = asyncio.Event()

    async def tick() -> None:  # how long the loop goes without a turn
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0.02)  # the ticker is turning before the request starts
    started = time.perf_counter()
    try:
        r = await client.post("/v1/jobs", content=body, headers=JSON)
    finally:
        took = time.perf_counter() - started
        done.set()
        await ticker
    assert r.status_code == 202, r.text
    assert app.state.service.json_bodies._pool is not None  # it went to the helper
    # No single stall takes most of the request (parsed in place, the parse was one stall of
    # about three quarters of it): relative, so a slow machine changes nothing.
    assert max(gaps) < 0.5 * took, (max(gaps), took)
    dataset = (await client.get(f"/v1/datasets/{r.json()['dataset_id']}")).json()
    assert dataset["n_samples"] == 250_000
    assert (await wait_for(client, r.json()["id"], timeout=120))["state"] == "succeeded"


async def test_too_many_large_bodies_at_once_get_503_with_retry_after(
    tmp_path: Any, idle_scheduler: str
) -> None:
    """Large JSON bodies are held in memory while received and parsed: past the operator's
    bound on those in flight, one more is asked to come back (503 + Retry-After) before a byte
    of it is read; small requests go on, and the bound frees when the first body is done."""
    import asyncio

    from service_testing import ALICE_KEY, auth, in_process_client, make_settings, running

    from service.app import create_app

    body = _rows_body(20_000, 16)  # about 2.4 MiB of rows
    settings = make_settings(tmp_path, idle_scheduler, max_json_in_flight_bytes=len(body) + 1)
    async with running(create_app(settings)) as app, in_process_client(app, ALICE_KEY) as client:
        release = asyncio.Event()
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:  # half the body, then a slow client
            if not sent and not release.is_set():
                sent.append({})
                return {"type": "http.request", "body": body[:1000], "more_body": True}
            await release.wait()
            return {"type": "http.request", "body": body[1000:], "more_body": False}

        responses: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            responses.append(message)

        headers = [(k.lower().encode(), v.encode()) for k, v in auth(ALICE_KEY).items()]
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": "POST", "scheme": "http", "path": "/v1/datasets",
            "raw_path": b"/v1/datasets", "query_string": b"", "root_path": "",
            "server": ("testserver", 80), "client": ("127.0.0.1", 1),
            "headers": [*headers, (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode())],
        }  # fmt: skip
        slow = asyncio.create_task(app(scope, receive, send))
        await asyncio.sleep(0.1)  # the slow body holds its place
        r = await client.post("/v1/datasets", content=body, headers=JSON)
        problem = assert_problem(r, 503, "overloaded")
        assert int(r.headers["Retry-After"]) >= 1 and "npy" in problem["detail"]
        small = await client.post("/v1/datasets", content=_rows_body(50, 4), headers=JSON)
        assert small.status_code == 201, small.text
        assert (await client.get("/v1/datasets")).json()["count"] == 1  # nothing else stored
        release.set()
        await slow
        assert next(m for m in responses if m["type"] == "http.response.start")["status"] == 201
        again = await client.post("/v1/datasets", content=body, headers=JSON)
        assert again.status_code == 201, again.text
