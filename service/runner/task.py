"""The function a Dask worker runs for one job: claim it, fit, store the result.

It needs only the data directory (shared with the API) and the job id: the dataset, the options
and every state change go through the same SQLite database and `.npy` files. The fit resumes
from the job's checkpoint when an earlier run left one.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import secrets
import socket
import time
import traceback
import warnings
from pathlib import Path
from typing import Any, Literal

import numpy as np

import solvers

from ..disk import is_full
from ..store.arrays import save_npy
from ..store.db import connect, now, transaction
from ..store.jobs import JobRepository
from ..store.layout import DataLayout
from ..store.models import ModelRepository
from ..store.records import JobRecord, JobState, ModelRecord, ModelRef, new_id
from .monitor import RunMonitor

log = logging.getLogger("service.runner")


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except ValueError:
        return f"{socket.gethostname()}:{os.getpid()}"


def run_job(data_dir: str, job_id: str, heartbeat_s: float, checkpoint_s: float) -> str:
    """Run job `job_id` to its end; returns what happened (for logs; the database is the truth)."""
    layout = DataLayout(Path(data_dir))
    token = secrets.token_hex(16)
    # The claim needs no fsync of its own: if power fails, the worker is gone as well and the
    # job is queued again either way. Its end (state, model record) is on disk before the
    # task returns, as a 202 is: a user who saw "succeeded" keeps the model.
    conn = connect(layout.database, synchronous="NORMAL")
    try:
        with transaction(conn, write=True) as session:
            job = JobRepository(session).claim(job_id, token, _worker_name())
        if job is None:
            return "not-claimed"
        conn.execute("PRAGMA synchronous=FULL")
        try:
            return _fit_and_store(conn, layout, job, token, heartbeat_s, checkpoint_s)
        finally:  # codes a data-parallel run wrote and no model took
            codes = _run_codes(layout, job, token)
            codes.unlink(missing_ok=True)
            solvers.partial_codes(codes).unlink(missing_ok=True)
    finally:
        conn.close()


def _fit_and_store(
    conn: Any,
    layout: DataLayout,
    job: JobRecord,
    token: str,
    heartbeat_s: float,
    checkpoint_s: float,
) -> str:
    run = job.run_options
    options = dict(run.fit)
    asked = options.get("time_limit")
    cap = job.runtime_cap_s
    if cap is not None and (asked is None or asked > cap):
        options["time_limit"] = cap  # elapsed time counts over resumed runs too
    error: str | None = None
    with RunMonitor(layout.database, job.id, token, heartbeat_s) as monitor:
        try:
            dataset = layout.dataset(job.dataset_id)
            X = np.load(dataset, mmap_mode="r", allow_pickle=False)
            _prepare_kernels(monitor, options.get("backend", "numpy"), X.dtype, options)
            # what the fit would warn of, the job says (JobRecord.warnings)
            warnings.simplefilter("ignore", solvers.FitWarning)
            result, stream = _run_fit(layout, job, token, X, monitor, checkpoint_s, options)
        except (solvers.InvalidInputError, solvers.BackendUnavailableError) as exc:
            error = str(exc)
        except Exception as exc:
            if is_full(exc):  # a checkpoint that found no room: not the job's fault
                return _wait_for_room(conn, job, token, exc)
            log.error("job %s failed:\n%s", job.id, traceback.format_exc())
            error = f"{type(exc).__name__}: {exc}"
    if error is not None:
        return _finish(conn, job, token, JobState.failed, error=error)
    if monitor.lost.is_set():
        return "lost"
    if result.stop_reason == "cancelled" and not monitor.cancelled.is_set():
        # it stopped to give its worker to another tenant's job (its checkpoint is written)
        with transaction(conn, write=True) as session:
            done = JobRepository(session).requeue_yielded(job.id, token)
        return "yielded" if done else "lost"
    if result.stop_reason == "cancelled":
        outcome = _finish(conn, job, token, JobState.cancelled, stop_reason="cancelled")
    elif not np.isfinite(result.dictionary).all():  # no model that no one can use
        return _finish(conn, job, token, JobState.failed, error=_DIVERGED)
    else:
        capped = result.stop_reason == "time_limit" and options.get("time_limit") != asked
        stop_reason = "runtime_cap" if capped else result.stop_reason
        try:
            outcome = _store_model(conn, layout, job, token, result, stop_reason, X, stream)
        except Exception as exc:
            if not is_full(exc):
                raise
            return _wait_for_room(conn, job, token, exc)  # it resumes from the checkpoint
    solvers.remove_checkpoint(layout.checkpoint(job.id))
    solvers.remove_checkpoint(_parallel_checkpoint(layout.checkpoint(job.id)))
    return outcome


def _run_fit(
    layout: DataLayout,
    job: JobRecord,
    token: str,
    X: np.ndarray,
    monitor: RunMonitor,
    checkpoint_s: float,
    options: dict[str, Any],
) -> tuple[solvers.FitResult, solvers.OnlineModel | None]:
    """The job's fit: on from a model's stream (append), across the workers, or on this one;
    the stream it leaves when it appended (else None)."""
    run = job.run_options
    init = run.init
    if run.append and isinstance(init, ModelRef):  # the job spec allows append only so
        return _learn_on(layout, init.id, X, monitor, options.get("time_limit"))
    if isinstance(init, ModelRef):
        init = np.load(layout.dictionary(init.id), allow_pickle=False)
    if _data_parallel(run.execution, X.nbytes, options.get("backend", "numpy")):
        codes = _run_codes(layout, job, token)
        return _fit_across_workers(layout, job, init, monitor, codes, checkpoint_s, options), None
    result = solvers.fit(
        X,
        job.n_components,
        init=init,
        callback=monitor.callback,
        checkpoint=layout.checkpoint(job.id),
        checkpoint_interval=checkpoint_s,
        **options,
    )
    return result, None


_DIVERGED = (
    "the fit diverged: its dictionary has NaN or infinite values (no model was stored); "
    "check the data's scale and the options"
)


def _prepare_kernels(
    monitor: RunMonitor, backend: str, stored: np.dtype, options: dict[str, Any]
) -> None:
    """Compile (or load) the CPU kernels this fit needs before it starts, saying so in the job
    while that takes a while: the first job after an install compiles them (a few seconds),
    waiting for the service's own warm-up or another worker when they are compiling already."""
    if solvers.get_backend(backend).is_gpu:
        return
    dtype = solvers.working_dtype(stored, options.get("dtype"))
    if solvers.kernels_cached([dtype]):
        return  # the fit loads the few it uses from numba's cache, in a fraction of a second
    monitor.set_phase("compiling")
    solvers.compile_kernels([dtype])
    monitor.set_phase("fitting")


