"""`scripts/gpu-check`, the GPU machine's one command: without a usable CuPy it fails (it once
exited 0 with every gpu test skipped), and its CPU path passes here and prints its table."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

import solvers

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOT / "scripts" / "gpu-check"), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


def test_without_a_usable_gpu_the_gpu_path_fails_and_says_why(tmp_path: Path) -> None:
    cupy = solvers.available_backends()[1]
    if cupy["available"]:
        pytest.skip("a GPU machine: scripts/gpu-check's own run is the test there")
    done = _run("--out", str(tmp_path / "table.md"))
    assert done.returncode == 1, done.stdout[-2000:]
    table = (tmp_path / "table.md").read_text()
    assert "| CuPy usable" in table and "FAIL" in table
    assert str(cupy["reason"]) in table
