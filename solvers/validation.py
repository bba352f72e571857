"""Checks at the boundary of the numerical core, with messages that name the problem."""

from __future__ import annotations

import math
import os
import warnings
from typing import Any

import numpy as np

from .backends import to_host
from .errors import FitWarning, InvalidInputError
from .options import DEFAULTS, FitOptions, OptionSpec, option_specs
from .value_scan import ValueScan

# Rows scanned at once (NaN/Inf, magnitude): a memory-mapped matrix is never loaded whole.
_SCAN_ROWS = 65536


def validate_data(X: Any, name: str = "X", dtype: str | None = None) -> np.ndarray:
    """`X` as a 2-D float32 or float64 NumPy array (a memory map stays a memory map).

    Integers and booleans become float64, float16 becomes float32, and `dtype` forces one of
    the two. Raises InvalidInputError for anything else: not 2-D, empty, complex, non-numeric,
    NaN or Inf (with their count and the first position), values too large for the dtype's
    arithmetic (`value_scan`). A CuPy array is copied to the host first.
    """
    X = to_host(X)
    if not isinstance(X, np.ndarray):
        try:
            X = np.asarray(X)
        except (ValueError, TypeError) as exc:
            raise InvalidInputError(f"{name} is not a numeric matrix: {exc}") from exc
    check_matrix_header(X, name)
    target = working_dtype(X.dtype, dtype)
    if X.dtype != target:
        X = X.astype(target)
    _check_finite(X, name)
    return X


def check_matrix_header(X: np.ndarray, name: str = "X") -> None:
    """What can be told of X without reading its values: 2-D, non-empty, real numbers."""
    if X.ndim != 2:
        raise InvalidInputError(
            f"{name} must be 2-D (n_samples, n_features); got {X.ndim}-D with shape {X.shape}"
        )
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise InvalidInputError(f"{name} is empty: shape {X.shape}")
    kind = X.dtype.kind
    if kind == "c":
        raise InvalidInputError(f"{name} has complex dtype {X.dtype}; only real data is supported")
    if kind not in "biuf":
        raise InvalidInputError(
            f"{name} has non-numeric dtype {X.dtype}; expected real numbers (float32 or float64)"
        )


