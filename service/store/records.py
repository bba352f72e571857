"""Plain records the repositories read and write (no SQL, no HTTP)."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

import solvers


class JobState(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"


TERMINAL = frozenset({JobState.succeeded, JobState.failed, JobState.cancelled})


def new_id(prefix: str) -> str:
    """Random identifier with a readable prefix, e.g. `job_3f9c…` (128 bits)."""
    return f"{prefix}_{secrets.token_hex(16)}"


@dataclass(frozen=True)
class DatasetRecord:
    id: str
    tenant: str
    name: str | None
    n_samples: int
    n_features: int
    dtype: str
    nbytes: int
    sha256: str
    created_at: float


MODEL_PREFIX = "mdl_"
Execution = Literal["auto", "local", "data_parallel"]


@dataclass(frozen=True)
class ModelRef:
    """A job's initial dictionary when it is one of the tenant's models."""

    id: str


def init_source(value: str) -> str | ModelRef:
    """What a job's `init` names: "data", "svd", or a model (an id `mdl_…`); the one place that
    tells them apart."""
    return ModelRef(value) if value.startswith(MODEL_PREFIX) else value


@dataclass(frozen=True)
class JobOptions:
    """A job's options, typed: the keyword options of `solvers.fit`, where its dictionary
    starts, and where it runs. Stored (and shown) flat, as `to_json` gives them."""

    fit: dict[str, Any]  # FitOptions fields but `init`
    init: str | ModelRef
    execution: Execution = "auto"
    append: bool = False  # learn on from the init model's online statistics (a stream step)

    @classmethod
    def from_json(cls, options: dict[str, Any]) -> JobOptions:
        fit = {k: v for k, v in options.items() if k not in ("init", "execution", "append")}
        unknown = set(fit) - {spec.name for spec in solvers.option_specs()}
        if unknown:
            raise ValueError(f"a job record with unknown options: {sorted(unknown)}")
        return cls(
            fit,
            init_source(options.get("init", "data")),
            options.get("execution", "auto"),
            bool(options.get("append", False)),
        )

    def to_json(self) -> dict[str, Any]:
        init = self.init.id if isinstance(self.init, ModelRef) else self.init
        appended = {"append": True} if self.append else {}  # (older records have no such key)
        return {**self.fit, "init": init, "execution": self.execution, **appended}


@dataclass(frozen=True)
class JobRecord:
    id: str
    tenant: str
    dataset_id: str
    n_components: int
    options: dict[str, Any]
    state: JobState
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    heartbeat_at: float | None = None
    attempts: int = 0
    cancel_requested: bool = False
    run_token: str | None = None
    worker: str | None = None
    error: str | None = None
    stop_reason: str | None = None
    n_iter: int | None = None
    objective: float | None = None
    model_id: str | None = None
    progress: dict[str, Any] | None = None
    phase: str | None = None  # while running: "compiling" (kernels) or "fitting"
    warnings: tuple[str, ...] = ()  # what the submission was warned of
    runtime_cap_s: float | None = None  # seconds of fitting it may use over all its runs
    run_started_at: float | None = None  # when its current (or last) run claimed it
    yield_requested: bool = False  # asked to give its worker to another tenant's job

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL

    @property
    def run_options(self) -> JobOptions:
        return JobOptions.from_json(self.options)

    @classmethod
    def from_row(cls, row: Any) -> JobRecord:
        data = dict(row)
        data["options"] = json.loads(data["options"])
        data["progress"] = json.loads(data["progress"]) if data["progress"] else None
        data["warnings"] = tuple(json.loads(data["warnings"]))
        data["state"] = JobState(data["state"])
        data["cancel_requested"] = bool(data["cancel_requested"])
        data["yield_requested"] = bool(data["yield_requested"])
        return cls(**data)


@dataclass(frozen=True)
class ModelRecord:
    id: str
    tenant: str
    job_id: str
    dataset_id: str
    n_components: int
    n_features: int
    dtype: str
    alpha: float
    positive_codes: bool
    backend: str
    objective: float | None
    n_iter: int
    stop_reason: str
    options: dict[str, Any]
    created_at: float

    @classmethod
    def from_row(cls, row: Any) -> ModelRecord:
        data = dict(row)
        data["options"] = json.loads(data["options"])
        data["positive_codes"] = bool(data["positive_codes"])
        return cls(**data)
