"""Fixtures of the SDK tests: one real `sparsecoding serve` (uvicorn, embedded Dask cluster,
SQLite) on a loopback port, shared by this directory, and the SDK connected to it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "service"))

from server_process import Server
from service_testing import ALICE_KEY, API_KEYS


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("sdk") / "data", {"SPARSECODING_API_KEYS": API_KEYS})
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sdk_installed() -> None:
    pytest.importorskip(
        "sparsecoding_sdk", reason="the SDK is not installed: pip install -e openapi/clients/python"
    )


@pytest.fixture
def sc(server: Server, sdk_installed: None) -> Iterator[object]:
    from sparsecoding_sdk import SparseCoding

    with SparseCoding(server.url, ALICE_KEY, timeout=30) as client:
        yield client
