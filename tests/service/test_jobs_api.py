"""/v1/jobs in-process, against a real Dask cluster: create, status, list, cancel, codes, and
every refusal (options, limits, backends, idempotency, quotas)."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from service_testing import (
    LONG_FIT,
    NPY,
    assert_problem,
    cupy_available_here,
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
from service.schemas.jobs import SERVICE_OWNED, FitSpec

pytestmark = pytest.mark.anyio


def test_job_spec_takes_every_fit_option_and_its_default() -> None:
    fields = {f.name: f.default for f in dataclasses.fields(solvers.FitOptions)}
    exposed = {name: info.default for name, info in FitSpec.model_fields.items()}
    assert set(exposed) == set(fields) - SERVICE_OWNED
    assert exposed == {name: fields[name] for name in exposed}


async def test_fit_from_dataset(client: httpx.AsyncClient) -> None:
    job = await fitted(client)
    assert job["attempts"] == 1 and job["error"] is None
    assert job["stop_reason"] in {"max_iter", "converged"} and job["n_iter"] >= 1
    assert job["progress"]["iteration"] == job["n_iter"] and job["model_id"].startswith("mdl_")
    assert job["options"]["mode"] == solvers.DEFAULTS.mode  # defaults are filled in
    r = await client.get(f"/v1/jobs/{job['id']}/codes")
    codes = r.json()
    assert r.status_code == 200 and codes["shape"] == [200, 8] and len(codes["data"]) == 200
    r = await client.get(f"/v1/jobs/{job['id']}/codes", headers={"Accept": NPY})
    assert r.headers["content-type"] == NPY
    np.testing.assert_allclose(load_npy(r.content), np.array(codes["data"]))
    r = await client.get(f"/v1/jobs/{job['id']}/codes", headers={"Accept": "text/html"})
    assert_problem(r, 406, "not-acceptable")


async def test_inline_data_job(client: httpx.AsyncClient) -> None:
    job = await submit(client, data=matrix(40, 6).tolist(), n_components=3, max_iter=5)
    done = await wait_for(client, job["id"])
    assert done["state"] == "succeeded"
    r = await client.get(f"/v1/datasets/{done['dataset_id']}")
    assert r.json()["n_samples"] == 40


@pytest.mark.parametrize(
    "spec",
    [
        {"alpha": 0},
        {"mode": "sometimes"},
        {"code_solver": "magic"},
        {"max_iter": 0},
        {"averaging": 2.0},
        {"polyak_burn_in": -1},
        {"averaging": 0.1, "polyak_burn_in": 1.0},
        {"init": "random"},
        {"dtype": "float16"},
        {"n_components": 0},
        {"learning_rate": 0.1},
        {"checkpoint_interval": 0},
    ],
)
async def test_invalid_options(client: httpx.AsyncClient, spec: dict[str, object]) -> None:
    dataset_id = await upload(client, matrix(20, 4))
    body = {"dataset_id": dataset_id, "n_components": 2, **spec}
    problem = assert_problem(await client.post("/v1/jobs", json=body), 422)
    assert problem["errors"] if problem["type"].endswith("validation") else problem["detail"]


async def test_a_job_returns_the_uniform_average_it_asks_for(client: httpx.AsyncClient) -> None:
    """polyak_burn_in reaches the fit: the model is the uniform average of the dictionaries
    after the burn-in, the same as solvers.fit's with the job's options."""
    X = matrix(400, 8, seed=3)
    options = {"mode": "online", "batch_size": 100, "tol": 0.0, "polyak_burn_in": 1.0}
    done = await fitted(client, X, n_components=4, max_iter=3, **options)
    r = await client.get(f"/v1/models/{done['model_id']}/dictionary", headers={"Accept": NPY})
    expected = solvers.fit(X, 4, alpha=0.3, max_iter=3, random_state=0, **options)
    np.testing.assert_allclose(load_npy(r.content), expected.dictionary, atol=1e-10)


async def test_exactly_one_data_source(client: httpx.AsyncClient) -> None:
    dataset_id = await upload(client, matrix(20, 4))
    both = {"dataset_id": dataset_id, "data": [[1.0]], "n_components": 1}
    assert_problem(await client.post("/v1/jobs", json=both), 422, "validation")
    assert_problem(await client.post("/v1/jobs", json={"n_components": 1}), 422, "validation")
    nan = b'{"data": [[1.0, NaN]], "n_components": 1}'
    r = await client.post("/v1/jobs", content=nan, headers={"Content-Type": "application/json"})
    assert "NaN" in assert_problem(r, 422, "invalid-array")["detail"]


async def test_too_many_components(app, client) -> None:  # type: ignore[no-untyped-def]
    limit = app.state.service.settings.max_n_components
    dataset_id = await upload(client, matrix(20, 4))
    r = await client.post("/v1/jobs", json={"dataset_id": dataset_id, "n_components": limit + 1})
    assert str(limit) in assert_problem(r, 422, "invalid-input")["detail"]


async def test_unknown_or_foreign_dataset(client, bob) -> None:  # type: ignore[no-untyped-def]
    r = await client.post("/v1/jobs", json={"dataset_id": "ds_nope", "n_components": 2})
    assert_problem(r, 404, "not-found")
    dataset_id = await upload(client, matrix(20, 4))
    r = await bob.post("/v1/jobs", json={"dataset_id": dataset_id, "n_components": 2})
    assert_problem(r, 404, "not-found")


async def test_cupy_without_gpu_names_available_backends(client: httpx.AsyncClient) -> None:
    if cupy_available_here():
        pytest.skip("cupy is available on this machine: its workers have a GPU")
    dataset_id = await upload(client, matrix(20, 4))
    r = await client.post(
        "/v1/jobs", json={"dataset_id": dataset_id, "n_components": 2, "backend": "cupy"}
    )
    problem = assert_problem(r, 409, "backend-unavailable")
    assert problem["available"] == ["numpy"] and "numpy" in problem["detail"]


async def test_idempotency_key(idle_client: httpx.AsyncClient) -> None:
    dataset_id = await upload(idle_client, matrix(20, 4))
    body = {"dataset_id": dataset_id, "n_components": 2}
    headers = {"Idempotency-Key": "order-42"}
    first = await idle_client.post("/v1/jobs", json=body, headers=headers)
    again = await idle_client.post("/v1/jobs", json=body, headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"] and again.headers["idempotent-replayed"]
    other = await idle_client.post("/v1/jobs", json={**body, "alpha": 2.0}, headers=headers)
    assert assert_problem(other, 422, "idempotency-key-reused")["job_id"] == first.json()["id"]
    assert (await idle_client.get("/v1/jobs")).json()["count"] == 1


async def test_queued_job_limit_answers_429(idle_client: httpx.AsyncClient) -> None:
    dataset_id = await upload(idle_client, matrix(20, 4))
    body = {"dataset_id": dataset_id, "n_components": 2}
    for _ in range(2):
        await submit(idle_client, **body)
    r = await idle_client.post("/v1/jobs", json=body)
    assert_problem(r, 429, "too-many-queued-jobs")
    assert r.headers["retry-after"] == "7"


async def test_list_with_paging_and_status(idle_client: httpx.AsyncClient) -> None:
    dataset_id = await upload(idle_client, matrix(20, 4))
    a = await submit(idle_client, dataset_id=dataset_id, n_components=2)
    b = await submit(idle_client, dataset_id=dataset_id, n_components=3)
    await idle_client.post(f"/v1/jobs/{a['id']}/cancel")
    page = (await idle_client.get("/v1/jobs", params={"limit": 1})).json()
    assert page["count"] == 2 and [j["id"] for j in page["data"]] == [b["id"]]
    page = (await idle_client.get("/v1/jobs", params={"limit": 1, "offset": 1})).json()
    assert [j["id"] for j in page["data"]] == [a["id"]]
    queued = (await idle_client.get("/v1/jobs", params={"status": "queued"})).json()
    assert [j["id"] for j in queued["data"]] == [b["id"]] and queued["count"] == 1
    r = await idle_client.get("/v1/jobs", params={"status": "sleeping"})
    assert_problem(r, 422, "validation")


async def test_cancel_queued_job_at_once(idle_client: httpx.AsyncClient) -> None:
    job = await submit(idle_client, data=matrix(20, 4).tolist(), n_components=2)
    r = await idle_client.post(f"/v1/jobs/{job['id']}/cancel")
    assert r.status_code == 202 and r.json()["state"] == "cancelled"
    r = await idle_client.post(f"/v1/jobs/{job['id']}/cancel")  # idempotent
    assert r.status_code == 202 and r.json()["state"] == "cancelled"
    assert_problem(await idle_client.get(f"/v1/jobs/{job['id']}/codes"), 409, "conflict")


async def test_cancel_running_job_within_two_seconds(client: httpx.AsyncClient) -> None:
    dataset_id = await upload(client, matrix(2000, 64))
    job = await submit(client, dataset_id=dataset_id, **LONG_FIT)
    await wait_for(client, job["id"], {"running"}, predicate=lambda j: j["progress"])
    asked = time.monotonic()
    r = await client.post(f"/v1/jobs/{job['id']}/cancel")
    assert r.status_code == 202 and r.json()["cancel_requested"]
    done = await wait_for(client, job["id"], timeout=10)
    assert done["state"] == "cancelled" and done["stop_reason"] == "cancelled"
    assert time.monotonic() - asked < 2.5
    assert_problem(await client.get(f"/v1/jobs/{job['id']}/codes"), 409, "conflict")


async def test_cancel_finished_job_is_a_conflict(client: httpx.AsyncClient) -> None:
    job = await fitted(client)
    assert_problem(await client.post(f"/v1/jobs/{job['id']}/cancel"), 409, "conflict")


async def test_unknown_and_foreign_jobs_are_404(client, bob) -> None:  # type: ignore[no-untyped-def]
    job = await fitted(client)
    for path in ["", "/codes", "/events"]:
        assert_problem(await bob.get(f"/v1/jobs/{job['id']}{path}"), 404, "not-found")
        assert_problem(await client.get(f"/v1/jobs/job_nope{path}"), 404, "not-found")
    assert_problem(await bob.post(f"/v1/jobs/{job['id']}/cancel"), 404, "not-found")
    assert (await bob.get("/v1/jobs")).json() == {"data": [], "count": 0}


async def test_a_job_whose_data_vanished_fails_with_the_reason(app, client) -> None:  # type: ignore[no-untyped-def]
    dataset_id = await upload(client, matrix(20, 4))
    app.state.service.layout.dataset(dataset_id).unlink()
    job = await submit(client, dataset_id=dataset_id, n_components=2)
    done = await wait_for(client, job["id"])
    assert done["state"] == "failed" and "No such file" in done["error"]


async def test_init_from_a_model(client: httpx.AsyncClient) -> None:
    first = await fitted(client)
    second = await fitted(client, init=first["model_id"], max_iter=3)
    assert second["options"]["init"] == first["model_id"]
    dataset_id = second["dataset_id"]
    r = await client.post(
        "/v1/jobs", json={"dataset_id": dataset_id, "n_components": 5, "init": first["model_id"]}
    )
    assert "8 atoms" in assert_problem(r, 422, "invalid-input")["detail"]
    r = await client.post(
        "/v1/jobs", json={"dataset_id": dataset_id, "n_components": 8, "init": "mdl_nope"}
    )
    assert_problem(r, 404, "not-found")


async def test_data_parallel_job_matches_a_local_one(client: httpx.AsyncClient) -> None:
    X = matrix(300, 12, seed=4)
    local = await fitted(client, X, execution="local", tol=0.0)
    spread = await fitted(client, X, execution="data_parallel", tol=0.0)
    assert spread["options"]["execution"] == "data_parallel"
    assert spread["n_iter"] == local["n_iter"]
    assert spread["objective"] == pytest.approx(local["objective"], rel=1e-6)
    W = {}
    for name, job in (("local", local), ("spread", spread)):
        r = await client.get(f"/v1/models/{job['model_id']}/dictionary", headers={"Accept": NPY})
        W[name] = load_npy(r.content)
    np.testing.assert_allclose(W["spread"], W["local"], atol=1e-6)


async def test_a_dictionary_as_large_as_the_data_is_accepted_with_a_warning(
    client: httpx.AsyncClient,
) -> None:
    dataset_id = await upload(client, matrix(20, 4))
    job = await submit(client, dataset_id=dataset_id, n_components=20, max_iter=2)
    assert len(job["warnings"]) == 1
    assert "n_components=20 is not smaller than n_samples=20" in job["warnings"][0]
    assert "memorises the data" in job["warnings"][0]
    done = await wait_for(client, job["id"])
    assert done["state"] == "succeeded" and done["warnings"] == job["warnings"]
    usual = await submit(client, dataset_id=dataset_id, n_components=3, max_iter=2)
    assert usual["warnings"] == []


async def test_a_running_job_says_what_it_does(client: httpx.AsyncClient) -> None:
    job = await submit(client, data=matrix(1000, 32).tolist(), **LONG_FIT)
    running = await wait_for(client, job["id"], {"running"}, predicate=lambda j: j["progress"])
    assert running["phase"] == "fitting"
    await client.post(f"/v1/jobs/{job['id']}/cancel")
    done = await wait_for(client, job["id"])
    assert done["state"] == "cancelled" and done["phase"] is None


async def test_a_job_stops_at_the_runtime_cap(tmp_path: Path, dask_scheduler: str) -> None:
    """max_iter 2⁶⁴ with tol 0 and no time limit ran for ever; the cap ends it, as a result,
    and says so. A smaller time_limit still applies, as itself."""
    app = create_app(make_settings(tmp_path, dask_scheduler, max_job_seconds=1.0))
    async with running(app), in_process_client(app) as client:
        endless = {"data": matrix(500, 16).tolist(), "n_components": 8, "tol": 0.0}
        job = await submit(client, **endless, max_iter=2**64)
        assert job["runtime_cap_s"] == 1.0
        done = await wait_for(client, job["id"], timeout=60)
        assert done["state"] == "succeeded" and done["stop_reason"] == "runtime_cap", done
        assert done["model_id"] and done["progress"]["elapsed_s"] < 10
        sooner = await submit(client, **endless, max_iter=10**9, time_limit=0.3)
        done = await wait_for(client, sooner["id"], timeout=60)
        assert done["state"] == "succeeded" and done["stop_reason"] == "time_limit", done
