"""What one run of an event loop costs the sync shim, per loop and per thread.

    .venv-bench-fast/bin/python -m tests.benchmarks.loop_runs [--runs 5000] [--repeat 15]
    .venv-bench-fast/bin/python -m tests.benchmarks.loop_runs --count [--runs 2000]

The sync ``LLM`` runs its private loop once per call, so whatever a loop does
to start and stop a run is paid per call. Each run here is the shim's
smallest: a task of a coroutine that returns at once, run until done. Without
``--count``: CPU time per run (user and system, ``getrusage``), each variant
measured ``--repeat`` times in interleaved rounds, the median kept, on the
main thread (where uvloop sets up its signal wake-up per run) and on another.
With ``--count``: user-space instructions per run (valgrind, two runs
``--runs`` apart) and system calls per run (strace, likewise).

``--calls`` does the same for whole sync chat calls (the benchmark's, with
``payloads``, against the benchmark's nginx) of an ``LLM`` whose private
loop is asyncio's or, put in its place here, uvloop's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import resource
import statistics
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

from llmpipe._dependencies import loop_runner
from tests.benchmarks.valgrind import VALGRIND


async def _noop() -> None:
    return None


def _asyncio_runner() -> Callable[[], None]:
    loop = asyncio.new_event_loop()
    run = loop_runner(loop)
    return lambda: run(loop.create_task(_noop()))


def _asyncio_ruc() -> Callable[[], None]:
    loop = asyncio.new_event_loop()
    return lambda: loop.run_until_complete(loop.create_task(_noop()))


def _uvloop_ruc() -> Callable[[], None]:
    import uvloop

    loop = uvloop.new_event_loop()
    return lambda: loop.run_until_complete(loop.create_task(_noop()))


def _uvloop_runner() -> Callable[[], None]:
    import uvloop

    loop = uvloop.new_event_loop()
    run = loop_runner(loop)
    return lambda: run(loop.create_task(_noop()))


VARIANTS: dict[str, Callable[[], Callable[[], None]]] = {
    "asyncio+loop_runner": _asyncio_runner,
    "asyncio+run_until_complete": _asyncio_ruc,
    "uvloop+run_until_complete": _uvloop_ruc,
    "uvloop+loop_runner": _uvloop_runner,
}


def _llm_on(kind: str, base_url: str) -> Callable[[], None]:
    """One sync chat call of an ``LLM`` whose loop is ``kind``'s ("asyncio" or "uvloop")."""
    from llmpipe import LLM
    from tests.benchmarks import payloads
    from tests.benchmarks.clients.llmpipe_async import config

    llm = LLM(config(base_url, 1))
    if kind == "uvloop":  # what the shim would do if it chose uvloop: made here for measuring
        import uvloop

        runner: Any = llm._runner
        runner._loop = uvloop.new_event_loop()
        runner._run_loop = loop_runner(runner._loop)
    messages: Any = payloads.MESSAGES
    t, n = payloads.TEMPERATURE, payloads.MAX_TOKENS
    return lambda: llm.chat_completion(messages, temperature=t, max_tokens=n) and None


_BASE_URL = ""  # the nginx of a --calls measurement


def _variant(variant: str) -> Callable[[], None]:
    if variant.startswith("call:"):
        return _llm_on(variant.removeprefix("call:"), _BASE_URL)
    return VARIANTS[variant]()


def _runs(variant: str, runs: int, on_main: bool) -> tuple[float, float]:
    """(user, system) seconds of ``runs`` runs, made on this thread or another."""
    spent: list[tuple[float, float]] = []

    def measure() -> None:
        one = _variant(variant)
        for _ in range(50):  # warm-up
            one()
        before = resource.getrusage(resource.RUSAGE_SELF)
        for _ in range(runs):
            one()
        after = resource.getrusage(resource.RUSAGE_SELF)
        spent.append((after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime))

    if on_main:
        measure()
    else:  # the main thread waits in join(): the process's CPU is this thread's
        worker = threading.Thread(target=measure)
        worker.start()
        worker.join()
    return spent[0]


def cpu(runs: int, repeat: int, variants: list[str]) -> None:
    cases = [(v, main) for v in variants for main in (True, False)]
    samples: dict[tuple[str, bool], list[tuple[float, float]]] = {case: [] for case in cases}
    for round_ in range(repeat):
        order = cases if round_ % 2 == 0 else cases[::-1]
        for case in order:
            samples[case].append(_runs(case[0], runs, case[1]))
    print(f"µs of CPU per run, median of {repeat} interleaved repetitions of {runs} runs")
    print(f"{'variant':28} {'thread':6} {'user':>7} {'sys':>7} {'total':>7}   (total min–max)")
    for (variant, main), got in samples.items():
        totals = [(u + s) * 1e6 / runs for u, s in got]
        user = statistics.median(u * 1e6 / runs for u, _ in got)
        system = statistics.median(s * 1e6 / runs for _, s in got)
        print(
            f"{variant:28} {'main' if main else 'other':6} {user:7.2f} {system:7.2f} "
            f"{statistics.median(totals):7.2f}   ({min(totals):.2f}–{max(totals):.2f})"
        )


def _child(variant: str, runs: int, on_main: bool) -> None:
    _runs(variant, runs, on_main)


def _counted(tool: list[str], pattern: str, variant: str, runs: int, main: bool) -> int:
    cmd = [*tool, sys.executable, "-m", "tests.benchmarks.loop_runs", "--child", variant]
    cmd += ["--runs", str(runs), "--base-url", _BASE_URL]
    cmd += [] if main else ["--other-thread"]
    err = subprocess.run(cmd, capture_output=True, text=True, check=True).stderr
    return sum(int(n.replace(",", "")) for n in re.findall(pattern, err))


def count(runs: int, variants: list[str]) -> None:
    valgrind = list(VALGRIND)
    strace = ["strace", "-f", "-c"]
    refs, calls = r"I\s+refs:\s+([\d,]+)", r"(?m)^100\.00\s+\S+\s+\S+\s+(\d+)"
    print(f"per run, from two runs {runs} runs apart")
    print(f"{'variant':28} {'thread':6} {'instructions':>12} {'syscalls':>9}")
    for variant in variants:
        for main in (True, False):
            per: list[float] = []
            for tool, pattern in ((valgrind, refs), (strace, calls)):
                low = _counted(tool, pattern, variant, 10, main)
                high = _counted(tool, pattern, variant, 10 + runs, main)
                per.append((high - low) / runs)
            print(f"{variant:28} {'main' if main else 'other':6} {per[0]:12.0f} {per[1]:9.1f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--count", action="store_true", help="instructions and syscalls")
    parser.add_argument(
        "--variants",
        help="comma-separated, of: " + ", ".join(VARIANTS) + " (--calls: asyncio, uvloop)",
    )
    parser.add_argument("--calls", action="store_true", help="whole sync calls, not loop runs")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--other-thread", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    variants: list[str] = args.variants.split(",") if args.variants else list(VARIANTS)
    if args.calls:
        variants = (
            [f"call:{v}" for v in variants] if args.variants else ["call:asyncio", "call:uvloop"]
        )
    global _BASE_URL
    if args.child:
        _BASE_URL = args.base_url
        _child(args.child, args.runs, not args.other_thread)
        return
    with contextlib.ExitStack() as stack:
        if args.calls:
            from tests.benchmarks.server import Nginx

            _BASE_URL = stack.enter_context(Nginx()).base_url
        if args.count:
            count(args.runs, variants)
        else:
            cpu(args.runs, args.repeat, variants)


if __name__ == "__main__":
    main()
