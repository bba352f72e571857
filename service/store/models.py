"""SQL of model records (a model is the dictionary a succeeded job learned)."""

from __future__ import annotations

import json
from dataclasses import astuple, fields

from .db import Session
from .records import ModelRecord

_NAMES = [f.name for f in fields(ModelRecord)]
_COLUMNS = ", ".join(_NAMES)


class ModelRepository:
    def __init__(self, session: Session) -> None:
        self.s = session

    def insert(self, record: ModelRecord) -> None:
        values = list(astuple(record))
        values[_NAMES.index("options")] = json.dumps(record.options)
        values[_NAMES.index("positive_codes")] = int(record.positive_codes)
        marks = ",".join("?" * len(values))
        self.s.execute(f"INSERT INTO models ({_COLUMNS}) VALUES ({marks})", values)

    def get(self, tenant: str, model_id: str) -> ModelRecord | None:
        row = self.s.execute(
            f"SELECT {_COLUMNS} FROM models WHERE id = ? AND tenant = ?", (model_id, tenant)
        ).fetchone()
        return ModelRecord.from_row(row) if row else None

    def list_page(self, tenant: str, offset: int, limit: int) -> tuple[list[ModelRecord], int]:
        rows = self.s.execute(
            f"SELECT {_COLUMNS} FROM models WHERE tenant = ? "
            "ORDER BY created_at DESC, id LIMIT ? OFFSET ?",
            (tenant, limit, offset),
        ).fetchall()
        count = self.s.execute("SELECT count(*) FROM models WHERE tenant = ?", (tenant,))
        return [ModelRecord.from_row(r) for r in rows], int(count.fetchone()[0])
