"""What a one-event stream costs besides its instructions, per stream, client by client.

    .venv-bench/bin/python -m tests.benchmarks.stream_costs [--concurrency 64]
        [--clients raw,llmpipe] [--low 1000] [--high 4000] [--reps 3] [--strace] [--cache]
        [--mode stream-1|chat]

(``--mode chat``: the same figures per non-streamed chat call.)

``instructions.py`` counts a stream's user-space instructions; CPU time on
this machine also pays for system calls, page faults, loop turns and cache
misses, which it does not see. This runs the usual client process
(``child.py --mode stream-1``) against the benchmark's nginx, wrapped by this
module's ``child`` sub-command, which counts inside the process: loop
iterations, selector calls, handles run, young collections (``gc.callbacks``),
minor page faults, and user and system CPU (``getrusage``, the timed loop
only). Optional, each a separate pair of runs:

- ``--strace``: system calls by kind (``strace -f -c``);
- ``--cache``: cachegrind's cache simulation with a last level the size of
  this machine's L2 (1 MiB): the misses that go past L2 to the shared L3 or
  to memory, which valgrind's plain instruction count does not weigh.

Each figure is (long run - short run) / (extra streams), so start-up and
warm-up cancel out; CPU is the fastest of ``--reps`` interleaved pairs (a
busy machine only ever adds time).

Found so (Dec 2026, stream-1, default install, raw aiohttp against llmpipe's
default stack):

- System calls per stream are the same (one sendto, one recvfrom, the
  mmap/mremap/munmap of the socket's 256 KiB read buffer, 0.05 epoll_wait)
  but getpid: 1 against 7, now 4. CPython 3.11's ``get_running_loop()`` and
  ``current_task()`` ask the kernel for the pid (a fork check); a stream now
  looks its loop up once. At ~0.3 µs of CPU each, a few µs at most.
- The loop is the same: 0.05 iterations per stream at c=64 (~20 streams end
  per turn), 5 handles, 1 ready fd; no young collection in the steady state;
  2 minor faults.
- What differs is the speed of llmpipe's extra instructions. In ``make bench``
  its excess over raw is about the same per stream at c=1 and c=64 (1.21x of
  363 µs: +76 µs; 1.42x of 198 µs: +83 µs): raw is cheaper per stream at c=64,
  where 20 streams a turn keep its code and data hot, while llmpipe's ~125k
  extra instructions run at ~0.65 ns each, raw's at 0.34. ``--cache`` shows
  why: past a 1 MiB last level llmpipe misses ~1,100 times per stream against
  raw's ~580 (1.9x, for 1.23x the instructions), most in the interpreter loop
  (the bytecode and frames of more functions); a random read here costs 20 ns
  within 1 MiB, 68 ns within 16 MiB. So the c=64 ratio falls with less code
  run per stream, not with fewer system calls.

Found so for ``--mode chat`` at c=64 (Dec 2026, default install, raw aiohttp
against llmpipe's empty stack), per call: instructions 537.5k against 545.2k
(+1.4 %), branches 86.1k against 86.8k with 14.50k against 14.57k simulated
mispredicts, D1 misses 11.50k against 11.67k, misses past a 1 MiB last level
610 against 647; system calls the same but getpid (1 against 3, ~0.23 µs
each). Yet the CPU per call was 107 against 120 µs. Malloc on huge pages
(``GLIBC_TUNABLES=glibc.malloc.hugetlb=1``) made both ~11 % cheaper with the
ratio unchanged, which pointed at what both paid per read: asyncio's 256 KiB
``recv`` buffer, past glibc's mmap threshold (mmap, mremap, munmap and two
page faults per read, which ``--strace`` lists). llmpipe's connections now
read 64 KiB at a time (``llmpipe/transport/_reads.py``): chat at c=64 went
from ~1.05–1.11x raw aiohttp to ~0.95x, one-event streams from 1.30–1.39x
to ~1.2x (relays of ``make bench``).
"""

