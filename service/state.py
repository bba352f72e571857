"""The state one app shares between its requests (built by the lifespan)."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from .errors import NotReady
from .keys import KeyRing
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
    keys: KeyRing
    dispatcher: Dispatcher | None = None
    stopping: bool = False
    dictionaries: OrderedDict[str, np.ndarray] = field(default_factory=OrderedDict)
    model_records: OrderedDict[tuple[str, str], ModelRecord] = field(default_factory=OrderedDict)

    def begin_stop(self) -> None:
        """A stop signal arrived: open event streams end now (the lifespan stops the rest)."""
        self.stopping = True

    def require_dispatcher(self) -> Dispatcher:
        if self.dispatcher is None:
            raise NotReady("the Dask cluster is not connected")
        return self.dispatcher
