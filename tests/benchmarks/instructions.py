"""Instructions per call, counted by valgrind: the same ratios, without the noise.

    .venv-bench/bin/python -m tests.benchmarks.instructions [--fast-python PATH]
    (or: make bench-instructions)

CPU time on a shared two-core machine moves by tens of percent from one
minute to the next; the number of instructions a client executes does not.
Each case runs the usual client process (child.py) under ``valgrind
--tool=cachegrind`` twice, with ``--low`` and ``--high`` timed calls after
the same warm-up, and reports (high - low) / (high - low calls): the
instructions of one more call, user space only (the kernel's share of a
call, about equal for every client, is not counted). Ratios are to raw
aiohttp, as in ``make bench``. Slow (each process runs ~50x slower under
valgrind), so it is a separate command, not part of ``make bench``.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
from collections.abc import Callable

from tests.benchmarks.clients import CLIENTS, INSTALLS
from tests.benchmarks.otel_overhead import counted as otel_counted
from tests.benchmarks.otel_overhead import instructions as otel_instructions
from tests.benchmarks.plan import FLOOR
from tests.benchmarks.server import Nginx
from tests.benchmarks.valgrind import per_unit

_CASES = [  # (mode, concurrency, clients)
    ("chat", 1, (FLOOR, "llmpipe", "llmpipe-empty", "llmpipe-fast", "llmpipe-fast-uvloop")),
    ("chat", 1, ("llmpipe-sync", "llmpipe-fast-sync", "requests")),
    ("chat", 64, (FLOOR, "llmpipe", "llmpipe-empty", "llmpipe-fast", "llmpipe-fast-empty")),
    ("chat", 256, (FLOOR, "llmpipe", "llmpipe-empty")),
    ("stream", 1, (FLOOR, "llmpipe", "llmpipe-fast")),
    ("stream", 64, (FLOOR, "llmpipe")),
    ("stream-1", 1, (FLOOR, "llmpipe", "llmpipe-fast")),
    ("stream-1", 64, (FLOOR, "llmpipe")),
]


def _child(python: str, client: str, mode: str, url: str, c: int) -> Callable[[int], list[str]]:
    """The client process making a given number of timed calls."""

    def command(calls: int) -> list[str]:
        cmd = [python, "-m", "tests.benchmarks.child", "--client", client, "--mode", mode]
        cmd += ["--base-url", url, "--concurrency", str(c), "--requests", str(calls)]
        return [*cmd, "--warmup", str(max(100, 2 * c)), "--seconds", "1e9", "--deadline", "1e9"]

    return command


def _on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through every `finally`: nginx and valgrind stop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--fast-python", help="the python of the [fast] + uvloop venv")
    parser.add_argument("--low", type=int, default=100, help="timed calls in the short run")
    parser.add_argument("--high", type=int, default=600, help="timed calls in the long run")
    parser.add_argument(
        "--modes", help="only these modes, comma-separated (chat, stream, stream-1)"
    )
    parser.add_argument("--clients", help="only these clients (and the floor), comma-separated")
    parser.add_argument("--concurrency", type=int, help="only the cases at this concurrency")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    if shutil.which("valgrind") is None:
        parser.error("valgrind is not installed (make bench-instructions installs Debian's)")
    pythons = {"default": sys.executable}
    if args.fast_python:
        pythons["fast"] = args.fast_python
    print("| mode | concurrency | client | install | instructions / call | ratio to floor |")
    print("|---|---|---|---|---|---|")
    with Nginx() as nginx:
        urls = {
            "chat": nginx.base_url,
            "stream": nginx.stream_base_url,
            "stream-1": nginx.short_stream_base_url,
        }
        floors: dict[tuple[str, int], float] = {}
        modes = set(args.modes.split(",")) if args.modes else None
        chosen = set(args.clients.split(",")) | {FLOOR} if args.clients else None
        for mode, c, clients in _CASES:
            if modes is not None and mode not in modes:
                continue
            if args.concurrency is not None and c != args.concurrency:
                continue
            for client in clients:
                if chosen is not None and client not in chosen:
                    continue
                spec = CLIENTS[client]
                python = pythons.get(spec.venv)
                if python is None:
                    continue
                # At high concurrency the steady state needs many calls per run: a run
                # of fewer calls than are in flight would measure its start and end.
                scale = max(1, c // 64)
                command = _child(python, client, mode, urls[mode], c)
                per = per_unit(command, args.low * scale, args.high * scale)
                if client == FLOOR:
                    floors[mode, c] = per
                floor = floors.get((mode, c))
                ratio = "floor" if client == FLOOR else f"{per / floor:.2f}×" if floor else "—"
                install = INSTALLS[spec.install] if spec.install else "—"
                label = spec.label + (" (calls)" if mode == "chat" else " (streams)")
                print(f"| {mode} | {c} | {label} | {install} | {per:,.0f} | {ratio} |", flush=True)
    print("\nOpenTelemetryMiddleware without an SDK, in process (otel_overhead):\n")
    print("\n".join(otel_counted(otel_instructions())), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
