"""The `sparsecoding` command: `fit` and `encode` run the solver core locally; `serve` starts
the service; `submit`, `jobs`, `cancel` and `result` are clients of a running service
(`client_cli`)."""

from __future__ import annotations

import argparse
import signal
import sys
import time
import warnings
from pathlib import Path
from typing import Any, TextIO

import numpy as np

import solvers
from solvers import KERNEL_DTYPES

from .data_files import DataFileError, read_matrix
from .fit_flags import add_fit_flags, fit_options


class ProgressBar:
    """One self-rewriting line on a terminal (one line per update elsewhere)."""

    def __init__(self, total: int, stream: TextIO = sys.stderr) -> None:
        self.total = total
        self.stream = stream
        self.tty = stream.isatty()
        self.last = 0.0
        self.pending: solvers.Progress | None = None

    def __call__(self, progress: solvers.Progress) -> None:
        now = time.monotonic()
        if not self.tty and now - self.last < 1.0:
            self.pending = progress  # shown by close() if nothing newer is printed
            return
        self.last = now
        self.pending = None
        self._write(progress)

    def _write(self, progress: solvers.Progress) -> None:
        width = 30
        done = min(progress.epoch / self.total, 1.0)
        bar = "#" * int(done * width) + "-" * (width - int(done * width))
        # online fits report a running estimate of the objective, not yet the objective
        label = "running objective" if progress.estimate else "objective"
        line = (
            f"[{bar}] iter {progress.iteration}  epoch {progress.epoch:.1f}/{self.total}  "
            f"{label} {progress.objective:.6g}  gap {progress.max_gap:.1e}  "
            f"elapsed {progress.elapsed_s:.1f}s"
        )
        self.stream.write(("\r" + line) if self.tty else line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.pending is not None:
            self._write(self.pending)
        if self.tty:
            self.stream.write("\n")


def _fit_command(args: argparse.Namespace) -> int:
    out = args.out if args.out.suffix == ".npz" else Path(f"{args.out}.npz")  # as numpy names it
    if out.exists() and not args.force:
        print(f"error: {out} exists; pass --force to replace it", file=sys.stderr)
        return 2
    if not out.resolve().parent.is_dir():  # found out now, not after the fit
        print(f"error: {out.parent} is not a directory", file=sys.stderr)
        return 2
    try:
        X = read_matrix(args.data)
    except DataFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    options = fit_options(args)
    init = options.pop("init")
    bar = None if args.quiet else ProgressBar(args.max_iter)
    try:
        _compile_on_first_use(args.backend, solvers.working_dtype(X.dtype, args.dtype))
        with warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always", solvers.FitWarning)
            result = solvers.fit(X, args.components, init=init, callback=bar, **options)
    except (solvers.InvalidInputError, solvers.BackendUnavailableError) as exc:
        if bar:
            bar.close()
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if bar:
        bar.close()
    for warning in warned:
        print(f"warning: {warning.message}", file=sys.stderr)
    np.savez(
        out,
        dictionary=result.dictionary,
        codes=result.codes if result.codes is not None else np.empty((0, 0)),
        objective=np.array([h.objective for h in result.history]),
    )
    print(
        f"{result.stop_reason} after {result.n_iter} iterations: objective {result.objective:.6g} "
        f"(J / n_samples of the dictionary and codes); dictionary {result.dictionary.shape} "
        f"written to {out}"
    )
    return 0


def _encode_command(args: argparse.Namespace) -> int:
    if args.out.exists() and not args.force:
        print(f"error: {args.out} exists; pass --force to replace it", file=sys.stderr)
        return 2
    try:
        X = read_matrix(args.data)
        W = _read_dictionary(args.dictionary)
    except DataFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        _compile_on_first_use("numpy", solvers.working_dtype(X.dtype))
        with warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always", solvers.FitWarning)
            codes = solvers.encode(
                X,
                W,
                alpha=args.alpha,
                code_solver=args.code_solver,
                positive=args.positive,
                n_nonzero_coefs=args.n_nonzero_coefs,
            )
    except solvers.InvalidInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for warning in warned:
        print(f"warning: {warning.message}", file=sys.stderr)
    np.save(args.out, codes)
    print(f"codes {codes.shape} ({args.code_solver}) written to {args.out}")
    return 0


def _read_dictionary(path: Path) -> np.ndarray:
    """The dictionary (n_components, n_features) in a `sparsecoding fit` .npz, or a matrix file."""
    if path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as stored:
                return np.asarray(stored["dictionary"])
        except (OSError, KeyError, ValueError) as exc:
            raise DataFileError(f"{path} is not a model of `sparsecoding fit`: {exc}") from exc
    return read_matrix(path)


def _compile_on_first_use(backend: str, dtype: np.dtype) -> None:
    """Compile the CPU kernels before the fit when numba's cache lacks them, saying so: the
    first fit after an install would otherwise sit silent for seconds."""
    if solvers.get_backend(backend).is_gpu or solvers.kernels_cached([dtype]):
        return
    print(
        f"compiling the CPU kernels for {dtype.name} data (first use after an install, a few "
        "seconds; cached for every later run)",
        file=sys.stderr,
        flush=True,
    )
    solvers.compile_kernels([dtype])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sparsecoding", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    fit = commands.add_parser("fit", help="learn a dictionary from a data file, locally")
    fit.add_argument(
        "data",
        type=Path,
        help=".npy file, or a CSV/text table of numbers (one optional header line); "
        "samples in rows",
    )
    fit.add_argument("--components", "-k", type=int, required=True, help="number of atoms")
    fit.add_argument("--out", "-o", type=Path, default=Path("model.npz"), help="output .npz")
    fit.add_argument("--force", action="store_true", help="replace --out if it exists")
    add_fit_flags(fit, exclude=frozenset({"checkpoint_interval"}))
    fit.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    fit.set_defaults(handler=_fit_command)

    encode = commands.add_parser("encode", help="code a data file on a fixed dictionary, locally")
    encode.add_argument("data", type=Path, help="samples in rows, as for fit")
    encode.add_argument(
        "--dictionary", "-d", type=Path, required=True,
        help="the model .npz of `sparsecoding fit`, or a matrix file (n_components, n_features)",
    )  # fmt: skip
    encode.add_argument("--alpha", type=float, default=1.0, help="ℓ1 weight (lasso solvers)")
    encode.add_argument(
        "--code-solver", choices=solvers.ENCODE_SOLVERS, default="auto",
        help="a lasso solver, or omp (orthogonal matching pursuit)",
    )  # fmt: skip
    encode.add_argument(
        "--n-nonzero-coefs", type=int, default=None,
        help="omp: atoms per row (default: a tenth of the features)",
    )  # fmt: skip
    encode.add_argument("--positive", action="store_true", help="codes ≥ 0 (lasso solvers)")
    encode.add_argument("--out", "-o", type=Path, default=Path("codes.npy"), help="output .npy")
    encode.add_argument("--force", action="store_true", help="replace --out if it exists")
    encode.set_defaults(handler=_encode_command)

    _add_service_commands(commands)
    return parser


def _add_service_commands(commands: Any) -> None:
    """`serve` (its flags are declared once, by `service.serve.add_arguments`) and the clients."""
    from . import client_cli, serve

    parser = commands.add_parser(
        "serve",
        help="start the HTTP service (API, SQLite, local Dask cluster)",
        description=serve.DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_arguments(parser)
    parser.set_defaults(handler=serve.run)
    key = commands.add_parser(
        "new-key",
        help="create another API key for a service's data directory (a lost one cannot be shown)",
    )
    serve.add_key_arguments(key)
    key.set_defaults(handler=serve.new_key)
    compile_kernels = commands.add_parser(
        "compile-kernels",
        help="compile the CPU kernels now (else the first fit after an install does)",
    )
    compile_kernels.add_argument(
        "dtypes", nargs="*", type=_kernel_dtype, help="float64 and/or float32 (default: both)"
    )
    compile_kernels.set_defaults(handler=_compile_kernels_command)
    client_cli.add_commands(commands)


def _kernel_dtype(name: str) -> str:
    if name not in KERNEL_DTYPES:
        raise argparse.ArgumentTypeError(f"{name!r} is not one of {', '.join(KERNEL_DTYPES)}")
    return name


def _compile_kernels_command(args: argparse.Namespace) -> int:
    dtypes = args.dtypes or list(KERNEL_DTYPES)
    cached = solvers.kernels_cached(dtypes)
    seconds = solvers.compile_kernels(dtypes)
    verb = "loaded" if cached else "compiled"
    where = solvers.cache_directory()
    print(f"{verb} the CPU kernels for {', '.join(dtypes)} in {seconds:.1f} s (cache: {where})")
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return int(args.handler(args))
    except KeyboardInterrupt:  # Ctrl-C: a stop asked for, not a crash to show
        print("interrupted", file=sys.stderr)
        return 128 + signal.SIGINT


if __name__ == "__main__":
    sys.exit(main())
