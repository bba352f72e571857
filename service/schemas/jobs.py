"""Job schemas. Every option of `solvers.fit` is a field of `FitSpec`, with the default of
`solvers.DEFAULTS` (the one place defaults live); only the execution options the
service owns (callback, checkpoint and its interval, return_codes) are not the client's."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic.config import JsonDict

from solvers import DEFAULTS, INITS, BackendName, CodeSolver, Mode

from ..settings import Settings
from ..store.records import (
    MODEL_PREFIX,
    Execution,
    JobOptions,
    JobRecord,
    JobState,
    ModelRef,
    init_source,
)
from .common import (
    EXAMPLE_DATASET_ID,
    EXAMPLE_JOB_ID,
    EXAMPLE_MODEL_ID,
    EXAMPLE_TIME,
    Rows,
    timestamp,
)

_PROGRESS_EXAMPLE: JsonDict = {
    "iteration": 42,
    "epoch": 42.0,
    "objective": 12.75,
    "elapsed_s": 7.9,
    "max_gap": 3.1e-9,
}


def _integral(value: Any) -> Any:
    """JSON Schema's integers include 3.0; strict validation alone would refuse it."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# strict (no bool, no numeric string) but 3.0 is the integer 3, as the JSON Schema says
Integer = Annotated[int, BeforeValidator(_integral)]
_BY_ID: JsonDict = {"required": ["dataset_id"], "properties": {"dataset_id": {"type": "string"}}}
_INLINE: JsonDict = {"required": ["data"], "properties": {"data": {"type": "array"}}}
SERVICE_OWNED = frozenset({"checkpoint_interval"})
D = DEFAULTS


class FitSpec(BaseModel):
    """Options of the fit; see `solvers.FitOptions` for their meaning."""

    # strict: a JSON `false` is not a number 0 (JSON integers still are numbers); finite: a
    # JSON 1e400 reads as inf, which no option means
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    alpha: float = Field(D.alpha, gt=0, description="weight of the ℓ1 penalty")
    backend: BackendName = D.backend
    mode: Mode = Field(D.mode, description="auto: chosen from the data (see solvers.auto)")
    code_solver: CodeSolver = D.code_solver
    max_iter: Integer = Field(D.max_iter, ge=1, description="outer iterations (online: epochs)")
    tol: float = Field(D.tol, ge=0)
    code_tol: float | None = Field(D.code_tol, gt=0)
    code_max_iter: Integer = Field(D.code_max_iter, ge=1)
    time_limit: float | None = Field(D.time_limit, gt=0, description="seconds")
    batch_size: Integer | None = Field(
        D.batch_size, ge=1, description="mini-batch rows (online); null: chosen from the data"
    )
    init: str = Field(
        D.init,
        description=f"one of {list(INITS)}, or the id of one of your models to start from",
        json_schema_extra={"pattern": f"^({'|'.join(INITS)}|{MODEL_PREFIX}.*)$"},
    )
    positive_codes: bool = D.positive_codes
    positive_dictionary: bool = D.positive_dictionary
    dictionary_penalty: float | None = Field(D.dictionary_penalty, gt=0)
    averaging: float | None = Field(D.averaging, gt=0, le=1)
    polyak_burn_in: float | None = Field(D.polyak_burn_in, ge=0)
    dtype: Literal["float32", "float64"] | None = D.dtype
    random_state: Integer | None = Field(D.random_state, ge=0, le=2**63 - 1)

    @field_validator("init")
    @classmethod
    def _init(cls, value: str) -> str:
        if not isinstance(init_source(value), ModelRef) and value not in INITS:
            raise ValueError(f"init must be one of {list(INITS)} or a model id (mdl_…)")
        return value


