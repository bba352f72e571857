"""The client commands of `sparsecoding`, on the Python SDK (`sparsecoding_sdk`):

    sparsecoding submit data.npy --components 128 --alpha 1 [--backend auto] [--wait]
    sparsecoding jobs [--state running]
    sparsecoding cancel JOB
    sparsecoding result JOB [--out dictionary.npy] [--codes codes.npy] [--force]

`submit` takes a `.npy` file (streamed), a CSV/text table of numbers (read, then sent as
`.npy`) or the id of an uploaded dataset. `result` never replaces an existing file unless
`--force`; without `--out` it writes `<job id>.dictionary.npy`.

The server and key come from `--url` / `--api-key`, else `SPARSECODING_URL` /
`SPARSECODING_API_KEY`. Exit status: 0 done (a waited job succeeded), 1 a waited job failed
or was cancelled, 2 an error (the service's problem is printed).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from .data_files import DataFileError, is_npy, read_matrix
from .fit_flags import add_fit_flags, fit_options

DEFAULT_URL = "http://127.0.0.1:8000"


class EventBar:
    """A progress line from the job's events: iteration, objective, elapsed (self-rewriting on
    a terminal, at most one line a second elsewhere)."""

    def __init__(self, total: int, stream: TextIO = sys.stderr) -> None:
        self.total = total
        self.stream = stream
        self.tty = stream.isatty()
        self.last = 0.0
        self.pending: Any = None
        self.shown = False

    def __call__(self, progress: Any) -> None:
        now = time.monotonic()
        if not self.tty and now - self.last < 1.0:
            self.pending = progress
            return
        self.last, self.pending = now, None
        self._write(progress)

    def _write(self, p: Any) -> None:
        width = 30
        done = min(float(p.epoch) / self.total, 1.0) if self.total else 0.0
        bar = "#" * int(done * width) + "-" * (width - int(done * width))
        objective = "—" if p.objective is None else f"{p.objective:.6g}"
        label = "running objective" if p.estimate is True else "objective"
        line = f"[{bar}] iter {p.iteration}  {label} {objective}  elapsed {p.elapsed_s:.1f}s"
        self.stream.write(("\r" + line) if self.tty else line + "\n")
        self.stream.flush()
        self.shown = True

    def phase(self, phase: Any) -> None:
        """A line of its own for what the job does when it is not fitting."""
        if phase.phase != "fitting":
            self.stream.write(("\n" if self.tty and self.shown else "") + f"{phase.message}\n")
            self.stream.flush()

    def close(self) -> None:
        if self.pending is not None:
            self._write(self.pending)
        if self.tty and self.shown:
            self.stream.write("\n")
            self.stream.flush()


def _connect(args: argparse.Namespace) -> Any:
    try:
        from sparsecoding_sdk import SparseCoding
    except ImportError as exc:  # the SDK is its own distribution
        raise SystemExit(
            f"error: the Python SDK is not installed ({exc}); pip install -e openapi/clients/python"
        ) from exc
    key = args.api_key or os.environ.get("SPARSECODING_API_KEY")
    if not key:
        raise SystemExit("error: no API key: pass --api-key or set SPARSECODING_API_KEY")
    return SparseCoding(args.url or os.environ.get("SPARSECODING_URL") or DEFAULT_URL, key)


def _describe(job: Any) -> str:
    parts = [job.id, str(job.state)]
    if job.progress:
        parts.append(f"iter {job.progress.iteration}")
    if job.objective is not None:
        parts.append(f"objective {job.objective:.6g}")
    if job.model_id:
        parts.append(job.model_id)
    if job.error:
        parts.append(f"error: {job.error}")
    return "  ".join(parts)


def _submit(args: argparse.Namespace, sc: Any) -> int:
    options = fit_options(args, changed_only=True)
    source: str | Path = args.data
    if not str(args.data).startswith("ds_"):
        path = Path(args.data)
        if not path.is_file():
            print(f"error: {path} is neither a data file nor a dataset id (ds_…)", file=sys.stderr)
            return 2
        try:
            # .npy files are streamed as they are; text tables are read, then sent as .npy
            body: Any = path if is_npy(path) else read_matrix(path)
        except DataFileError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        dataset = sc.upload(body, name=path.name)
        print(f"uploaded {path} as {dataset.id} ({dataset.n_samples}×{dataset.n_features})")
        source = dataset.id
    job = sc.submit(str(source), args.components, idempotency_key=args.idempotency_key, **options)
    print(f"submitted {job.id}")
    for warning in job.warnings or ():
        print(f"warning: {warning}", file=sys.stderr)
    if not args.wait:
        return 0
    bar = None if args.quiet else EventBar(args.max_iter)
    try:
        job = sc.wait(job.id, progress=bar, phase=bar.phase if bar else None)
    except KeyboardInterrupt:
        if bar:
            bar.close()
        print(f"\nstopped following {job.id}; it keeps running (sparsecoding cancel {job.id})")
        return 130
    if bar:
        bar.close()
    print(_describe(job))
    return 0 if job.state == "succeeded" else 1


def _jobs(args: argparse.Namespace, sc: Any) -> int:
    page = sc.jobs(state=args.state, limit=args.limit)
    for job in page.data:
        print(_describe(job))
    print(f"{len(page.data)} of {page.count} jobs")
    return 0


def _cancel(args: argparse.Namespace, sc: Any) -> int:
    print(_describe(sc.cancel(args.job)))
    return 0


def _result(args: argparse.Namespace, sc: Any) -> int:
    out = args.out if args.out is not None else Path(f"{args.job}.dictionary.npy")
    for path in (out, args.codes):
        if path is not None and path.exists() and not args.force:
            print(f"error: {path} exists; pass --force to replace it", file=sys.stderr)
            return 2
        if path is not None and not path.resolve().parent.is_dir():
            print(f"error: {path.parent} is not a directory", file=sys.stderr)
            return 2
    job = sc.job(args.job)
    if not job.model_id:
        print(f"error: job {job.id} has no result: {_describe(job)}", file=sys.stderr)
        return 2
    W = sc.dictionary(job.model_id)
    np.save(out, W, allow_pickle=False)
    print(f"dictionary {W.shape} of {job.model_id} written to {out}")
    if args.codes is not None:
        H = sc.codes(job.id)
        np.save(args.codes, H, allow_pickle=False)
        print(f"codes {H.shape} written to {args.codes}")
    return 0


def _run(args: argparse.Namespace) -> int:
    import httpx
    from sparsecoding_sdk import ApiError

    sc = _connect(args)
    try:
        with sc:
            return int(args.client_command(args, sc))
    except ApiError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except httpx.TransportError as exc:
        print(f"error: cannot reach {sc.url}: {exc}", file=sys.stderr)
        return 2


def _connection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help=f"service URL (default $SPARSECODING_URL or {DEFAULT_URL})")
    parser.add_argument("--api-key", help="API key (default $SPARSECODING_API_KEY)")


def add_commands(commands: Any) -> None:
    """Register `submit`, `jobs`, `cancel` and `result` on the `sparsecoding` parser."""
    submit = commands.add_parser("submit", help="submit a fit to a service (and follow it)")
    submit.add_argument(
        "data",
        help=".npy file or CSV/text table to upload, or the id of an uploaded dataset (ds_…)",
    )
    submit.add_argument("--components", "-k", type=int, required=True, help="number of atoms")
    add_fit_flags(
        submit,
        exclude=frozenset({"checkpoint_interval"}),  # the service's own
        init_help="data, svd, or the id of one of your models (mdl_…) to start from",
    )
    submit.add_argument("--idempotency-key", default=None, help="submit this fit at most once")
    submit.add_argument("--wait", action="store_true", help="follow the job until it ends")
    submit.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    _connection_options(submit)
    submit.set_defaults(handler=_run, client_command=_submit)

    jobs = commands.add_parser("jobs", help="list your jobs on a service")
    jobs.add_argument("--state", choices=("queued", "running", "succeeded", "failed", "cancelled"))
    jobs.add_argument("--limit", type=int, default=20)
    _connection_options(jobs)
    jobs.set_defaults(handler=_run, client_command=_jobs)

    cancel = commands.add_parser("cancel", help="cancel a job on a service")
    cancel.add_argument("job", help="job id")
    _connection_options(cancel)
    cancel.set_defaults(handler=_run, client_command=_cancel)

    result = commands.add_parser("result", help="download the dictionary a job learned")
    result.add_argument("job", help="job id")
    result.add_argument(
        "--out", "-o", type=Path, default=None, help="default: <job id>.dictionary.npy"
    )
    result.add_argument("--codes", type=Path, default=None, help="also write the codes here")
    result.add_argument("--force", action="store_true", help="replace files that exist")
    _connection_options(result)
    result.set_defaults(handler=_run, client_command=_result)
