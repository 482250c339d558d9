"""Typed messages and replies (attrs). Wire rules live in ``llmpipe.wire.convert``."""

from llmpipe.wire.models.chunks import (
    ChatCompletionChunk,
    ChunkChoice,
    Delta,
    FunctionCallDelta,
    ToolCallDelta,
)
from llmpipe.wire.models.embeddings import Embedding, EmbeddingResponse, EmbeddingUsage
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
    Model,
    ModelsResponse,
    Usage,
)

__all__ = [
    "ChatChoice",
    "ChatCompletionChunk",
    "ChatCompletionResponse",
    "ChunkChoice",
    "CompletionChoice",
    "CompletionResponse",
    "ContentPart",
    "Delta",
    "Embedding",
    "EmbeddingResponse",
    "EmbeddingUsage",
    "FunctionCall",
    "FunctionCallDelta",
    "ImagePart",
    "ImageURL",
    "Message",
    "MessageContent",
    "Model",
    "ModelsResponse",
    "TextPart",
    "ToolCall",
    "ToolCallDelta",
    "Usage",
]
