"""Schemathesis hooks of the fuzz test (loaded through SCHEMATHESIS_HOOKS=fuzz_hooks).

An `Idempotency-Key` is a one-shot token: the same key with another body is (by design, as the
IETF draft says) a 422. The generator cannot know that and draws the same short keys for
different bodies, so every valid key is made unique; over-long (invalid) keys stay as drawn.
"""

from __future__ import annotations

import uuid
from typing import Any

import schemathesis

MAX_KEY = 200


def _unique(headers: Any) -> None:
    if not headers:
        return
    for name in list(headers):
        value = headers[name]
        if name.lower() == "idempotency-key" and isinstance(value, str) and len(value) <= MAX_KEY:
            headers[name] = value[: MAX_KEY - 33] + "-" + uuid.uuid4().hex


@schemathesis.hook
def before_call(ctx: Any, case: Any, kwargs: dict[str, Any]) -> None:
    _unique(case.headers)
    _unique(kwargs.get("headers"))
