"""The console's browser tests: a real `sparsecoding serve` per test module, with the service
tests' keys (alice and bob)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "service"))

from server_process import Server
from service_testing import API_KEYS


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(
        tmp_path_factory.mktemp("console") / "data", {"SPARSECODING_API_KEYS": API_KEYS}
    )
    server.start()
    yield server
    server.stop()
