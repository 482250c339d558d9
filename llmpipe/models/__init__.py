"""Typed messages and replies (attrs). Wire rules live in ``llmpipe._convert``."""

from llmpipe.models.chunks import (
    ChatCompletionChunk,
    ChunkChoice,
    Delta,
    FunctionCallDelta,
    ToolCallDelta,
)
from llmpipe.models.embeddings import Embedding, EmbeddingResponse, EmbeddingUsage
from llmpipe.models.messages import (
    ContentPart,
    FunctionCall,
    ImagePart,
    ImageURL,
    Message,
    MessageContent,
    TextPart,
    ToolCall,
)
from llmpipe.models.replies import (
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
