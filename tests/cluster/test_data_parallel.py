"""Data-parallel fits on a real multi-process cluster: completion, equality with `solvers.fit`,
a worker killed mid-fit, online mode, cancellation and resume."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest
from distributed import Client

import solvers
from service.runner.data_parallel import (
    default_n_chunks,
    fit_data_parallel,
    should_use_data_parallel,
)
from service.runner.worker_info import worker_backends

OPTIONS = {"alpha": 0.1, "random_state": 0, "max_iter": 25, "code_solver": "cd"}


@pytest.fixture(scope="module")
def reference(data: np.ndarray) -> solvers.FitResult:
    return solvers.fit(data, 8, **OPTIONS)


def _relative(a: float, b: float) -> float:
    return abs(a - b) / abs(b)


def test_batch_fit_over_workers_matches_single_machine(
    client: Client, data_file: Path, reference: solvers.FitResult
) -> None:
    result = fit_data_parallel(client, data_file, 8, n_chunks=4, **OPTIONS)
    assert result.n_iter == reference.n_iter
    assert result.stop_reason == reference.stop_reason
    assert _relative(result.objective, reference.objective) < 1e-6
    for mine, theirs in zip(result.history, reference.history, strict=True):
        assert _relative(mine.objective, theirs.objective) < 1e-6
    np.testing.assert_allclose(result.dictionary, reference.dictionary, atol=1e-6)
    assert result.codes is not None and reference.codes is not None
    np.testing.assert_allclose(result.codes, reference.codes, atol=1e-4)
    X = np.load(data_file)
    assert (
        _relative(solvers.objective(X, result.codes, result.dictionary, 0.1), reference.objective)
        < 1e-6
    )


def test_worker_killed_mid_fit_does_not_lose_the_fit(
    client: Client, data_file: Path, reference: solvers.FitResult
) -> None:
    pids = client.run(os.getpid)
    victim = sorted(pids)[0]
    killed: list[int] = []

    def kill_one(progress: solvers.Progress) -> None:
        if progress.iteration == 3 and not killed:
            os.kill(pids[victim], signal.SIGKILL)
            killed.append(pids[victim])

    result = fit_data_parallel(client, data_file, 8, n_chunks=4, callback=kill_one, **OPTIONS)
    assert killed, "the fit ended before a worker could be killed"
    client.wait_for_workers(2, timeout=60)
    assert killed[0] not in client.run(os.getpid).values()  # its replacement took over
    assert result.n_iter == reference.n_iter
    assert _relative(result.objective, reference.objective) < 1e-6
    assert result.codes is not None and result.codes.shape == (2000, 8)


def test_online_fit_over_workers_reaches_a_comparable_objective(
    client: Client, data: np.ndarray
) -> None:
    options = {**OPTIONS, "mode": "online", "max_iter": 3, "batch_size": 256}
    single = solvers.fit(data, 8, **options)
    result = fit_data_parallel(client, data, 8, n_chunks=3, **options)
    assert result.codes is not None and single.codes is not None
    mine = solvers.objective(data, result.codes, result.dictionary, 0.1)
    theirs = solvers.objective(data, single.codes, single.dictionary, 0.1)
    assert mine < 1.05 * theirs
    assert result.history[-1].epoch == pytest.approx(3.0)


def test_cancel_then_resume_from_the_checkpoint(
    client: Client, data_file: Path, reference: solvers.FitResult, tmp_path: Path
) -> None:
    checkpoint = tmp_path / "fit.npz"

    def stop_at_4(progress: solvers.Progress) -> bool:
        return progress.iteration < 4

    first = fit_data_parallel(
        client, data_file, 8, callback=stop_at_4, checkpoint=checkpoint, **OPTIONS
    )
    assert first.stop_reason == "cancelled" and first.n_iter == 4
    assert checkpoint.exists()
    resumed = fit_data_parallel(client, data_file, 8, checkpoint=checkpoint, **OPTIONS)
    assert resumed.n_iter == reference.n_iter
    assert [r.iteration for r in resumed.history] == list(range(1, reference.n_iter + 1))
    assert _relative(resumed.objective, reference.objective) < 1e-6
    with pytest.raises(solvers.InvalidInputError, match="another fit"):
        solvers.fit(np.load(data_file), 8, checkpoint=checkpoint, **OPTIONS)


def test_bad_rows_are_reported_by_the_worker_that_reads_them(
    client: Client, data: np.ndarray, tmp_path: Path
) -> None:
    X = data.copy()
    X[1500, 3] = np.nan
    np.save(tmp_path / "bad.npy", X)
    with pytest.raises(solvers.InvalidInputError, match="NaN"):
        fit_data_parallel(client, tmp_path / "bad.npy", 8, n_chunks=2, **OPTIONS)
    with pytest.raises(solvers.InvalidInputError, match="unknown option"):
        fit_data_parallel(client, data, 8, learning_rate=1.0)


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
    assert default_n_chunks(2000, 128, 2) == 2
    assert default_n_chunks(10**7, 512, 2) == 77  # 64 MiB chunks
    assert default_n_chunks(3, 8, 8) == 3
