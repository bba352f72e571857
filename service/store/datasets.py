"""SQL of dataset records."""

from __future__ import annotations

from dataclasses import astuple

from .db import Session
from .records import DatasetRecord, JobState

_COLUMNS = "id, tenant, name, n_samples, n_features, dtype, nbytes, sha256, created_at"


class DatasetRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    def insert(self, record: DatasetRecord) -> None:
        self.s.execute(
            f"INSERT INTO datasets ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)", astuple(record)
        )

    def get(self, tenant: str, dataset_id: str) -> DatasetRecord | None:
        row = self.s.execute(
            f"SELECT {_COLUMNS} FROM datasets WHERE id = ? AND tenant = ?", (dataset_id, tenant)
        ).fetchone()
        return DatasetRecord(**dict(row)) if row else None

    def list_page(self, tenant: str, offset: int, limit: int) -> tuple[list[DatasetRecord], int]:
        rows = self.s.execute(
            f"SELECT {_COLUMNS} FROM datasets WHERE tenant = ? "
            "ORDER BY created_at DESC, id LIMIT ? OFFSET ?",
            (tenant, limit, offset),
        ).fetchall()
        count = self.s.execute("SELECT count(*) FROM datasets WHERE tenant = ?", (tenant,))
        return [DatasetRecord(**dict(r)) for r in rows], int(count.fetchone()[0])

    def used_by_active_job(self, dataset_id: str) -> bool:
        row = self.s.execute(
            "SELECT 1 FROM jobs WHERE dataset_id = ? AND state IN (?, ?) LIMIT 1",
            (dataset_id, JobState.queued, JobState.running),
        ).fetchone()
        return row is not None

    def delete(self, tenant: str, dataset_id: str) -> bool:
        cur = self.s.execute(
            "DELETE FROM datasets WHERE id = ? AND tenant = ?", (dataset_id, tenant)
        )
        return cur.rowcount > 0
