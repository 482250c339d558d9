"""llmpipe: a client for OpenAI-compatible LLM servers, built as an onion of
middlewares around an aiohttp transport."""

import importlib

from loguru import logger

from llmpipe import _moved
from llmpipe._version import __version__
from llmpipe.client import AsyncLLM
from llmpipe.config import LLMConfig
from llmpipe.errors import (
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    IncompleteOutputError,
    InternalServerError,
    LLMAPIError,
    LLMConnectionError,
    LLMError,
    LLMResponseError,
    LLMTimeoutError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RefusalError,
    StreamTruncatedError,
    UnprocessableEntityError,
    UsageLimitExceeded,
)
from llmpipe.logs import disable_logging, enable_logging
from llmpipe.middleware import LAZY_MIDDLEWARES as _LAZY_MIDDLEWARES
from llmpipe.middleware import (
    ClassifyErrorsMiddleware,
    CountingMiddleware,
    LoggingMiddleware,
    RetryMiddleware,
    SessionMiddleware,
    Stats,
    default_middlewares,
)
from llmpipe.middleware.retry.policy import (
    ExponentialBackoff,
    NotRetried,
    RetryPolicy,
    parse_retry_after,
)
from llmpipe.observability import disable_stdlib_logging, enable_stdlib_logging
from llmpipe.pipeline import Handler, Middleware, MiddlewareStack, Pipeline
from llmpipe.request import LLMRequest, LLMResponse
from llmpipe.streaming.events import EventStream, StreamObserver, StreamSummary
from llmpipe.streaming.folding import fold_chunks
from llmpipe.streaming.sse import ServerSentEvent, SSEDecoder
from llmpipe.streaming.typed import ChatStream, CompletionStream, SyncStream
from llmpipe.sync import LLM
from llmpipe.transport import AiohttpTransport, MockTransport, Transport
from llmpipe.wire.build import OMIT, Omit
from llmpipe.wire.models import (
    ChatChoice,
    ChatCompletionChunk,
    ChatCompletionResponse,
    ChunkChoice,
    CompletionChoice,
    CompletionResponse,
    CompletionTokensDetails,
    Delta,
    Embedding,
    EmbeddingResponse,
    EmbeddingUsage,
    FunctionCall,
    FunctionCallDelta,
    HTTPInfo,
    ImagePart,
    ImageURL,
    Message,
    Model,
    ModelsResponse,
    PromptTokensDetails,
    RawReply,
    TextPart,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from llmpipe.wire.schema import json_schema

logger.disable("llmpipe")
_moved.install()

# Optional features load on first use, so `import llmpipe` stays cheap for
# the common case (PEP 562).
_LAZY = {
    **dict.fromkeys(
        ("BatchError", "BatchResult", "batch_chat_completion", "batch_completion"),
        "llmpipe.batch",
    ),
    **dict.fromkeys(
        (
            "CacheBackend",
            "CachedReply",
            "CachePolicy",
            "CacheScope",
            "MemoryCache",
            "RedisCache",
            "SQLiteCache",
            "cache_key",
        ),
        "llmpipe.middleware.cache",
    ),
    **dict.fromkeys(
        (
            "CharacterEstimator",
            "LimiterBackend",
            "LimiterUnavailable",
            "LocalLimiter",
            "RedisLimiter",
            "TokenEstimator",
        ),
        "llmpipe.middleware.ratelimit",
    ),
    **dict.fromkeys(
        (
            "Budget",
            "BudgetLike",
            "Price",
            "RedisBudget",
            "Spent",
            "TokenEstimate",
            "UsageEstimator",
            "UsageSnapshot",
            "UsageTotals",
        ),
        "llmpipe.middleware.usage",
    ),
    **_LAZY_MIDDLEWARES,
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'llmpipe' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "LLM",
    "OMIT",
    "AiohttpTransport",
    "AsyncLLM",
    "AuthenticationError",
    "BadRequestError",
    "BatchError",
    "BatchResult",
    "Budget",
    "BudgetLike",
    "CacheBackend",
    "CacheMiddleware",
    "CachePolicy",
    "CacheScope",
    "CachedReply",
    "CharacterEstimator",
    "ChatChoice",
    "ChatCompletionChunk",
    "ChatCompletionResponse",
    "ChatStream",
    "ChunkChoice",
    "ClassifyErrorsMiddleware",
    "ClientClosedError",
    "CompletionChoice",
    "CompletionResponse",
    "CompletionStream",
    "CompletionTokensDetails",
    "ConcurrencyLimitMiddleware",
    "CountingMiddleware",
    "Delta",
    "Embedding",
    "EmbeddingResponse",
    "EmbeddingUsage",
    "EventStream",
    "ExponentialBackoff",
    "FunctionCall",
    "FunctionCallDelta",
    "HTTPInfo",
    "Handler",
    "ImagePart",
    "ImageURL",
    "IncompleteOutputError",
    "InternalServerError",
    "LLMAPIError",
    "LLMConfig",
    "LLMConnectionError",
    "LLMError",
    "LLMRequest",
    "LLMResponse",
    "LLMResponseError",
    "LLMTimeoutError",
    "LimiterBackend",
    "LimiterUnavailable",
    "LocalLimiter",
    "LoggingMiddleware",
    "MemoryCache",
    "Message",
    "Middleware",
    "MiddlewareStack",
    "MockTransport",
    "Model",
    "ModelsResponse",
    "NotFoundError",
    "NotRetried",
    "Omit",
    "OpenTelemetryMiddleware",
    "PermissionDeniedError",
    "Pipeline",
    "Price",
    "PromptTokensDetails",
    "RateLimitError",
    "RateLimitMiddleware",
    "RawReply",
    "RedisBudget",
    "RedisCache",
    "RedisLimiter",
    "RefusalError",
    "RetryMiddleware",
    "RetryPolicy",
    "SQLiteCache",
    "SSEDecoder",
    "ServerSentEvent",
    "SessionMiddleware",
    "Spent",
    "Stats",
    "StreamObserver",
    "StreamSummary",
    "StreamTruncatedError",
    "SyncStream",
    "TextPart",
    "TokenEstimate",
    "TokenEstimator",
    "ToolCall",
    "ToolCallDelta",
    "Transport",
    "UnprocessableEntityError",
    "Usage",
    "UsageEstimator",
    "UsageLimitExceeded",
    "UsageMiddleware",
    "UsageSnapshot",
    "UsageTotals",
    "__version__",
    "batch_chat_completion",
    "batch_completion",
    "cache_key",
    "default_middlewares",
    "disable_logging",
    "disable_stdlib_logging",
    "enable_logging",
    "enable_stdlib_logging",
    "fold_chunks",
    "json_schema",
    "parse_retry_after",
]
