"""Instructions per POST for aiohttp used in different ways, and for llmpipe's transport.

    .venv-bench/bin/python -m tests.benchmarks.aiohttp_variants [--variants a,b] [--low N --high M]

A helper for choosing how the transport calls aiohttp, not part of ``make
bench``: each variant runs in a child under valgrind (cachegrind, no cache
simulation) with ``--low`` and ``--high`` sequential calls against the
bench's nginx after the same warm-up, and the difference is divided by the
extra calls. Every variant sends the same body bytes (encoded once: JSON is
not the transport's business) and reads the whole reply. ``raw`` is the
benchmark's floor client as written: a str URL, a headers dict per call, a
session ``ClientTimeout(total=30)``, ``await resp.read()``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from tests.benchmarks import payloads
from tests.benchmarks.valgrind import VALGRIND, instructions_in

_BODY = json.dumps(payloads.request_body()).encode()
_HEADERS = {"Content-Type": "application/json", "Authorization": f"Bearer {payloads.API_KEY}"}
_WARMUP = 200

Call = Callable[[], Awaitable[Any]]
Variant = Callable[[str], Awaitable[tuple[Call, Callable[[], Awaitable[None]]]]]


def _session(**kwargs: Any) -> Any:
    import aiohttp

    kwargs.setdefault("timeout", aiohttp.ClientTimeout(total=30))
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=10), **kwargs)


async def _raw(base: str) -> tuple[Call, Any]:
    session = _session()
    url = base + payloads.CHAT_PATH

    async def call() -> bytes:
        async with session.post(url, data=_BODY, headers=_HEADERS) as resp:
            return await resp.read()

    return call, session.close


async def _raw_encode(base: str) -> tuple[Call, Any]:
    """The floor client exactly: raw, encoding the body on every call."""
    session = _session()
    url = base + payloads.CHAT_PATH

    async def call() -> bytes:
        body = json.dumps(payloads.request_body()).encode()
        async with session.post(url, data=body, headers=_HEADERS) as resp:
            return await resp.read()

    return call, session.close


async def _raw_dumps(base: str) -> tuple[Call, Any]:
    """raw, encoding a prebuilt body dict on every call the way llmpipe does
    (``llmpipe._json.dumps``): what the transport's own cost is measured against."""
    from llmpipe import _json

    session = _session()
    url = base + payloads.CHAT_PATH
    body = payloads.request_body()

    async def call() -> bytes:
        async with session.post(url, data=_json.dumps(body), headers=_HEADERS) as resp:
            return await resp.read()

    return call, session.close


async def _yarl_url(base: str) -> tuple[Call, Any]:
    """A yarl.URL built once, not a str parsed per call."""
    import yarl

    session = _session()
    url = yarl.URL(base + payloads.CHAT_PATH)

    async def call() -> bytes:
        async with session.post(url, data=_BODY, headers=_HEADERS) as resp:
            return await resp.read()

    return call, session.close


def _defaults_session(**kwargs: Any) -> Any:
    return _session(headers=_HEADERS, **kwargs)


async def _url_defaults(base: str) -> tuple[Call, Any]:
    """A yarl.URL, and the headers as the session's defaults (no per-call headers)."""
    import yarl

    session = _defaults_session()
    url = yarl.URL(base + payloads.CHAT_PATH)

    async def call() -> bytes:
        async with session.post(url, data=_BODY) as resp:
            return await resp.read()

    return call, session.close


async def _url_defaults_request(base: str) -> tuple[Call, Any]:
    """As url-defaults, with ``await session.request(...)``, no context manager."""
    import yarl

    session = _defaults_session()
    url = yarl.URL(base + payloads.CHAT_PATH)

    async def call() -> bytes:
        resp = await session.request("POST", url, data=_BODY)
        async with resp:
            return await resp.read()

    return call, session.close


async def _url_defaults_nowait(base: str) -> tuple[Call, Any]:
    """As url-defaults-request, reading what is there with read_nowait (llmpipe's way)."""
    import yarl

    session = _defaults_session()
    url = yarl.URL(base + payloads.CHAT_PATH)

    async def call() -> bytes:
        resp = await session.request("POST", url, data=_BODY)
        async with resp:
            content: bytes = resp.content.read_nowait()
            if not resp.content.at_eof():
                content += await resp.read()
            return content

    return call, session.close


async def _no_total(base: str) -> tuple[Call, Any]:
    """As url-defaults-request, with no timeout at all: the floor of any timeout scheme."""
    import aiohttp
    import yarl

    session = _defaults_session(timeout=aiohttp.ClientTimeout(total=None, sock_connect=10))
    url = yarl.URL(base + payloads.CHAT_PATH)

    async def call() -> bytes:
        resp = await session.request("POST", url, data=_BODY)
        async with resp:
            return await resp.read()

    return call, session.close


