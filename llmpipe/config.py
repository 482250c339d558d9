"""LLMConfig: every setting of a client, validated once at construction."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import attrs

__all__ = ["LLMConfig"]

_MASK = "'***'"


def _mask(value: str | None) -> str:
    return "None" if value is None else _MASK


def _check(field: str, ok: bool, expected: str, value: object) -> None:
    if not ok:
        raise ValueError(f"LLMConfig.{field} must be {expected}, got {value!r}")


def _base_url(_: Any, __: attrs.Attribute[str], value: str) -> None:
    parts = urlsplit(value) if isinstance(value, str) else None
    _check(
        "base_url",
        parts is not None and parts.scheme in ("http", "https") and bool(parts.netloc),
        "an http:// or https:// URL such as 'http://127.0.0.1:8000'",
        value,
    )


def _number(field: str, low: float, high: float | None, *, low_open: bool = False) -> Any:
    """A validator for a number in [low, high] (or (low, high] when low_open)."""
    expected = f"{'>' if low_open else '>='} {low}" if high is None else f"between {low} and {high}"

    def validate(_: Any, __: Any, value: Any) -> None:
        is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
        ok = is_number and (value > low if low_open else value >= low)
        ok = ok and (high is None or value <= high)
        _check(field, ok, f"a number {expected}", value)

    return validate


def _optional(inner: Any) -> Any:
    """The same check, with None also allowed (None: "use the default")."""

    def validate(instance: Any, attribute: Any, value: Any) -> None:
        if value is not None:
            inner(instance, attribute, value)

    return validate


def _int(field: str, low: int) -> Any:
    def validate(_: Any, __: Any, value: Any) -> None:
        _check(field, type(value) is int and value >= low, f"an integer >= {low}", value)

    return validate


def _bool(field: str) -> Any:
    def validate(_: Any, __: Any, value: Any) -> None:
        _check(field, isinstance(value, bool), "True or False", value)

    return validate


def _one_of(field: str, options: tuple[str, ...]) -> Any:
    def validate(_: Any, __: Any, value: Any) -> None:
        _check(field, value in options, f"one of {options}", value)

    return validate


def _text(field: str) -> Any:
    def validate(_: Any, __: Any, value: Any) -> None:
        _check(field, isinstance(value, str) and bool(value.strip()), "a non-empty string", value)

    return validate


def _headers(_: Any, __: Any, value: Any) -> None:
    ok = isinstance(value, Mapping) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    )
    _check("extra_headers", ok, "a mapping of str to str", value)


def _api_key(_: Any, __: Any, value: Any) -> None:
    if value is not None and not (isinstance(value, str) and value.strip()):
        raise ValueError("LLMConfig.api_key must be None or a non-empty string")


def _copy_mapping(value: Any) -> Any:
    """A private copy, so later changes to the caller's dict do not leak in."""
    return dict(value) if isinstance(value, Mapping) else value


@attrs.frozen(kw_only=True)
class LLMConfig:
    """Settings for one client. Frozen: derive variants with ``attrs.evolve``.

    The first eight fields and their defaults are the spec's. The API key is
    masked in ``repr`` so a config can be logged or printed safely.
    """

    base_url: str = attrs.field(default="http://127.0.0.1:8000", validator=_base_url)
    api_key: str | None = attrs.field(default=None, repr=_mask, validator=_api_key)
    model: str = attrs.field(default="gpt-4", validator=_text("model"))
    temperature: float | None = attrs.field(
        default=0.7, validator=_optional(_number("temperature", 0.0, 2.0))
    )
    """None: send no temperature (reasoning models accept only their default)."""
    max_tokens: int | None = attrs.field(default=None, validator=_optional(_int("max_tokens", 1)))
    timeout: float = attrs.field(default=30, validator=_number("timeout", 0, None, low_open=True))
    max_retries: int = attrs.field(default=3, validator=_int("max_retries", 0))
    retry_delay: float = attrs.field(default=1.0, validator=_number("retry_delay", 0, None))
    max_retry_delay: float = attrs.field(
        default=60.0, validator=_number("max_retry_delay", 0, None)
    )
    retry_jitter: float = attrs.field(default=0.0, validator=_number("retry_jitter", 0.0, 1.0))
    deadline: float | None = attrs.field(
        default=None, validator=_optional(_number("deadline", 0, None, low_open=True))
    )
    retry_budget: float | None = attrs.field(
        default=0.2, validator=_optional(_number("retry_budget", 0.0, None))
    )
    idempotency_header: str | None = attrs.field(
        default="Idempotency-Key", validator=_optional(_text("idempotency_header"))
    )
    max_response_bytes: int = attrs.field(
        default=32 * 1024 * 1024, validator=_int("max_response_bytes", 1024)
    )
    verify_tls: bool = attrs.field(default=True, validator=_bool("verify_tls"))
    connection_limit: int = attrs.field(default=100, validator=_int("connection_limit", 1))
    recycle_after: int | None = attrs.field(
        default=None, validator=_optional(_int("recycle_after", 1))
    )
    stream_first_event_timeout: float | None = attrs.field(
        default=None,
        validator=_optional(_number("stream_first_event_timeout", 0, None, low_open=True)),
    )
    stream_idle_timeout: float | None = attrs.field(
        default=None, validator=_optional(_number("stream_idle_timeout", 0, None, low_open=True))
    )
    stream_usage: bool = attrs.field(default=True, validator=_bool("stream_usage"))
    max_tokens_field: str = attrs.field(
        default="max_tokens",
        validator=_one_of("max_tokens_field", ("max_tokens", "max_completion_tokens")),
    )
    """The body field ``max_tokens`` is sent as: OpenAI's reasoning models take only
    ``max_completion_tokens``; many other servers know only ``max_tokens``."""
    embedding_model: str | None = attrs.field(
        default=None, validator=_optional(_text("embedding_model"))
    )
    extra_headers: Mapping[str, str] = attrs.field(
        factory=dict, converter=_copy_mapping, validator=_headers
    )

    def __attrs_post_init__(self) -> None:
        if any(k.lower() == "authorization" for k in self.extra_headers):
            raise ValueError("LLMConfig.extra_headers must not set Authorization; use api_key")

    @property
    def first_event_timeout(self) -> float:
        """Seconds a stream may take to its first event (default: ``timeout``)."""
        return (
            self.timeout
            if self.stream_first_event_timeout is None
            else self.stream_first_event_timeout
        )

    @property
    def idle_timeout(self) -> float:
        """Seconds a stream may go without an event (default: ``timeout``)."""
        return self.timeout if self.stream_idle_timeout is None else self.stream_idle_timeout

    @property
    def api_root(self) -> str:
        """``base_url`` with exactly one trailing ``/v1``."""
        root = self.base_url.rstrip("/")
        return root if root.endswith("/v1") else root + "/v1"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> LLMConfig:
        """Read ``LLMPIPE_BASE_URL``, ``LLMPIPE_MODEL`` and ``LLMPIPE_API_KEY``.

        The key falls back to ``OPENAI_API_KEY``; explicit ``overrides`` win.
        """
        env = os.environ if environ is None else environ
        found: dict[str, Any] = {}
        if env.get("LLMPIPE_BASE_URL"):
            found["base_url"] = env["LLMPIPE_BASE_URL"]
        if env.get("LLMPIPE_MODEL"):
            found["model"] = env["LLMPIPE_MODEL"]
        key = env.get("LLMPIPE_API_KEY") or env.get("OPENAI_API_KEY")
        if key:
            found["api_key"] = key
        return cls(**{**found, **overrides})
