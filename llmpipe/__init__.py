"""llmpipe: a client for OpenAI-compatible LLM servers, built as an onion of
middlewares around an aiohttp transport."""

from loguru import logger

from llmpipe._version import __version__
from llmpipe.cache import (
    CacheBackend,
    CachedReply,
    CachePolicy,
    MemoryCache,
    RedisCache,
    SQLiteCache,
    cache_key,
)
from llmpipe.client import AsyncLLM
from llmpipe.config import LLMConfig
from llmpipe.errors import (
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    InternalServerError,
    LLMAPIError,
    LLMConnectionError,
    LLMError,
    LLMResponseError,
    LLMTimeoutError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    StreamTruncatedError,
    UnprocessableEntityError,
    UsageLimitExceeded,
)
from llmpipe.event_stream import EventStream, StreamObserver, StreamSummary
from llmpipe.folding import fold_chunks
from llmpipe.logs import disable_logging, enable_logging
from llmpipe.middleware import (
    CacheMiddleware,
    ClassifyErrorsMiddleware,
    CountingMiddleware,
    LoggingMiddleware,
    RetryMiddleware,
    SessionMiddleware,
    Stats,
    default_middlewares,
)
from llmpipe.models import (
    ChatChoice,
    ChatCompletionChunk,
    ChatCompletionResponse,
    ChunkChoice,
    CompletionChoice,
    CompletionResponse,
    Delta,
    Embedding,
    EmbeddingResponse,
    EmbeddingUsage,
    FunctionCall,
    FunctionCallDelta,
    ImagePart,
    ImageURL,
    Message,
    Model,
    ModelsResponse,
    TextPart,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from llmpipe.pipeline import Handler, Middleware, MiddlewareStack, Pipeline
from llmpipe.request import LLMRequest, LLMResponse
from llmpipe.retry_policy import ExponentialBackoff, RetryPolicy, parse_retry_after
from llmpipe.schema import json_schema
from llmpipe.sse import ServerSentEvent, SSEDecoder
from llmpipe.streaming import ChatStream, CompletionStream, SyncStream
from llmpipe.sync import LLM
from llmpipe.transport import AiohttpTransport, MockTransport, Transport

logger.disable("llmpipe")

__all__ = [
    "AiohttpTransport",
    "AsyncLLM",
    "AuthenticationError",
    "BadRequestError",
    "CacheBackend",
    "CacheMiddleware",
    "CachePolicy",
    "CachedReply",
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
    "CountingMiddleware",
    "Delta",
    "Embedding",
    "EmbeddingResponse",
    "EmbeddingUsage",
    "EventStream",
    "ExponentialBackoff",
    "FunctionCall",
    "FunctionCallDelta",
    "Handler",
    "ImagePart",
    "ImageURL",
    "InternalServerError",
    "LLM",
    "LLMAPIError",
    "LLMConfig",
    "LLMConnectionError",
    "LLMError",
    "LLMRequest",
    "LLMResponse",
    "LLMResponseError",
    "LLMTimeoutError",
    "LoggingMiddleware",
    "MemoryCache",
    "Message",
    "Middleware",
    "MiddlewareStack",
    "MockTransport",
    "Model",
    "ModelsResponse",
    "NotFoundError",
    "PermissionDeniedError",
    "Pipeline",
    "RateLimitError",
    "RedisCache",
    "RetryMiddleware",
    "RetryPolicy",
    "SQLiteCache",
    "SSEDecoder",
    "ServerSentEvent",
    "SessionMiddleware",
    "Stats",
    "StreamObserver",
    "StreamSummary",
    "StreamTruncatedError",
    "SyncStream",
    "TextPart",
    "ToolCall",
    "ToolCallDelta",
    "Transport",
    "UnprocessableEntityError",
    "Usage",
    "UsageLimitExceeded",
    "__version__",
    "cache_key",
    "default_middlewares",
    "disable_logging",
    "enable_logging",
    "fold_chunks",
    "json_schema",
    "parse_retry_after",
]
