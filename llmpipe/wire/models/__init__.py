"""Typed messages and replies (attrs). Wire rules live in ``llmpipe.wire.convert``."""

from llmpipe.wire.models.chunks import (
    ChatCompletionChunk,
    ChunkChoice,
    Delta,
    FunctionCallDelta,
    ToolCallDelta,
)
from llmpipe.wire.models.embeddings import Embedding, EmbeddingResponse, EmbeddingUsage
from llmpipe.wire.models.extra import EMPTY
from llmpipe.wire.models.http import HTTPInfo, RawReply
from llmpipe.wire.models.messages import (
    ContentPart,
    FunctionCall,
    ImagePart,
    ImageURL,
    Message,
    MessageContent,
    TextPart,
    ToolCall,
)
from llmpipe.wire.models.replies import (
    ChatChoice,
    ChatCompletionResponse,
    CompletionChoice,
    CompletionResponse,
    CompletionTokensDetails,
    Model,
    ModelsResponse,
    PromptTokensDetails,
    Usage,
)

__all__ = [
    "EMPTY",
    "ChatChoice",
    "ChatCompletionChunk",
    "ChatCompletionResponse",
    "ChunkChoice",
    "CompletionChoice",
    "CompletionResponse",
    "CompletionTokensDetails",
    "ContentPart",
    "Delta",
    "Embedding",
    "EmbeddingResponse",
    "EmbeddingUsage",
    "FunctionCall",
    "FunctionCallDelta",
    "HTTPInfo",
    "ImagePart",
    "ImageURL",
    "Message",
    "MessageContent",
    "Model",
    "ModelsResponse",
    "PromptTokensDetails",
    "RawReply",
    "TextPart",
    "ToolCall",
    "ToolCallDelta",
    "Usage",
]
