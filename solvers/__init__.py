"""Sparse coding and dictionary learning by block coordinate descent, on NumPy or CuPy.

    min_{H, W} ½‖X − HW‖²_F + α‖H‖₁   s.t. ‖W_j‖₂ ≤ 1

Importing this package loads neither the web service nor CuPy: CuPy is imported by
`solvers.backends` only when a GPU backend is asked for.
"""

from .api import encode, fit
from .backends import available_backends, get_backend
from .certificates import dictionary_residual, lasso_gaps, objective, relative_gaps
from .errors import BackendUnavailableError, InvalidInputError
from .options import DEFAULTS, FitOptions
from .result import FitResult, Progress
from .validation import validate_data

__all__ = [
    "DEFAULTS",
    "BackendUnavailableError",
    "FitOptions",
    "FitResult",
    "InvalidInputError",
    "Progress",
    "available_backends",
    "dictionary_residual",
    "encode",
    "fit",
    "get_backend",
    "lasso_gaps",
    "objective",
    "relative_gaps",
    "validate_data",
]
