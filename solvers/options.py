"""Every option of a fit, with its default, in one place.

The Python API (`solvers.fit`), the scikit-learn estimator, the command line and the HTTP job
spec all take their defaults from `FitOptions`, so that a default changes in exactly one spot.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

BackendName = Literal["numpy", "cupy", "auto"]
Mode = Literal["batch", "online"]
CodeSolver = Literal["auto", "cd", "fista", "lars"]
InitName = Literal["data", "svd"]
StopReason = Literal["converged", "max_iter", "time_limit", "cancelled"]

BACKENDS: tuple[str, ...] = ("numpy", "cupy", "auto")
MODES: tuple[str, ...] = ("batch", "online")
CODE_SOLVERS: tuple[str, ...] = ("auto", "cd", "fista", "lars")
INITS: tuple[str, ...] = ("data", "svd")
DTYPES: tuple[str, ...] = ("float32", "float64")


@dataclass(frozen=True)
class FitOptions:
    """Options of `solvers.fit` other than the data and `n_components`.

    `max_iter` counts outer iterations in batch mode and epochs (passes over the data) in online
    mode. `tol` is the relative decrease of the objective under which batch mode stops, and the
    relative change of the dictionary over an epoch under which online mode stops; tol = 0 turns
    that stop off (rounding can make a converged objective tick up by 1e-16). `code_tol`
    is the per-row duality-gap tolerance of the code step, relative to ‖x_i‖²; None picks one
    suited to the dtype. `dictionary_penalty` λ_W replaces the unit-ball constraint on atoms by
    ½·λ_W‖W‖²_F. `averaging` (online only) is the weight γ of exponential averaging of the
    dictionary iterates, W̄ ← (1−γ)W̄ + γW; None returns the last iterate.
    `checkpoint_interval` is in seconds; 0 writes a checkpoint after every iteration.
    """

    alpha: float = 1.0
    backend: BackendName = "numpy"
    mode: Mode = "batch"
    code_solver: CodeSolver = "auto"
    max_iter: int = 100
    tol: float = 1e-6
    code_tol: float | None = None
    code_max_iter: int = 1000
    time_limit: float | None = None
    batch_size: int = 256
    init: InitName = "data"
    positive_codes: bool = False
    positive_dictionary: bool = False
    dictionary_penalty: float | None = None
    averaging: float | None = None
    dtype: Literal["float32", "float64"] | None = None
    random_state: int | None = None
    checkpoint_interval: float = 5.0

    def replace(self, **changes: Any) -> FitOptions:
        return dataclasses.replace(self, **changes)


DEFAULTS = FitOptions()


def default_code_tol(dtype_name: str) -> float:
    """Relative duality-gap tolerance of the code step for data of this dtype.

    The gap is always computed in float64; for float32 data the codes themselves are stored in
    float32, which bounds how far below ~1e-7 the certificate can meaningfully go.
    """
    return 1e-10 if dtype_name == "float64" else 1e-6
