"""Streaming: chunks arrive as the server writes them, in async and sync code.

The stream is folded as it goes, so the whole reply (text, finish reason,
usage) is there at the end, and leaving early hands the connection back.
"""

import asyncio

from llmpipe import LLM, AsyncLLM, LLMConfig, Message

QUESTION = [Message(role="user", content="Tell me a story about a streaming onion")]


async def stream_async(config: LLMConfig) -> None:
    async with AsyncLLM(config) as llm:
        stream = await llm.chat_completion(QUESTION, stream=True)
        print("Async stream: ", end="")
        async with stream:
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    print(chunk.choices[0].delta.content, end="|", flush=True)
        print()
        reply = llm.get_last_response()
        assert reply is not None
        assert reply.usage is not None
        choice = reply.choices[0]
        print(f"Folded reply: {choice.message.text!r}")
        print(f"Finish reason: {choice.finish_reason}, tokens: {reply.usage.total_tokens}")


def stream_sync(config: LLMConfig) -> None:
    with LLM(config) as llm:
        with llm.chat_completion(QUESTION, stream=True) as stream:
            words = [c.choices[0].delta.content for c in stream if c.choices]
        print(f"Sync stream: {len(words)} chunks")
        with llm.chat_completion(QUESTION, stream=True) as stream:
            for index, _chunk in enumerate(stream):
                if index == 2:
                    break  # leaving the block closes the stream's connection
        print(f"Left early after 3 chunks; calls in flight: {llm.async_client.transport.in_flight}")
        text = llm.completion("Once upon a time", stream=True).collect()
        print(f"Streamed completion: {text.choices[0].text!r}")


if __name__ == "__main__":
    settings = LLMConfig.from_env()
    asyncio.run(stream_async(settings))
    stream_sync(settings)