async def _asyncio_timeout(base: str) -> tuple[Call, Any]:
    """As no-total, bounded by asyncio.timeout around request and read."""
    import aiohttp
    import yarl

    session = _defaults_session(timeout=aiohttp.ClientTimeout(total=None, sock_connect=10))
    url = yarl.URL(base + payloads.CHAT_PATH)

    async def call() -> bytes:
        async with asyncio.timeout(30):
            resp = await session.request("POST", url, data=_BODY)
            async with resp:
                return await resp.read()

    return call, session.close


async def _one_timer(base: str) -> tuple[Call, Any]:
    """As no-total, bounded by llmpipe's one timer per pool (transport/_deadlines.py)."""
    import aiohttp
    import yarl

    from llmpipe.transport._deadlines import Deadlines

    session = _defaults_session(timeout=aiohttp.ClientTimeout(total=None, sock_connect=10))
    url = yarl.URL(base + payloads.CHAT_PATH)
    deadlines = Deadlines(asyncio.get_running_loop())

    async def call() -> bytes:
        task = asyncio.current_task()
        assert task is not None
        cancelling = task.cancelling()
        deadlines.enter(task, 30)
        try:
            resp = await session.request("POST", url, data=_BODY)
            async with resp:
                return await resp.read()
        finally:
            deadlines.leave(task, cancelling)

    return call, session.close


async def _tracking(base: str) -> tuple[Call, Any]:
    """As one-timer, on llmpipe's connector that tells each attempt if it reused a
    connection (transport/_fresh.py)."""
    import aiohttp
    import yarl

    from llmpipe.transport._deadlines import Deadlines
    from llmpipe.transport._fresh import connector_class, start_attempt

    session = aiohttp.ClientSession(
        connector=connector_class(aiohttp.TCPConnector)(limit=10),
        headers=_HEADERS,
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
    )
    url = yarl.URL(base + payloads.CHAT_PATH)
    deadlines = Deadlines(asyncio.get_running_loop())

    async def call() -> bytes:
        task = asyncio.current_task()
        assert task is not None
        cancelling = task.cancelling()
        deadlines.enter(task, 30)
        try:
            start_attempt()
            resp = await session.request("POST", url, data=_BODY)
            async with resp:
                return await resp.read()
        finally:
            deadlines.leave(task, cancelling)

    return call, session.close


def _timed_session(connector: Any) -> Any:
    import aiohttp

    return aiohttp.ClientSession(
        connector=connector,
        headers=_HEADERS,
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
    )


async def _passthrough(base: str) -> tuple[Call, Any]:
    """As no-total, on a TCPConnector subclass whose ``connect`` only awaits super()'s."""
    import aiohttp
    import yarl

    class Passthrough(aiohttp.TCPConnector):
        async def connect(self, *args: Any, **kwargs: Any) -> Any:
            return await super().connect(*args, **kwargs)

    session = _timed_session(Passthrough(limit=10))
    url = yarl.URL(base + payloads.CHAT_PATH)

    async def call() -> bytes:
        resp = await session.request("POST", url, data=_BODY)
        async with resp:
            return await resp.read()

    return call, session.close


async def _tracking_connector(base: str) -> tuple[Call, Any]:
    """As no-total, on llmpipe's reuse-tracking connector, with no attempt noted."""
    import aiohttp
    import yarl

    from llmpipe.transport._fresh import connector_class

    session = _timed_session(connector_class(aiohttp.TCPConnector)(limit=10))
    url = yarl.URL(base + payloads.CHAT_PATH)

    async def call() -> bytes:
        resp = await session.request("POST", url, data=_BODY)
        async with resp:
            return await resp.read()

    return call, session.close


async def _dummy_jar(base: str) -> tuple[Call, Any]:
    """As url-defaults-request, with a DummyCookieJar."""
    import aiohttp
    import yarl

    session = _defaults_session(cookie_jar=aiohttp.DummyCookieJar())
    url = yarl.URL(base + payloads.CHAT_PATH)

    async def call() -> bytes:
        resp = await session.request("POST", url, data=_BODY)
        async with resp:
            return await resp.read()

    return call, session.close


async def _skip_auto(base: str) -> tuple[Call, Any]:
    """As url-defaults-request, with the session skipping User-Agent (set by hand)."""
    import yarl

    session = _session(
        headers={**_HEADERS, "User-Agent": "x", "Accept": "*/*", "Accept-Encoding": "gzip"},
        skip_auto_headers=("User-Agent",),
    )
    url = yarl.URL(base + payloads.CHAT_PATH)

    async def call() -> bytes:
        resp = await session.request("POST", url, data=_BODY)
        async with resp:
            return await resp.read()

    return call, session.close


async def _bytes_payload(base: str) -> tuple[Call, Any]:
    """As url-defaults-request, the body given as an aiohttp BytesPayload built per call."""
    import aiohttp
    import yarl

    session = _defaults_session()
    url = yarl.URL(base + payloads.CHAT_PATH)

    async def call() -> bytes:
        body = aiohttp.BytesPayload(_BODY, content_type="application/json")
        resp = await session.request("POST", url, data=body)
        async with resp:
            return await resp.read()

    return call, session.close


