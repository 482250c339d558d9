"""Streamed replies, from bytes up: ``sse`` decodes server-sent events from
bytes, ``events`` reads one reply's events (timeouts, ``[DONE]``, error
events, truncation), ``typed`` turns them into typed chunks, and ``folding``
adds chunks up into the complete reply."""

from llmpipe.streaming.events import ByteSource, EventStream, StreamObserver, StreamSummary
from llmpipe.streaming.folding import fold_chunks
from llmpipe.streaming.sse import ServerSentEvent, SSEDecoder
from llmpipe.streaming.typed import ChatStream, CompletionStream, ReplyStream, SyncStream

__all__ = [
    "ByteSource",
    "ChatStream",
    "CompletionStream",
    "EventStream",
    "ReplyStream",
    "SSEDecoder",
    "ServerSentEvent",
    "StreamObserver",
    "StreamSummary",
    "SyncStream",
    "fold_chunks",
]
