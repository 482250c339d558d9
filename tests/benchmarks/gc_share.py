"""The cyclic GC's share of a chat call at high concurrency, by instructions.

    .venv-bench/bin/python -m tests.benchmarks.gc_share [--concurrency 256]
        [--clients raw,llmpipe-empty,llmpipe] [--low 512] [--high 2048] [--no-valgrind]

With many calls in flight, every young collection traverses what each waiting
call holds (coroutine frames, futures, dicts, models), and collections come
every 700 net allocations of GC-tracked objects: a client that allocates and
holds fewer such objects per call pays less. ``instructions.py`` counts the
whole call; this runs the same client process (``child.py``) against the
same nginx at ``--concurrency`` (256 by default), four ways per client:

- instructions per call under valgrind, the cyclic GC on (as users run);
- the same with the GC off (``gc.disable()`` before the client starts): the
  difference is the GC's share;
- young/middle/old collections per call, without valgrind (``gc.callbacks``);
- GC-tracked objects alive per call in flight: ``--concurrency`` calls held
  open by the hold server (all on connections of their own), counted by
  ``gc.get_objects()`` against the warm idle client.

child.py opens 100 connections: at c=256, 156 calls wait for one. Found so
(Dec 2026): llmpipe's objects held per call match raw aiohttp's; its extra
collections came from where a call waited for a connection (before
aiohttp built its request, in the transport's own gate: a woken waiter then
allocates a loop turn after the finished call freed its own, and the
collector's count does not go below zero) and the ``asyncio.timeout``
around that wait. Since the transport queues such calls inside aiohttp's
connector, young collections per call at c=256 are raw's (0.0095 against
0.0090) and the GC's share fell from ~58k to ~32k per call (raw ~27k).

Each figure is (long run - short run) / (extra calls), so start-up, warm-up
and the explicit ``gc.collect()`` after the warm-up cancel out. The process
is wrapped by this module's ``child`` sub-command, which sets up the GC and
then runs ``child.main`` unchanged.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import re
import sys
from typing import Any

from tests.benchmarks import payloads
from tests.benchmarks.clients import CLIENTS
from tests.benchmarks.clients import connect as connect_client
from tests.benchmarks.plan import FLOOR
from tests.benchmarks.procs import run_bounded
from tests.benchmarks.runner import REPO
from tests.benchmarks.server import HoldServer, Nginx
from tests.benchmarks.valgrind import VALGRIND, instructions_in

_COLLECTIONS = re.compile(r"GC-COLLECTIONS (\d+) (\d+) (\d+)")
_HELD = re.compile(r"GC-HELD ([\d.]+)")
_HOLD_SECONDS = 3.0


def _as_child(mode: str, argv: list[str]) -> None:
    """Run ``child.main(argv)`` with the GC ``off``, or ``count``ing its collections."""
    counts = [0, 0, 0]

    def count(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            counts[info["generation"]] += 1

    if mode == "off":
        gc.disable()
    elif mode == "count":
        gc.callbacks.append(count)
    from tests.benchmarks import child

    child.main(argv)
    if mode == "count":
        sys.stderr.write("GC-COLLECTIONS {} {} {}\n".format(*counts))


async def _held(client_name: str, url: str, calls: int) -> float:
    """Tracked objects alive per call while ``calls`` calls wait for their replies."""
    spec = CLIENTS[client_name]
    client = await connect_client(spec, url, calls)
    try:
        for _ in range(2):  # warm: imports, the session, a connection per call
            await asyncio.gather(*(client.chat(payloads.WARM_UP_MODEL) for _ in range(calls)))
        gc.collect()
        idle = len(gc.get_objects())
        held = [asyncio.ensure_future(client.chat(payloads.MODEL)) for _ in range(calls)]
        await asyncio.sleep(_HOLD_SECONDS / 2)  # every request sent, none answered
        gc.collect()  # only what the calls hold, not garbage waiting for a collection
        busy = len(gc.get_objects()) - calls  # not counting the tasks themselves
        await asyncio.gather(*held)
        return (busy - idle) / calls
    finally:
        await client.aclose()


def _run_held(client: str, url: str, calls: int) -> float:
    cmd = [sys.executable, "-m", "tests.benchmarks.gc_share", "held", client, url, str(calls)]
    code, _, err = run_bounded(cmd, timeout=300, cwd=str(REPO))
    found = _HELD.search(err)
    if code != 0 or found is None:
        raise RuntimeError(f"{client}: exit {code}: {err.strip()[-500:]}")
    return float(found.group(1))


def _run(client: str, url: str, c: int, calls: int, gc_mode: str, valgrind: bool) -> str:
    """The wrapped child's stderr (valgrind's summary, or the collection counts)."""
    cmd = list(VALGRIND) if valgrind else []
    cmd += [sys.executable, "-m", "tests.benchmarks.gc_share", "child", gc_mode, "--"]
    cmd += ["--client", client, "--mode", "chat", "--base-url", url]
    cmd += ["--concurrency", str(c), "--requests", str(calls)]
    cmd += ["--warmup", str(max(100, 2 * c)), "--seconds", "1e9", "--deadline", "1e9"]
    code, _, err = run_bounded(cmd, timeout=1800, cwd=str(REPO))
    if code != 0:
        raise RuntimeError(f"{client}: exit {code}: {err.strip()[-500:]}")
    return err


def _collections(err: str) -> tuple[int, ...]:
    found = _COLLECTIONS.search(err)
    if found is None:
        raise RuntimeError(f"no collection counts: {err.strip()[-500:]}")
    return tuple(int(n) for n in found.groups())


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["child"]:
        _as_child(argv[1], argv[3:])  # child <mode> -- <child.py's arguments>
        return 0
    if argv[:1] == ["held"]:  # held <client> <url> <calls>
        per = asyncio.run(_held(argv[1], argv[2], int(argv[3])))
        sys.stderr.write(f"GC-HELD {per:.1f}\n")
        return 0
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", default=f"{FLOOR},llmpipe-empty,llmpipe")
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--low", type=int, default=512, help="timed calls in the short run")
    parser.add_argument("--high", type=int, default=2048, help="timed calls in the long run")
    parser.add_argument(
        "--no-valgrind", action="store_true", help="collections per call only (quick)"
    )
    args = parser.parse_args(argv)
    extra = args.high - args.low
    c = args.concurrency
    print(f"chat, c={c}, per call ({extra} calls between the two runs)")
    clients = args.clients.split(",")
    with HoldServer(hold=_HOLD_SECONDS) as hold:
        held = {client: _run_held(client, hold.base_url, c) for client in clients}
    print("| client | objects held | collections (young/middle/old) | GC on | GC off | GC share |")
    print("|---|---|---|---|---|---|")
    with Nginx() as nginx:
        url = nginx.base_url
        for client in clients:
            low = _collections(_run(client, url, c, args.low, "count", False))
            high = _collections(_run(client, url, c, args.high, "count", False))
            per = "/".join(f"{(h - lo) / extra:.3f}" for lo, h in zip(low, high, strict=True))
            cells = ["—", "—", "—"]
            if not args.no_valgrind:
                on, off = (
                    (
                        instructions_in(_run(client, url, c, args.high, mode, True))
                        - instructions_in(_run(client, url, c, args.low, mode, True))
                    )
                    / extra
                    for mode in ("on", "off")
                )
                cells = [f"{on:,.0f}", f"{off:,.0f}", f"{on - off:,.0f}"]
            print(f"| {client} | {held[client]:.1f} | {per} | {' | '.join(cells)} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
