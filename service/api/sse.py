"""The text of Server-Sent Events (one `event:` with its `data:` and, for progress, `id:`)."""

from __future__ import annotations

import solvers

from ..schemas.jobs import ProgressPublic


def sse_event(kind: str, data: str, event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {kind}\ndata: {data}\n\n"


def progress_event(record: solvers.Progress) -> str:
    """A `progress` event, its id the iteration (what Last-Event-ID resumes after)."""
    payload = ProgressPublic(**record.__dict__).model_dump_json()
    return sse_event("progress", payload, record.iteration)
