"""Model schemas (a model is the dictionary a succeeded job learned) and encoding."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from solvers import EncodeSolver

from ..store.records import ModelRecord
from .common import (
    EXAMPLE_DATASET_ID,
    EXAMPLE_JOB_ID,
    EXAMPLE_MODEL_ID,
    EXAMPLE_TIME,
    Rows,
    timestamp,
)


class ModelPublic(BaseModel):
    """A learned dictionary (n_components, n_features) and how it was learned."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": EXAMPLE_MODEL_ID,
                    "job_id": EXAMPLE_JOB_ID,
                    "dataset_id": EXAMPLE_DATASET_ID,
                    "n_components": 32,
                    "n_features": 64,
                    "dtype": "float64",
                    "alpha": 0.5,
                    "positive_codes": False,
                    "backend": "numpy",
                    "objective": 12.75,
                    "n_iter": 50,
                    "stop_reason": "converged",
                    "options": {"alpha": 0.5, "max_iter": 50, "mode": "batch"},
                    "created_at": EXAMPLE_TIME,
                }
            ]
        }
    )

    id: str
    job_id: str
    dataset_id: str
    n_components: int
    n_features: int
    dtype: str
    alpha: float
    positive_codes: bool
    backend: str
    objective: float | None = Field(description="J / n_samples at the end of the fit")
    n_iter: int
    stop_reason: str
    options: dict[str, Any]
    created_at: datetime

    @classmethod
    def of(cls, r: ModelRecord) -> ModelPublic:
        return cls(
            id=r.id,
            job_id=r.job_id,
            dataset_id=r.dataset_id,
            n_components=r.n_components,
            n_features=r.n_features,
            dtype=r.dtype,
            alpha=r.alpha,
            positive_codes=r.positive_codes,
            backend=r.backend,
            objective=r.objective,
            n_iter=r.n_iter,
            stop_reason=r.stop_reason,
            options=r.options,
            created_at=timestamp(r.created_at),  # type: ignore[arg-type]
        )


class ModelsPublic(BaseModel):
    data: list[ModelPublic]
    count: int


class EncodeOptions(BaseModel):
    """Options of an encode request; unset ones are the model's own."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    alpha: float | None = Field(None, gt=0, description="default: the model's alpha")
    code_solver: EncodeSolver = Field(
        "auto", description="a lasso solver, or omp: orthogonal matching pursuit (ℓ0, no alpha)"
    )
    positive: bool | None = Field(None, description="default: the model's positive_codes")
    n_nonzero_coefs: int | None = Field(
        None, ge=1, description="omp: atoms per row (default: a tenth of the features)"
    )


class EncodeRequest(EncodeOptions):
    """Rows to encode and the options (the model's own when left out)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"data": [[0.0, 1.0, 2.0]], "alpha": 0.5}]}
    )

    data: Rows = Field(description="rows to encode, (n_samples, n_features)")


class EncodePublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"codes": [[0.0, 1.25, 0.0, -0.5]], "objective": 0.91}]}
    )

    codes: list[list[float]] = Field(description="(n_samples, n_components)")
    objective: float | None = Field(
        description="J / n_samples of these rows and codes (lasso solvers; null for omp)"
    )
