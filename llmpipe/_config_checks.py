"""The validators of ``LLMConfig``'s fields: a bad value fails when the config
is built, naming the field, rather than deep inside aiohttp mid-call.

The same checks serve the per-call options (``temperature=5`` on one call),
with ``owner=""``: the message is the config's, without the ``LLMConfig.``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from llmpipe._urls import shown

__all__ = [
    "api_key",
    "base_url",
    "boolean",
    "client_cert",
    "copy_mapping",
    "extra_headers",
    "header_name",
    "headers",
    "integer",
    "number",
    "one_of",
    "optional",
    "path",
    "proxy_url",
    "ssl_context",
    "text",
]

# RFC 9110 token characters: what a header name may contain.
_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


_CONFIG = "LLMConfig."


def check(field: str, ok: bool, expected: str, value: object, owner: str = _CONFIG) -> None:
    if not ok:
        raise ValueError(f"{owner}{field} must be {expected}, got {value!r}")


def _control(text: str, allow_tab: bool) -> int | None:
    """The position of the first control character in ``text``, if any."""
    for position, char in enumerate(text):
        if (char < " " and not (allow_tab and char == "\t")) or char == "\x7f":
            return position
    return None


def _no_control(field: str, text: str, *, allow_tab: bool = True, owner: str = _CONFIG) -> None:
    position = _control(text, allow_tab)
    if position is not None:
        raise ValueError(
            f"{owner}{field} contains a control character ({text[position]!r} at position "
            f"{position}); it cannot go into an HTTP header. A value read from a file often "
            "ends with a newline: strip it"
        )


def base_url(_: Any, __: Any, value: Any) -> None:
    parts = urlsplit(value) if isinstance(value, str) else None
    check(
        "base_url",
        parts is not None and parts.scheme in ("http", "https") and bool(parts.hostname),
        "an http:// or https:// URL such as 'http://127.0.0.1:8000'",
        shown(value) if isinstance(value, str) else value,  # no password in the message
    )
    _no_control("base_url", value, allow_tab=False)


def proxy_url(_: Any, __: Any, value: Any) -> None:
    if value is None:
        return
    parts = urlsplit(value) if isinstance(value, str) else None
    check(
        "proxy",
        parts is not None and parts.scheme in ("http", "https") and bool(parts.hostname),
        "None or a proxy URL such as 'http://user:password@proxy:3128'",
        "<a URL>" if isinstance(value, str) else value,  # it may hold a password
    )
    _no_control("proxy", value, allow_tab=False)


def number(
    field: str, low: float, high: float | None, *, low_open: bool = False, owner: str = _CONFIG
) -> Any:
    """A validator for a finite number in [low, high] (or (low, high] when low_open)."""
    expected = f"{'>' if low_open else '>='} {low}" if high is None else f"between {low} and {high}"

    def validate(_: Any, __: Any, value: Any) -> None:
        is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
        ok = is_number and math.isfinite(value) and (value > low if low_open else value >= low)
        ok = ok and (high is None or value <= high)
        check(field, ok, f"a finite number {expected}", value, owner)

    return validate


def optional(inner: Any) -> Any:
    """The same check, with None also allowed (None: "use the default")."""

    def validate(instance: Any, attribute: Any, value: Any) -> None:
        if value is not None:
            inner(instance, attribute, value)

    return validate


def integer(field: str, low: int, *, owner: str = _CONFIG) -> Any:
    def validate(_: Any, __: Any, value: Any) -> None:
        check(field, type(value) is int and value >= low, f"an integer >= {low}", value, owner)

    return validate


def boolean(field: str, *, owner: str = _CONFIG) -> Any:
    def validate(_: Any, __: Any, value: Any) -> None:
        check(field, isinstance(value, bool), "True or False", value, owner)

    return validate


def one_of(field: str, options: tuple[str, ...]) -> Any:
    def validate(_: Any, __: Any, value: Any) -> None:
        check(field, value in options, f"one of {options}", value)

    return validate


def text(field: str, *, owner: str = _CONFIG) -> Any:
    def validate(_: Any, __: Any, value: Any) -> None:
        ok = isinstance(value, str) and bool(value.strip())
        check(field, ok, "a non-empty string", value, owner)

    return validate


def header_name(field: str, *, owner: str = _CONFIG) -> Any:
    def validate(_: Any, __: Any, value: Any) -> None:
        ok = isinstance(value, str) and bool(value) and set(value) <= _TOKEN
        check(field, ok, "a header name (letters, digits and !#$%&'*+-.^_`|~)", value, owner)

    return validate


def headers(field: str, *, owner: str = _CONFIG) -> Any:
    """Header names and values that can go on the wire as given."""

    def validate(_: Any, __: Any, value: Any) -> None:
        ok = isinstance(value, Mapping) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        )
        check(field, ok, "a mapping of str to str", value, owner)
        for name, content in value.items():
            header_name(f"{field}[{name!r}]", owner=owner)(None, None, name)
            _no_control(f"{field}[{name!r}]", content, owner=owner)

    return validate


extra_headers = headers("extra_headers")


def api_key(_: Any, __: Any, value: Any) -> None:
    if value is None:
        return
    if not (isinstance(value, str) and value.strip()):
        raise ValueError("LLMConfig.api_key must be None or a non-empty string")
    _no_control("api_key", value, allow_tab=False)
    if value != value.strip():
        raise ValueError(
            "LLMConfig.api_key starts or ends with spaces; strip it (the server would "
            "compare them as part of the key)"
        )


def path(field: str) -> Any:
    """An existing file or directory (checked now, read when the pool opens)."""

    def validate(_: Any, __: Any, value: Any) -> None:
        if value is None:
            return
        check(field, isinstance(value, str) and bool(value), "None or a path", value)
        if not os.path.exists(value):
            raise ValueError(f"LLMConfig.{field}: no such file or directory: {value!r}")

    return validate


def client_cert(_: Any, __: Any, value: Any) -> None:
    """One PEM holding certificate and key, or a (certificate, key) pair of paths."""
    if value is None:
        return
    paths = (value,) if isinstance(value, str) else value
    ok = isinstance(paths, tuple) and len(paths) in (1, 2)
    ok = ok and all(isinstance(p, str) and p for p in paths)
    check("client_cert", ok, "None, a PEM path, or a (certificate, key) pair of paths", value)
    for one in paths:
        path("client_cert")(None, None, one)


def ssl_context(_: Any, __: Any, value: Any) -> None:
    if value is None:
        return
    import ssl

    check("ssl_context", isinstance(value, ssl.SSLContext), "None or an ssl.SSLContext", value)


def copy_mapping(value: Any) -> Any:
    """A private copy, so later changes to the caller's dict do not leak in."""
    return dict(value) if isinstance(value, Mapping) else value
