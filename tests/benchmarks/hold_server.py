"""The hold server's process: answer chat requests after a fixed sleep.

Run by ``server.HoldServer`` with the bench venv's python. It reads each body
(a real server must) and holds every request except warm-up ones, so a client
can have 1,000 requests in flight at once while its memory is sampled.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os

from aiohttp import web

from tests.benchmarks import payloads

_REPLY = payloads.chat_reply()


def make_app(hold: float) -> web.Application:
    async def chat(request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        if body.get("model") != payloads.WARM_UP_MODEL:
            await asyncio.sleep(hold)
        return web.Response(body=_REPLY, content_type="application/json")

    app = web.Application()
    app.router.add_post(payloads.CHAT_PATH, chat)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--hold", type=float, default=2.0)
    parser.add_argument("--cpu", type=int, default=None)
    args = parser.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    web.run_app(
        make_app(args.hold),
        host="127.0.0.1",
        port=args.port,
        backlog=4096,
        access_log=None,
        print=None,
        handle_signals=True,
    )


if __name__ == "__main__":
    main()
