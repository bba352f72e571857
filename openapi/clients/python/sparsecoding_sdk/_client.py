"""`SparseCoding`: the convenience client. Every JSON operation goes through the generated
functions (`sparsecoding_client.api.*`); only what the generator cannot express (`.npy`
downloads chosen by `Accept`, the SSE stream) uses the generated client's httpx session."""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import httpx
import numpy as np
from sparsecoding_client import AuthenticatedClient
from sparsecoding_client.api.datasets import (
    delete_dataset,
    get_dataset,
    list_datasets,
    upload_dataset,
)
from sparsecoding_client.api.jobs import cancel_job, create_job, get_job, list_jobs
from sparsecoding_client.api.models import encode_with_model, get_model
from sparsecoding_client.models import (
    DatasetPublic,
    DatasetsPublic,
    EncodePublic,
    EncodeRequest,
    JobCreate,
    JobPublic,
    JobsPublic,
    JobState,
    ModelPublic,
    PhasePublic,
    Problem,
    ProgressPublic,
)
from sparsecoding_client.types import UNSET, File, Response

NPY = "application/x-npy"
TERMINAL_STATES = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED})
T = TypeVar("T")


class ApiError(Exception):
    """An error answer of the service: `status`, and the RFC 9457 `problem` when it sent one."""

    def __init__(self, status: int, problem: Problem | None, body: bytes = b"") -> None:
        self.status = status
        self.problem = problem
        if problem is not None:
            detail = problem.detail if isinstance(problem.detail, str) else ""
            message = f"{status} {problem.title}" + (f": {detail}" if detail else "")
        else:
            message = f"{status} {HTTPStatus(status).phrase}: {body[:200]!r}"
        super().__init__(message)

    @property
    def type(self) -> str | None:
        return self.problem.type_ if self.problem is not None else None


@dataclass(frozen=True)
class Event:
    """One Server-Sent Event of a job: `progress` (data: ProgressPublic, id: the iteration),
    `phase` (data: PhasePublic: what a running job does when not fitting, e.g. compiling the
    CPU kernels on the first job after an install) or the final `status` (data: JobPublic)."""

    kind: str
    data: ProgressPublic | PhasePublic | JobPublic
    id: str | None = None


def _problem(response: httpx.Response) -> ApiError:
    try:
        problem = Problem.from_dict(response.json())
    except (ValueError, KeyError, TypeError):
        problem = None
    return ApiError(response.status_code, problem, response.content)


def _npy_bytes(array: np.ndarray) -> io.BytesIO:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    buffer.seek(0)
    return buffer


