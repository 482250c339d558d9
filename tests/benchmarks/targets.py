"""Issue 4's targets, as data: a figure of one case at most a ratio of another's.

Measured in one run on the same machine, so only ratios are compared. The
floor and the targets are the issue's; change them there, not here.
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.benchmarks.plan import CONCURRENCY, Case

__all__ = ["TARGETS", "Target", "import_case"]


def import_case(module: str) -> Case:
    return Case("import", 0, module)


@dataclass(frozen=True)
class Target:
    case: Case  # the row the target belongs to
    metric: str
    reference: Case
    max_ratio: float
    text: str  # how the table states it

    def ratio(self, value: float, reference: float) -> float:
        return value / reference if reference else float("inf")


def _chat_targets() -> list[Target]:
    found = []
    for c in CONCURRENCY:
        floor, openai = Case("chat", c, "raw"), Case("chat", c, "openai")
        default, empty = Case("chat", c, "llmpipe"), Case("chat", c, "llmpipe-empty")
        found += [
            Target(default, "cpu_us", floor, 1.25, "CPU ≤ 1.25× floor"),
            # The corollary of the line above, stated for its machine's AsyncOpenAI.
            Target(default, "cpu_us", openai, 1 / 7, "CPU ≤ 1/7 of AsyncOpenAI's (corollary)"),
            Target(empty, "cpu_us", floor, 1.10, "CPU ≤ 1.10× floor"),
        ]
    sync = Case("chat", 1, "llmpipe-sync")
    found += [
        Target(sync, "cpu_us", Case("chat", 1, "llmpipe"), 1.3, "CPU ≤ 1.3× AsyncLLM's (c=1)"),
        Target(sync, "cpu_us", Case("chat", 1, "requests"), 0.5, "CPU ≤ 0.5× requests'"),
    ]
    return found


TARGETS: list[Target] = [
    *_chat_targets(),
    Target(
        Case("stream", 1, "llmpipe"),
        "cpu_us",
        Case("stream", 1, "raw"),
        1.5,
        "CPU/event ≤ 1.5× floor",
    ),
    Target(
        Case("hold", 0, "llmpipe"), "added_mib", Case("hold", 0, "raw"), 2.0, "added RSS ≤ 2× floor"
    ),
    Target(import_case("llmpipe"), "ms", import_case("openai"), 0.3, "≤ 0.3× import openai"),
]
