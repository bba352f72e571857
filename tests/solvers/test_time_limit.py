"""A time limit is checked inside long code steps and leaves room for the final codes.

Time here is a fake clock that advances only when rows are coded (a fixed cost per row), so the
tests check where the limit is looked at and what is returned, never how fast anything runs.
"""

from __future__ import annotations

import numpy as np
import pytest

import solvers
import solvers.rows
import solvers.run
from solvers.codes import solve_codes

SECONDS_PER_ROW = 1e-3
K = 6


class RowClock:
    """A clock that moves SECONDS_PER_ROW per row coded; counts the code calls."""

    def __init__(self) -> None:
        self.now = 0.0
        self.calls: list[int] = []

    def __call__(self) -> float:
        return self.now

    def solve(self, backend, X, *args, **kwargs):
        self.calls.append(int(X.shape[0]))
        self.now += SECONDS_PER_ROW * int(X.shape[0])
        return solve_codes(backend, X, *args, **kwargs)


@pytest.fixture
def clock(monkeypatch):
    fake = RowClock()
    monkeypatch.setattr(solvers.run, "_now", fake)
    monkeypatch.setattr(solvers.rows, "solve_codes", fake.solve)
    monkeypatch.setattr(solvers.rows, "CHECK_ROWS", 100)
    return fake


@pytest.fixture(scope="module")
def X(make_data):
    return make_data(seed=2, n=300, p=10, k=K)[0]


def test_batch_stops_inside_a_code_step_and_returns_the_last_complete_iteration(X, clock):
    # iteration 1 codes all 300 rows at once (0.3 s); iteration 2 codes them 100 at a time
    # and meets the limit of 0.5 s after its second hundred
    result = solvers.fit(X, K, mode="batch", max_iter=50, tol=0.0, time_limit=0.5, random_state=0)
    assert result.stop_reason == "time_limit" and result.n_iter == 1
    assert clock.calls == [300, 100, 100]  # the third hundred was never coded
    # what an uninterrupted one-iteration fit returns: the dropped step left nothing behind
    one = solvers.fit(X, K, mode="batch", max_iter=1, random_state=0)
    np.testing.assert_array_equal(result.dictionary, one.dictionary)
    np.testing.assert_array_equal(result.codes, one.codes)
    assert result.objective == one.objective


def test_batch_without_a_limit_codes_each_step_in_one_call(X, clock):
    solvers.fit(X, K, mode="batch", max_iter=3, tol=0.0, random_state=0)
    assert clock.calls == [300, 300, 300]


def test_the_first_batch_iteration_always_ends(X, clock):
    result = solvers.fit(X, K, mode="batch", max_iter=50, tol=0.0, time_limit=0.01)
    assert result.stop_reason == "time_limit" and result.n_iter == 1
    assert result.codes is not None and result.codes.shape == (300, K)


def test_online_keeps_room_for_the_final_codes(X, clock):
    # mini-batches of 30 rows cost 0.03 s, the final pass over 300 rows 0.3 s: a limit of 1 s
    # leaves about 0.7 s of mini-batches
    result = solvers.fit(
        X, K, mode="online", batch_size=30, max_iter=100, tol=0.0, time_limit=1.0, random_state=0
    )
    assert result.stop_reason == "time_limit"
    assert clock.calls[-1] == 300  # the final codes, in one pass
    assert clock.now <= 1.0 + SECONDS_PER_ROW * 30  # within a mini-batch of the limit
    assert clock.now >= 1.0 - 2 * SECONDS_PER_ROW * 30  # and the limit was used
    assert result.codes is not None and result.codes.shape == (300, K)


def test_a_long_mini_batch_is_stopped_inside(X, clock):
    # one mini-batch of 300 rows per epoch, coded 100 at a time under a limit of 1.05 s. The
    # first step (which also pays one-off costs) gives no estimate of the final pass; from the
    # second on it is 0.3 s. After two steps (0.6 s) a third may start (0.6 + 0.3 < 1.05); its
    # second hundred ends at 0.8 s, and 0.8 + 0.3 ≥ 1.05 stops it there, dropped; the final
    # pass follows
    result = solvers.fit(
        X, K, mode="online", batch_size=300, max_iter=100, tol=0.0, time_limit=1.05
    )
    assert result.stop_reason == "time_limit"
    assert clock.calls == [100] * 8 + [300]
    assert result.n_iter == 2
    assert clock.now == pytest.approx(1.1)
