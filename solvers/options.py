"""Every option of a fit, declared once: type, default, range and meaning.

`solvers.fit` checks its options against `FitOptions` (`validate_options`), the command lines
build their flags from it (`option_specs`), and the HTTP job spec and the scikit-learn estimator
are tested against it, so that an option added here appears everywhere or a test says where not.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any, Literal

BackendName = Literal["numpy", "cupy", "auto"]
Mode = Literal["auto", "batch", "online"]
CodeSolver = Literal["auto", "cd", "fista", "lars"]
# `encode` also takes OMP, an ℓ0 code step (a fit's code step stays the lasso's)
EncodeSolver = Literal["auto", "cd", "fista", "lars", "omp"]
InitName = Literal["data", "svd"]
DtypeName = Literal["float32", "float64"]
StopReason = Literal["converged", "max_iter", "time_limit", "cancelled"]

BACKENDS: tuple[str, ...] = typing.get_args(BackendName)
MODES: tuple[str, ...] = typing.get_args(Mode)
CODE_SOLVERS: tuple[str, ...] = typing.get_args(CodeSolver)
ENCODE_SOLVERS: tuple[str, ...] = typing.get_args(EncodeSolver)
INITS: tuple[str, ...] = typing.get_args(InitName)
DTYPES: tuple[str, ...] = typing.get_args(DtypeName)


def _option(default: Any, help: str, **bounds: float) -> Any:
    """A field of `FitOptions`: its default, what it means, and its bounds (gt, ge, le)."""
    return field(default=default, metadata={"help": help, **bounds})


@dataclass(frozen=True)
class FitOptions:
    """Options of `solvers.fit` other than the data and `n_components`: the one declaration
    of each (type, default, range, meaning), from which `validate_options` checks them and
    the command lines are built; the HTTP schema and the estimator are tested against it.

    `max_iter` counts outer iterations in batch mode and epochs (passes over the data) in online
    mode. `tol` is the relative decrease of the objective under which batch mode stops, and the
    relative change of the dictionary over an epoch under which online mode stops; tol = 0 turns
    that stop off (rounding can make a converged objective tick up by 1e-16). `code_tol`
    is the per-row duality-gap tolerance of the code step, relative to ‖x_i‖²; None picks one
    suited to the dtype. `dictionary_penalty` λ_W replaces the unit-ball constraint on atoms by
    ½·λ_W‖W‖²_F. `averaging` (online only) is the weight γ of exponential averaging of the
    dictionary iterates, W̄ ← (1−γ)W̄ + γW; `polyak_burn_in` (online only, epochs) returns
    instead the uniform (Polyak–Ruppert) average 1/t Σ W(i) of the t iterates after that many
    epochs; None for both returns the last iterate, and both at once is an error.
    `checkpoint_interval` is in seconds; 0 writes a checkpoint after every iteration.

    `mode="auto"` and `batch_size=None` (the defaults) are chosen from the problem by
    `solvers.auto.resolve_options` (mini-batches of 8·k rows within [256, max(1024, k)] on the
    CPU, online unless one mini-batch holds all the data); explicit values are used as given.
    `time_limit` counts from the call of `fit`, validation and the final codes included.
    """

    alpha: float = _option(1.0, "weight of the L1 penalty", gt=0)
    backend: BackendName = _option("numpy", "where the code steps run")
    mode: Mode = _option("auto", "batch, online mini-batches, or auto (chosen from the data)")
    code_solver: CodeSolver = _option("auto", "lasso solver of the code step")
    max_iter: int = _option(100, "outer iterations (online: epochs)", ge=1)
    tol: float = _option(1e-6, "stop when progress falls under this (0: never)", ge=0)
    code_tol: float | None = _option(None, "code step's relative duality gap", gt=0)
    code_max_iter: int = _option(1000, "code step's sweeps per row", ge=1)
    time_limit: float | None = _option(None, "seconds", gt=0)
    batch_size: int | None = _option(None, "mini-batch rows (online; default: chosen)", ge=1)
    init: InitName = _option("data", "initial dictionary")
    positive_codes: bool = _option(False, "codes ≥ 0")
    positive_dictionary: bool = _option(False, "atoms ≥ 0")
    dictionary_penalty: float | None = _option(None, "ridge on W instead of the unit ball", gt=0)
    averaging: float | None = _option(None, "weight of averaged dictionaries (online)", gt=0, le=1)
    polyak_burn_in: float | None = _option(
        None, "epochs before a uniform average of the dictionaries starts (online)", ge=0
    )
    dtype: DtypeName | None = _option(None, "working precision (default: the data's)")
    random_state: int | None = _option(None, "seed", ge=0, le=2**63 - 1)
    checkpoint_interval: float = _option(5.0, "seconds between checkpoints", ge=0)

    def replace(self, **changes: Any) -> FitOptions:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class OptionSpec:
    """One option as its declaration in `FitOptions` says: `kind` is bool, int, float or str;
    `choices` the allowed strings (None: any value of its kind); `nullable`: None allowed."""

    name: str
    default: Any
    kind: type
    choices: tuple[str, ...] | None
    nullable: bool
    help: str
    gt: float | None = None
    ge: float | None = None
    le: float | None = None


def option_specs() -> tuple[OptionSpec, ...]:
    """Every option of `FitOptions`, in declaration order."""
    hints = typing.get_type_hints(FitOptions)
    specs = []
    for f in dataclasses.fields(FitOptions):
        kinds = [
            a for a in typing.get_args(hints[f.name]) or (hints[f.name],) if a is not type(None)
        ]
        nullable = len(kinds) < len(typing.get_args(hints[f.name]) or (hints[f.name],))
        kind: Any = kinds[0] if len(kinds) == 1 else hints[f.name]
        choices = None
        if typing.get_origin(kind) is Literal:
            choices, kind = tuple(typing.get_args(kind)), str
        specs.append(
            OptionSpec(
                f.name,
                f.default,
                kind,
                choices,
                nullable,
                f.metadata["help"],
                **{b: f.metadata[b] for b in ("gt", "ge", "le") if b in f.metadata},
            )
        )
    return tuple(specs)


DEFAULTS = FitOptions()


def default_code_tol(dtype_name: str, float64_arithmetic: bool = False) -> float:
    """Relative duality-gap tolerance of the code step for data of this dtype.

    The gap is always computed in float64. A solver whose iterations run in float32 (FISTA on
    float32 data) cannot usefully go much below ~1e-7, so float32 data get 1e-6 there; the
    compiled coordinate descent works in float64 whatever the data's dtype
    (`float64_arithmetic`), so its codes are certified to 1e-10 before their rounding to
    float32 on output (about 1e-7 relative, which moves the objective at second order only).
    """
    return 1e-10 if dtype_name == "float64" or float64_arithmetic else 1e-6


def float64_code_step(code_solver: str, backend_name: str) -> bool:
    """Whether the code step of this solver on this backend computes in float64 whatever the
    data's dtype: `cd` and `lars` do (on the CPU, `auto` is `cd`); FISTA runs in the data's."""
    if code_solver == "auto":
        return backend_name == "numpy"
    return code_solver in ("cd", "lars")