from __future__ import annotations

import argparse
import gc
import json
import re
import resource
import selectors
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from tests.benchmarks.procs import run_bounded
from tests.benchmarks.runner import REPO
from tests.benchmarks.server import Nginx

_MARK = "STREAM-COSTS "
_STRACE_ROW = re.compile(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)\s*$")
_CACHE_ROW = re.compile(r"(I|I1|LLi|D|D1|LLd|LL|Branches|Mispredicts)\s*(refs|misses|):\s+([\d,]+)")
_L2 = "--LL=1048576,16,64"


def _count_inside(argv: list[str]) -> None:
    """Run ``child.main(argv)`` with counters on the loop, the GC and the CPU clock."""
    import asyncio.base_events
    import asyncio.events

    from tests.benchmarks import child

    found: Counter[str] = Counter()
    run_once = asyncio.base_events.BaseEventLoop._run_once  # type: ignore[attr-defined]
    select = selectors.EpollSelector.select
    run_handle = asyncio.events.Handle._run  # type: ignore[attr-defined]

    def counted_run_once(self: Any) -> None:
        found["iterations"] += 1
        run_once(self)

    def counted_select(self: Any, timeout: float | None = None) -> Any:
        found["selects"] += 1
        ready = select(self, timeout)
        found["ready fds"] += len(ready)
        return ready

    def counted_handle(self: Any) -> None:
        found["handles"] += 1
        run_handle(self)

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            found[f"gc gen{info['generation']}"] += 1

    marks: list[resource.struct_rusage] = []

    def cpu_seconds() -> float:  # child.py reads it before and after its timed loop
        usage = resource.getrusage(resource.RUSAGE_SELF)
        marks.append(usage)
        return usage.ru_utime + usage.ru_stime

    asyncio.base_events.BaseEventLoop._run_once = counted_run_once  # type: ignore[attr-defined]
    selectors.EpollSelector.select = counted_select  # type: ignore[method-assign]
    asyncio.events.Handle._run = counted_handle  # type: ignore[attr-defined]
    gc.callbacks.append(on_gc)
    child.cpu_seconds = cpu_seconds  # type: ignore[attr-defined]
    child.main(argv)
    before, after = marks[0], marks[-1]
    figures: dict[str, float] = dict(found)
    figures["user µs"] = (after.ru_utime - before.ru_utime) * 1e6
    figures["sys µs"] = (after.ru_stime - before.ru_stime) * 1e6
    figures["minor faults"] = after.ru_minflt
    sys.stderr.write(_MARK + json.dumps(figures) + "\n")


def _child_args(mode: str, client: str, url: str, c: int, streams: int) -> list[str]:
    args = ["--client", client, "--mode", mode, "--base-url", url]
    args += ["--concurrency", str(c), "--requests", str(streams)]
    return [*args, "--warmup", str(max(100, 2 * c)), "--seconds", "1e9", "--deadline", "1e9"]


def _run(prefix: list[str], inner: list[str]) -> str:
    code, _, err = run_bounded([*prefix, *inner], timeout=1800, cwd=str(REPO))
    if code != 0:
        raise RuntimeError(f"exit {code}: {err.strip()[-500:]}")
    return err


def _inside(mode: str, client: str, url: str, c: int, streams: int) -> dict[str, float]:
    wrapped = [sys.executable, "-m", "tests.benchmarks.stream_costs", "child", "--"]
    err = _run([], [*wrapped, *_child_args(mode, client, url, c, streams)])
    line = next(line for line in err.splitlines() if line.startswith(_MARK))
    return dict(json.loads(line[len(_MARK) :]))


