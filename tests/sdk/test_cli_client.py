"""`sparsecoding submit / jobs / cancel / result` against a real server, configured from the
environment (SPARSECODING_URL, SPARSECODING_API_KEY) or from options."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from server_process import REPO, Server
from service_testing import ALICE_KEY, matrix

from service.cli import main

pytestmark = pytest.mark.usefixtures("sdk_installed")


@pytest.fixture
def env(server: Server, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("SPARSECODING_URL", server.url)
    monkeypatch.setenv("SPARSECODING_API_KEY", ALICE_KEY)
    return {**os.environ, "SPARSECODING_URL": server.url, "SPARSECODING_API_KEY": ALICE_KEY}


def test_submit_wait_shows_progress_then_result(env: dict[str, str], tmp_path: Path) -> None:
    data = tmp_path / "data.npy"
    np.save(data, matrix(200, 16, seed=5))
    done = subprocess.run(
        [sys.executable, "-m", "service.cli", "submit", str(data), "--components", "4",
         "--alpha", "0.2", "--max-iter", "6", "--seed", "0", "--backend", "auto", "--wait"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert re.search(r"iter \d+  objective [\d.e+-]+  elapsed [\d.]+s", done.stderr), done.stderr
    job_id = re.search(r"submitted (job_\w+)", done.stdout).group(1)  # type: ignore[union-attr]
    assert f"{job_id}  succeeded" in done.stdout

    out = tmp_path / "dictionary.npy"
    codes = tmp_path / "codes.npy"
    assert main(["result", job_id, "--out", str(out), "--codes", str(codes)]) == 0
    assert np.load(out).shape == (4, 16) and np.load(codes).shape == (200, 4)


def test_jobs_cancel_and_errors(
    env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "long.npy"
    np.save(data, matrix(1000, 32, seed=1))
    assert main(["submit", str(data), "-k", "16", "--max-iter", "100000", "--tol", "0",
                 "--time-limit", "60"]) == 0  # fmt: skip
    job_id = re.search(r"submitted (job_\w+)", capsys.readouterr().out).group(1)  # type: ignore[union-attr]
    assert main(["jobs", "--limit", "100"]) == 0
    assert job_id in capsys.readouterr().out
    assert main(["cancel", job_id]) == 0
    assert job_id in capsys.readouterr().out
    deadline = time.monotonic() + 30  # a running fit stops within a second or two
    while True:
        assert main(["jobs", "--state", "cancelled", "--limit", "100"]) == 0
        if job_id in capsys.readouterr().out:
            break
        assert time.monotonic() < deadline, f"{job_id} not cancelled after 30 s"
        time.sleep(0.2)

    assert main(["result", "job_nope"]) == 2
    assert "404" in capsys.readouterr().err
    assert main(["cancel", job_id, "--api-key", "wrong-key-0123456789abcdef"]) == 2
    assert "401" in capsys.readouterr().err
    assert main(["jobs", "--url", "http://127.0.0.1:9", "--api-key", ALICE_KEY]) == 2
    assert "cannot reach" in capsys.readouterr().err


def test_no_key_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPARSECODING_API_KEY", raising=False)
    with pytest.raises(SystemExit, match="no API key"):
        main(["jobs"])


def test_submit_a_csv_then_result_never_replaces_a_file_unasked(
    env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    table = tmp_path / "data.csv"
    np.savetxt(table, matrix(30, 6, seed=3), delimiter=",")
    assert main(["submit", str(table), "-k", "30", "--max-iter", "3", "--wait", "-q"]) == 0
    out = capsys.readouterr()
    assert "uploaded" in out.out and "(30×6)" in out.out
    assert "warning: n_components=30 is not smaller than n_samples=30" in out.err
    job_id = re.search(r"submitted (job_\w+)", out.out).group(1)  # type: ignore[union-attr]
    monkeypatch.chdir(tmp_path)
    assert main(["result", job_id]) == 0
    default = tmp_path / f"{job_id}.dictionary.npy"
    assert np.load(default).shape == (30, 6)
    default.write_bytes(b"keep me")
    assert main(["result", job_id]) == 2
    assert "exists; pass --force" in capsys.readouterr().err
    assert default.read_bytes() == b"keep me"
    assert main(["result", job_id, "--force"]) == 0
    assert np.load(default).shape == (30, 6)
    assert main(["result", job_id, "--force", "--codes", str(tmp_path / "no" / "codes.npy")]) == 2
    assert "is not a directory" in capsys.readouterr().err
