"""Schemas of the system endpoints."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class BackendPublic(BaseModel):
    """A backend and the workers that can run it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "cupy",
                    "available": True,
                    "device": "NVIDIA H100 80GB HBM3",
                    "reason": None,
                    "memory_bytes": 85029158912,
                    "workers": ["tcp://10.0.0.7:40123"],
                }
            ]
        }
    )

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
    kernels: str = Field(description="the CPU kernels: `ready` (503 while `compiling`)")
    workers: int
