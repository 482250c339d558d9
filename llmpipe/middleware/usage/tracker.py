"""UsageTracker: token and cost totals per model and per tag, and their snapshot.

The middleware records on its event loop while an application may read from
any thread (the sync ``LLM`` runs its loop on a thread of its own), so reads
and writes share one lock; each holds it for a few dict operations only.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from types import MappingProxyType

import attrs

from llmpipe.wire.usage import TokenCount

__all__ = ["UsageSnapshot", "UsageTotals", "UsageTracker"]


@attrs.frozen(kw_only=True)
class UsageTotals:
    """Calls recorded, the tokens their replies reported, and what they cost.

    ``cost`` counts only calls whose model has a price (0.0 for the others).
    """

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0
    """Prompt tokens served from the server's prompt cache (part of ``prompt_tokens``)."""
    reasoning_tokens: int = 0
    """Completion tokens spent on reasoning (part of ``completion_tokens``)."""
    cost: float = 0.0

    def plus(self, used: TokenCount, cost: float) -> UsageTotals:
        return UsageTotals(
            calls=self.calls + 1,
            prompt_tokens=self.prompt_tokens + used.prompt_tokens,
            completion_tokens=self.completion_tokens + used.completion_tokens,
            total_tokens=self.total_tokens + used.total_tokens,
            cached_tokens=self.cached_tokens + used.cached_tokens,
            reasoning_tokens=self.reasoning_tokens + used.reasoning_tokens,
            cost=self.cost + cost,
        )


_NONE = UsageTotals()


def _read_only(totals: Mapping[str, UsageTotals]) -> Mapping[str, UsageTotals]:
    return MappingProxyType(dict(totals))


@attrs.frozen(kw_only=True)
class UsageSnapshot:
    """Totals at one moment: overall, per requested model, per call ``tag``.

    Untagged calls count in ``total`` and ``by_model`` only.
    """

    total: UsageTotals = _NONE
    by_model: Mapping[str, UsageTotals] = attrs.field(factory=dict, converter=_read_only)
    by_tag: Mapping[str, UsageTotals] = attrs.field(factory=dict, converter=_read_only)


class UsageTracker:
    """Accumulates ``UsageTotals``; safe to record and read from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._total = _NONE
            self._by_model: dict[str, UsageTotals] = {}
            self._by_tag: dict[str, UsageTotals] = {}

    def record(self, model: str, tag: str | None, used: TokenCount, cost: float) -> None:
        with self._lock:
            self._total = self._total.plus(used, cost)
            totals = self._by_model.get(model, _NONE)
            self._by_model[model] = totals.plus(used, cost)
            if tag is not None:
                totals = self._by_tag.get(tag, _NONE)
                self._by_tag[tag] = totals.plus(used, cost)

    def snapshot(self) -> UsageSnapshot:
        with self._lock:
            return UsageSnapshot(
                total=self._total, by_model=dict(self._by_model), by_tag=dict(self._by_tag)
            )
