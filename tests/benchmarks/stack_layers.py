"""What each layer of the default middleware stack costs a successful chat call.

    .venv-bench/bin/python -m tests.benchmarks.stack_layers [--loops 2000] [--stacks a,b]

The call is call_stages' (the benchmark's chat call on a transport handing
back the canned reply, no network), on an empty stack, the default stack,
and a stack of each default layer alone. Instructions per call are counted
by valgrind (two runs ``--loops`` apart); a layer's cost is its stack's
count less the empty stack's. The config is the benchmark client's
(``max_retries=0``, the default retry budget, logging off).
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from typing import Any

from llmpipe import AsyncLLM, LLMConfig
from llmpipe.middleware import (
    ClassifyErrorsMiddleware,
    CountingMiddleware,
    LoggingMiddleware,
    RetryMiddleware,
    SessionMiddleware,
    default_middlewares,
)
from tests.benchmarks import payloads
from tests.benchmarks.call_stages import _Canned
from tests.benchmarks.valgrind import per_loop

_STACKS: dict[str, Callable[[LLMConfig], Any]] = {
    "empty": lambda config: [],
    "default": default_middlewares,
    "logging": lambda config: [LoggingMiddleware()],
    "counting": lambda config: [CountingMiddleware()],
    "retry": lambda config: [RetryMiddleware()],
    "classify": lambda config: [ClassifyErrorsMiddleware()],
    "session": lambda config: [SessionMiddleware(config.recycle_after)],
}


def _config() -> LLMConfig:
    return LLMConfig(
        base_url="http://127.0.0.1:1/v1",
        api_key=payloads.API_KEY,
        model=payloads.MODEL,
        max_retries=0,
    )


def run(stack: str, loops: int) -> None:
    """``loops`` chat calls on ``stack``."""
    config = _config()
    llm = AsyncLLM(config, middlewares=_STACKS[stack](config), transport=_Canned())
    messages: Any = payloads.MESSAGES
    t, n = payloads.TEMPERATURE, payloads.MAX_TOKENS

    async def go() -> None:
        call = llm.chat_completion
        for _ in range(loops):
            await call(messages, temperature=t, max_tokens=n)

    asyncio.new_event_loop().run_until_complete(go())


def count(stack: str, loops: int) -> float:
    """Instructions per call on ``stack`` (valgrind, two runs ``loops`` apart)."""
    return per_loop("tests.benchmarks.stack_layers", stack, loops)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--loops", type=int, default=2000)
    parser.add_argument("--only", help="run this stack --loops times, uncounted (for valgrind)")
    parser.add_argument("--stacks", help="only these stacks, comma-separated")
    args = parser.parse_args(argv)
    if args.only is not None:
        run(args.only, args.loops)
        return 0
    names = args.stacks.split(",") if args.stacks else list(_STACKS)
    if "empty" not in names:
        names.insert(0, "empty")
    empty = 0.0
    print("per call (instructions)      whole call   over empty")
    for name in names:
        per = count(name, args.loops)
        if name == "empty":
            empty = per
        print(f"  {name:26s} {per:11,.0f} {per - empty:12,.0f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
