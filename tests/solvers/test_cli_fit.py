"""`sparsecoding fit`: the local command line over the solver core, run as a user would."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

import solvers


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service.cli", *args], capture_output=True, text=True, timeout=300
    )


def test_fit_writes_model_and_reports_progress(tmp_path):
    X = np.random.default_rng(0).standard_normal((200, 12))
    data = tmp_path / "data.npy"
    np.save(data, X)
    out = tmp_path / "model.npz"
    done = _run(
        "fit",
        str(data),
        "--components",
        "5",
        "--alpha",
        "0.5",
        "--max-iter",
        "8",
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    assert "iter 8" in done.stderr and "objective" in done.stderr
    with np.load(out) as model:
        W, H = model["dictionary"], model["codes"]
        history = model["objective"]
    assert W.shape == (5, 12) and H.shape == (200, 5)
    direct = solvers.fit(X, 5, alpha=0.5, max_iter=8, random_state=0)
    np.testing.assert_allclose(W, direct.dictionary, rtol=1e-12, atol=1e-12)
    assert np.isclose(history[-1], solvers.objective(X, H, W, 0.5), rtol=1e-9)


def test_fit_rejects_bad_input_with_a_message(tmp_path):
    X = np.ones((10, 3))
    X[4, 1] = np.nan
    data = tmp_path / "bad.npy"
    np.save(data, X)
    done = _run("fit", str(data), "--components", "2")
    assert done.returncode == 2
    assert "NaN" in done.stderr and "row 4, column 1" in done.stderr
    missing = _run("fit", str(tmp_path / "missing.npy"), "--components", "2")
    assert missing.returncode == 2 and "cannot read" in missing.stderr
