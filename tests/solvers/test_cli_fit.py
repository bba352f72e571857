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
        "--seed",  # random_state: None by default, as everywhere
        "0",
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


def test_fit_reads_a_csv_table_and_explains_other_files(tmp_path):
    X = np.random.default_rng(1).standard_normal((60, 5))
    table = tmp_path / "data.csv"
    np.savetxt(table, X, delimiter=",", header="a,b,c,d,e", comments="")
    out = str(tmp_path / "m")
    done = _run("fit", str(table), "-k", "3", "--max-iter", "4", "--seed", "0", "-q", "--out", out)
    assert done.returncode == 0, done.stderr
    with np.load(tmp_path / "m.npz") as model:
        direct = solvers.fit(X, 3, max_iter=4, random_state=0)
        np.testing.assert_allclose(model["dictionary"], direct.dictionary, atol=1e-12)

    broken = tmp_path / "broken.csv"
    broken.write_text("1,2,3\n4,five,6\n")
    done = _run("fit", str(broken), "-k", "2")
    assert done.returncode == 2
    assert "looks like a CSV text table" in done.stderr and "'five'" in done.stderr
    assert "pickle" not in done.stderr  # numpy's advice for a non-.npy file is wrong, and unsafe
    archive = tmp_path / "data.npz"
    np.savez(archive, X=X)
    done = _run("fit", str(archive), "-k", "2")
    assert done.returncode == 2 and "zip archive" in done.stderr and "numpy.save" in done.stderr
    binary = tmp_path / "data.bin"
    binary.write_bytes(bytes(range(256)))
    done = _run("fit", str(binary), "-k", "2")
    assert done.returncode == 2 and "neither a .npy file nor a text table" in done.stderr


def test_fit_never_replaces_a_file_unasked_and_says_what_it_printed(tmp_path):
    data = tmp_path / "X.npy"
    np.save(data, np.random.default_rng(0).standard_normal((40, 6)))
    out = tmp_path / "model.npz"
    out.write_bytes(b"keep me")
    done = _run("fit", str(data), "-k", "2", "--out", str(out))
    assert done.returncode == 2 and "exists; pass --force" in done.stderr
    assert out.read_bytes() == b"keep me"
    done = _run("fit", str(data), "-k", "60", "--max-iter", "2", "--out", str(out), "--force")
    assert done.returncode == 0, done.stderr
    assert "warning: n_components=60 is not smaller than n_samples=40" in done.stderr
    online = _run(
        "fit", str(data), "-k", "3", "--mode", "online", "--batch-size", "8", "--max-iter", "2",
        "--out", str(out), "--force",
    )  # fmt: skip
    assert online.returncode == 0, online.stderr
    assert "running objective" in online.stderr  # the progress lines are estimates
    with np.load(out) as model:
        X = np.load(data)
        true = solvers.objective(X, model["codes"], model["dictionary"], 1.0)
    assert f"objective {true:.6g} (J / n_samples" in online.stdout


def test_fit_checks_where_it_writes_before_it_fits(tmp_path):
    data = tmp_path / "X.npy"
    np.save(data, np.random.default_rng(0).standard_normal((40, 6)))
    done = _run("fit", str(data), "-k", "2", "--out", str(tmp_path / "no" / "such" / "m.npz"))
    assert done.returncode == 2 and "is not a directory" in done.stderr
    assert _run("fit", str(data), "-k", "2", "-q", "--out", str(tmp_path / "m")).returncode == 0
    again = _run("fit", str(data), "-k", "2", "--out", str(tmp_path / "m"))  # numpy adds .npz
    assert again.returncode == 2 and "m.npz exists" in again.stderr


def test_encode_codes_a_file_on_a_models_dictionary(tmp_path):
    """`sparsecoding encode`: lasso codes (the library's) and OMP codes of a data file on the
    dictionary of a `fit` model or of a matrix file; refusals name the problem."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((60, 12))
    data, W_file = tmp_path / "data.npy", tmp_path / "W.npy"
    np.save(data, X)
    model = tmp_path / "model.npz"
    assert _run("fit", str(data), "-k", "6", "--max-iter", "5", "--out", str(model)).returncode == 0
    with np.load(model) as stored:
        W = stored["dictionary"]
    np.save(W_file, W)
    lasso = tmp_path / "lasso.npy"
    done = _run("encode", str(data), "--dictionary", str(model), "--alpha", "0.3", "-o", str(lasso))
    assert done.returncode == 0, done.stderr
    np.testing.assert_allclose(np.load(lasso), solvers.encode(X, W, alpha=0.3), atol=1e-10)
    omp = tmp_path / "omp.npy"
    args = ["--code-solver", "omp", "--n-nonzero-coefs", "2", "-o", str(omp)]
    done = _run("encode", str(data), "-d", str(W_file), *args)
    assert done.returncode == 0 and "(omp)" in done.stdout, done.stderr
    assert np.all(np.count_nonzero(np.load(omp), axis=1) == 2)
    again = _run("encode", str(data), "-d", str(W_file), *args)
    assert again.returncode == 2 and "--force" in again.stderr
    narrow = tmp_path / "narrow.npy"
    np.save(narrow, W[:, :11])
    wide = _run("encode", str(data), "-d", str(narrow), "-o", str(tmp_path / "x.npy"))
    assert wide.returncode == 2 and "features" in wide.stderr
    many = _run("encode", str(data), "-d", str(W_file), "--code-solver", "omp",
                "--n-nonzero-coefs", "9", "-o", str(tmp_path / "y.npy"))  # fmt: skip
    assert many.returncode == 2 and "n_nonzero_coefs" in many.stderr
