"""The targets, as data: a figure of one case at most (or at least) a ratio of another's.

Measured in one run on the same machine, so only ratios are compared (and
one absolute figure that is itself a ratio: stream fairness). The targets
are issue 13's (and issue 4's that it left standing); change them there, not here.
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.benchmarks.plan import CONCURRENCY, FLOOR, STREAM_CONCURRENCY, Case

__all__ = ["OTEL_REFERENCE", "OTEL_TARGETS", "TARGETS", "OverheadTarget", "Target", "import_case"]


def import_case(module: str) -> Case:
    return Case("import", 0, module)


@dataclass(frozen=True)
class Target:
    case: Case  # the row the target belongs to
    metric: str
    reference: Case | None  # None: the figure itself is compared with ``limit``
    limit: float
    text: str  # how the table states it
    at_least: bool = False  # the figure must reach ``limit`` rather than stay under it

    def ratio(self, value: float, reference: float | None) -> float:
        if reference is None:
            return value
        return value / reference if reference else float("inf")

    def met(self, ratio: float) -> bool:
        return ratio >= self.limit if self.at_least else ratio <= self.limit


def _default_install() -> list[Target]:
    found = []
    for c in CONCURRENCY:
        floor = Case("chat", c, FLOOR)
        found += [
            Target(Case("chat", c, "llmpipe"), "cpu_us", floor, 1.20, "CPU ≤ 1.20× floor"),
            Target(Case("chat", c, "llmpipe-empty"), "cpu_us", floor, 1.08, "CPU ≤ 1.08× floor"),
        ]
    for c in STREAM_CONCURRENCY:
        found += [
            Target(
                Case("stream", c, "llmpipe"),
                "cpu_us",
                Case("stream", c, FLOOR),
                1.25,
                "CPU/event ≤ 1.25× floor",
            ),
            Target(
                Case("stream-1", c, "llmpipe"),
                "stream_us",
                Case("stream-1", c, FLOOR),
                1.3,
                "CPU/stream ≤ 1.3× floor",
            ),
        ]
    sync = Case("chat", 1, "llmpipe-sync")
    found += [
        Target(sync, "cpu_us", Case("chat", 1, "llmpipe"), 1.2, "CPU ≤ 1.2× AsyncLLM's"),
        Target(sync, "cpu_us", Case("chat", 1, "requests"), 0.5, "CPU ≤ 0.5× requests'"),
    ]
    return found


def _fast_install() -> list[Target]:
    floor = Case("chat", 1, FLOOR)
    return [
        Target(Case("chat", 1, "llmpipe-fast-sync"), "cpu_us", floor, 1.0, "CPU ≤ 1.0× floor"),
        Target(Case("chat", 1, "llmpipe-fast-uvloop"), "cpu_us", floor, 1.0, "CPU ≤ 1.0× floor"),
    ]


def _many_streams() -> list[Target]:
    floor = Case("many", 0, FLOOR)
    found = []
    for client in ("llmpipe", "llmpipe-fast"):
        case = Case("many", 0, client)
        found += [
            Target(case, "stream_kib", floor, 1.5, "RSS/stream ≤ 1.5× floor"),
            Target(case, "cpu_us", floor, 1.25, "CPU/event ≤ 1.25× floor"),
            Target(case, "fairness", None, 0.8, "slowest ≥ 0.8× median events/s", at_least=True),
        ]
    return found


TARGETS: list[Target] = [
    *_default_install(),
    *_fast_install(),
    *_many_streams(),
    Target(
        Case("hold", 0, "llmpipe"), "added_mib", Case("hold", 0, FLOOR), 2.0, "added RSS ≤ 2× floor"
    ),
    Target(import_case("llmpipe"), "ms", import_case("openai"), 0.3, "≤ 0.3× import openai"),
]


@dataclass(frozen=True)
class OverheadTarget:
    """A stack's CPU per call at most ``limit`` times ``reference``'s, both measured
    in one process by ``otel_overhead`` (stacks named as it names them)."""

    stack: str
    reference: str
    limit: float
    text: str


OTEL_REFERENCE = "default stack"
OTEL_TARGETS: list[OverheadTarget] = [
    OverheadTarget(
        "+ OpenTelemetryMiddleware, no SDK",
        OTEL_REFERENCE,
        1.03,
        "CPU ≤ 1.03× default stack",
    ),
]
"""Issue 15's: the middleware with no SDK configured costs (almost) nothing."""
