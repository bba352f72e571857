"""Fits on a real multi-process cluster through `solvers.DaskExecutor`: the same loops as an
in-process fit, so the same dictionary to rounding, batch and online, resumed or not; a worker
killed mid-fit; codes written chunk by chunk; bad rows; the service's placement rule."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest
from distributed import Client

import solvers
from service.runner.placement import should_use_data_parallel
from service.runner.worker_info import worker_backends
from solvers import dask_tasks
from solvers.checkpoint import load_checkpoint

OPTIONS = {"alpha": 0.1, "random_state": 0, "max_iter": 25, "code_solver": "cd", "mode": "batch"}
# Enough epochs for the online fit's exact statistics to take over (memory ≥ n / 2).
ONLINE = {**OPTIONS, "mode": "online", "max_iter": 10, "batch_size": 256, "tol": 0.0}
SAME = 1e-10  # what the order of floating-point sums leaves between the two executors


@pytest.fixture(scope="module")
def reference(data: np.ndarray) -> solvers.FitResult:
    return solvers.fit(data, 8, **OPTIONS)


@pytest.fixture(scope="module")
def online_reference(data: np.ndarray) -> solvers.FitResult:
    return solvers.fit(data, 8, **ONLINE)


def _relative(a: float, b: float) -> float:
    return abs(a - b) / abs(b)


def _same_fit(mine: solvers.FitResult, theirs: solvers.FitResult, codes: float = 1e-8) -> None:
    assert (mine.n_iter, mine.stop_reason) == (theirs.n_iter, theirs.stop_reason)
    np.testing.assert_allclose(mine.dictionary, theirs.dictionary, rtol=0, atol=SAME)
    for a, b in zip(mine.history, theirs.history, strict=True):
        assert a.iteration == b.iteration and _relative(a.objective, b.objective) < SAME
    assert _relative(mine.objective, theirs.objective) < SAME
    assert mine.codes is not None and theirs.codes is not None
    np.testing.assert_allclose(mine.codes, theirs.codes, rtol=0, atol=codes)


def _blocks_left(client: Client) -> int:
    return sum(client.run(lambda: len(dask_tasks._blocks)).values())


def test_batch_fit_on_the_cluster_is_the_in_process_fit(
    client: Client, data_file: Path, reference: solvers.FitResult
) -> None:
    result = solvers.fit(data_file, 8, executor=solvers.DaskExecutor(client, n_chunks=4), **OPTIONS)
    _same_fit(result, reference)
    X = np.load(data_file)
    assert result.codes is not None
    assert (
        _relative(solvers.objective(X, result.codes, result.dictionary, 0.1), result.objective)
        < SAME
    )
    assert _blocks_left(client) == 0  # the workers forgot the fit's codes


def test_online_fit_on_the_cluster_is_the_in_process_fit(
    client: Client, data: np.ndarray, online_reference: solvers.FitResult, tmp_path: Path
) -> None:
    """From an array (its chunks travel in their tasks), through the switch to exact sums
    (its final checkpoint holds them)."""
    executor = solvers.DaskExecutor(client, n_chunks=3)
    checkpoint = tmp_path / "online.npz"
    result = solvers.fit(data, 8, executor=executor, checkpoint=checkpoint, **ONLINE)
    _same_fit(result, online_reference)
    assert online_reference.history[-1].epoch == pytest.approx(10.0)
    arrays, _ = load_checkpoint(checkpoint)
    assert "sum_A" in arrays and "sum_B" in arrays


@pytest.mark.parametrize("mode", ["batch", "online"])
def test_a_resumed_fit_on_the_cluster_is_the_uninterrupted_one(
    client: Client,
    data_file: Path,
    reference: solvers.FitResult,
    online_reference: solvers.FitResult,
    tmp_path: Path,
    mode: str,
) -> None:
    """Cancelled midway, resumed from its checkpoint (the chunks' codes saved beside it): the
    same fit as one never stopped, and as an in-process fit."""
    options, expected = (OPTIONS, reference) if mode == "batch" else (ONLINE, online_reference)
    checkpoint = tmp_path / "fit.npz"
    stop_at = 4 if mode == "batch" else 38  # online: in the middle of the fifth epoch
    executor = solvers.DaskExecutor(client, n_chunks=4)
    first = solvers.fit(
        data_file,
        8,
        executor=executor,
        callback=lambda p: p.iteration < stop_at,
        checkpoint=checkpoint,
        checkpoint_interval=3600.0,
        **options,
    )
    assert first.stop_reason == "cancelled" and first.n_iter == stop_at
    assert os.listdir(solvers.checkpoint.codes_folder(checkpoint))
    resumed = solvers.fit(data_file, 8, executor=executor, checkpoint=checkpoint, **options)
    _same_fit(resumed, expected)
    with pytest.raises(solvers.InvalidInputError, match="another fit"):
        solvers.fit(np.load(data_file), 8, checkpoint=checkpoint, **options)
    solvers.remove_checkpoint(checkpoint)
    assert not checkpoint.exists() and not os.path.exists(str(checkpoint) + ".codes")


def test_worker_killed_mid_fit_does_not_lose_the_fit(
    client: Client, data_file: Path, reference: solvers.FitResult
) -> None:
    """The killed worker's chunks are read again from the file and start cold (their codes
    went with it); warm starts change only the code step's path, not where it ends, so the
    fit ends as the in-process one does (in general: to the code tolerance)."""
    pids = client.run(os.getpid)
    victim = sorted(pids)[0]
    killed: list[int] = []

    def kill_one(progress: solvers.Progress) -> None:
        if progress.iteration == 3 and not killed:
            os.kill(pids[victim], signal.SIGKILL)
            killed.append(pids[victim])

    executor = solvers.DaskExecutor(client, n_chunks=4)
    result = solvers.fit(data_file, 8, executor=executor, callback=kill_one, **OPTIONS)
    assert killed, "the fit ended before a worker could be killed"
    client.wait_for_workers(2, timeout=60)
    assert killed[0] not in client.run(os.getpid).values()  # its replacement took over
    assert result.n_iter == reference.n_iter
    # Here the lasso converges far below its tolerance from a cold start as from a warm one:
    # the same fit to rounding (measured 2e-16 on the dictionary, 7e-16 on the objective).
    assert _relative(result.objective, reference.objective) < SAME
    np.testing.assert_allclose(result.dictionary, reference.dictionary, rtol=0, atol=SAME)
    assert result.codes is not None and result.codes.shape == (2000, 8)


def test_codes_are_written_by_the_chunks_into_the_file_asked_for(
    client: Client, data_file: Path, reference: solvers.FitResult, tmp_path: Path
) -> None:
    codes = tmp_path / "codes.npy"
    executor = solvers.DaskExecutor(client, n_chunks=4, codes_path=codes)
    result = solvers.fit(data_file, 8, executor=executor, **OPTIONS)
    assert isinstance(result.codes, np.memmap) and Path(result.codes.filename) == codes
    assert not solvers.partial_codes(codes).exists()
    np.testing.assert_allclose(np.load(codes), reference.codes, rtol=0, atol=1e-8)
    online = solvers.fit(data_file, 8, executor=executor, **{**ONLINE, "max_iter": 2})
    np.testing.assert_allclose(
        np.load(codes), solvers.encode(np.load(data_file), online.dictionary, alpha=0.1), atol=1e-8
    )


def test_bad_rows_are_reported_by_the_worker_that_reads_them(
    client: Client, data: np.ndarray, tmp_path: Path
) -> None:
    X = data.copy()
    X[1500, 3] = np.nan
    np.save(tmp_path / "bad.npy", X)
    executor = solvers.DaskExecutor(client, n_chunks=2)
    with pytest.raises(solvers.InvalidInputError, match="NaN"):
        solvers.fit(tmp_path / "bad.npy", 8, executor=executor, **OPTIONS)
    with pytest.raises(solvers.InvalidInputError, match="unknown option"):
        solvers.fit(data, 8, executor=executor, learning_rate=1.0)
    with pytest.raises(solvers.InvalidInputError, match="cannot read"):
        solvers.fit(tmp_path / "missing.npy", 8, executor=executor)


def test_workers_report_their_backends(client: Client) -> None:
    reports = client.run(worker_backends)
    assert len(reports) == 2
    for backends in reports.values():
        assert {"numpy": True}.items() <= {b["name"]: b["available"] for b in backends}.items()


def test_size_threshold_and_chunking() -> None:
    assert not should_use_data_parallel(10**6, 8 * 2**30)
    assert should_use_data_parallel(4 * 2**30, 8 * 2**30)
    assert not should_use_data_parallel(4 * 2**30, None)
    assert should_use_data_parallel(10, None, requested=True)
    assert not should_use_data_parallel(4 * 2**30, 8 * 2**30, requested=False)
    assert solvers.default_n_chunks(2000, 128, 2) == 2
    assert solvers.default_n_chunks(10**7, 512, 2) == 77  # 64 MiB chunks
    assert solvers.default_n_chunks(3, 8, 8) == 3


def test_a_dask_array_is_fitted_where_its_rows_are_computed(
    client: Client, data: np.ndarray, reference: solvers.FitResult
) -> None:
    import dask.array as da

    X = da.from_array(data, chunks=(700, 16))
    executor = solvers.DaskExecutor(client, n_chunks=3)
    _same_fit(solvers.fit(X, 8, executor=executor, **OPTIONS), reference)
    with pytest.raises(solvers.InvalidInputError, match="unknown shape"):
        solvers.fit(X[X[:, 0] > 0], 8, executor=executor, **OPTIONS)


def test_a_time_limit_on_the_cluster_starts_no_step_that_would_end_past_it(
    client: Client, data_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The chunks of a step run at once on the workers and are not stopped midway, so the loop
    stops before a step that the last one says would overrun. Time is a fake clock here that
    moves one second per code step (never the wall clock)."""
    now = [0.0]
    step = solvers.distributed.ChunkedRows.code

    def slow_code(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        now[0] += 1.0
        return step(self, *args, **kwargs)

    monkeypatch.setattr(solvers.run, "_now", lambda: now[0])
    monkeypatch.setattr(solvers.distributed.ChunkedRows, "code", slow_code)
    executor = solvers.DaskExecutor(client, n_chunks=2)
    options = {**OPTIONS, "max_iter": 50, "tol": 0.0, "time_limit": 3.5}
    result = solvers.fit(data_file, 8, executor=executor, **options)
    # steps end at 1, 2 and 3 s; a fourth would end at 4 s, past the limit: not started
    assert (result.stop_reason, result.n_iter) == ("time_limit", 3)
    assert now[0] == 3.0
