"""From raw samples to the figures the table shows: per-sample values, then medians.

chat      cpu_us (client CPU µs per request), rate (requests/s), rss_mib (peak RSS)
stream    cpu_us (per event), stream_us (CPU per stream), rate (events/s), rss_mib
stream-1  stream_us (CPU per one-event stream: a streamed call's fixed cost), rate
          (streams/s), rss_mib
hold      added_mib (RSS added over the warm idle client), batch_s (wall time of the
          batch: about the hold time when every request really was in flight), rss_mib
many      stream_kib (RSS added per open stream), cpu_us (the batch's CPU per event),
          fairness (slowest stream's events/s over the median's), open_s
          (until every stream had its first event), rss_mib
import    ms (import time, net of interpreter start-up)
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from tests.benchmarks.runner import Outcome

__all__ = ["Figures", "figures", "per_sample"]

_MIB = 2**20


@dataclass(frozen=True)
class Figures:
    """Medians of each figure, their ranges, and how many samples they come from."""

    median: dict[str, float]
    low: dict[str, float]
    high: dict[str, float]
    samples: int
    failed: int = 0  # samples that failed and are not in the figures
    values: dict[str, list[float]] = field(default_factory=dict)  # per sample, in run order


def per_sample(bench: str, sample: dict[str, Any]) -> dict[str, float]:
    if bench == "hold":
        return {
            "added_mib": sample["added_rss"] / _MIB,
            "batch_s": sample["wall_s"],
            "rss_mib": sample["peak_rss"] / _MIB,
        }
    if bench == "many":
        return {
            "stream_kib": sample["added_rss"] / sample["streams"] / 1024,
            "cpu_us": sample["cpu_s"] / max(sample["ops"], 1) * 1e6,
            "fairness": sample["fairness"],
            "open_s": sample["open_s"],
            "rss_mib": sample["peak_rss"] / _MIB,
        }
    ops = max(sample["ops"], 1)
    if bench == "stream-1":
        streams = max(sample["streams"], 1)
        return {
            "stream_us": sample["cpu_s"] / streams * 1e6,
            "rate": streams / sample["wall_s"],
            "rss_mib": sample["peak_rss"] / _MIB,
        }
    if bench == "stream":
        return {
            "cpu_us": sample["cpu_s"] / ops * 1e6,
            "stream_us": sample["cpu_s"] / max(sample["streams"], 1) * 1e6,
            "rate": ops / sample["wall_s"],
            "rss_mib": sample["peak_rss"] / _MIB,
        }
    return {
        "cpu_us": sample["cpu_s"] / ops * 1e6,
        "rate": ops / sample["wall_s"],
        "rss_mib": sample["peak_rss"] / _MIB,
    }


def figures(bench: str, outcome: Outcome) -> Figures | None:
    """The figures of one case, or None if it has no samples."""
    values = [per_sample(bench, s) for s in outcome.samples]
    if not values:
        return None
    names = values[0].keys()
    return Figures(
        median={n: statistics.median(v[n] for v in values) for n in names},
        low={n: min(v[n] for v in values) for n in names},
        high={n: max(v[n] for v in values) for n in names},
        samples=len(values),
        failed=len(outcome.errors),
        values={n: [v[n] for v in values] for n in names},
    )


def import_figures(seconds: list[float]) -> Figures:
    ms = [s * 1000 for s in seconds]
    return Figures(
        median={"ms": statistics.median(ms)},
        low={"ms": min(ms)},
        high={"ms": max(ms)},
        samples=len(ms),
        values={"ms": ms},
    )
