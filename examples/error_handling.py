"""Errors: the spec's try/except, fed real failures.

    LLMError
    ├── LLMConnectionError     refused, reset, DNS (and LLMTimeoutError)
    └── LLMAPIError            a non-2xx reply: .status_code, .request_id, .body
        └── NotFoundError, AuthenticationError, RateLimitError, ...

Invalid settings raise ValueError when the config is built, before any call.
"""

import socket
from typing import Any

import attrs

from llmpipe import LLM, LLMAPIError, LLMConfig, LLMConnectionError, Message

MESSAGES = [Message(role="user", content="Hello!")]


def ask(llm: LLM, **kwargs: Any) -> None:
    """The spec's pattern: connection failures and API errors handled apart."""
    try:
        response = llm.chat_completion(MESSAGES, **kwargs)
        print(f"  Reply: {response.choices[0].message.content}")
    except LLMConnectionError as e:
        print(f"  Connection failed: {e}")
        print(f"  -> {type(e).__name__}")
    except LLMAPIError as e:
        print(f"  API error: {e}")
        print(f"  -> {type(e).__name__} status_code={e.status_code} request_id={e.request_id}")


def unused_port() -> int:
    """A port nothing listens on (the OS just handed it out and we released it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    config = LLMConfig.from_env()
    with LLM(config) as llm:
        print("1. A healthy call:")
        ask(llm)
        print("2. An unknown model; the server replies 404:")
        ask(llm, model="no-such-model")

    print("3. Nothing listening; no retries, so it fails at once:")
    offline = attrs.evolve(config, base_url=f"http://127.0.0.1:{unused_port()}", max_retries=0)
    with LLM(offline) as llm:
        ask(llm)

    print("4. An invalid setting fails when the config is built:")
    try:
        LLMConfig.from_env(temperature=5.0)
    except ValueError as e:
        print(f"  ValueError: {e}")


if __name__ == "__main__":
    main()
