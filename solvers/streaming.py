"""Online dictionary learning on data that arrive in pieces: `partial_fit`.

A fit over a data set passes over it many times; a stream is seen once, piece by piece. Each
piece is cut into mini-batches, in its own order, and every mini-batch is one step of the
online loop (`solvers.online`): code it on W, fold its codes into the running statistics A, B
with the fading memory that grows with the samples seen, update W. `OnlineModel` carries W,
A, B and the counters from one piece to the next, so that learning on pieces continues as one
online fit would, and so that a saved model can go on learning later (`to_arrays`,
`from_arrays`).

What a stream cannot have: exact sums over every sample's latest codes (the samples are
gone), epochs and their stopping rule, the final codes of every sample, and a ridge on W
(`dictionary_penalty` is per sample of a data set).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from .auto import resolve_options
from .backends import get_backend
from .codes import on_backend
from .dictionary import add_statistics
from .errors import InvalidInputError
from .executors import InProcess
from .init import initial_dictionary
from .online import OnlineState, minibatch_step
from .options import DEFAULTS, FitOptions
from .result import Progress, ProgressCallback
from .rows import CodeSettings, pass_rows
from .run import Run
from .validation import fit_options, validate_data, validate_dictionary

# Options a stream has no use for: they concern passes over a whole data set.
_DATA_SET_OPTIONS = (
    "max_iter",
    "tol",
    "time_limit",
    "checkpoint_interval",
    "mode",
    "init",
    "polyak_burn_in",  # counted in epochs
)


@dataclass
class OnlineModel:
    """A dictionary learned online, with what it takes to learn on from more data.

    `options`: resolved (online, `batch_size` chosen); `samples_seen`: rows folded in so far;
    `state`: W (k, p) in the working dtype, A (k, k), B (k, p) float64, counters.
    """

    options: FitOptions
    state: OnlineState
    n_features: int
    dtype: np.dtype
    samples_seen: int = 0

    @property
    def dictionary(self) -> np.ndarray:
        """(k, p): the latest W, or its average with `averaging`."""
        return get_backend(self.options.backend).to_numpy(self.state.output(self.options))

    @property
    def n_steps(self) -> int:
        """Mini-batches processed since the model started."""
        return int(self.state.batches)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Everything needed to continue, as arrays (for an `.npz`): copies, which the model's
        further learning (in place) leaves alone."""
        backend = get_backend(self.options.backend)
        names = ("W", "W_average", "A", "B")
        arrays = {name: np.array(backend.to_numpy(getattr(self.state, name))) for name in names}
        arrays["counters"] = np.array(
            [self.state.batches, self.state.weight, self.samples_seen], dtype=np.float64
        )
        return arrays

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], options: FitOptions) -> OnlineModel:
        """The model `to_arrays` saved, with the options it was learned with."""
        W = np.asarray(arrays["W"])
        batches, weight, seen = (float(v) for v in np.asarray(arrays["counters"]))
        backend = get_backend(options.backend)
        state = OnlineState(
            W=backend.asarray(W, W.dtype),
            W_average=backend.asarray(np.asarray(arrays["W_average"]), W.dtype),
            W_epoch_start=backend.asarray(W, W.dtype),
            A=backend.asarray(np.asarray(arrays["A"]), np.float64),
            B=backend.asarray(np.asarray(arrays["B"]), np.float64),
            rng_state=None,
            batches=int(batches),
            weight=weight,
        )
        return cls(options, state, int(W.shape[1]), np.dtype(W.dtype), int(seen))

    @classmethod
    def from_fit(cls, X: Any, result: Any) -> OnlineModel:
        """A model to learn on from a finished `solvers.fit` of X: its dictionary, and as its
        statistics the averages A = HᵀH / n, B = HᵀX / n over the fit's codes H (exact sums
        over every sample, one unit of weight), continuing its options (in online mode).

        X (n, p) and result.codes (n, k) may be memory maps: read a block of rows at a time.
        """
        assert result.codes is not None and result.options is not None, "a fit with codes"
        W = np.asarray(result.dictionary)
        k, p = W.shape
        A, B = np.zeros((k, k)), np.zeros((k, p))
        n = int(X.shape[0])
        host, step = get_backend("numpy"), pass_rows(p, k)
        for first in range(0, n, step):
            rows = slice(first, first + step)
            add_statistics(host, A, B, np.asarray(result.codes[rows]), np.asarray(X[rows]))
        options = _stream_options(result.options.replace(backend="numpy"))
        state = OnlineState(
            W=W.copy(),
            W_average=W.copy(),
            W_epoch_start=W.copy(),
            A=A / n,
            B=B / n,
            rng_state=None,
            batches=int(result.n_iter),
            weight=1.0,
        )
        return cls(options, state, p, np.dtype(W.dtype), n)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the model (arrays and options) to an `.npz` file, atomically."""
        arrays = self.to_arrays()
        arrays["options"] = np.array(json.dumps(dataclasses.asdict(self.options)))
        temporary = f"{os.fspath(path)}.tmp.npz"
        with open(temporary, "wb") as handle:
            np.savez(handle, allow_pickle=False, **arrays)
        os.replace(temporary, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> OnlineModel:
        """The model `save` wrote."""
        with np.load(path, allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
        options = FitOptions(**json.loads(str(arrays.pop("options"))))
        return cls.from_arrays(arrays, options)


def _stream_options(options: FitOptions) -> FitOptions:
    """`options` for a stream: online, and those of passes over a data set (a fit's time limit,
    epochs, burn-in) back at their defaults, which a stream never looks at."""
    reset = {name: getattr(DEFAULTS, name) for name in _DATA_SET_OPTIONS if name != "mode"}
    return options.replace(mode="online", **reset)


def start_model(
    X: np.ndarray, n_components: int, init: Any = "data", **options: Any
) -> OnlineModel:
    """A model before its first step: W from `init` ("data": rows of the first piece X, "svd",
    or an (n_components, n_features) array), A = B = 0."""
    given = sorted(set(options) & set(_DATA_SET_OPTIONS))
    if given:
        raise InvalidInputError(f"a stream has no use for {', '.join(given)}")
    opts = fit_options(n_components, options)
    X = validate_data(X, dtype=opts.dtype)
    backend = get_backend(opts.backend, opts.code_solver)
    opts = on_backend(opts, backend.name)
    rng = np.random.default_rng(opts.random_state)
    if not isinstance(init, str):
        init = validate_dictionary(init, X.shape[1], int(n_components))
    W0 = initial_dictionary(X, int(n_components), init, rng, opts.positive_dictionary)
    # the mini-batch size of a stream: the rule of an online fit over more rows than it takes
    opts = resolve_options(_stream_options(opts), 2**62, int(n_components), backend.is_gpu)
    k = int(n_components)
    W = backend.asarray(W0, X.dtype)
    state = OnlineState(
        W=W,
        W_average=W.copy(),
        W_epoch_start=W.copy(),
        A=backend.xp.zeros((k, k), dtype=backend.xp.float64),
        B=backend.xp.zeros((k, X.shape[1]), dtype=backend.xp.float64),
        rng_state=None,
    )
    return OnlineModel(opts, state, int(X.shape[1]), np.dtype(X.dtype))


def partial_fit(
    X: Any,
    model: OnlineModel | None = None,
    *,
    n_components: int | None = None,
    init: Any = "data",
    callback: ProgressCallback | None = None,
    **options: Any,
) -> OnlineModel:
    """Learn on from X (n_samples, n_features): one online step per mini-batch of its rows.

    The first call starts a model (`n_components` and the fit options, as for `solvers.fit`
    but for those of passes over a data set: max_iter, tol, time_limit, mode, checkpoints);
    later calls pass the model back, and only X. Rows go in their given order, in mini-batches
    of `model.options.batch_size` (the last may be smaller). The model is updated in place and
    returned. `callback(progress)` runs after every tenth of X's mini-batches (the objective
    is the running mean of theirs, an estimate) and may return False to stop there.
    """
    if model is None:
        if n_components is None:
            raise InvalidInputError("the first partial_fit needs n_components")
        model = start_model(X, n_components, init, **options)
    elif options or n_components is not None:
        raise InvalidInputError("options are set by the first partial_fit; pass only X and model")
    X = validate_data(X, dtype=model.dtype.name)
    if X.shape[1] != model.n_features:
        raise InvalidInputError(
            f"X has {X.shape[1]} features but the model was learned on {model.n_features}"
        )
    o = model.options
    if o.dictionary_penalty is not None:
        raise InvalidInputError(
            "dictionary_penalty is per sample of a data set: a stream cannot learn with it"
        )
    backend = get_backend(o.backend)
    code = CodeSettings.of(o, model.dtype.name, backend.name)
    run = Run(InProcess(X, backend, code, "codes"), o)
    assert o.batch_size is not None, "start_model resolves it"
    steps = range(0, X.shape[0], o.batch_size)
    report_every = max(1, len(steps) // 10)
    started = time.perf_counter()
    with backend.compute_scope():
        for done, first in enumerate(steps, start=1):
            rows = np.arange(first, min(first + o.batch_size, X.shape[0]))
            # the memory follows the samples seen and this mini-batch's own size
            minibatch_step(run, model.state, rows, int(rows.shape[0]), model.samples_seen)
            model.state.batches += 1
            model.samples_seen += int(rows.shape[0])
            if callback is not None and (done % report_every == 0 or done == len(steps)):
                if callback(_progress(model, done / len(steps), started)) is False:
                    break
    return model


def _progress(model: OnlineModel, fraction: float, started: float) -> Progress:
    """The stream's progress over the current piece (`epoch`: the fraction of it done)."""
    state = model.state
    record = Progress(
        model.n_steps,
        fraction,
        state.objective_sum / max(state.objective_count, 1),
        time.perf_counter() - started,
        state.max_gap,
        estimate=True,
    )
    state.objective_sum, state.objective_count, state.max_gap = 0.0, 0, 0.0
    return record
