"""Where a non-streamed chat call's own CPU goes, stage by stage, without a network.

    .venv-bench/bin/python -m tests.benchmarks.call_stages [--count] [--loops 2000]

The call is the benchmark's (``payloads``: two messages, per-call ``temperature``
and ``max_tokens``, the canned ~600-byte reply) on an empty middleware stack.
A transport that hands back the canned reply in place of HTTP stands for
``AiohttpTransport``, whose own cost is measured elsewhere; what remains is
llmpipe's work between the method call and ``send()``, and from the reply to
the returned model. ``floor`` is what the raw client does for the same call
in process: ``json.dumps`` the body, ``json.loads`` the reply. ``--count``
gives instructions per call by valgrind (two runs ``--loops`` apart); without
it, µs per call (best of ``--repeat``; noisy on a shared machine).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from multidict import CIMultiDict, CIMultiDictProxy

from llmpipe import AsyncLLM, LLMConfig
from llmpipe.request import NO_OPTIONS, LLMRequest, LLMResponse, new_request
from llmpipe.transport.base import Transport
from llmpipe.wire.build import generation_request
from llmpipe.wire.convert import structure_reply
from llmpipe.wire.dump import dump_messages
from llmpipe.wire.fastpath import chat
from llmpipe.wire.models import ChatCompletionResponse
from llmpipe.wire.models.http import HTTPInfo, attach_http
from tests.benchmarks import payloads
from tests.benchmarks.valgrind import per_loop

_REPLY = payloads.chat_reply()
_HEADERS = CIMultiDictProxy(
    CIMultiDict(
        {
            "Server": "nginx",
            "Date": "Thu, 03 Dec 2026 15:00:00 GMT",
            "Content-Type": "application/json",
            "Content-Length": str(len(_REPLY)),
            "Connection": "keep-alive",
        }
    )
)


class _Canned(Transport):
    """The canned reply for every request, as ``AiohttpTransport`` builds it."""

    async def send(self, request: LLMRequest) -> LLMResponse:
        json.dumps(request.body)  # the transport's encoding, as the floor's
        return LLMResponse(200, _HEADERS, _REPLY, request, 0.001)

    async def close(self) -> None:
        return None

    @property
    def closed(self) -> bool:
        return False


def _config() -> LLMConfig:
    return LLMConfig(
        base_url="http://127.0.0.1:1/v1", api_key=payloads.API_KEY, model=payloads.MODEL
    )


def stages(loops: int) -> list[tuple[str, Callable[[], None]]]:
    """(name, run ``loops`` times) for each stage."""
    config = _config()
    messages: Any = payloads.MESSAGES
    t, n = payloads.TEMPERATURE, payloads.MAX_TOKENS
    loop = asyncio.new_event_loop()
    llm = AsyncLLM(config, middlewares=[], transport=_Canned())
    request = generation_request(
        config, "chat/completions", "messages", dump_messages(messages), t, n, False, {}
    )
    payload = json.loads(_REPLY)
    body = request.body

    def whole() -> None:
        async def go() -> None:
            call = llm.chat_completion
            for _ in range(loops):
                await call(messages, temperature=t, max_tokens=n)

        loop.run_until_complete(go())

    def build() -> None:
        for _ in range(loops):
            generation_request(
                config, "chat/completions", "messages", dump_messages(messages), t, n, False, {}
            )

    def init_request() -> None:
        headers = {"Idempotency-Key": "0" * 32}
        for _ in range(loops):
            LLMRequest(
                "chat/completions",
                body=body,
                stream=False,
                timeout=None,
                headers=headers,
                options=NO_OPTIONS,
            )

    def hot_request() -> None:
        headers = {"Idempotency-Key": "0" * 32}
        for _ in range(loops):
            new_request("chat/completions", body, headers, None, False, NO_OPTIONS)

    def new_response() -> None:
        for _ in range(loops):
            LLMResponse(200, _HEADERS, _REPLY, request, 0.001)

    def structure() -> None:
        for _ in range(loops):
            chat(payload)

    def reply() -> None:  # the reply's part of the call: parse, structure, http facts
        for _ in range(loops):
            response = LLMResponse(200, _HEADERS, _REPLY, request, 0.001)
            result = structure_reply(response, ChatCompletionResponse)
            attach_http(result, HTTPInfo(response))

    def http() -> None:
        response = LLMResponse(200, _HEADERS, _REPLY, request, 0.001)
        result = chat(payload)
        for _ in range(loops):
            attach_http(result, HTTPInfo(response))

    def floor() -> None:
        for _ in range(loops):
            json.dumps(body)
            json.loads(_REPLY)

    def empty_loop() -> None:
        for _ in range(loops):
            pass

    return [
        ("whole call, empty stack", whole),
        ("build request (dump, checks, LLMRequest)", build),
        ("LLMRequest alone", init_request),
        ("new_request (the hot path's LLMRequest)", hot_request),
        ("LLMResponse alone", new_response),
        ("structure (fastpath.chat)", structure),
        ("reply: json, structure, http", reply),
        ("reply.http facts", http),
        ("floor: json.dumps + json.loads", floor),
        ("empty loop", empty_loop),
    ]


def _best(run: Callable[[], None], repeat: int, loops: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        best = min(best, (time.perf_counter() - start) / loops)
    return best


def _count(stage: str, loops: int) -> float:
    return per_loop("tests.benchmarks.call_stages", stage, loops)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--loops", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--only", help="run this stage --loops times, untimed (for valgrind)")
    parser.add_argument("--stages", help="only stages whose name contains one of these (comma)")
    parser.add_argument("--count", action="store_true", help="instructions per call (valgrind)")
    args = parser.parse_args(argv)
    if args.only is not None:
        dict(stages(args.loops))[args.only]()
        return 0
    chosen = stages(args.loops)
    if args.stages:
        wanted = args.stages.split(",")
        chosen = [(name, run) for name, run in chosen if any(w in name for w in wanted)]
    unit = "instructions" if args.count else "µs"
    print(f"per call ({unit})")
    for name, run in chosen:
        if args.count:
            print(f"  {name:42s} {_count(name, args.loops):9,.0f}", flush=True)
        else:
            print(f"  {name:42s} {_best(run, args.repeat, args.loops) * 1e6:9.2f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