def open_matrix(X: Any) -> Any:
    """X itself, or for the path of a `.npy` file its memory map (never unpickled)."""
    if not isinstance(X, str | os.PathLike):
        return X
    try:
        return np.load(os.fspath(X), mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InvalidInputError(f"cannot read {os.fspath(X)} as a .npy matrix: {exc}") from exc


def npy_path(X: Any) -> str | None:
    """The `.npy` file behind a memory map np.load made, which other processes can open."""
    name = getattr(X, "filename", None) if isinstance(X, np.memmap) else None
    return os.path.abspath(name) if name and str(name).endswith(".npy") else None


class CastRows:
    """X read rows at a time in the working dtype (an initial dictionary from data rows)."""

    def __init__(self, X: np.ndarray, dtype: np.dtype) -> None:
        self.X, self.dtype, self.shape = X, dtype, X.shape

    def __getitem__(self, rows: Any) -> np.ndarray:
        return np.asarray(self.X[rows]).astype(self.dtype)


def working_dtype(stored: Any, requested: str | None = None) -> np.dtype:
    """The dtype a fit of data stored as `stored` computes in: `requested` when given, else
    float32 for float32 and float16 data and float64 for everything else."""
    if requested:
        return np.dtype(requested)
    if stored == np.float32 or stored == np.float16:
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def _check_finite(X: np.ndarray, name: str) -> None:
    scan = ValueScan()
    for start in range(0, X.shape[0], _SCAN_ROWS):
        scan.add(np.asarray(X[start : start + _SCAN_ROWS]))
    problem = scan.problem(name, X.shape)
    if problem is not None:
        raise InvalidInputError(problem)


def validate_dictionary(W: Any, n_features: int, n_components: int | None = None) -> np.ndarray:
    """A given dictionary (n_components, n_features), checked against the data's width."""
    W = validate_data(W, name="dictionary")
    if W.shape[1] != n_features:
        raise InvalidInputError(
            f"dictionary has {W.shape[1]} features per atom but X has {n_features}"
        )
    if n_components is not None and W.shape[0] != n_components:
        raise InvalidInputError(
            f"dictionary has {W.shape[0]} atoms but n_components is {n_components}"
        )
    return W


def size_warning(n_samples: int, n_components: int) -> str | None:
    """Why a dictionary of `n_components` atoms is too large for `n_samples` samples, or None.

    With at least as many atoms as samples, the dictionary can hold every sample as an atom of
    its own: the fit then memorises the data instead of learning structure the samples share.
    """
    if n_components < n_samples:
        return None
    spare = n_components - n_samples
    unused = f"; at least {spare} atoms have no sample of their own" if spare else ""
    return (
        f"n_components={n_components} is not smaller than n_samples={n_samples}: the dictionary "
        f"can hold every sample as an atom of its own, so the fit memorises the data instead "
        f"of learning shared structure{unused}. Use fewer atoms than samples (usually far "
        f"fewer) or more samples."
    )


def warn_if_too_large(n_samples: int, n_components: int) -> None:
    """Emit `size_warning` as a FitWarning, pointing at the caller's call of the fit."""
    message = size_warning(n_samples, n_components)
    if message is not None:
        warnings.warn(message, FitWarning, stacklevel=3)


def fit_options(n_components: Any, options: dict[str, Any]) -> FitOptions:
    """The FitOptions of a fit's keyword options, checked: unknown names, ranges, alpha > 0."""
    unknown = set(options) - set(FitOptions.__dataclass_fields__)
    if unknown:
        raise InvalidInputError(f"unknown option(s): {', '.join(sorted(unknown))}")
    opts = DEFAULTS.replace(**options)
    validate_options(n_components, opts)
    return opts


def checked_alpha(alpha: Any) -> float:
    """α as a float; InvalidInputError with the one message every entry point gives unless it
    is a finite number > 0."""
    try:
        value = float(alpha)
    except (TypeError, ValueError):
        value = math.nan
    if isinstance(alpha, bool) or not (math.isfinite(value) and value > 0):
        raise InvalidInputError(
            f"alpha must be > 0 and finite; got {alpha!r} (α = 0 would be plain least squares, "
            "not sparse coding)"
        )
    return value


def validate_options(n_components: Any, options: FitOptions) -> None:
    """Raise InvalidInputError naming the first option outside what `FitOptions` declares."""
    if isinstance(n_components, bool) or not isinstance(n_components, int | np.integer):
        raise InvalidInputError(f"n_components must be an integer; got {n_components!r}")
    if n_components < 1:
        raise InvalidInputError(f"n_components must be at least 1; got {n_components}")
    checked_alpha(options.alpha)
    for spec in option_specs():
        value = getattr(options, spec.name)
        if spec.name == "init" and not isinstance(value, str):
            continue  # an array, checked against the data by initial_dictionary
        if value is None and spec.nullable:
            continue
        problem = _option_problem(spec, value)
        if problem is not None:
            raise InvalidInputError(f"{spec.name} must be {problem}; got {value!r}")
    _require(
        options.averaging is None or options.polyak_burn_in is None,
        "averaging (exponential) and polyak_burn_in (uniform) name two averages: choose one",
    )
    _require(
        not (options.backend == "cupy" and options.code_solver in ("cd", "lars")),
        f"code_solver={options.code_solver!r} runs on the CPU only: use 'fista' or 'auto' "
        "with backend='cupy'",
    )


def _option_problem(spec: OptionSpec, value: Any) -> str | None:
    """What `value` fails to be for `spec`, in words; None when it is fine."""
    if spec.choices is not None:
        return None if value in spec.choices else f"one of {spec.choices}"
    if spec.kind is bool:
        return None if isinstance(value, bool | np.bool_) else "true or false"
    if spec.kind is int and (isinstance(value, bool) or not isinstance(value, int | np.integer)):
        return "an integer"
    if isinstance(value, bool) or not _finite(value):
        return "a finite number"
    if spec.kind is int and spec.ge is not None and value < spec.ge:
        return f"at least {spec.ge:g}"
    if spec.gt is not None and spec.le is not None:
        return None if spec.gt < value <= spec.le else f"in ({spec.gt:g}, {spec.le:g}]"
    bounds = [
        (spec.gt, lambda v, b: v > b, f"> {spec.gt}"),
        (spec.ge, lambda v, b: v >= b, f"≥ {spec.ge}"),
        (spec.le, lambda v, b: v <= b, f"≤ {spec.le}"),
    ]
    words = [word for bound, _, word in bounds if bound is not None]
    if all(bound is None or holds(value, bound) for bound, holds, _ in bounds):
        return None
    return " and ".join([*words, "finite"])


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(value)
    except TypeError:
        return False


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise InvalidInputError(message)
