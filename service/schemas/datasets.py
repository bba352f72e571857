"""Dataset schemas."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from ..store.records import DatasetRecord
from .common import timestamp


class DatasetPublic(BaseModel):
    id: str
    name: str | None
    n_samples: int
    n_features: int
    dtype: str
    nbytes: int
    sha256: str
    created_at: datetime

    @classmethod
    def of(cls, r: DatasetRecord) -> DatasetPublic:
        return cls(
            id=r.id,
            name=r.name,
            n_samples=r.n_samples,
            n_features=r.n_features,
            dtype=r.dtype,
            nbytes=r.nbytes,
            sha256=r.sha256,
            created_at=timestamp(r.created_at),  # type: ignore[arg-type]
        )


class DatasetsPublic(BaseModel):
    data: list[DatasetPublic]
    count: int
