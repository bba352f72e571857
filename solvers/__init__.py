"""Sparse coding and dictionary learning by block coordinate descent, on NumPy or CuPy.

    min_{H, W} ½‖X − HW‖²_F + α‖H‖₁   s.t. ‖W_j‖₂ ≤ 1

Importing this package loads neither the web service nor CuPy: CuPy is imported by
`solvers.backends` only when a GPU backend is asked for.
"""

from .api import encode, fit
from .backends import CPU_ONLY_CODE_SOLVERS, available_backends, get_backend
from .certificates import dictionary_residual, lasso_gaps, objective, relative_gaps
from .checkpoint import remove_checkpoint
from .distributed import DaskExecutor, default_n_chunks, partial_codes
from .errors import BackendUnavailableError, ConvergenceWarning, FitWarning, InvalidInputError
from .kernels import DTYPES as KERNEL_DTYPES
from .kernels import cache_directory, compile_kernels, kernels_cached
from .omp import omp_codes
from .options import (
    BACKENDS,
    CODE_SOLVERS,
    DEFAULTS,
    ENCODE_SOLVERS,
    INITS,
    MODES,
    BackendName,
    CodeSolver,
    EncodeSolver,
    FitOptions,
    Mode,
    OptionSpec,
    option_specs,
)
from .placement import GPU_RESOURCE, ClusterWorkers, task_restrictions
from .result import FitResult, Progress
from .streaming import OnlineModel, partial_fit
from .validation import size_warning, validate_data, validate_options, working_dtype
from .value_scan import ValueScan

__all__ = [
    "BACKENDS",
    "CODE_SOLVERS",
    "CPU_ONLY_CODE_SOLVERS",
    "DEFAULTS",
    "ENCODE_SOLVERS",
    "GPU_RESOURCE",
    "INITS",
    "KERNEL_DTYPES",
    "MODES",
    "BackendName",
    "BackendUnavailableError",
    "ClusterWorkers",
    "CodeSolver",
    "ConvergenceWarning",
    "DaskExecutor",
    "EncodeSolver",
    "FitOptions",
    "FitResult",
    "FitWarning",
    "InvalidInputError",
    "Mode",
    "OnlineModel",
    "OptionSpec",
    "Progress",
    "ValueScan",
    "available_backends",
    "cache_directory",
    "compile_kernels",
    "default_n_chunks",
    "dictionary_residual",
    "encode",
    "fit",
    "get_backend",
    "kernels_cached",
    "lasso_gaps",
    "objective",
    "omp_codes",
    "option_specs",
    "partial_codes",
    "partial_fit",
    "relative_gaps",
    "remove_checkpoint",
    "size_warning",
    "task_restrictions",
    "validate_data",
    "validate_options",
    "working_dtype",
]
