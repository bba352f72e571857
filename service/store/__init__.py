"""Persistence: records in SQLite (WAL) and arrays as `.npy` files beside the database.

All SQL lives in the repositories (`datasets`, `jobs`, `models`); `db.Database` owns
connections, transactions and the schema. Both the API process and the Dask workers use it.
"""

from .db import Database, Session
from .layout import DataLayout

__all__ = ["DataLayout", "Database", "Session"]
