"""Retries: the server fails twice (503, then 429 with Retry-After: 0), then answers.

Faults are queued on a server object, so this example starts its own
in-process test server instead of using LLMPIPE_BASE_URL; the rest of the
config still comes from the environment.
"""

import sys

from loguru import logger

from llmpipe import LLM, InternalServerError, LLMConfig, Message, enable_logging
from llmpipe.testing import Fault, LLMServer

QUESTION = [Message(role="user", content="Are you there?")]


def recover(llm: LLM, server: LLMServer) -> None:
    """Two retryable failures, then success: the caller only sees the reply."""
    server.add_faults(Fault(status=503), Fault(status=429, headers={"Retry-After": "0"}))
    response = llm.chat_completion(QUESTION)
    print(f"Reply after retries: {response.choices[0].message.content}")
    stats = llm.get_stats()
    print(f"Stats: requests={stats.requests} attempts={stats.attempts} retries={stats.retries}")
    print(f"The server received {len(server.requests)} requests")


def give_up(llm: LLM, server: LLMServer) -> None:
    """Retries are bounded: a per-call max_retries=1 stops after two attempts."""
    server.add_faults(Fault(status=503), Fault(status=503))
    try:
        llm.chat_completion(QUESTION, max_retries=1)
    except InternalServerError as e:
        print(f"Gave up after 1 retry: {type(e).__name__}: {e}")


def main() -> None:
    # RetryMiddleware logs a WARNING per retry; print those lines here. This script
    # is the application, so it owns loguru's handlers: it drops loguru's default
    # one (stderr, every level) and lets llmpipe add its own.
    logger.remove()
    enable_logging("WARNING", sink=sys.stdout)
    server = LLMServer()
    with server.run_in_thread():
        config = LLMConfig.from_env(base_url=server.base_url, max_retries=3, retry_delay=0.05)
        with LLM(config) as llm:
            recover(llm, server)
            give_up(llm, server)


if __name__ == "__main__":
    main()
