"""Token and cost budgets: reserve before a call is sent, settle once it is done.

A call first reserves its estimate (a ``Hold``); the budget refuses it with
``UsageLimitExceeded`` when what is spent, plus what calls in flight hold,
plus this estimate would pass a limit. When the call ends its hold is
replaced by the real usage (nothing when it failed). So concurrent calls can
never jointly overshoot on estimates; only where a reply uses more than its
estimate can the total pass a limit, by that difference, after which every
call is refused.

``Budget`` keeps its counters in this process (any thread, any loop);
``RedisBudget`` keeps them in Redis, for one budget shared by many processes.
Both follow ``BudgetLike``, which is all ``UsageMiddleware`` needs.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any, Protocol

import attrs

from llmpipe.errors import UsageLimitExceeded

__all__ = ["Budget", "BudgetLike", "BudgetLimits", "Charge", "Hold", "Spent"]


def _optional_amount(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if value is not None and (not number or value < 0):
        raise ValueError(f"{attribute.name} must be None or a number >= 0, got {value!r}")


@attrs.frozen
class Charge:
    """Tokens and cost, estimated or real."""

    tokens: int = 0
    cost: float = 0.0


@attrs.frozen
class Hold:
    """A reservation made by ``reserve``; ``settle`` it exactly once."""

    id: str
    charge: Charge


@attrs.frozen(kw_only=True)
class Spent:
    """What a budget has recorded, and what calls in flight hold."""

    tokens: int = 0
    cost: float = 0.0
    held_tokens: int = 0
    held_cost: float = 0.0


@attrs.frozen(kw_only=True)
class BudgetLimits:
    """The caps; None leaves that dimension unlimited."""

    max_tokens: int | None = attrs.field(default=None, validator=_optional_amount)
    max_cost: float | None = attrs.field(default=None, validator=_optional_amount)

    def refusal(self, spent: Spent, charge: Charge) -> str | None:
        """Why ``charge`` may not be reserved on top of ``spent``, or None if it may."""
        tokens = spent.tokens + spent.held_tokens
        if self.max_tokens is not None and tokens + charge.tokens > self.max_tokens:
            return (
                f"token budget: {tokens} used or held + {charge.tokens} estimated "
                f"for this call > {self.max_tokens}"
            )
        cost = spent.cost + spent.held_cost
        if self.max_cost is not None and cost + charge.cost > self.max_cost:
            return (
                f"cost budget: {cost:.6g} used or held + {charge.cost:.6g} estimated "
                f"for this call > {self.max_cost:.6g}"
            )
        return None


class BudgetLike(Protocol):
    """What ``UsageMiddleware`` needs of a budget."""

    @property
    def limits(self) -> BudgetLimits: ...

    async def reserve(self, charge: Charge) -> Hold:
        """Hold ``charge`` or raise ``UsageLimitExceeded``."""

    async def settle(self, hold: Hold, actual: Charge) -> None:
        """Replace ``hold`` with what the call really used."""


class Budget:
    """An in-process budget; one instance may be shared by several clients."""

    def __init__(self, max_tokens: int | None = None, max_cost: float | None = None) -> None:
        self.limits = BudgetLimits(max_tokens=max_tokens, max_cost=max_cost)
        self._lock = threading.Lock()
        self._spent = Spent()

    def __repr__(self) -> str:
        return f"Budget({self.limits.max_tokens!r}, {self.limits.max_cost!r}, {self.spent()!r})"

    async def reserve(self, charge: Charge) -> Hold:
        with self._lock:
            why = self.limits.refusal(self._spent, charge)
            if why is not None:
                raise UsageLimitExceeded(f"call refused, nothing sent: {why}")
            self._spent = attrs.evolve(
                self._spent,
                held_tokens=self._spent.held_tokens + charge.tokens,
                held_cost=self._spent.held_cost + charge.cost,
            )
        return Hold(uuid.uuid4().hex, charge)

    async def settle(self, hold: Hold, actual: Charge) -> None:
        with self._lock:
            spent = self._spent
            self._spent = Spent(
                tokens=spent.tokens + actual.tokens,
                cost=spent.cost + actual.cost,
                held_tokens=spent.held_tokens - hold.charge.tokens,
                held_cost=max(0.0, spent.held_cost - hold.charge.cost),
            )

    def spent(self) -> Spent:
        with self._lock:
            return self._spent

    def reset(self) -> None:
        """Forget what was spent (a new day, a new month); holds stay held."""
        with self._lock:
            self._spent = attrs.evolve(self._spent, tokens=0, cost=0.0)