class JobCreate(FitSpec):
    """A fit job: the data (a dataset id, or an inline matrix), `n_components` and options."""

    model_config = ConfigDict(
        json_schema_extra={
            # exactly one of dataset_id and data (in a form the SDK generators accept)
            "not": {"anyOf": [{"allOf": [_BY_ID, _INLINE]}, {"not": {"anyOf": [_BY_ID, _INLINE]}}]},
            "examples": [
                {
                    "dataset_id": EXAMPLE_DATASET_ID,
                    "n_components": 32,
                    "alpha": 0.5,
                    "max_iter": 50,
                },
                {"data": [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], "n_components": 2, "max_iter": 5},
            ],
        }
    )

    dataset_id: str | None = None
    data: Rows | None = Field(
        None, description="inline matrix (n_samples, n_features), instead of dataset_id"
    )
    n_components: Integer = Field(
        ge=1,
        description="atoms to learn; at most SPARSECODING_MAX_N_COMPONENTS (default 4096)",
        # documented, not enforced here: the limit is the deployment's setting
        json_schema_extra={"maximum": Settings.model_fields["max_n_components"].default},
    )

    execution: Execution = Field(
        "auto",
        description=(
            "where the fit runs: `local` on one worker, `data_parallel` with X split by rows "
            "across the cluster's workers (partial statistics summed each iteration), `auto` "
            "data-parallel once the dataset exceeds a quarter of a worker's memory limit"
        ),
    )
    append: bool = Field(
        False,
        description=(
            "with `init` a model id: learn on from that model with this data, its dictionary "
            "and its online statistics carried forward (one pass over the rows in their order, "
            "with the model's own options): the way to learn from data that arrive over time"
        ),
    )

    @model_validator(mode="after")
    def _one_source(self) -> JobCreate:
        if (self.dataset_id is None) == (self.data is None):
            raise ValueError("give exactly one of dataset_id and data")
        return self

    @model_validator(mode="after")
    def _append_to_a_model(self) -> JobCreate:
        if not self.append:
            return self
        if not isinstance(init_source(self.init), ModelRef):
            raise ValueError("append needs init to be the id of the model to learn on from")
        fixed = sorted((self.model_fields_set & set(FitSpec.model_fields)) - {"init"})
        if fixed:
            raise ValueError(f"append learns on with the model's own options; drop {fixed}")
        return self

    def fit_options(self) -> dict[str, Any]:
        return self.model_dump(include=set(FitSpec.model_fields))

    def job_options(self) -> dict[str, Any]:
        """What the job record keeps: the fit's options and where it runs (`JobOptions`)."""
        options = {**self.fit_options(), "execution": self.execution, "append": self.append}
        return JobOptions.from_json(options).to_json()


class ProgressPublic(BaseModel):
    """One outer iteration (batch) or mini-batch checkpoint (online) of a running fit."""

    model_config = ConfigDict(json_schema_extra={"examples": [_PROGRESS_EXAMPLE]})

    iteration: int
    epoch: float
    objective: float | None = Field(
        description="J / n_samples; with `estimate` (online mode) the running average of the "
        "recent mini-batches' objectives, not yet the objective of the current dictionary"
    )
    elapsed_s: float
    max_gap: float | None = Field(description="largest relative duality gap of the code step")
    estimate: bool = Field(False, description="`objective` is an online fit's running estimate")


PHASE_MESSAGES = {
    "compiling": "compiling the CPU kernels (the first job after an install; a few seconds)",
    "fitting": "fitting",
}


class PhasePublic(BaseModel):
    """What a running job is doing: `compiling` the CPU kernels or `fitting`."""

    phase: Literal["compiling", "fitting"]
    message: str

    @classmethod
    def of(cls, phase: str) -> PhasePublic:
        return cls(phase=phase, message=PHASE_MESSAGES[phase])  # type: ignore[arg-type]


class JobPublic(BaseModel):
    """A fit job: its state, latest progress, and result (`model_id`) or `error`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": EXAMPLE_JOB_ID,
                    "state": "succeeded",
                    "dataset_id": EXAMPLE_DATASET_ID,
                    "n_components": 32,
                    "options": {"alpha": 0.5, "max_iter": 50, "mode": "batch"},
                    "created_at": EXAMPLE_TIME,
                    "started_at": "2025-01-31T12:00:01Z",
                    "finished_at": "2025-01-31T12:00:09Z",
                    "attempts": 1,
                    "cancel_requested": False,
                    "worker": "tcp://127.0.0.1:40123",
                    "progress": _PROGRESS_EXAMPLE,
                    "error": None,
                    "stop_reason": "converged",
                    "n_iter": 42,
                    "objective": 12.75,
                    "model_id": EXAMPLE_MODEL_ID,
                }
            ]
        }
    )

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
    objective: float | None = Field(
        description="J / n_samples of the learned dictionary and the codes (exact, every mode)"
    )
    model_id: str | None
    warnings: list[str] = Field(
        default_factory=list,
        description="what the submission was warned of: the fit runs, but its result is "
        "unlikely to be what was meant (e.g. n_components not smaller than n_samples)",
    )
    runtime_cap_s: float | None = Field(
        None,
        description="seconds of fitting the job may use over all its runs "
        "(SPARSECODING_MAX_JOB_SECONDS); it stops there with stop_reason runtime_cap",
    )
    phase: Literal["compiling", "fitting"] | None = Field(
        None,
        description="while running: `compiling` the CPU kernels (first job after an "
        "install) or `fitting`",
    )

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
            warnings=list(r.warnings),
            runtime_cap_s=r.runtime_cap_s,
            phase=r.phase if r.state == JobState.running else None,  # type: ignore[arg-type]
        )


class JobsPublic(BaseModel):
    data: list[JobPublic]
    count: int = Field(description="jobs matching the filter, over all pages")
