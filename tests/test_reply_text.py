"""`chunk.text` and `CompletionResponse.text`: the new text of a chunk, '' when it has none."""

from __future__ import annotations

from llmpipe import AsyncLLM, ChatCompletionChunk, CompletionResponse
from llmpipe.wire.convert import structure_payload
from tests.wire_samples import chunk

USER = [{"role": "user", "content": "one two three"}]


def structure(payload, model):
    return structure_payload(payload, model, "test", lambda: "")


async def test_chat_chunk_texts_join_to_the_folded_content(client: AsyncLLM):
    stream = await client.chat_completion(USER, stream=True)
    async with stream:
        texts = [c.text async for c in stream]
    assert "".join(texts) == stream.response.choices[0].message.content == "Echo: one two three"


async def test_the_final_usage_chunk_of_a_chat_stream_has_empty_text(client: AsyncLLM):
    stream = await client.chat_completion(USER, stream=True)
    async with stream:
        chunks = [c async for c in stream]
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].text == ""


async def test_completion_chunk_texts_join_to_the_collected_text(client: AsyncLLM):
    stream = await client.completion("Once upon", stream=True)
    async with stream:
        texts = [c.text async for c in stream]
    assert "".join(texts) == stream.response.text
    assert stream.response.text == stream.response.choices[0].text != ""


async def test_the_final_usage_chunk_of_a_completion_stream_has_empty_text(client: AsyncLLM):
    stream = await client.completion("Once upon", stream=True)
    async with stream:
        chunks = [c async for c in stream]
    assert chunks[-1].choices == []
    assert chunks[-1].text == ""


def test_a_role_only_delta_has_empty_text():
    assert structure(chunk({"role": "assistant"}), ChatCompletionChunk).text == ""


def test_a_chunk_with_content_has_it_as_text():
    assert structure(chunk({"content": "Hel"}), ChatCompletionChunk).text == "Hel"


def test_a_completion_with_no_choice_has_empty_text():
    assert structure({"choices": [], "usage": {"prompt_tokens": 1}}, CompletionResponse).text == ""
