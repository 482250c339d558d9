"""From a request body and a reply's JSON to convention attributes: pure functions.

OpenTelemetry takes only strings, booleans, numbers and lists of one of them,
so each value is checked before it becomes an attribute: a server's odd field
is left out, never passed on to make the SDK warn. Nothing here reads a
header, so no credential can reach an attribute.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeGuard
from urllib.parse import urlsplit

from llmpipe.observability import semconv as sc
from llmpipe.wire.usage import read_usage

__all__ = [
    "Server",
    "operation_of",
    "request_attributes",
    "response_attributes",
    "server_of",
]

Attributes = dict[str, Any]

_OPERATIONS = (
    ("chat/completions", sc.CHAT),
    ("completions", sc.TEXT_COMPLETION),
    ("embeddings", sc.EMBEDDINGS),
)
_DEFAULT_PORTS = {"http": 80, "https": 443}

# Body field -> attribute, for numbers.
_NUMBERS = (
    ("temperature", sc.REQUEST_TEMPERATURE),
    ("top_p", sc.REQUEST_TOP_P),
    ("top_k", sc.REQUEST_TOP_K),  # not OpenAI's, but vLLM, llama.cpp and Ollama take it
    ("frequency_penalty", sc.REQUEST_FREQUENCY_PENALTY),
    ("presence_penalty", sc.REQUEST_PRESENCE_PENALTY),
)
_INTEGERS = (
    ("max_tokens", sc.REQUEST_MAX_TOKENS),
    ("max_completion_tokens", sc.REQUEST_MAX_TOKENS),  # the newer name wins when both are given
    ("seed", sc.REQUEST_SEED),
    ("dimensions", sc.EMBEDDINGS_DIMENSION_COUNT),
)


def operation_of(endpoint: str) -> str | None:
    """The GenAI operation an endpoint performs; None for others (``models``)."""
    path = endpoint.strip("/")
    for suffix, operation in _OPERATIONS:
        if path == suffix or path.endswith("/" + suffix):
            return operation
    return None


class Server:
    """Where a transport sends: ``server.address``/``server.port`` and the URL root."""

    __slots__ = ("address", "attributes", "port", "url_root")

    def __init__(self, address: str | None, port: int | None, url_root: str | None) -> None:
        self.address = address
        self.port = port
        self.url_root = url_root
        self.attributes: Attributes = {}
        if address:
            self.attributes[sc.SERVER_ADDRESS] = address
            if port:
                self.attributes[sc.SERVER_PORT] = port


UNKNOWN_SERVER = Server(None, None, None)


def server_of(origin: str | None) -> Server:
    """The server a transport's ``origin`` names (it never carries credentials)."""
    if not origin:
        return UNKNOWN_SERVER
    parts = urlsplit(origin)
    scheme, host, port = parts.scheme, parts.hostname, parts.port
    if not host:
        return UNKNOWN_SERVER
    netloc = f"[{host}]" if ":" in host else host
    if port and port != _DEFAULT_PORTS.get(scheme):
        netloc += f":{port}"
    return Server(host, port or _DEFAULT_PORTS.get(scheme), f"{scheme}://{netloc}{parts.path}/")


def _number(value: Any) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _integer(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def request_attributes(operation: str, body: Mapping[str, Any], stream: bool) -> Attributes:
    """The ``gen_ai.request.*`` (and related) attributes a request body gives."""
    found: Attributes = {}
    for field, name in _NUMBERS:
        value = body.get(field)
        if _number(value):
            found[name] = float(value)
    for field, name in _INTEGERS:
        value = body.get(field)
        if _integer(value):
            found[name] = value
    stop = body.get("stop")
    if isinstance(stop, str):
        found[sc.REQUEST_STOP_SEQUENCES] = [stop]
    elif isinstance(stop, list) and stop and all(isinstance(s, str) for s in stop):
        found[sc.REQUEST_STOP_SEQUENCES] = stop
    choices = body.get("n")
    if _integer(choices) and choices != 1:
        found[sc.REQUEST_CHOICE_COUNT] = choices
    if stream:
        found[sc.REQUEST_STREAM] = True
    tier = body.get("service_tier")
    if isinstance(tier, str):
        found[sc.OPENAI_REQUEST_SERVICE_TIER] = tier
    if operation == sc.EMBEDDINGS:
        encoding = body.get("encoding_format")
        if isinstance(encoding, str):
            found[sc.REQUEST_ENCODING_FORMATS] = [encoding]
    else:
        output = _output_type(body.get("response_format"))
        if output is not None:
            found[sc.OUTPUT_TYPE] = output
    return found


def _output_type(response_format: Any) -> str | None:
    if not isinstance(response_format, Mapping):
        return None
    kind = response_format.get("type")
    if kind in ("json_object", "json_schema"):
        return "json"
    return "text" if kind == "text" else None


def response_attributes(operation: str, payload: Any) -> Attributes:
    """The ``gen_ai.response.*`` and ``gen_ai.usage.*`` attributes of a reply's JSON."""
    if not isinstance(payload, Mapping):
        return {}
    found: Attributes = {}
    for field, name in (
        ("id", sc.RESPONSE_ID),
        ("model", sc.RESPONSE_MODEL),
        ("system_fingerprint", sc.OPENAI_RESPONSE_SYSTEM_FINGERPRINT),
        ("service_tier", sc.OPENAI_RESPONSE_SERVICE_TIER),
    ):
        value = payload.get(field)
        if isinstance(value, str) and value:
            found[name] = value
    reasons = finish_reasons(payload.get("choices"))
    if reasons:
        found[sc.RESPONSE_FINISH_REASONS] = reasons
    found.update(usage_attributes(operation, payload.get("usage")))
    return found


def finish_reasons(choices: Any) -> list[str]:
    """Each choice's finish reason, in the order of the choices' ``index``."""
    if not isinstance(choices, list):
        return []
    indexed = [
        (choice.get("index", position), choice["finish_reason"])
        for position, choice in enumerate(choices)
        if isinstance(choice, Mapping) and isinstance(choice.get("finish_reason"), str)
    ]
    indexed.sort(key=lambda pair: pair[0] if _integer(pair[0]) else 0)
    return [reason for _, reason in indexed]


def usage_attributes(operation: str, usage: Any) -> Attributes:
    """Token counts, read by llmpipe's one usage rule (``llmpipe.wire.usage``)."""
    count = read_usage(usage)
    if count is None:
        return {}
    found: Attributes = {sc.USAGE_INPUT_TOKENS: count.prompt_tokens}
    if operation != sc.EMBEDDINGS:  # embeddings produce no output tokens
        found[sc.USAGE_OUTPUT_TOKENS] = count.completion_tokens
    assert isinstance(usage, Mapping)  # read_usage found counts in it
    cached = _detail(usage.get("prompt_tokens_details"), "cached_tokens")
    if cached is not None:
        found[sc.USAGE_CACHE_READ_INPUT_TOKENS] = cached
    reasoning = _detail(usage.get("completion_tokens_details"), "reasoning_tokens")
    if reasoning is not None:
        found[sc.USAGE_REASONING_OUTPUT_TOKENS] = reasoning
    return found


def _detail(details: Any, field: str) -> int | None:
    if not isinstance(details, Mapping):
        return None
    value = details.get(field)
    return value if _integer(value) and value >= 0 else None
