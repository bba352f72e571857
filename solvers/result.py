"""What a fit reports: one `Progress` record per outer iteration, a `FitResult` at the end."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from .options import FitOptions, StopReason


@dataclass(frozen=True)
class Progress:
    """One record of a fit's history.

    `iteration` counts outer iterations (batch) or mini-batches (online); `epoch` is the number
    of passes over the data so far (fractional in online mode). `objective` is J / n_samples:
    in batch mode the full objective after the dictionary step; in online mode (`estimate`
    True) an estimate of it, the running average of the mini-batch objectives since the last
    record (the surrogate Mairal et al. track), each coded on the dictionary of its time.
    `max_gap` is the largest per-row lasso duality gap of the last code step relative to ‖x_i‖².
    """

    iteration: int
    epoch: float
    objective: float
    elapsed_s: float
    max_gap: float
    estimate: bool = False

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


ProgressCallback = Callable[[Progress], "bool | None"]


@dataclass
class FitResult:
    """Result of `solvers.fit`, always as NumPy arrays on the host.

    dictionary: (n_components, n_features); codes: (n_samples, n_components), or None when the
    fit was asked not to return them; history: list of `Progress`. `objective` is the true
    J / n_samples of `dictionary` and the final codes (returned or not), computed once at the
    end over all the data in float64, in every mode; NaN when no codes were computed.
    `options`: those the fit ran with, the defaults' choices (mode, batch_size) made.
    """

    dictionary: np.ndarray
    codes: np.ndarray | None
    history: list[Progress] = field(default_factory=list)
    n_iter: int = 0
    stop_reason: StopReason = "max_iter"
    backend: str = "numpy"
    objective: float = float("nan")
    options: FitOptions | None = None
