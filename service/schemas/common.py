"""Schemas shared by every domain: problem details and timestamps."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field


def timestamp(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, tz=UTC)


class Problem(BaseModel):
    """RFC 9457 problem details; extension members vary by `type`."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(examples=["urn:sparsecoding:problem:not-found"])
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None


class MatrixPublic(BaseModel):
    """A matrix as JSON; ask for `Accept: application/x-npy` to get the `.npy` file instead."""

    shape: list[int]
    dtype: str
    data: list[list[float]]


class MatrixUpload(BaseModel):
    """A matrix sent as JSON (rows of numbers); `.npy` bodies are the efficient alternative."""

    data: list[list[float]] = Field(description="(n_samples, n_features)")
    name: str | None = Field(None, max_length=200)
