"""Vendor fields that stand in for a standard one the vendor leaves out.

Groq streams report usage only as ``x_groq.usage`` on the last chunk, with
no top-level ``usage``. Reading it there makes usage tracking, budgets and
the folded reply right for such servers; the standard field always wins.
"""

from __future__ import annotations

from typing import Any

__all__ = ["VENDOR_USAGE_FIELDS", "usage_of"]

VENDOR_USAGE_FIELDS = ("x_groq",)
"""Top-level fields whose ``usage`` is read when the standard ``usage`` is missing."""


def usage_of(payload: dict[str, Any]) -> Any:
    """The payload's ``usage``, else a vendor field's ``usage``, else None."""
    usage = payload.get("usage")
    if usage is None:
        for name in VENDOR_USAGE_FIELDS:
            vendor = payload.get(name)
            if type(vendor) is dict and vendor.get("usage") is not None:
                return vendor["usage"]
    return usage
