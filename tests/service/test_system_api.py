"""/healthz, /readyz, /metrics, /v1/backends, the OpenAPI description and generic errors."""

from __future__ import annotations

import httpx
import pytest
from service_testing import METRICS_KEY, assert_problem, auth, cupy_available_here, fitted

pytestmark = pytest.mark.anyio

OPERATION_IDS = {
    "upload_dataset", "list_datasets", "get_dataset", "delete_dataset", "create_job", "list_jobs",
    "get_job", "cancel_job", "stream_job_events", "get_job_codes", "list_models", "get_model",
    "get_model_dictionary", "encode_with_model", "get_model_atoms_png", "list_backends",
    "healthz", "readyz", "metrics",
}  # fmt: skip


async def test_health_and_readiness(anonymous: httpx.AsyncClient) -> None:
    assert (await anonymous.get("/healthz")).json() == {"status": "ok"}
    ready = (await anonymous.get("/readyz")).json()
    assert ready["status"] == "ready" and ready["database"] and ready["workers"] == 2


async def test_metrics_count_jobs_by_state(app, client, anonymous) -> None:  # type: ignore[no-untyped-def]
    job = await fitted(client)
    # every tenant's activity: for the operator's key only, not anyone's, not a tenant's
    assert "metrics key" in assert_problem(await anonymous.get("/metrics"), 401)["detail"]
    assert_problem(await client.get("/metrics"), 401)
    settings = app.state.service.settings
    configured, settings.metrics_key = settings.metrics_key, None
    try:  # no operator key set: nobody sees them, and the answer says how to set one
        r = await anonymous.get("/metrics", headers=auth(METRICS_KEY))
        assert "SPARSECODING_METRICS_KEY" in assert_problem(r, 401)["detail"]
    finally:
        settings.metrics_key = configured
    r = await anonymous.get("/metrics", headers=auth(METRICS_KEY))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert 'sparsecoding_jobs{state="succeeded"} 1.0' in text
    assert "sparsecoding_queue_length 0.0" in text
    assert 'sparsecoding_fit_seconds_count{state="succeeded"} 1.0' in text
    assert f"sparsecoding_fit_iterations_total {float(job['n_iter'])}" in text


async def test_backends(client, anonymous) -> None:  # type: ignore[no-untyped-def]
    if cupy_available_here():
        pytest.skip("cupy is available on this machine: its workers have a GPU")
    assert_problem(await anonymous.get("/v1/backends"), 401)
    backends = {b["name"]: b for b in (await client.get("/v1/backends")).json()["data"]}
    assert backends["numpy"]["available"] and len(backends["numpy"]["workers"]) == 2
    assert not backends["cupy"]["available"] and backends["cupy"]["reason"]


async def test_generic_errors_are_problems(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/v1/nothing-here"), 404)
    assert_problem(await client.put("/v1/jobs"), 405)
    r = await client.post("/v1/jobs", content=b"{", headers={"Content-Type": "application/json"})
    assert_problem(r, 422, "validation")


async def test_openapi_documents_every_operation_and_error(anonymous: httpx.AsyncClient) -> None:
    spec = (await anonymous.get("/openapi.json")).json()
    operations = {op["operationId"]: op for path in spec["paths"].values() for op in path.values()}
    assert set(operations) == OPERATION_IDS
    assert "Problem" in spec["components"]["schemas"]
    assert "ApiKey" in spec["components"]["securitySchemes"]
    for name, op in operations.items():
        if name in {"healthz", "readyz", "metrics"}:
            continue
        problem = op["responses"]["401"]["content"]["application/problem+json"]
        assert problem["schema"] == {"$ref": "#/components/schemas/Problem"}, name
    for name in ("get_job_codes", "get_model_dictionary", "encode_with_model"):
        assert "application/x-npy" in operations[name]["responses"]["200"]["content"]
    upload = operations["upload_dataset"]["requestBody"]["content"]
    assert {"application/x-npy", "application/json"} <= set(upload)
    assert "429" in operations["create_job"]["responses"]
    assert "text/event-stream" in operations["stream_job_events"]["responses"]["200"]["content"]
