"""Schemas shared by every domain: problem details, matrices, timestamps, and the example ids
the OpenAPI description shows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AllowInfNan, BaseModel, ConfigDict, Field

EXAMPLE_DATASET_ID = "ds_3f9c2a7e5b1d4c6f8a0e2b4d6f8a0c1e"
EXAMPLE_JOB_ID = "job_7b1e9d3c5a2f4e6b8d0c2a4e6f8b0d2c"
EXAMPLE_MODEL_ID = "mdl_c4a8e2f6b0d4c8a2e6f0b4d8c2a6e0f4"
EXAMPLE_TIME = "2025-01-31T12:00:00Z"


# NaN and Infinity pass here, to be refused by the matrix check, which names where they are
Row = Annotated[list[Annotated[float, AllowInfNan(True)]], Field(min_length=1)]
Rows = Annotated[list[Row], Field(min_length=1)]


def timestamp(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, tz=UTC)


class Problem(BaseModel):
    """RFC 9457 problem details; extension members vary by `type`."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": "urn:sparsecoding:problem:validation",
                    "title": "Invalid request",
                    "status": 422,
                    "detail": "body.n_components: Field required",
                    "instance": "/v1/jobs",
                    "errors": [
                        {
                            "loc": ["body", "n_components"],
                            "msg": "Field required",
                            "type": "missing",
                        }
                    ],
                }
            ]
        },
    )

    type: str = Field(
        description="`urn:sparsecoding:problem:<slug>`, or `about:blank`",
        examples=["urn:sparsecoding:problem:not-found"],
    )
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None


class MatrixPublic(BaseModel):
    """A matrix as JSON; ask for `Accept: application/x-npy` to get the `.npy` file instead."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"shape": [2, 3], "dtype": "float64", "data": [[0.6, 0.8, 0.0], [0.0, 0.0, 1.0]]}
            ]
        }
    )

    shape: list[int]
    dtype: str
    data: list[list[float]]


class MatrixUpload(BaseModel):
    """A matrix sent as JSON (rows of numbers); `.npy` bodies are the efficient alternative."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"data": [[0.0, 1.0, 2.0], [1.5, -0.5, 0.25]]}]}
    )

    data: Rows = Field(description="(n_samples, n_features), rows of equal length")
    name: str | None = Field(None, max_length=200)
