"""/v1/models in-process: metadata, dictionary, encode, atoms image, and their refusals."""

from __future__ import annotations

import io

import httpx
import numpy as np
import pytest
from PIL import Image
from service_testing import NPY, assert_problem, fitted, load_npy, matrix, npy

import solvers

pytestmark = pytest.mark.anyio


async def test_model_metadata_and_dictionary(client: httpx.AsyncClient) -> None:
    job = await fitted(client)
    model_id = job["model_id"]
    model = (await client.get(f"/v1/models/{model_id}")).json()
    assert model["job_id"] == job["id"] and (model["n_components"], model["n_features"]) == (8, 16)
    assert model["alpha"] == 0.3 and model["objective"] == pytest.approx(job["objective"])
    listed = (await client.get("/v1/models")).json()
    assert listed["count"] == 1 and listed["data"][0]["id"] == model_id
    as_json = (await client.get(f"/v1/models/{model_id}/dictionary")).json()
    r = await client.get(f"/v1/models/{model_id}/dictionary", headers={"Accept": NPY})
    assert r.headers["content-type"] == NPY
    W = load_npy(r.content)
    assert W.shape == (8, 16) and as_json["shape"] == [8, 16]
    np.testing.assert_allclose(W, np.array(as_json["data"]))
    assert np.all(np.linalg.norm(W, axis=1) <= 1 + 1e-9)
    r = await client.get(
        f"/v1/models/{model_id}/dictionary", headers={"Accept": "application/x-npy;q=0.5, */*"}
    )
    assert r.headers["content-type"] == "application/json"


async def test_encode_json_and_npy(client: httpx.AsyncClient) -> None:
    job = await fitted(client)
    model_id = job["model_id"]
    W = load_npy(
        (await client.get(f"/v1/models/{model_id}/dictionary", headers={"Accept": NPY})).content
    )
    X = matrix(16, 16, seed=5)
    r = await client.post(f"/v1/models/{model_id}/encode", json={"data": X.tolist()})
    assert r.status_code == 200, r.text
    codes = np.array(r.json()["codes"])
    expected = solvers.encode(X, W, alpha=0.3)
    np.testing.assert_allclose(codes, expected, atol=1e-8)
    assert r.json()["objective"] == pytest.approx(solvers.objective(X, expected, W, 0.3))
    r = await client.post(
        f"/v1/models/{model_id}/encode?alpha=5&positive=true",
        content=npy(X),
        headers={"Content-Type": NPY, "Accept": NPY},
    )
    codes = load_npy(r.content)
    assert codes.shape == (16, 8) and codes.min() >= 0
    assert np.count_nonzero(codes) < np.count_nonzero(expected)


async def test_encode_with_omp_json_and_npy(client: httpx.AsyncClient) -> None:
    """code_solver=omp: n_nonzero_coefs atoms per row, the library's codes, no lasso objective;
    out-of-range counts are refused with the problem named."""
    model_id = (await fitted(client))["model_id"]
    W = load_npy(
        (await client.get(f"/v1/models/{model_id}/dictionary", headers={"Accept": NPY})).content
    )
    X = matrix(12, 16, seed=6)
    url = f"/v1/models/{model_id}/encode"
    body = {"data": X.tolist(), "code_solver": "omp", "n_nonzero_coefs": 2}
    r = await client.post(url, json=body)
    assert r.status_code == 200, r.text
    codes = np.array(r.json()["codes"])
    assert r.json()["objective"] is None
    np.testing.assert_allclose(
        codes, solvers.encode(X, W, code_solver="omp", n_nonzero_coefs=2), atol=1e-10
    )
    assert np.all(np.count_nonzero(codes, axis=1) == 2)
    r = await client.post(
        f"{url}?code_solver=omp&n_nonzero_coefs=3",
        content=npy(X),
        headers={"Content-Type": NPY, "Accept": NPY},
    )
    assert np.all(np.count_nonzero(load_npy(r.content), axis=1) == 3)
    too_many = {"data": X.tolist(), "code_solver": "omp", "n_nonzero_coefs": 9}
    assert "n_nonzero_coefs" in assert_problem(await client.post(url, json=too_many), 422)["detail"]
    zero = {"data": X.tolist(), "code_solver": "omp", "n_nonzero_coefs": 0}
    assert_problem(await client.post(url, json=zero), 422)
    assert_problem(
        await client.post(f"{url}?code_solver=ksvd", content=npy(X), headers={"Content-Type": NPY}),
        422,
    )


async def test_encode_refusals(app, client) -> None:  # type: ignore[no-untyped-def]
    model_id = (await fitted(client))["model_id"]
    url = f"/v1/models/{model_id}/encode"
    r = await client.post(url, json={"data": [[1.0, 2.0]]})
    assert "16" in assert_problem(r, 422, "invalid-array")["detail"]
    r = await client.post(
        url,
        content=b'{"data": [[NaN' + b", 0" * 15 + b"]]}",
        headers={"Content-Type": "application/json"},
    )
    assert "NaN" in assert_problem(r, 422, "invalid-array")["detail"]
    assert_problem(await client.post(url, json={"data": [[0.0] * 16], "alpha": -1}), 422)
    assert_problem(await client.post(url, json={"data": [[0.0] * 16], "bogus": 1}), 422)
    # the same body problem as an upload's (it was invalid-input here, invalid-array there)
    assert_problem(await client.post(url, json=[[0.0] * 16]), 422, "invalid-array")
    assert_problem(
        await client.post(url, content=b"{", headers={"Content-Type": "application/json"}), 422
    )
    assert_problem(
        await client.post(url, content=b"x", headers={"Content-Type": "text/plain"}), 415
    )
    r = await client.post(
        url,
        content=npy(np.zeros((2, 2), dtype=object), allow_pickle=True),
        headers={"Content-Type": NPY},
    )
    assert_problem(r, 422, "invalid-array")
    app.state.service.settings.encode_max_values = 100
    try:
        r = await client.post(url, json={"data": [[0.0] * 16] * 7})
        assert_problem(r, 413, "payload-too-large")
    finally:
        app.state.service.settings.encode_max_values = 4_000_000


async def test_atoms_png(client: httpx.AsyncClient) -> None:
    square = (await fitted(client))["model_id"]  # 16 features: 4×4 patches
    r = await client.get(f"/v1/models/{square}/atoms.png", params={"scale": 2})
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(r.content))
    assert image.mode == "L" and image.size == (3 * 9 + 1, 3 * 9 + 1)  # 3×3 grid of 8px tiles
    strips = (await fitted(client, X=matrix(100, 10)))["model_id"]  # 10 features: strips
    r = await client.get(f"/v1/models/{strips}/atoms.png", params={"scale": 1})
    assert Image.open(io.BytesIO(r.content)).size == (12, 8 * 2 + 1)
    assert_problem(await client.get(f"/v1/models/{strips}/atoms.png?scale=0"), 422, "validation")


async def test_foreign_and_unknown_models_are_404(client, bob) -> None:  # type: ignore[no-untyped-def]
    model_id = (await fitted(client))["model_id"]
    for path in ["", "/dictionary", "/atoms.png"]:
        assert_problem(await bob.get(f"/v1/models/{model_id}{path}"), 404, "not-found")
        assert_problem(await client.get(f"/v1/models/mdl_nope{path}"), 404, "not-found")
    r = await bob.post(f"/v1/models/{model_id}/encode", json={"data": [[0.0] * 16]})
    assert_problem(r, 404, "not-found")
    assert (await bob.get("/v1/models")).json()["count"] == 0
