"""The embedded workers' preload: an orderly stop logs no heartbeat traceback, a live one does."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest
from distributed.core import Status

from service.runner.worker_setup import HEARTBEAT_FAILED, QuietHeartbeatAtClose


def _record(message: str) -> logging.LogRecord:
    return logging.LogRecord("distributed.worker", logging.ERROR, __file__, 1, message, (), None)


@pytest.mark.parametrize(
    ("status", "kept"),
    [
        (Status.running, True),
        (Status.paused, True),
        (Status.closing, False),
        (Status.closing_gracefully, False),
        (Status.closed, False),
    ],
)
def test_a_heartbeat_failure_is_dropped_only_while_the_worker_closes(
    status: Status, kept: bool
) -> None:
    quiet = QuietHeartbeatAtClose(SimpleNamespace(status=status))
    assert quiet.filter(_record(HEARTBEAT_FAILED + ".")) is kept
    # any other record of a closing worker is kept
    assert quiet.filter(_record("Worker stream died during communication")) is True


def test_the_filter_matches_what_distributed_logs() -> None:
    """The message the filter looks for is the one distributed's Worker.heartbeat logs."""
    import inspect

    from distributed.worker import Worker

    assert HEARTBEAT_FAILED in inspect.getsource(Worker.heartbeat)
