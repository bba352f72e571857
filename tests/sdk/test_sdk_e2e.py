"""End to end through the Python SDK (the generated `sparsecoding_client` and the
`sparsecoding_sdk` layer) against a real `sparsecoding serve`."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from server_process import Server
from service_testing import matrix

pytestmark = pytest.mark.usefixtures("sdk_installed")

X = matrix(200, 16, seed=3)
SMALL = {"alpha": 0.2, "max_iter": 8, "random_state": 0}
X_LONG = matrix(1000, 32, seed=1)
# runs for about a minute unless cancelled
LONG = {"alpha": 0.2, "max_iter": 100_000, "tol": 0.0, "time_limit": 60, "random_state": 0}


def test_upload_array_and_file(sc: Any, tmp_path: Path) -> None:
    ds = sc.upload(X, name="patches")
    assert (ds.n_samples, ds.n_features, ds.dtype, ds.name) == (200, 16, "float64", "patches")
    assert sc.dataset(ds.id).sha256 == ds.sha256
    path = tmp_path / "X32.npy"
    np.save(path, X.astype(np.float32))
    from_file = sc.upload(path)
    assert (from_file.n_samples, from_file.dtype) == (200, "float32")
    assert {ds.id, from_file.id} <= {d.id for d in sc.datasets(limit=100).data}
    sc.delete_dataset(from_file.id)
    with pytest.raises(Exception, match="404"):
        sc.dataset(from_file.id)


def test_fit_with_progress_dictionary_codes_encode(sc: Any) -> None:
    import solvers

    seen: list[Any] = []
    job = sc.fit(X, 4, progress=seen.append, timeout=120, **SMALL)
    assert job.state == "succeeded", job.error
    assert [p.iteration for p in seen] == list(range(1, len(seen) + 1))
    assert len(seen) == job.n_iter
    W = sc.dictionary(job.model_id)
    H = sc.codes(job.id)
    assert W.shape == (4, 16) and H.shape == (200, 4)
    assert solvers.objective(X, H, W, 0.2) == pytest.approx(job.objective, rel=1e-9)
    model = sc.model(job.model_id)
    assert (model.n_components, model.n_features, model.job_id) == (4, 16, job.id)
    from sparsecoding_sdk import ApiError

    with pytest.raises(ApiError) as caught:
        sc.cancel(job.id)  # a finished job has nothing to cancel
    assert caught.value.status == 409 and caught.value.type.endswith(":conflict")
    codes = sc.encode(job.model_id, X[:5])
    assert codes.shape == (5, 4)
    expected = solvers.encode(X[:5], W, alpha=0.2)
    np.testing.assert_allclose(codes, expected, atol=1e-6)
    sparse = sc.encode(job.model_id, X[:5], code_solver="omp", n_nonzero_coefs=1)
    assert np.all(np.count_nonzero(sparse, axis=1) == 1)


def test_events_stream_then_status(sc: Any) -> None:
    job = sc.submit(sc.upload(X).id, 3, **SMALL)
    events = list(sc.events(job.id))
    kinds = [e.kind for e in events]
    assert kinds[-1] == "status" and set(kinds[:-1]) <= {"progress"}
    final = events[-1].data
    assert final.state == "succeeded" and final.model_id
    ids = [int(e.id) for e in events[:-1]]
    assert ids == sorted(ids) and len(ids) == final.n_iter
    # resuming after the second event yields the rest only
    rest = list(sc.events(job.id, last_event_id="2"))
    assert [int(e.id) for e in rest[:-1]] == ids[2:]


def test_cancel_a_running_job(sc: Any) -> None:
    job = sc.submit(X_LONG, 16, **LONG)
    first = next(e for e in sc.events(job.id) if e.kind == "progress")
    assert first.data.iteration >= 1
    cancelled = sc.cancel(job.id)
    assert cancelled.cancel_requested
    final = sc.wait(job.id, timeout=60)
    assert final.state == "cancelled"
    listed = sc.jobs(state="cancelled", limit=100)
    assert job.id in {j.id for j in listed.data}
    from sparsecoding_sdk import ApiError

    with pytest.raises(ApiError) as caught:
        sc.codes(job.id)
    assert caught.value.status == 409
    assert sc.cancel(job.id).state == "cancelled"  # cancelling again is idempotent


def test_errors_are_problems(sc: Any, server: Server) -> None:
    from sparsecoding_sdk import ApiError, SparseCoding

    with pytest.raises(ApiError) as caught:
        sc.job("job_nope")
    assert caught.value.status == 404 and caught.value.type == "urn:sparsecoding:problem:not-found"
    with pytest.raises(ApiError) as caught:
        sc.submit("ds_nope", 4)
    assert caught.value.status == 404
    with pytest.raises(ApiError) as caught:
        sc.submit(sc.upload(X).id, 0)
    assert caught.value.status == 422
    assert caught.value.problem.additional_properties["errors"][0]["loc"][-1] == "n_components"
    with pytest.raises(ApiError) as caught:
        sc.upload(np.array([[1.0, np.nan]]))
    assert caught.value.status == 422
    with pytest.raises(ApiError) as caught:
        sc.upload(io.BytesIO(b"not an npy file"))
    assert caught.value.status == 422
    with pytest.raises(ApiError) as caught:
        sc.dictionary("mdl_nope")
    assert caught.value.status == 404
    with SparseCoding(server.url, "wrong-key-0123456789abcdef") as stranger:
        with pytest.raises(ApiError) as caught:
            stranger.jobs()
    assert caught.value.status == 401


def test_generated_client_directly(server: Server) -> None:
    from service_testing import ALICE_KEY
    from sparsecoding_client import AuthenticatedClient, Client
    from sparsecoding_client.api.datasets import upload_dataset
    from sparsecoding_client.api.jobs import list_jobs
    from sparsecoding_client.api.system import healthz
    from sparsecoding_client.models import DatasetPublic, JobsPublic, MatrixUpload, Problem

    with AuthenticatedClient(base_url=server.url, token=ALICE_KEY) as client:
        ds = upload_dataset.sync(client=client, body=MatrixUpload(data=[[1.0, 2.0], [3.0, 4.0]]))
        assert isinstance(ds, DatasetPublic) and (ds.n_samples, ds.n_features) == (2, 2)
        assert isinstance(list_jobs.sync(client=client, limit=5), JobsPublic)
    with Client(base_url=server.url) as anonymous:
        assert healthz.sync(client=anonymous).status == "ok"
        denied = list_jobs.sync(client=anonymous)  # type: ignore[arg-type]
        assert isinstance(denied, Problem) and denied.status == 401
