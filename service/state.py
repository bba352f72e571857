"""The state one app shares between its requests (built by the lifespan)."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from .errors import NotReady
from .metrics import Metrics
from .runner.dispatcher import Dispatcher
from .settings import Settings
from .store.db import Database
from .store.layout import DataLayout
from .store.records import ModelRecord


@dataclass
class AppState:
    settings: Settings
    layout: DataLayout
    db: Database
    metrics: Metrics
    key_hashes: dict[str, str]
    dispatcher: Dispatcher | None = None
    dictionaries: OrderedDict[str, np.ndarray] = field(default_factory=OrderedDict)
    model_records: OrderedDict[tuple[str, str], ModelRecord] = field(default_factory=OrderedDict)

    def require_dispatcher(self) -> Dispatcher:
        if self.dispatcher is None:
            raise NotReady("the Dask cluster is not connected")
        return self.dispatcher
