"""A production stack: cache, rate limit, usage budget, retry and logging.

Each layer is a middleware; the order says what sees what. Hits from the
cache are counted but cost no tokens, every attempt is paced by the rate
limit, and the budget refuses a call before anything is sent.
"""

import asyncio
import sys

from loguru import logger

import llmpipe
from llmpipe import (
    AsyncLLM,
    Budget,
    CacheMiddleware,
    ConcurrencyLimitMiddleware,
    CountingMiddleware,
    LLMConfig,
    MemoryCache,
    Price,
    RateLimitMiddleware,
    RetryMiddleware,
    UsageLimitExceeded,
    UsageMiddleware,
    default_middlewares,
)

PRICES = {"*": Price(prompt_per_million=1.0, completion_per_million=2.0)}


def build_stack(config: LLMConfig) -> list[object]:
    return (
        default_middlewares(config)
        .insert_after(CountingMiddleware, CacheMiddleware(MemoryCache(max_entries=1000)))
        .insert_before(
            RetryMiddleware, UsageMiddleware(budget=Budget(max_tokens=70), prices=PRICES)
        )
        .insert_after(RetryMiddleware, ConcurrencyLimitMiddleware(4))
        .insert_after(ConcurrencyLimitMiddleware, RateLimitMiddleware(requests_per_minute=1200))
    )


async def main() -> None:
    logger.remove()  # the application owns loguru's handlers; llmpipe only adds records
    logger.add(sys.stdout, format="{level: <7} {name}: {message}", level="INFO")
    llmpipe.enable_logging("INFO")
    config = LLMConfig.from_env(temperature=0)
    async with AsyncLLM(config, build_stack(config)) as llm:
        print("Stack:", " -> ".join(type(m).__name__ for m in llm.pipeline.middlewares))
        question = [{"role": "user", "content": "What does a middleware onion do?"}]
        first = await llm.chat_completion(question, max_tokens=20, tag="docs")
        again = await llm.chat_completion(question, max_tokens=20, tag="docs")
        print(f"Reply: {first.choices[0].message.text}")
        print(f"Second call served from cache: {again.id == first.id}")
        many = [[{"role": "user", "content": f"question {i}"}] for i in range(6)]
        replies = await asyncio.gather(
            *(llm.chat_completion(m, max_tokens=10, tag="bulk") for m in many),
            return_exceptions=True,
        )
        refused = sum(isinstance(r, UsageLimitExceeded) for r in replies)
        print(f"Bulk calls: {len(replies) - refused} answered, {refused} refused by the budget")
        usage = llm.get_usage()
        print(f"Tokens by tag: { {t: u.total_tokens for t, u in usage.by_tag.items()} }")
        stats = llm.get_stats()
        print(f"Stats: requests={stats.requests} cache_hits={stats.cache_hits}")
    llmpipe.disable_logging()


if __name__ == "__main__":
    asyncio.run(main())