def _data_parallel(execution: str, n_bytes: int, backend: str) -> bool:
    """`execution`: "local", "data_parallel", or "auto" (by size against the workers' memory,
    and for a cupy fit against this worker's device memory too: X and its codes live there)."""
    if execution != "auto":
        return execution == "data_parallel"
    from distributed import get_client

    from .placement import should_use_data_parallel, worker_memory

    try:
        client = get_client()
    except ValueError:  # not inside a Dask worker (a test calling run_job directly)
        return False
    memory = worker_memory(client)
    if backend == "cupy":
        device = solvers.get_backend("cupy").memory()
        if device is not None:
            memory = min(memory or float("inf"), float(device["total_bytes"]))
    return should_use_data_parallel(n_bytes, memory)


def _parallel_checkpoint(checkpoint: Path) -> Path:
    """Data-parallel fits keep their own checkpoint: the two kinds cannot resume each other."""
    return checkpoint.with_name(checkpoint.stem + "-parallel" + checkpoint.suffix)


def _fit_across_workers(
    layout: DataLayout,
    job: JobRecord,
    init: Any,
    monitor: RunMonitor,
    codes: Path,
    checkpoint_s: float,
    options: dict[str, Any],
) -> solvers.FitResult:
    """The fit as a data-parallel run over the cluster, driven from this worker task: the
    workers read their rows from the dataset's file and write their codes into `codes`.

    `worker_client` secedes this task from the worker's thread pool, so that the chunk tasks it
    submits can run on this worker too without a deadlock.
    """
    from distributed import worker_client

    with worker_client() as client:
        return solvers.fit(
            str(layout.dataset(job.dataset_id)),
            job.n_components,
            init=init,
            callback=monitor.callback,
            checkpoint=_parallel_checkpoint(layout.checkpoint(job.id)),
            checkpoint_interval=checkpoint_s,
            executor=solvers.DaskExecutor(client, codes_path=codes),
            **options,
        )


def _wait_for_room(conn: Any, job: JobRecord, token: str, exc: BaseException) -> str:
    reason = (
        f"the data disk is full ({exc}); queued again, to resume from its last checkpoint "
        "once there is room"
    )
    log.warning("job %s: %s", job.id, reason)
    with transaction(conn, write=True) as session:
        JobRepository(session).wait_for_room(job.id, token, reason)
    return "no-room"


def _finish(conn: Any, job: JobRecord, token: str, state: JobState, **fields: Any) -> str:
    with transaction(conn, write=True) as session:
        done = JobRepository(session).finish(job.id, token, state, **fields)
    return state.value if done else "lost"