def _syscalls(mode: str, client: str, url: str, c: int, streams: int) -> dict[str, float]:
    child = [sys.executable, "-m", "tests.benchmarks.child"]
    with tempfile.TemporaryDirectory(prefix="llmpipe-stream-costs-") as temp:
        out = str(Path(temp) / "strace.txt")
        _run(
            ["strace", "-f", "-c", "-o", out], [*child, *_child_args(mode, client, url, c, streams)]
        )
        rows = Path(out).read_text().splitlines()
    calls: dict[str, float] = {}
    for row in rows:
        found = _STRACE_ROW.match(row)
        if found and found.group(2) != "total":
            calls[found.group(2)] = int(found.group(1))
    return calls


def _cache(mode: str, client: str, url: str, c: int, streams: int) -> dict[str, float]:
    valgrind = ["valgrind", "--tool=cachegrind", "--cache-sim=yes", "--branch-sim=yes", _L2]
    valgrind.append("--cachegrind-out-file=/dev/null")
    child = [sys.executable, "-m", "tests.benchmarks.child"]
    err = _run(valgrind, [*child, *_child_args(mode, client, url, c, streams)])
    return {
        f"{level} {what}".strip(): int(n.replace(",", ""))
        for level, what, n in _CACHE_ROW.findall(err)
    }


def _per(low: dict[str, float], high: dict[str, float], extra: int) -> dict[str, float]:
    return {k: (high.get(k, 0) - low.get(k, 0)) / extra for k in sorted(set(low) | set(high))}


def _table(title: str, rows: dict[str, dict[str, float]]) -> None:
    """One row per figure that is not ~0 for every client."""
    names = sorted({k for row in rows.values() for k, v in row.items() if abs(v) >= 0.005})
    print(f"\n{title}\n")
    print("| per stream | " + " | ".join(rows) + " |")
    print("|---|" + "---|" * len(rows))
    for name in names:
        cells = [f"{row.get(name, 0):,.2f}" for row in rows.values()]
        print(f"| {name} | " + " | ".join(cells) + " |")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["child"]:
        _count_inside(argv[2:])  # child -- <child.py's arguments>
        return 0
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", default="raw,llmpipe")
    parser.add_argument("--mode", choices=("stream-1", "chat"), default="stream-1")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--low", type=int, default=1000, help="timed streams in the short run")
    parser.add_argument("--high", type=int, default=4000, help="timed streams in the long run")
    parser.add_argument("--reps", type=int, default=3, help="pairs of runs for the CPU figures")
    parser.add_argument("--strace", action="store_true", help="system calls by kind")
    parser.add_argument("--cache", action="store_true", help="cachegrind, 1 MiB last level")
    args = parser.parse_args(argv)
    mode, clients, c = args.mode, args.clients.split(","), args.concurrency
    extra = args.high - args.low
    print(f"{mode} at c={c}, per call ({extra} calls between the two runs)")
    with Nginx() as nginx:
        url = nginx.url_for(mode)
        inside: dict[str, dict[str, float]] = {}
        for _ in range(args.reps):  # interleaved: a slow minute hits every client
            for client in clients:
                low, high = (_inside(mode, client, url, c, n) for n in (args.low, args.high))
                per = _per(low, high, extra)
                per["CPU µs"] = per["user µs"] + per["sys µs"]
                if client not in inside or per["CPU µs"] < inside[client]["CPU µs"]:
                    inside[client] = per
        _table("In the process (the CPU figures: the fastest of the pairs):", inside)
        if args.strace:
            calls = {
                client: _per(
                    _syscalls(mode, client, url, c, args.low),
                    _syscalls(mode, client, url, c, args.high),
                    extra,
                )
                for client in clients
            }
            _table("System calls (strace -f -c):", calls)
        if args.cache:
            low, high = max(100, args.low // 10), max(600, args.high // 10)
            misses = {
                client: _per(
                    _cache(mode, client, url, c, low),
                    _cache(mode, client, url, c, high),
                    high - low,
                )
                for client in clients
            }
            _table("Cachegrind, last level 1 MiB (the L2 here):", misses)
    return 0


if __name__ == "__main__":
    sys.exit(main())
