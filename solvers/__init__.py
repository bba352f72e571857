"""Sparse coding and dictionary learning by block coordinate descent, on NumPy or CuPy.

    min_{H, W} ½‖X − HW‖²_F + α‖H‖₁   s.t. ‖W_j‖₂ ≤ 1

Importing this package loads neither the web service nor CuPy: CuPy is imported by
`solvers.backends` only when a GPU backend is asked for.
"""

from .api import encode, fit
from .backends import available_backends, get_backend
from .certificates import dictionary_residual, lasso_gaps, objective, relative_gaps
from .errors import BackendUnavailableError, FitWarning, InvalidInputError
from .kernels import compile_kernels, kernels_cached
from .options import DEFAULTS, FitOptions
from .result import FitResult, Progress
from .validation import validate_data, working_dtype
from .value_scan import ValueScan

__all__ = [
    "DEFAULTS",
    "BackendUnavailableError",
    "FitOptions",
    "FitResult",
    "FitWarning",
    "InvalidInputError",
    "Progress",
    "ValueScan",
    "available_backends",
    "compile_kernels",
    "dictionary_residual",
    "encode",
    "fit",
    "get_backend",
    "kernels_cached",
    "lasso_gaps",
    "objective",
    "relative_gaps",
    "validate_data",
    "working_dtype",
]
