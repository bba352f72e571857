"""Where each file of a data directory lives."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DataLayout:
    """Paths under one data directory, shared by the API process and the workers."""

    root: Path

    @property
    def database(self) -> Path:
        return self.root / "service.db"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    @property
    def dask(self) -> Path:
        return self.root / "dask"

    def dataset(self, dataset_id: str) -> Path:
        return self.root / "datasets" / f"{dataset_id}.npy"

    def dictionary(self, model_id: str) -> Path:
        return self.root / "models" / f"{model_id}.npy"

    def model_state(self, model_id: str) -> Path:
        """What a job that appends to the model learns on from (`solvers.OnlineModel.save`)."""
        return self.root / "models" / f"{model_id}.online.npz"

    def codes(self, job_id: str) -> Path:
        return self.root / "codes" / f"{job_id}.npy"

    def checkpoint(self, job_id: str) -> Path:
        return self.root / "checkpoints" / f"{job_id}.npz"

    def create(self) -> None:
        for sub in ("tmp", "dask", "datasets", "models", "codes", "checkpoints"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
