"""The fleet of the routing benchmark, in a process of its own.

    python -m tests.benchmarks.routing_fleet SPEC_JSON

SPEC_JSON is a list with one object per server: ``{"latency": {...}, "capacity": N}``,
the latency as `Latency`'s fields. The servers share this process's loop, so
their work never competes with the client's for the GIL. It prints one JSON
line ``{"urls": [...]}`` once every server listens, then answers commands on
stdin, one JSON line each: ``down I``, ``up I``, ``stats`` (requests received
and refused per server), ``quit``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
from typing import Any

from llmpipe.testing import Latency, LLMServer


def _server(spec: dict[str, Any]) -> LLMServer:
    latency = spec.get("latency")
    return LLMServer(
        latency=None if latency is None else Latency(**latency),
        capacity=spec.get("capacity"),
        capacity_retry_after=spec.get("retry_after", 0.1),
    )


async def main(specs: list[dict[str, Any]]) -> None:
    servers = [_server(spec) for spec in specs]
    for server in servers:
        await server.start()
    print(json.dumps({"urls": [server.base_url for server in servers]}), flush=True)
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str] = asyncio.Queue()

    def pump() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(lines.put_nowait, line)
        loop.call_soon_threadsafe(lines.put_nowait, "quit")

    threading.Thread(target=pump, daemon=True).start()
    try:
        while True:
            command, *args = (await lines.get()).split()
            if command == "quit":
                break
            if command == "down":
                await servers[int(args[0])].go_down()
                reply: Any = "ok"
            elif command == "up":
                await servers[int(args[0])].come_back()
                reply = "ok"
            else:
                reply = {
                    "requests": [len(server.requests) for server in servers],
                    "refused": [server.refused for server in servers],
                    "peak": [server.peak_in_flight for server in servers],
                }
            print(json.dumps(reply), flush=True)
    finally:
        for server in servers:
            await server.stop()


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
