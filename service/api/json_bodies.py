"""JSON request bodies that carry a matrix (uploads, inline job data, encode), parsed without
stalling the other requests.

Python's JSON decoder holds the GIL for the whole document: 95 MiB of rows take 1.8 s, and a
thread does not help (every request waits that long). Bodies over PARSE_INLINE_BYTES are
therefore parsed in a helper process, which sends back the other fields and the matrix as a
float64 array (8 bytes a value, where the parsed lists take ten times that); small ones, the
usual, are parsed in place. Cheap limits come first, from the bytes themselves: a count of the
numbers a body can hold at least, for the encode limit, before any parse.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

from ..domain.matrices import matrix_document

# Above this a body is parsed in the helper process: under it, in place, faster than the hop
# (a 1 MiB body of rows parses in about 20 ms).
PARSE_INLINE_BYTES = 1 << 20
# The helper is replaced after this many bodies: what a huge document's lists left in its heap
# does not stay for good.
BODIES_PER_HELPER = 16


def values_at_least(body: bytes) -> int:
    """A lower bound on the numbers a JSON body of rows holds, from its bytes alone: every
    comma separates two values, less those between rows (`],`) and a few between fields."""
    return max(body.count(b",") + 1 - body.count(b"],") - 16, 0)


class JsonBodies:
    """The parser of one app; its helper process starts on the first large body."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None

    async def parse(self, body: bytes) -> tuple[Any, np.ndarray | None]:
        """(document without "data", the "data" matrix) or (document, None) when it has no
        matrix; InvalidArray (a 422) naming what is wrong with either."""
        if len(body) <= PARSE_INLINE_BYTES:
            return matrix_document(body)
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                1,
                mp_context=multiprocessing.get_context("spawn"),
                max_tasks_per_child=BODIES_PER_HELPER,
            )
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, matrix_document, body)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
