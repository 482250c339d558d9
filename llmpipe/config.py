"""LLMConfig: every setting of a client, validated once at construction."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from llmpipe._config_checks import (
    api_key,
    base_url,
    boolean,
    client_cert,
    copy_mapping,
    extra_headers,
    header_name,
    integer,
    number,
    one_of,
    optional,
    path,
    proxy_url,
    ssl_context,
    text,
)
from llmpipe._urls import credentials, shown, without_credentials

if TYPE_CHECKING:
    import ssl

__all__ = ["LLMConfig"]

_MASK = "'***'"


def _mask(value: str | None) -> str:
    return "None" if value is None else _MASK


def _url_repr(value: str | None) -> str:
    return repr(None if value is None else shown(value))


def _tuple_of_paths(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


@attrs.frozen(kw_only=True)
class LLMConfig:
    """Settings for one client. Frozen: derive variants with ``attrs.evolve``.

    The first eight fields and their defaults are the spec's. The API key is
    masked in ``repr`` so a config can be logged or printed safely.
    """

    base_url: str = attrs.field(default="http://127.0.0.1:8000", repr=_url_repr, validator=base_url)
    api_key: str | None = attrs.field(default=None, repr=_mask, validator=api_key)
    model: str = attrs.field(default="gpt-4", validator=text("model"))
    temperature: float | None = attrs.field(
        default=0.7, validator=optional(number("temperature", 0.0, 2.0))
    )
    """None: send no temperature (reasoning models accept only their default)."""
    max_tokens: int | None = attrs.field(default=None, validator=optional(integer("max_tokens", 1)))
    timeout: float = attrs.field(default=30, validator=number("timeout", 0, None, low_open=True))
    max_retries: int = attrs.field(default=3, validator=integer("max_retries", 0))
    retry_delay: float = attrs.field(default=1.0, validator=number("retry_delay", 0, None))
    max_retry_delay: float = attrs.field(default=60.0, validator=number("max_retry_delay", 0, None))
    retry_jitter: float = attrs.field(default=0.0, validator=number("retry_jitter", 0.0, 1.0))
    deadline: float | None = attrs.field(
        default=None, validator=optional(number("deadline", 0, None, low_open=True))
    )
    retry_budget: float | None = attrs.field(
        default=0.2, validator=optional(number("retry_budget", 0.0, None))
    )
    idempotency_header: str | None = attrs.field(
        default="Idempotency-Key", validator=optional(header_name("idempotency_header"))
    )
    max_response_bytes: int = attrs.field(
        default=32 * 1024 * 1024, validator=integer("max_response_bytes", 1024)
    )
    verify_tls: bool = attrs.field(default=True, validator=boolean("verify_tls"))
    connection_limit: int = attrs.field(default=100, validator=integer("connection_limit", 1))
    recycle_after: int | None = attrs.field(
        default=None, validator=optional(integer("recycle_after", 1))
    )
    stream_first_event_timeout: float | None = attrs.field(
        default=None,
        validator=optional(number("stream_first_event_timeout", 0, None, low_open=True)),
    )
    stream_idle_timeout: float | None = attrs.field(
        default=None, validator=optional(number("stream_idle_timeout", 0, None, low_open=True))
    )
    stream_usage: bool = attrs.field(default=True, validator=boolean("stream_usage"))
    max_tokens_field: str = attrs.field(
        default="max_tokens",
        validator=one_of("max_tokens_field", ("max_tokens", "max_completion_tokens")),
    )
    """The body field ``max_tokens`` is sent as: OpenAI's reasoning models take only
    ``max_completion_tokens``; many other servers know only ``max_tokens``."""
    embedding_model: str | None = attrs.field(
        default=None, validator=optional(text("embedding_model"))
    )
    extra_headers: Mapping[str, str] = attrs.field(
        factory=dict, converter=copy_mapping, validator=extra_headers
    )
    # Networking (README: "Networking"). Read when a pool opens, not before.
    trust_env: bool = attrs.field(default=True, validator=boolean("trust_env"))
    """Honour HTTP_PROXY / HTTPS_PROXY / NO_PROXY (as httpx and requests do)."""
    proxy: str | None = attrs.field(default=None, repr=_url_repr, validator=proxy_url)
    """A proxy for every request (``http://user:password@host:port``); beats the environment."""
    ca_bundle: str | None = attrs.field(default=None, validator=path("ca_bundle"))
    """CAs to trust instead of the system's: a PEM file, or a directory of hashed ones."""
    client_cert: str | tuple[str, str] | None = attrs.field(
        default=None, converter=_tuple_of_paths, validator=client_cert
    )
    """For mutual TLS: one PEM with certificate and key, or (certificate, key)."""
    ssl_context: ssl.SSLContext | None = attrs.field(default=None, validator=ssl_context, eq=False)
    """A ready TLS context; replaces ``verify_tls``, ``ca_bundle`` and ``client_cert``."""
    unix_socket: str | None = attrs.field(default=None, validator=optional(text("unix_socket")))
    """Connect to this Unix domain socket; ``base_url`` still gives the Host and the path."""
    connect_timeout: float | None = attrs.field(
        default=None, validator=optional(number("connect_timeout", 0, None, low_open=True))
    )
    """Seconds to open one connection (None: bounded by ``timeout`` only)."""
    pool_timeout: float | None = attrs.field(
        default=None, validator=optional(number("pool_timeout", 0, None, low_open=True))
    )
    """Seconds to wait for a free connection when all ``connection_limit`` are busy."""
    max_header_bytes: int = attrs.field(
        default=64 * 1024, validator=integer("max_header_bytes", 1024)
    )
    """The longest reply status or header line accepted (aiohttp's own default is 8 KiB)."""

    def __attrs_post_init__(self) -> None:
        if any(k.lower() == "authorization" for k in self.extra_headers):
            raise ValueError("LLMConfig.extra_headers must not set Authorization; use api_key")
        if self.api_key is not None and credentials(self.base_url) is not None:
            raise ValueError(
                "LLMConfig.base_url holds a user and password and api_key is set: both would "
                "be the Authorization header; keep one"
            )
        if self.ssl_context is not None:
            clashing = [
                name
                for name, unset in (
                    ("verify_tls", self.verify_tls),
                    ("ca_bundle", self.ca_bundle is None),
                    ("client_cert", self.client_cert is None),
                )
                if not unset
            ]
            if clashing:
                raise ValueError(
                    f"LLMConfig.ssl_context replaces {', '.join(clashing)}; "
                    "configure that on the context instead"
                )
        if self.unix_socket is not None and (
            self.base_url.startswith("https:") or self.proxy is not None
        ):
            raise ValueError(
                "LLMConfig.unix_socket takes an http:// base_url and no proxy: the socket "
                "is the whole route to the server"
            )

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
        """``base_url`` with exactly one trailing ``/v1``, and no user or password."""
        root = without_credentials(self.base_url).rstrip("/")
        return root if root.endswith("/v1") else root + "/v1"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> LLMConfig:
        """Read ``LLMPIPE_BASE_URL``, ``LLMPIPE_MODEL`` and ``LLMPIPE_API_KEY``.

        The URL falls back to ``OPENAI_BASE_URL`` and the key to
        ``OPENAI_API_KEY``; explicit ``overrides`` win.
        """
        env = os.environ if environ is None else environ
        found: dict[str, Any] = {}
        url = env.get("LLMPIPE_BASE_URL") or env.get("OPENAI_BASE_URL")
        if url:
            found["base_url"] = url
        if env.get("LLMPIPE_MODEL"):
            found["model"] = env["LLMPIPE_MODEL"]
        key = env.get("LLMPIPE_API_KEY") or env.get("OPENAI_API_KEY")
        if key:
            found["api_key"] = key
        return cls(**{**found, **overrides})
