"""`solvers.partial_fit`: online learning on data that arrive in pieces."""

from __future__ import annotations

import numpy as np
import pytest

import solvers
from solvers.streaming import OnlineModel


def _pieces(seed: int = 0, n: int = 4000, pieces: int = 8):
    """Rows from a sparse model on 12 atoms in 20 dimensions, in `pieces` consecutive parts."""
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((12, 20))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    H = rng.standard_normal((n, 12)) * (rng.random((n, 12)) < 0.2)
    X = H @ D + 0.01 * rng.standard_normal((n, 20))
    return X, np.array_split(X, pieces)


def test_learning_from_pieces_lowers_the_objective_like_an_online_fit():
    X, pieces = _pieces()
    model = solvers.partial_fit(pieces[0], n_components=12, alpha=0.1, random_state=0)
    start = solvers.objective(
        X, solvers.encode(X, model.dictionary, alpha=0.1), model.dictionary, 0.1
    )
    for piece in pieces[1:]:
        assert solvers.partial_fit(piece, model) is model
    learned = model.dictionary
    after = solvers.objective(X, solvers.encode(X, learned, alpha=0.1), learned, 0.1)
    assert after < 0.8 * start
    one_epoch = solvers.fit(X, 12, alpha=0.1, mode="online", max_iter=1, random_state=0)
    assert after <= 1.1 * one_epoch.objective
    assert np.all(np.linalg.norm(learned, axis=1) <= 1 + 1e-12)
    assert model.samples_seen == X.shape[0]
    assert model.n_steps == sum(-(-len(p) // model.options.batch_size) for p in pieces)


def test_a_saved_model_continues_exactly_as_the_one_in_memory():
    _, pieces = _pieces(1)
    kept = solvers.partial_fit(pieces[0], n_components=12, alpha=0.1, random_state=0)
    restored = OnlineModel.from_arrays(kept.to_arrays(), kept.options)
    solvers.partial_fit(pieces[1], kept)
    solvers.partial_fit(pieces[1], restored)
    np.testing.assert_array_equal(kept.dictionary, restored.dictionary)
    assert (kept.n_steps, kept.samples_seen) == (restored.n_steps, restored.samples_seen)


def test_stream_errors_name_the_problem():
    _, pieces = _pieces(2, n=600, pieces=2)
    with pytest.raises(solvers.InvalidInputError, match="needs n_components"):
        solvers.partial_fit(pieces[0])
    with pytest.raises(solvers.InvalidInputError, match="no use for max_iter"):
        solvers.partial_fit(pieces[0], n_components=4, max_iter=3)
    with pytest.raises(solvers.InvalidInputError, match="dictionary_penalty"):
        solvers.partial_fit(pieces[0], n_components=4, dictionary_penalty=0.1)
    model = solvers.partial_fit(pieces[0], n_components=4)
    with pytest.raises(solvers.InvalidInputError, match="pass only X and model"):
        solvers.partial_fit(pieces[1], model, alpha=0.5)
    with pytest.raises(solvers.InvalidInputError, match="features"):
        solvers.partial_fit(pieces[1][:, :5], model)


def test_a_stream_from_a_fit_forgets_the_fits_time_limit_and_burn_in(monkeypatch):
    """A model carried on from a fit with time_limit (a job's runtime cap) and polyak_burn_in
    keeps neither: a stream has no epochs, and its pieces are not timed by the fit's clock.
    With the clock an hour on at every look, the next piece is still learned from whole."""
    import solvers.run

    _, pieces = _pieces(3, n=2000, pieces=2)
    result = solvers.fit(
        pieces[0], 12, alpha=0.1, mode="online", batch_size=250, max_iter=2,
        time_limit=60.0, polyak_burn_in=1.0, random_state=0,
    )  # fmt: skip
    stream = OnlineModel.from_fit(pieces[0], result)
    assert stream.options.time_limit is None and stream.options.polyak_burn_in is None
    hours = iter(range(0, 10**6, 3600))
    monkeypatch.setattr(solvers.run, "_now", lambda: float(next(hours)))
    before = stream.n_steps
    solvers.partial_fit(pieces[1], stream)
    assert stream.n_steps == before + 4 and stream.samples_seen == 2000


def test_a_model_learned_with_a_ridge_on_w_cannot_stream():
    _, pieces = _pieces(4, n=600, pieces=2)
    result = solvers.fit(pieces[0], 4, alpha=0.1, max_iter=2, dictionary_penalty=0.5)
    stream = OnlineModel.from_fit(pieces[0], result)
    with pytest.raises(solvers.InvalidInputError, match="dictionary_penalty"):
        solvers.partial_fit(pieces[1], stream)
