"""Custom middlewares: a class that times calls, a plain async function that tags
each attempt with a header, and a cache that answers without the server.

Each goes into the default stack at the place its job needs, outermost first:

    LoggingMiddleware
    CacheMiddleware            insert_after(Logging): a cache hit is not an API call
    CountingMiddleware
    TimingMiddleware           insert_before(Retry): times a call with all its retries
    RetryMiddleware
    ClassifyErrorsMiddleware
    tag_request                insert_after(Classify): runs once per attempt
    SessionMiddleware
"""

import json
import time
from typing import Any

import attrs

from llmpipe import (
    LLM,
    ClassifyErrorsMiddleware,
    Handler,
    LLMConfig,
    LLMRequest,
    LLMResponse,
    LoggingMiddleware,
    Message,
    RetryMiddleware,
    default_middlewares,
)


class TimingMiddleware:
    """Records how long each call took, retries included."""

    def __init__(self) -> None:
        self.timings: list[tuple[str, float]] = []

    async def __call__(self, request: LLMRequest, call_next: Handler) -> LLMResponse:
        started = time.perf_counter()
        try:
            return await call_next(request)
        finally:
            self.timings.append((request.endpoint, time.perf_counter() - started))


async def tag_request(request: LLMRequest, call_next: Handler) -> LLMResponse:
    """Add a header. Requests are frozen, so send an evolved copy."""
    tagged = attrs.evolve(request, headers={**request.headers, "X-Example": "custom-middleware"})
    response = await call_next(tagged)
    print(f"  tag_request: sent X-Example, reply has request id {response.headers['x-request-id']}")
    return response


class CacheMiddleware:
    """Answers a repeat of an identical request from memory, never reaching the transport.

    Only successful replies get here to be stored: errors were raised further in.
    """

    def __init__(self) -> None:
        self._replies: dict[str, Any] = {}
        self.hits = 0

    async def __call__(self, request: LLMRequest, call_next: Handler) -> LLMResponse:
        key = json.dumps([request.method, request.endpoint, request.body], sort_keys=True)
        if key in self._replies:
            self.hits += 1
            return LLMResponse.from_json(request, self._replies[key])
        response = await call_next(request)
        self._replies[key] = response.json()
        return response


def main() -> None:
    config = LLMConfig.from_env()
    cache, timing = CacheMiddleware(), TimingMiddleware()
    stack = default_middlewares(config)
    stack.insert_after(LoggingMiddleware, cache)
    stack.insert_before(RetryMiddleware, timing)
    stack.insert_after(ClassifyErrorsMiddleware, tag_request)
    names = [getattr(m, "__name__", type(m).__name__) for m in stack]
    print(f"Stack, outermost first: {' -> '.join(names)}")

    question = [Message(role="user", content="Tell me about onions.")]
    with LLM(config, stack) as llm:
        print("First call:")
        first = llm.chat_completion(question)
        print(f"  id={first.id} reply={first.choices[0].message.content!r}")
        print("Second, identical call:")
        second = llm.chat_completion(question)
        print(f"  id={second.id} reply={second.choices[0].message.content!r}")
        if second.id != first.id or cache.hits != 1:
            raise SystemExit("the cache did not answer the repeated call")
        print("  served from cache: same reply id, and tag_request did not run")
        print("A different call:")
        other = llm.chat_completion([Message(role="user", content="And about leeks?")])
        print(f"  id={other.id} reply={other.choices[0].message.content!r}")
        print(f"API calls counted: {llm.get_request_count()} of 3; cache hits: {cache.hits}")
    for endpoint, seconds in timing.timings:
        print(f"Timed {endpoint}: {seconds * 1000:.1f} ms")


if __name__ == "__main__":
    main()
