"""Jobs: creation (limits, idempotency, inline data), status, cancellation."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import anyio
import numpy as np

from solvers import DEFAULTS, InvalidInputError, size_warning, validate_options

from ..errors import (
    BackendUnavailable,
    Conflict,
    IdempotencyMismatch,
    InvalidInput,
    NotFound,
    TooManyJobs,
)
from ..schemas.jobs import JobCreate
from ..state import AppState
from ..store.datasets import DatasetRepository
from ..store.db import Session, now
from ..store.jobs import JobRepository
from ..store.models import ModelRepository
from ..store.records import DatasetRecord, JobRecord, JobState, ModelRef, init_source, new_id
from . import datasets
from .matrices import matrix_from_json


def request_hash(spec: JobCreate, X: np.ndarray | None) -> str:
    """What an Idempotency-Key binds: the options, and the inline matrix by its digest (not
    written out as JSON again: it may be millions of values)."""
    options = spec.model_dump(mode="json", exclude={"data"})
    canonical = json.dumps(options, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode())
    if X is not None:
        digest.update(repr(X.shape).encode())
        digest.update(np.ascontiguousarray(X).tobytes())
    return digest.hexdigest()


async def check_spec(state: AppState, spec: JobCreate) -> None:
    """Refuse what no worker could run: the options the core refuses, too many components, a
    backend that no worker has."""
    limit = state.settings.max_n_components
    if spec.n_components > limit:
        raise InvalidInput(
            f"n_components is {spec.n_components}; this server allows at most {limit}"
        )
    options = spec.fit_options()
    if isinstance(init_source(spec.init), ModelRef):
        options["init"] = "data"  # a model is checked against the job in the transaction
    try:
        validate_options(spec.n_components, DEFAULTS.replace(**options))
    except InvalidInputError as exc:
        raise InvalidInput(str(exc)) from exc
    if spec.backend == "cupy":
        dispatcher = state.require_dispatcher()
        if not await dispatcher.workers_with("cupy"):
            backends = await dispatcher.worker_backends()
            available = sorted(
                {b["name"] for bs in backends.values() for b in bs if b["available"]}
            )
            raise BackendUnavailable(
                "backend 'cupy' needs a worker with a CUDA GPU and none has one; "
                f"available backends: {', '.join(available) or 'none'}",
                available=available,
            )


def _create(
    session: Session,
    state: AppState,
    tenant: str,
    spec: JobCreate,
    inline: DatasetRecord | None,
    key: str | None,
    digest: str,
) -> tuple[JobRecord, bool]:
    jobs = JobRepository(session)
    if key is not None:
        seen = jobs.get_idempotent(tenant, key)
        if seen is not None:
            if seen[0] != digest:
                raise IdempotencyMismatch(
                    "this Idempotency-Key was used with a different request body", job_id=seen[1]
                )
            job = jobs.get(tenant, seen[1])
            assert job is not None
            return job, True
    queued = jobs.count_queued(tenant)
    if queued >= state.settings.max_queued_jobs:
        retry = state.settings.retry_after_s
        raise TooManyJobs(
            f"{queued} jobs of yours are queued (limit {state.settings.max_queued_jobs})",
            retry_after=retry,
        )
    if inline is not None:
        DatasetRepository(session).insert(inline)
        dataset = inline
    else:
        assert spec.dataset_id is not None
        found = DatasetRepository(session).get(tenant, spec.dataset_id)
        if found is None:
            raise NotFound(f"no dataset {spec.dataset_id!r}")
        dataset = found
    source = init_source(spec.init)
    if isinstance(source, ModelRef):
        model = ModelRepository(session).get(tenant, source.id)
        if model is None:
            raise NotFound(f"no model {spec.init!r} to start from")
        if (model.n_components, model.n_features) != (spec.n_components, dataset.n_features):
            raise InvalidInput(
                f"init model {spec.init!r} has {model.n_components} atoms of "
                f"{model.n_features} features; this job needs {spec.n_components} of "
                f"{dataset.n_features}"
            )
    too_large = size_warning(dataset.n_samples, spec.n_components)
    job = JobRecord(
        id=new_id("job"),
        tenant=tenant,
        dataset_id=dataset.id,
        n_components=spec.n_components,
        options=spec.job_options(),
        state=JobState.queued,
        created_at=now(),
        warnings=(too_large,) if too_large else (),
        runtime_cap_s=state.settings.max_job_seconds,
    )
    jobs.insert(job)
    if key is not None:
        jobs.put_idempotent(tenant, key, digest, job.id)
    return job, False


async def create(
    state: AppState, tenant: str, spec: JobCreate, key: str | None, X: np.ndarray | None = None
) -> tuple[JobRecord, bool]:
    """Queue a job (durably: on disk before this returns); (job, replayed) where replayed is
    true when `key` already named the same request. `X`: the inline matrix, checked."""
    await check_spec(state, spec)
    if spec.data is not None and X is None:  # a spec made in code, not read from a body
        X = await anyio.to_thread.run_sync(matrix_from_json, spec.data)
    digest = request_hash(spec, X) if key is not None else ""  # compared only under a key
    inline: DatasetRecord | None = None
    if X is not None:
        inline = await datasets.write_matrix(state, tenant, X, "inline")
    try:
        job, replayed = await state.db.write(_create, state, tenant, spec, inline, key, digest)
    except BaseException:
        if inline is not None:
            state.layout.dataset(inline.id).unlink(missing_ok=True)
        raise
    if replayed and inline is not None:
        state.layout.dataset(inline.id).unlink(missing_ok=True)
    if not replayed and state.dispatcher is not None:  # else it scans the queue as it starts
        state.dispatcher.notify()
    return job, replayed


async def get(state: AppState, tenant: str, job_id: str) -> JobRecord:
    job = await state.db.read(lambda s: JobRepository(s).get(tenant, job_id))
    if job is None:
        raise NotFound(f"no job {job_id!r}")
    return job


async def list_(
    state: AppState, tenant: str, status: JobState | None, offset: int, limit: int
) -> tuple[list[JobRecord], int]:
    return await state.db.read(lambda s: JobRepository(s).list_page(tenant, status, offset, limit))


async def cancel(state: AppState, tenant: str, job_id: str) -> JobRecord:
    """Ask a job to stop: a queued job is cancelled now, a running one within ~a second."""

    def tx(session: Session) -> JobRecord:
        jobs = JobRepository(session)
        job = jobs.get(tenant, job_id)
        if job is None:
            raise NotFound(f"no job {job_id!r}")
        if job.state in (JobState.succeeded, JobState.failed):
            raise Conflict(f"job {job_id!r} has already {job.state.value}; nothing to cancel")
        jobs.request_cancel(job_id)
        updated = jobs.get(tenant, job_id)
        assert updated is not None
        return updated

    job = await state.db.write(tx)
    if job.state == JobState.cancelled and state.dispatcher is not None:
        await state.dispatcher.forget(job_id)
    return job


async def succeeded(state: AppState, tenant: str, job_id: str) -> JobRecord:
    job = await get(state, tenant, job_id)
    if job.state != JobState.succeeded:
        raise Conflict(f"job {job_id!r} is {job.state.value}; its codes exist once it succeeded")
    return job


async def codes_file(state: AppState, tenant: str, job_id: str) -> Path:
    """The `.npy` of a succeeded job's codes (another tenant's job is not found)."""
    await succeeded(state, tenant, job_id)
    return state.layout.codes(job_id)


async def counts_by_state(state: AppState) -> dict[str, int]:
    """Jobs by state, over all tenants (for the operator's metrics)."""
    return await state.db.read(lambda session: JobRepository(session).counts_by_state())
