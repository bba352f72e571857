"""Prometheus metrics of one app, in a registry of its own (two apps in a process never mix)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_FIT_BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, float("inf"))


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.jobs = Gauge("sparsecoding_jobs", "Jobs by state", ["state"], registry=self.registry)
        self.queue_length = Gauge(
            "sparsecoding_queue_length", "Jobs waiting to run", registry=self.registry
        )
        self.fit_seconds = Histogram(
            "sparsecoding_fit_seconds",
            "Wall-clock seconds from a job's start to its end, by final state",
            ["state"],
            buckets=_FIT_BUCKETS,
            registry=self.registry,
        )
        self.iterations = Counter(
            "sparsecoding_fit_iterations",
            "Outer iterations (mini-batches online) of finished fits",
            registry=self.registry,
        )

    def set_job_counts(self, counts: dict[str, int]) -> None:
        for state, count in counts.items():
            self.jobs.labels(state=state).set(count)
        self.queue_length.set(counts.get("queued", 0))

    def render(self) -> bytes:
        return generate_latest(self.registry)
