"""Job schemas. Every option of `solvers.fit` is a field of `FitSpec`, with the default of
`solvers.options.DEFAULTS` (the one place defaults live); only the execution options the
service owns (callback, checkpoint and its interval, return_codes) are not the client's."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from solvers.options import DEFAULTS, INITS, BackendName, CodeSolver, Mode

from ..store.records import JobRecord, JobState
from .common import timestamp

SERVICE_OWNED = frozenset({"checkpoint_interval"})
D = DEFAULTS


class FitSpec(BaseModel):
    """Options of the fit; see `solvers.FitOptions` for their meaning."""

    model_config = ConfigDict(extra="forbid")

    alpha: float = Field(D.alpha, gt=0, description="weight of the ℓ1 penalty")
    backend: BackendName = D.backend
    mode: Mode = D.mode
    code_solver: CodeSolver = D.code_solver
    max_iter: int = Field(D.max_iter, ge=1, description="outer iterations (online: epochs)")
    tol: float = Field(D.tol, ge=0)
    code_tol: float | None = Field(D.code_tol, gt=0)
    code_max_iter: int = Field(D.code_max_iter, ge=1)
    time_limit: float | None = Field(D.time_limit, gt=0, description="seconds")
    batch_size: int = Field(D.batch_size, ge=1)
    init: str = Field(
        D.init,
        description=f"one of {list(INITS)}, or the id of one of your models to start from",
    )
    positive_codes: bool = D.positive_codes
    positive_dictionary: bool = D.positive_dictionary
    dictionary_penalty: float | None = Field(D.dictionary_penalty, gt=0)
    averaging: float | None = Field(D.averaging, gt=0, le=1)
    dtype: Literal["float32", "float64"] | None = D.dtype
    random_state: int | None = Field(D.random_state, ge=0, le=2**63 - 1)

    @field_validator("init")
    @classmethod
    def _init(cls, value: str) -> str:
        if value not in INITS and not value.startswith("mdl_"):
            raise ValueError(f"init must be one of {list(INITS)} or a model id (mdl_…)")
        return value


class JobCreate(FitSpec):
    """A fit job: the data (a dataset id, or an inline matrix), `n_components` and options."""

    dataset_id: str | None = None
    data: list[list[float]] | None = Field(
        None, description="inline matrix (n_samples, n_features), instead of dataset_id"
    )
    n_components: int = Field(ge=1)

    @model_validator(mode="after")
    def _one_source(self) -> JobCreate:
        if (self.dataset_id is None) == (self.data is None):
            raise ValueError("give exactly one of dataset_id and data")
        return self

    def fit_options(self) -> dict[str, Any]:
        return self.model_dump(include=set(FitSpec.model_fields))


class ProgressPublic(BaseModel):
    iteration: int
    epoch: float
    objective: float | None = Field(description="J / n_samples")
    elapsed_s: float
    max_gap: float | None = Field(description="largest relative duality gap of the code step")


class JobPublic(BaseModel):
    id: str
    state: JobState
    dataset_id: str
    n_components: int
    options: dict[str, Any]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    attempts: int = Field(description="runs started so far (a lost run is retried)")
    cancel_requested: bool
    worker: str | None = Field(description="address of the Dask worker running it")
    progress: ProgressPublic | None = Field(description="the latest progress record")
    error: str | None
    stop_reason: str | None
    n_iter: int | None
    objective: float | None
    model_id: str | None

    @classmethod
    def of(cls, r: JobRecord) -> JobPublic:
        return cls(
            id=r.id,
            state=r.state,
            dataset_id=r.dataset_id,
            n_components=r.n_components,
            options=r.options,
            created_at=timestamp(r.created_at),  # type: ignore[arg-type]
            started_at=timestamp(r.started_at),
            finished_at=timestamp(r.finished_at),
            attempts=r.attempts,
            cancel_requested=r.cancel_requested,
            worker=r.worker,
            progress=ProgressPublic(**r.progress) if r.progress else None,
            error=r.error,
            stop_reason=r.stop_reason,
            n_iter=r.n_iter,
            objective=r.objective,
            model_id=r.model_id,
        )


class JobsPublic(BaseModel):
    data: list[JobPublic]
    count: int = Field(description="jobs matching the filter, over all pages")
