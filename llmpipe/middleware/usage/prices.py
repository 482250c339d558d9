"""Prices per model, in currency units per million tokens.

Per million because that is how providers publish prices ("$2.50 / 1M input
tokens"), so a table is copied from a pricing page without arithmetic. The
currency is the table's; llmpipe only multiplies. A ``"*"`` entry prices every
model the table does not name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

__all__ = ["ANY_MODEL", "Price", "price_for"]

ANY_MODEL = "*"
_PER = 1_000_000


def _amount(_: Any, attribute: attrs.Attribute[float], value: Any) -> None:
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not number or value < 0:
        raise ValueError(f"Price.{attribute.name} must be a number >= 0, got {value!r}")


@attrs.frozen
class Price:
    """What one million prompt and completion tokens of a model cost."""

    prompt_per_million: float = attrs.field(validator=_amount)
    completion_per_million: float = attrs.field(validator=_amount)

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (
            prompt_tokens * self.prompt_per_million
            + completion_tokens * self.completion_per_million
        ) / _PER


def price_for(prices: Mapping[str, Price], model: str) -> Price | None:
    """The model's own price, else the ``"*"`` price, else None (unpriced)."""
    price = prices.get(model)
    return price if price is not None else prices.get(ANY_MODEL)