class SparseCoding:
    """A connection to one service. `url` and `api_key` default to `SPARSECODING_URL` and
    `SPARSECODING_API_KEY`; `timeout` is per request, in seconds (never for event streams)."""

    def __init__(
        self, url: str | None = None, api_key: str | None = None, *, timeout: float = 60.0
    ) -> None:
        url = url or os.environ.get("SPARSECODING_URL") or "http://127.0.0.1:8000"
        api_key = api_key or os.environ.get("SPARSECODING_API_KEY")
        if not api_key:
            raise ValueError("no API key: pass api_key or set SPARSECODING_API_KEY")
        self.url = url.rstrip("/")
        self.client = AuthenticatedClient(
            base_url=self.url, token=api_key, timeout=httpx.Timeout(timeout)
        )

    def close(self) -> None:
        self.client.get_httpx_client().close()

    def __enter__(self) -> SparseCoding:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the generated operations, with problems raised -------------------------------------

    @staticmethod
    def _ok(response: Response[Any], expected: type[T]) -> T:
        if isinstance(response.parsed, expected):
            return response.parsed
        try:
            problem = Problem.from_dict(json.loads(response.content))
        except (ValueError, KeyError, TypeError):
            problem = None
        raise ApiError(int(response.status_code), problem, response.content)

    def upload(
        self, data: np.ndarray | str | Path | BinaryIO, name: str | None = None
    ) -> DatasetPublic:
        """Upload a matrix (n_samples, n_features): an array, or the path of a `.npy` file
        (streamed from disk). Returns the stored dataset's metadata."""
        if isinstance(data, (str, Path)):
            with open(data, "rb") as f:
                return self.upload(f, name)
        payload = data if not isinstance(data, np.ndarray) else _npy_bytes(data)
        response = upload_dataset.sync_detailed(
            client=self.client,
            body=File(payload=payload, mime_type=NPY),
            name=name if name is not None else UNSET,
        )
        return self._ok(response, DatasetPublic)

    def dataset(self, dataset_id: str) -> DatasetPublic:
        return self._ok(get_dataset.sync_detailed(dataset_id, client=self.client), DatasetPublic)

    def datasets(self, offset: int = 0, limit: int = 20) -> DatasetsPublic:
        response = list_datasets.sync_detailed(client=self.client, offset=offset, limit=limit)
        return self._ok(response, DatasetsPublic)

    def delete_dataset(self, dataset_id: str) -> None:
        response = delete_dataset.sync_detailed(dataset_id, client=self.client)
        if response.status_code != HTTPStatus.NO_CONTENT:
            raise _problem(httpx.Response(response.status_code, content=response.content))

    def submit(
        self,
        data: str | np.ndarray,
        n_components: int,
        *,
        idempotency_key: str | None = None,
        **options: Any,
    ) -> JobPublic:
        """Queue a fit of a dataset id, or of an array (uploaded first as `.npy`). `options`
        are `JobCreate` fields (alpha, max_iter, backend, mode, random_state, …)."""
        dataset_id = data if isinstance(data, str) else self.upload(data).id
        spec = JobCreate.from_dict(
            {"dataset_id": dataset_id, "n_components": n_components, **options}
        )
        response = create_job.sync_detailed(
            client=self.client,
            body=spec,
            idempotency_key=idempotency_key if idempotency_key is not None else UNSET,
        )
        return self._ok(response, JobPublic)

    def job(self, job_id: str) -> JobPublic:
        return self._ok(get_job.sync_detailed(job_id, client=self.client), JobPublic)

    def jobs(self, state: str | None = None, offset: int = 0, limit: int = 20) -> JobsPublic:
        response = list_jobs.sync_detailed(
            client=self.client,
            status=JobState(state) if state is not None else UNSET,
            offset=offset,
            limit=limit,
        )
        return self._ok(response, JobsPublic)

    def cancel(self, job_id: str) -> JobPublic:
        return self._ok(cancel_job.sync_detailed(job_id, client=self.client), JobPublic)

    def model(self, model_id: str) -> ModelPublic:
        return self._ok(get_model.sync_detailed(model_id, client=self.client), ModelPublic)

    def encode(
        self,
        model_id: str,
        X: np.ndarray,
        *,
        alpha: float | None = None,
        positive: bool | None = None,
        code_solver: str | None = None,
        n_nonzero_coefs: int | None = None,
    ) -> np.ndarray:
        """Codes (n_samples, n_components) of the rows of X with the model's dictionary;
        `code_solver="omp"` (with `n_nonzero_coefs`) for orthogonal matching pursuit."""
        options: dict[str, Any] = {"data": np.asarray(X, dtype=float).tolist()}
        given = {
            "alpha": alpha,
            "positive": positive,
            "code_solver": code_solver,
            "n_nonzero_coefs": n_nonzero_coefs,
        }
        options.update({name: value for name, value in given.items() if value is not None})
        response = encode_with_model.sync_detailed(
            model_id, client=self.client, body=EncodeRequest.from_dict(options)
        )
        return np.asarray(self._ok(response, EncodePublic).codes, dtype=float)

    # --- what the generator cannot express: .npy downloads, the event stream ----------------

    def _npy(self, path: str) -> np.ndarray:
        response = self.client.get_httpx_client().get(path, headers={"Accept": NPY})
        if response.status_code != 200:
            raise _problem(response)
        return np.load(io.BytesIO(response.content), allow_pickle=False)

    def dictionary(self, model_id: str) -> np.ndarray:
        """The learned dictionary (n_components, n_features), from its `.npy` form."""
        return self._npy(f"/v1/models/{model_id}/dictionary")

    def codes(self, job_id: str) -> np.ndarray:
        """The codes (n_samples, n_components) of a succeeded job, from their `.npy` form."""
        return self._npy(f"/v1/jobs/{job_id}/codes")

    def events(self, job_id: str, last_event_id: str | None = None) -> Iterator[Event]:
        """The job's events as they come: `progress` and `phase` ones, then one `status` (the
        stream ends). Event kinds this SDK does not know yet are skipped."""
        headers = {"Accept": "text/event-stream"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        http = self.client.get_httpx_client()
        timeout = httpx.Timeout(None, connect=30.0)
        with http.stream("GET", f"/v1/jobs/{job_id}/events", headers=headers, timeout=timeout) as r:
            if r.status_code != 200:
                r.read()
                raise _problem(r)
            fields: dict[str, str] = {}
            for line in r.iter_lines():
                if line:
                    if not line.startswith(":"):
                        name, _, value = line.partition(":")
                        fields[name] = value.removeprefix(" ")
                    continue
                if "event" in fields and "data" in fields:
                    data = json.loads(fields["data"])
                    if fields["event"] == "progress":
                        yield Event("progress", ProgressPublic.from_dict(data), fields.get("id"))
                    elif fields["event"] == "phase":
                        yield Event("phase", PhasePublic.from_dict(data))
                    elif fields["event"] == "status":
                        yield Event("status", JobPublic.from_dict(data), fields.get("id"))
                fields = {}

    def wait(
        self,
        job_id: str,
        progress: Callable[[ProgressPublic], object] | None = None,
        timeout: float | None = None,
        phase: Callable[[PhasePublic], object] | None = None,
    ) -> JobPublic:
        """Follow the job's events until it finishes; call `progress` on each record and
        `phase` on each change of what the job does. The stream is resumed (Last-Event-ID) if
        the connection drops; returns the final job."""
        deadline = None if timeout is None else time.monotonic() + timeout
        last: str | None = None
        while True:
            try:
                for event in self.events(job_id, last):
                    if isinstance(event.data, JobPublic):
                        return event.data
                    if isinstance(event.data, PhasePublic):
                        if phase is not None:
                            phase(event.data)
                        continue
                    last = event.id or last
                    if progress is not None:
                        progress(event.data)
                    if deadline is not None and time.monotonic() > deadline:
                        raise TimeoutError(f"job {job_id} still running after {timeout} s")
            except (httpx.RemoteProtocolError, httpx.ReadError):
                pass  # reconnect below and resume after the last event seen
            job = self.job(job_id)
            if job.state in TERMINAL_STATES:
                return job
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {job.state} after {timeout} s")
            time.sleep(0.5)

    def fit(
        self,
        data: str | np.ndarray,
        n_components: int,
        *,
        progress: Callable[[ProgressPublic], object] | None = None,
        timeout: float | None = None,
        **options: Any,
    ) -> JobPublic:
        """Submit a fit and wait for it: the finished job (`model_id` when it succeeded)."""
        job = self.submit(data, n_components, **options)
        return self.wait(job.id, progress, timeout)
