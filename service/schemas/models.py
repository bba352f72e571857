"""Model schemas (a model is the dictionary a succeeded job learned) and encoding."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from solvers.options import CodeSolver

from ..store.records import ModelRecord
from .common import timestamp


class ModelPublic(BaseModel):
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

    model_config = ConfigDict(extra="forbid")

    alpha: float | None = Field(None, gt=0, description="default: the model's alpha")
    code_solver: CodeSolver = "auto"
    positive: bool | None = Field(None, description="default: the model's positive_codes")


class EncodeRequest(EncodeOptions):
    data: list[list[float]] = Field(description="rows to encode, (n_samples, n_features)")


class EncodePublic(BaseModel):
    codes: list[list[float]] = Field(description="(n_samples, n_components)")
    objective: float | None = Field(description="J / n_samples of these rows and codes")
