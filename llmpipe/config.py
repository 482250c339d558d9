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

    Every field is checked here, once: a bad value raises ``ValueError`` naming
    the field and what it accepts. The API key is masked in ``repr`` so a config
    can be logged or printed safely. Times are in seconds. Each field is listed
    as ``name = default``, then what it means.

    The server and the model:

    base_url = 'http://127.0.0.1:8000'
        The server's URL; ``/v1`` is appended unless it ends with it. A user and
        password in it are sent as HTTP Basic auth and masked when shown.
    api_key = None
        Sent as ``Authorization: Bearer``; None sends no key. ``from_env`` reads
        ``LLMPIPE_API_KEY``, then ``OPENAI_API_KEY``.
    model = 'gpt-4'
        The model id of every call that passes no ``model=`` of its own.
    embedding_model = None
        The model ``embeddings()`` uses (None: ``model``).

    Sampling defaults (a call's own argument wins):

    temperature = 0.7
        0.0 to 2.0; None sends no temperature (reasoning models accept only
        their default).
    max_tokens = None
        The longest reply, in tokens (at least 1); None leaves it to the server.
    max_tokens_field = 'max_tokens'
        The body field ``max_tokens`` is sent as: OpenAI's reasoning models take
        only 'max_completion_tokens'; many other servers know only 'max_tokens'.
    stream_usage = True
        Ask each stream for its token usage in a final chunk (``include_usage``);
        turn off for servers that reject the option.

    Time limits, in seconds:

    timeout = 30
        One attempt, from sending to the last byte of the reply.
    deadline = None
        The whole call, retries and their waits included (None: no bound).
    connect_timeout = None
        Opening one connection, TLS included (None: bounded by ``timeout``).
    pool_timeout = None
        Waiting for a free connection when all ``connection_limit`` are busy
        (None: bounded by ``timeout``).
    stream_first_event_timeout = None
        From sending a streamed call to its first event (None: ``timeout``).
    stream_idle_timeout = None
        The longest gap between two events of a stream (None: ``timeout``).

    Retries (of 408, 409, 429, 5xx replies, connection errors and timeouts):

    max_retries = 3
        Retries after the first attempt; 0 turns retrying off.
    retry_delay = 1.0
        Seconds before the first retry; each later wait doubles.
    max_retry_delay = 60.0
        Seconds: the cap on each wait, a server's ``Retry-After`` included (a
        longer ``Retry-After`` is not waited for unless ``deadline`` leaves room).
    retry_jitter = 0.0
        0.0 to 1.0: the share of each wait that may be cut at random, so that
        many clients do not retry in step.
    retry_budget = 0.2
        Retries, as a share of the client's calls over the last 10 s (plus 10
        a second, so a quiet client can still retry): when every call fails,
        the server is not sent ``max_retries`` times the load. None: no budget.
    idempotency_header = 'Idempotency-Key'
        The header carrying one key per call, the same on each retry, so a
        server can drop a duplicate; None sends none.

    Connections and replies:

    connection_limit = 100
        Connections open at once in the pool.
    recycle_after = None
        Replace the pool after this many calls (None: never).
    max_response_bytes = 33554432
        Bytes (32 MiB, at least 1024), counted after decompression: a larger
        reply or stream is refused with ``LLMResponseError``.
    max_header_bytes = 65536
        Bytes (64 KiB, at least 1024): the longest reply status or header line.
    extra_headers = {}
        Headers sent with every request (not ``Authorization``: use ``api_key``).

    Networking and TLS (read when the pool opens):

    trust_env = True
        Honour ``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY`` and ``NO_PROXY``.
    proxy = None
        A proxy URL for every request (``http://user:password@host:port``);
        beats the environment.
    verify_tls = True
        Check the server's certificate (False logs a warning).
    ca_bundle = None
        CAs to trust instead of the system's: a PEM file, or a directory of
        hashed ones.
    client_cert = None
        For mutual TLS: one PEM path with certificate and key, or a
        ``(certificate, key)`` pair of paths.
    ssl_context = None
        A ready ``ssl.SSLContext``; replaces ``verify_tls``, ``ca_bundle`` and
        ``client_cert``.
    unix_socket = None
        Connect through this Unix domain socket path; ``base_url`` still gives
        the Host header and the path.
    """

    base_url: str = attrs.field(default="http://127.0.0.1:8000", repr=_url_repr, validator=base_url)
    api_key: str | None = attrs.field(default=None, repr=_mask, validator=api_key)
    model: str = attrs.field(default="gpt-4", validator=text("model"))
    temperature: float | None = attrs.field(
        default=0.7, validator=optional(number("temperature", 0.0, 2.0))
    )
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
    embedding_model: str | None = attrs.field(
        default=None, validator=optional(text("embedding_model"))
    )
    extra_headers: Mapping[str, str] = attrs.field(
        factory=dict, converter=copy_mapping, validator=extra_headers
    )
    # Networking (README: "Networking"). Read when a pool opens, not before.
    trust_env: bool = attrs.field(default=True, validator=boolean("trust_env"))
    proxy: str | None = attrs.field(default=None, repr=_url_repr, validator=proxy_url)
    ca_bundle: str | None = attrs.field(default=None, validator=path("ca_bundle"))
    client_cert: str | tuple[str, str] | None = attrs.field(
        default=None, converter=_tuple_of_paths, validator=client_cert
    )
    ssl_context: ssl.SSLContext | None = attrs.field(default=None, validator=ssl_context, eq=False)
    unix_socket: str | None = attrs.field(default=None, validator=optional(text("unix_socket")))
    connect_timeout: float | None = attrs.field(
        default=None, validator=optional(number("connect_timeout", 0, None, low_open=True))
    )
    pool_timeout: float | None = attrs.field(
        default=None, validator=optional(number("pool_timeout", 0, None, low_open=True))
    )
    max_header_bytes: int = attrs.field(
        default=64 * 1024, validator=integer("max_header_bytes", 1024)
    )

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
