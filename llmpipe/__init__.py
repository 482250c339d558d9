"""llmpipe: a client for OpenAI-compatible LLM servers, built as an onion of
middlewares around an aiohttp transport."""

from loguru import logger

from llmpipe._version import __version__
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
    UnprocessableEntityError,
)
from llmpipe.logs import disable_logging, enable_logging
from llmpipe.middleware import (
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
    ChatCompletionResponse,
    CompletionChoice,
    CompletionResponse,
    Message,
    Model,
    ModelsResponse,
    Usage,
)
from llmpipe.pipeline import Handler, Middleware, MiddlewareStack, Pipeline
from llmpipe.request import LLMRequest, LLMResponse
from llmpipe.retry_policy import ExponentialBackoff, RetryPolicy, parse_retry_after
from llmpipe.sync import LLM
from llmpipe.transport import AiohttpTransport, MockTransport, Transport

logger.disable("llmpipe")

__all__ = [
    "LLM",
    "AiohttpTransport",
    "AsyncLLM",
    "AuthenticationError",
    "BadRequestError",
    "ChatChoice",
    "ChatCompletionResponse",
    "ClassifyErrorsMiddleware",
    "ClientClosedError",
    "CompletionChoice",
    "CompletionResponse",
    "CountingMiddleware",
    "ExponentialBackoff",
    "Handler",
    "InternalServerError",
    "LLMAPIError",
    "LLMConfig",
    "LLMConnectionError",
    "LLMError",
    "LLMRequest",
    "LLMResponse",
    "LLMResponseError",
    "LLMTimeoutError",
    "LoggingMiddleware",
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
    "RetryMiddleware",
    "RetryPolicy",
    "SessionMiddleware",
    "Stats",
    "Transport",
    "UnprocessableEntityError",
    "Usage",
    "__version__",
    "default_middlewares",
    "disable_logging",
    "enable_logging",
    "parse_retry_after",
]
