"""AsyncLLM: one client, several chat calls in flight at once over its pool.

Messages can be plain dicts as well as ``Message`` objects.
"""

import asyncio
import time

from llmpipe import AsyncLLM, LLMConfig

QUESTIONS = ["What is an onion architecture?", "Why retry with backoff?", "What is a pool?"]


async def ask(llm: AsyncLLM, question: str) -> str:
    messages = [
        {"role": "system", "content": "Answer in one sentence."},
        {"role": "user", "content": question},
    ]
    response = await llm.chat_completion(messages, max_tokens=50)
    return response.choices[0].message.text


async def main() -> None:
    config = LLMConfig.from_env()
    async with AsyncLLM(config) as llm:
        started = time.perf_counter()
        answers = await asyncio.gather(*(ask(llm, q) for q in QUESTIONS))
        elapsed = time.perf_counter() - started
        for question, answer in zip(QUESTIONS, answers, strict=True):
            print(f"Q: {question}\nA: {answer}")
        stats = llm.get_stats()
        print(f"{stats.requests} concurrent calls in {elapsed:.3f} s, {stats.total_tokens} tokens")
    print(f"Closed after the block: {llm.closed}")


if __name__ == "__main__":
    asyncio.run(main())
