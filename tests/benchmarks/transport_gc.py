"""The cyclic GC's share of a chat call at high concurrency, by instructions.

    .venv-bench/bin/python -m tests.benchmarks.transport_gc [--concurrency 256] [--clients a,b]

Runs the usual client process (child.py, chat mode) under valgrind against
the bench nginx, as instructions.py does, at ``--concurrency`` (256 by
default, a case instructions.py does not run), twice per client: with the
cyclic GC as shipped and with it disabled. Their difference is what the
collections cost per call. A ``gc.callbacks`` hook counts the automatic
collections per generation, per call. With many calls in flight, what each
call allocates and holds while it waits (coroutines, futures, dicts, models)
is what young collections run for and traverse.
"""

from __future__ import annotations

import argparse
import atexit
import gc
import json
import re
import runpy
import signal
import sys
from typing import Any

from tests.benchmarks.plan import FLOOR
from tests.benchmarks.procs import run_bounded
from tests.benchmarks.runner import REPO
from tests.benchmarks.server import Nginx

_REFS = re.compile(r"I\s+refs:\s+([\d,]+)")
_COUNTS = re.compile(r"^transport_gc collections: (.*)$", re.MULTILINE)


def _child(gc_on: bool, child_argv: list[str]) -> None:
    """Run child.py with the GC on or off, reporting collections on stderr at exit."""
    collections = [0, 0, 0]

    def count(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            collections[info["generation"]] += 1

    gc.callbacks.append(count)
    report = "transport_gc collections: {}"
    atexit.register(lambda: print(report.format(json.dumps(collections)), file=sys.stderr))
    if not gc_on:
        gc.disable()
    sys.argv = ["child", *child_argv]
    runpy.run_module("tests.benchmarks.child", run_name="__main__")


def _run(client: str, url: str, c: int, calls: int, gc_on: bool) -> tuple[int, list[int]]:
    cmd = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"]
    cmd += [sys.executable, "-m", "tests.benchmarks.transport_gc"]
    cmd += ["--child", "on" if gc_on else "off"]
    cmd += ["--", "--client", client, "--mode", "chat", "--base-url", url]
    cmd += ["--concurrency", str(c), "--requests", str(calls)]
    cmd += ["--warmup", str(max(100, 2 * c)), "--seconds", "1e9", "--deadline", "1e9"]
    code, _, err = run_bounded(cmd, timeout=1800, cwd=str(REPO))
    found = _REFS.search(err)
    counted = _COUNTS.search(err)
    if code != 0 or found is None or counted is None:
        raise RuntimeError(f"{client}: exit {code}: {err.strip()[-500:]}")
    return int(found.group(1).replace(",", "")), json.loads(counted.group(1))


def _on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through every `finally`: nginx and valgrind stop


def main(argv: list[str] | None = None) -> int:
    if argv is None and sys.argv[1:2] == ["--child"]:
        _child(sys.argv[2] == "on", sys.argv[4:])
        return 0
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--low", type=int, default=600, help="timed calls in the short run")
    parser.add_argument("--high", type=int, default=2600, help="timed calls in the long run")
    parser.add_argument("--clients", default=f"{FLOOR},llmpipe-empty,llmpipe")
    parser.add_argument("--gc", choices=("on", "off", "both"), default="both")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    modes = {"on": [True], "off": [False], "both": [True, False]}[args.gc]
    calls = args.high - args.low
    print("| client | gc | instructions / call | young / mid / old collections per 1000 calls |")
    print("|---|---|---|---|")
    with Nginx() as nginx:
        for client in args.clients.split(","):
            for gc_on in modes:
                low, low_gc = _run(client, nginx.base_url, args.concurrency, args.low, gc_on)
                high, high_gc = _run(client, nginx.base_url, args.concurrency, args.high, gc_on)
                per = (high - low) / calls
                rates = " / ".join(
                    f"{(h - lo) * 1000 / calls:.1f}" for h, lo in zip(high_gc, low_gc, strict=True)
                )
                state = "on" if gc_on else "off"
                print(f"| {client} | {state} | {per:,.0f} | {rates} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
