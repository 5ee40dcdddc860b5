"""Benchmarks that print numbers and ratios against a naive baseline in the same run.

Each benchmark returns a plain dict (printed by `p2pmarket bench …`, or as --json).
"""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Callable


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    cut = statistics.quantiles(ordered, n=100, method="inclusive") if len(ordered) > 1 else None
    return {
        "n": len(ordered),
        "p50_ms": round(cut[49] if cut else ordered[0], 3),
        "p95_ms": round(cut[94] if cut else ordered[0], 3),
    }


def time_ms(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def peak_rss_mb() -> float:
    # ru_maxrss is KiB on Linux.
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
