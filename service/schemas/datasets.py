"""Dataset schemas."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from ..store.records import DatasetRecord
from .common import EXAMPLE_DATASET_ID, EXAMPLE_TIME, timestamp


class DatasetPublic(BaseModel):
    """A stored matrix; `sha256` is the digest of the uploaded `.npy` file."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": EXAMPLE_DATASET_ID,
                    "name": "patches",
                    "n_samples": 2000,
                    "n_features": 64,
                    "dtype": "float64",
                    "nbytes": 1024128,
                    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                    "created_at": EXAMPLE_TIME,
                }
            ]
        }
    )

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