def _learn_on(
    layout: DataLayout,
    model_id: str,
    X: np.ndarray,
    monitor: RunMonitor,
    time_limit: float | None,
) -> tuple[solvers.FitResult, solvers.OnlineModel]:
    """An append job: the model's online statistics learn on from the rows of X, in their
    order (`solvers.partial_fit`); the result's codes and objective are X's on the new
    dictionary. `time_limit` (the job's runtime cap) stops the pass at a progress report
    (every tenth of X) once passed: stop_reason time_limit, the rows before it learned. A rerun
    (a lost worker) starts again from the stored model, which no run changes."""
    stored = layout.model_state(model_id)
    if not stored.exists():
        raise solvers.InvalidInputError(
            f"model {model_id!r} keeps no online statistics to learn on from (it was stored "
            "before appending existed); start a new fit from it with init instead"
        )
    stream = solvers.OnlineModel.load(stored)
    history: list[solvers.Progress] = []
    started = time.monotonic()
    out_of_time = False

    def report(progress: solvers.Progress) -> bool:
        nonlocal out_of_time
        history.append(progress)
        if monitor.callback(progress) is False:
            return False
        out_of_time = time_limit is not None and time.monotonic() - started >= time_limit
        return not out_of_time

    solvers.partial_fit(X, stream, callback=report)
    # the last report covers the whole piece (epoch 1) unless the job was told to stop first
    stopped = bool(history) and history[-1].epoch < 1.0
    reason: Literal["time_limit", "cancelled", "max_iter"] = "max_iter"
    if stopped:
        reason = "time_limit" if out_of_time else "cancelled"
    W, o = stream.dictionary, stream.options
    codes = solvers.encode(X, W, alpha=o.alpha, positive=o.positive_codes)
    value = solvers.objective(X, codes, W, o.alpha)
    result = solvers.FitResult(W, codes, history, stream.n_steps, reason, "numpy", value, o)
    return result, stream


def _store_model(
    conn: Any,
    layout: DataLayout,
    job: JobRecord,
    token: str,
    result: solvers.FitResult,
    stop_reason: str,
    X: np.ndarray,
    stream: solvers.OnlineModel | None,
) -> str:
    model_id = new_id("mdl")
    dictionary_path, codes_path = layout.dictionary(model_id), layout.codes(job.id)
    save_npy(dictionary_path, result.dictionary)
    # what a later job appending to this model learns on from
    if stream is None and result.codes is not None:
        stream = solvers.OnlineModel.from_fit(X, result)
    state_path = layout.model_state(model_id)
    if stream is not None:
        stream.save(state_path)
    if result.codes is not None and _written_at(result.codes, _run_codes(layout, job, token)):
        os.replace(_run_codes(layout, job, token), codes_path)  # written by the workers
    elif result.codes is not None:
        save_npy(codes_path, result.codes)
    objective = float(result.objective) if np.isfinite(result.objective) else None
    model = ModelRecord(
        id=model_id,
        tenant=job.tenant,
        job_id=job.id,
        dataset_id=job.dataset_id,
        n_components=int(result.dictionary.shape[0]),
        n_features=int(result.dictionary.shape[1]),
        dtype=result.dictionary.dtype.name,
        # an append job's own options are the model's it learned on from
        alpha=float(result.options.alpha if result.options else job.options["alpha"]),
        positive_codes=bool(
            result.options.positive_codes if result.options else job.options["positive_codes"]
        ),
        backend=result.backend,
        objective=objective,
        n_iter=int(result.n_iter),
        stop_reason=stop_reason,
        options=_model_options(job, result),
        created_at=now(),
    )
    with transaction(conn, write=True) as session:
        done = JobRepository(session).finish(
            job.id,
            token,
            JobState.succeeded,
            stop_reason=stop_reason,
            n_iter=int(result.n_iter),
            objective=objective,
            model_id=model_id,
        )
        if done:
            ModelRepository(session).insert(model)
    if not done:  # the job was given up on meanwhile: leave no orphan files
        dictionary_path.unlink(missing_ok=True)
        codes_path.unlink(missing_ok=True)
        state_path.unlink(missing_ok=True)
        return "lost"
    return JobState.succeeded.value


def _model_options(job: JobRecord, result: solvers.FitResult) -> dict[str, Any]:
    """The options a model was learned with: the job's, or for an append job those of the
    stream it learned on from (with the job's init, the model appended to)."""
    if not job.run_options.append or result.options is None:
        return job.options
    stream = {k: v for k, v in dataclasses.asdict(result.options).items() if k != "init"}
    return {**job.options, **stream}


def _written_at(codes: np.ndarray, path: Path) -> bool:
    """Whether `codes` are the memory map of `path` (a data-parallel fit wrote them there)."""
    name = getattr(codes, "filename", None)
    return name is not None and Path(name).resolve() == path.resolve()


def _run_codes(layout: DataLayout, job: JobRecord, token: str) -> Path:
    """Where this run's workers write the codes of a data-parallel fit: a file of the run's
    own, so that a run given up on meanwhile never writes into the one a model keeps."""
    final = layout.codes(job.id)
    return final.with_name(f"{final.stem}.{token}.npy")