async def _llmpipe_transport(base: str) -> tuple[Call, Any]:
    """llmpipe's AiohttpTransport.send, one LLMRequest built once and sent again and again."""
    from llmpipe.config import LLMConfig
    from llmpipe.request import LLMRequest
    from llmpipe.transport.aiohttp import AiohttpTransport

    transport = AiohttpTransport(LLMConfig(base_url=base, api_key=payloads.API_KEY, max_retries=0))
    request = LLMRequest("chat/completions", body=payloads.request_body())

    async def call() -> bytes:
        return (await transport.send(request)).content

    return call, transport.close


async def _raw_stream(base: str) -> tuple[Call, Any]:
    """The floor client's stream: a one-event stream read line by line."""
    session = _session()
    url = base + payloads.SHORT_STREAM_PREFIX + payloads.CHAT_PATH
    body = json.dumps({**payloads.request_body(), "stream": True}).encode()

    async def call() -> int:
        lines = 0
        async with session.post(url, data=body, headers=_HEADERS) as resp:
            async for _line in resp.content:
                lines += 1
        return lines

    return call, session.close


async def _llmpipe_stream(base: str) -> tuple[Call, Any]:
    """llmpipe's transport sending a one-event stream; its body read as bytes to the end."""
    from llmpipe.config import LLMConfig
    from llmpipe.request import LLMRequest
    from llmpipe.transport.aiohttp import AiohttpTransport

    transport = AiohttpTransport(
        LLMConfig(
            base_url=base + payloads.SHORT_STREAM_PREFIX,
            api_key=payloads.API_KEY,
            max_retries=0,
        )
    )
    request = LLMRequest(
        "chat/completions", body={**payloads.request_body(), "stream": True}, stream=True
    )

    async def call() -> int:
        response = await transport.send(request)
        source = response.byte_stream
        assert source is not None
        size = len(source.read_nowait())
        while chunk := await source.read():
            size += len(chunk)
        await source.release(True)
        return size

    return call, transport.close


VARIANTS: dict[str, Variant] = {
    "raw": _raw,
    "raw-encode": _raw_encode,
    "raw-dumps": _raw_dumps,
    "yarl-url": _yarl_url,
    "url-defaults": _url_defaults,
    "url-defaults-request": _url_defaults_request,
    "url-defaults-nowait": _url_defaults_nowait,
    "no-total": _no_total,
    "asyncio-timeout": _asyncio_timeout,
    "one-timer": _one_timer,
    "tracking": _tracking,
    "passthrough": _passthrough,
    "tracking-connector": _tracking_connector,
    "dummy-jar": _dummy_jar,
    "skip-auto": _skip_auto,
    "bytes-payload": _bytes_payload,
    "llmpipe-transport": _llmpipe_transport,
    "raw-stream": _raw_stream,
    "llmpipe-stream": _llmpipe_stream,
}


async def _child(variant: str, base: str, calls: int) -> None:
    call, close = await VARIANTS[variant](base)
    for _ in range(_WARMUP + calls):
        await call()
    await close()


def _count(variant: str, base: str, calls: int, cpu: int = 0) -> int:
    import subprocess

    # On nginx's core: the reply never arrives before the client waits for it, so each
    # call takes the same turns of the event loop however loaded the machine is.
    cmd = ["taskset", "--cpu-list", str(cpu)] if shutil.which("taskset") else []
    if shutil.which("setarch"):  # the same addresses in every run: the same hashes of ids
        cmd += ["setarch", platform.machine(), "--addr-no-randomize"]
    cmd += VALGRIND
    cmd += [sys.executable, "-m", "tests.benchmarks.aiohttp_variants"]
    cmd += ["--child", variant, "--base-url", base, "--calls", str(calls)]
    env = {**os.environ, "PYTHONHASHSEED": "0"}  # the same dicts and sets in every run
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, check=False, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{variant}: exit {done.returncode}: {done.stderr.strip()[-800:]}")
    return instructions_in(done.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--variants", help="comma-separated; all by default")
    parser.add_argument("--low", type=int, default=100)
    parser.add_argument("--high", type=int, default=600)
    parser.add_argument("--cpu", type=int, default=0, help="the core of nginx and the client")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--calls", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        asyncio.run(_child(args.child, args.base_url, args.calls))
        return 0
    from tests.benchmarks.server import Nginx

    names = args.variants.split(",") if args.variants else list(VARIANTS)
    with Nginx(cpu=args.cpu) as nginx:
        first: float | None = None
        for name in names:
            low = _count(name, nginx.base_url, args.low, args.cpu)
            high = _count(name, nginx.base_url, args.high, args.cpu)
            per_call = (high - low) / (args.high - args.low)
            first = per_call if first is None else first
            print(
                f"{name:24} {per_call / 1000:9.1f}k  {(per_call - first) / 1000:+8.1f}k"
                f"   (runs: {low:,} / {high:,})"
            )
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
