"""Shared helpers of the benchmark scripts: interleaved repeats, medians, plain-text tables.

The machines these run on are shared and noisy, so every script measures the systems it compares
side by side in one process, interleaving their repeats (system A, B, C, then A, B, C again) so
that a burst of load from elsewhere hits all of them, and quotes medians and ratios.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """(wall seconds, return value) of one call of `fn`."""
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


# Pause before each timed run of `interleaved`. Thread pools stay busy after a call returns
# (OpenBLAS workers spin for ~0.1 s, OpenMP ones briefly) and would otherwise run into the next
# system's timing: SPAMS lasso right after a NumPy matrix product took 0.28 s instead of 0.20 s.
SETTLE_S = 0.3


def interleaved(
    systems: dict[str, Callable[[], Any]], repeats: int
) -> dict[str, tuple[list[float], Any]]:
    """Run every system `repeats` times, round-robin, each after a pause of SETTLE_S;
    name → (seconds of each run, last value)."""
    times: dict[str, list[float]] = {name: [] for name in systems}
    values: dict[str, Any] = {}
    for _ in range(repeats):
        for name, fn in systems.items():
            time.sleep(SETTLE_S)
            seconds, values[name] = timed(fn)
            times[name].append(seconds)
    return {name: (times[name], values[name]) for name in systems}


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def spread(values: Sequence[float]) -> str:
    """'min–max' of a list of seconds, for the reader to judge the noise."""
    return f"{min(values):.3g}–{max(values):.3g}"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table of already formatted cells (pass strings for figures)."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    lines = [
        "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    for row in cells:
        # First column (names) left-aligned, figures right-aligned.
        padded = [
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("| " + " | ".join(padded) + " |")
    return "\n".join(lines)


def machine_line() -> str:
    """One line saying where the figures come from (CPU count, load, Python, NumPy)."""
    import numpy as np

    try:
        load = "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "load average n/a"
    return (
        f"# {platform.node()} · {os.cpu_count()} CPUs · {load} · "
        f"Python {platform.python_version()} · NumPy {np.__version__} · commit {_commit()}"
    )


def _commit() -> str:
    """`git describe --always --dirty` of the checkout (read-only), or 'unknown'."""
    import subprocess

    try:
        done = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            check=False,
            cwd=os.path.dirname(os.path.abspath(__file__)),
        )
    except OSError:
        return "unknown"
    return done.stdout.strip() or "unknown"


def ratio(a: float, b: float) -> str:
    """a / b as '1.23×', or 'n/a' when b is zero or either is missing."""
    if not (a == a and b == b) or b == 0:  # NaN checks without importing math
        return "n/a"
    return f"{a / b:.2f}×"


def time_to_reach(points: list[tuple[float, float]], target: float) -> float:
    """Seconds at which the curve first reaches F ≤ target (linear between points), or inf."""
    previous = None
    for seconds, value in points:
        if value <= target:
            if previous is None:
                return seconds
            (s0, f0) = previous
            return s0 + (seconds - s0) * (f0 - target) / max(f0 - value, 1e-12)
        previous = (seconds, value)
    return float("inf")
