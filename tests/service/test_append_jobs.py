"""Append jobs: a model learns on from new data, its online statistics carried forward."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pytest
from service_testing import (
    NPY,
    assert_problem,
    fitted,
    in_process_client,
    load_npy,
    make_settings,
    matrix,
    running,
    submit,
    upload,
    wait_for,
)

import solvers
from service.app import create_app

pytestmark = pytest.mark.anyio

FIRST = {"mode": "online", "batch_size": 100, "max_iter": 5, "alpha": 0.3, "random_state": 0}


async def _dictionary(client: httpx.AsyncClient, model_id: str) -> np.ndarray:
    r = await client.get(f"/v1/models/{model_id}/dictionary", headers={"Accept": NPY})
    return load_npy(r.content)


async def test_appending_carries_the_statistics_forward(client: httpx.AsyncClient) -> None:
    """Two pieces: a fit on the first, then an append job on the second, give the model the
    library gives: the fit's stream (`OnlineModel.from_fit`) learning on from the second."""
    X1, X2 = matrix(400, 16, seed=1), matrix(300, 16, seed=2)
    first = await fitted(client, X1, **FIRST)
    second_id = await upload(client, X2)
    job = await submit(
        client, dataset_id=second_id, n_components=8, init=first["model_id"], append=True
    )
    done = await wait_for(client, job["id"])
    assert done["state"] == "succeeded", done
    appended = await _dictionary(client, done["model_id"])

    result = solvers.fit(X1, 8, **FIRST)
    stream = solvers.OnlineModel.from_fit(X1, result)
    solvers.partial_fit(X2, stream)
    np.testing.assert_allclose(appended, stream.dictionary, atol=1e-10)
    model = (await client.get(f"/v1/models/{done['model_id']}")).json()
    assert model["alpha"] == 0.3  # the stream's own, not the job spec's default
    codes = load_npy(
        (await client.get(f"/v1/jobs/{done['id']}/codes", headers={"Accept": NPY})).content
    )
    assert codes.shape == (300, 8)
    np.testing.assert_allclose(codes, solvers.encode(X2, appended, alpha=0.3), atol=1e-8)
    # and on again, from the appended model
    again = await submit(
        client, dataset_id=second_id, n_components=8, init=done["model_id"], append=True
    )
    assert (await wait_for(client, again["id"]))["state"] == "succeeded"


async def test_append_refusals(client: httpx.AsyncClient, bob: httpx.AsyncClient) -> None:
    X = matrix(200, 16, seed=3)
    model_id = (await fitted(client, X, **FIRST))["model_id"]
    dataset_id = await upload(client, X)
    base = {"dataset_id": dataset_id, "n_components": 8}
    no_model = await client.post("/v1/jobs", json={**base, "append": True})
    assert "init" in str(assert_problem(no_model, 422))
    options = await client.post(
        "/v1/jobs", json={**base, "init": model_id, "append": True, "alpha": 2.0}
    )
    assert "alpha" in str(assert_problem(options, 422))
    theirs = await upload(bob, X)
    r = await bob.post(
        "/v1/jobs",
        json={"dataset_id": theirs, "n_components": 8, "init": model_id, "append": True},
    )
    assert_problem(r, 404)
    narrow = await upload(client, X[:, :8])
    r = await client.post(
        "/v1/jobs",
        json={"dataset_id": narrow, "n_components": 8, "init": model_id, "append": True},
    )
    assert "features" in assert_problem(r, 422)["detail"]


async def test_an_append_job_stops_at_the_runtime_cap(tmp_path: Path, dask_scheduler: str) -> None:
    """The deployment's runtime cap ends an append job's pass too (it ran to the end of the
    rows whatever the cap): at the first progress report past it, a tenth of the rows
    learned, stored as a model with stop_reason runtime_cap."""
    X1, X2 = matrix(400, 16, seed=1), matrix(3000, 16, seed=2)
    async with running(create_app(make_settings(tmp_path, dask_scheduler))) as app:
        async with in_process_client(app) as client:
            first = await fitted(client, X1, **FIRST)
    capped = create_app(make_settings(tmp_path, dask_scheduler, max_job_seconds=1e-3))
    async with running(capped), in_process_client(capped) as client:
        second_id = await upload(client, X2)
        job = await submit(
            client, dataset_id=second_id, n_components=8, init=first["model_id"], append=True
        )
        done = await wait_for(client, job["id"])
        assert done["state"] == "succeeded" and done["stop_reason"] == "runtime_cap", done
        appended = await _dictionary(client, done["model_id"])
    stream = solvers.OnlineModel.from_fit(X1, solvers.fit(X1, 8, **FIRST))
    solvers.partial_fit(X2[:300], stream)  # three mini-batches of 100: the first report
    np.testing.assert_allclose(appended, stream.dictionary, atol=1e-10)
