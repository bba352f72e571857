"""Schemas of the system endpoints."""

from __future__ import annotations

from pydantic import BaseModel, Field


class BackendPublic(BaseModel):
    name: str
    available: bool = Field(description="true when at least one worker can run it")
    device: str | None = None
    reason: str | None = None
    memory_bytes: int | None = None
    workers: list[str] = Field(default_factory=list, description="workers that can run it")


class BackendsPublic(BaseModel):
    data: list[BackendPublic]
    count: int


class Health(BaseModel):
    status: str = "ok"


class Readiness(BaseModel):
    status: str
    database: bool
    workers: int
