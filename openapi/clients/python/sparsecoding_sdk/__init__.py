"""A thin layer over the generated `sparsecoding_client`: numpy arrays in and out, submit and
wait with progress read from the job's Server-Sent Events, problems raised as `ApiError`.

    from sparsecoding_sdk import SparseCoding
    sc = SparseCoding()                       # SPARSECODING_URL, SPARSECODING_API_KEY
    job = sc.fit(X, n_components=32, alpha=0.5, progress=print)
    W = sc.dictionary(job.model_id)           # numpy (32, n_features)
"""

from __future__ import annotations

from ._client import TERMINAL_STATES, ApiError, Event, SparseCoding

__all__ = ["TERMINAL_STATES", "ApiError", "Event", "SparseCoding"]
