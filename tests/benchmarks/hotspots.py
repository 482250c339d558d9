"""Where one client's CPU goes: py-spy samples a client process under load.

    .venv-bench/bin/python -m tests.benchmarks.hotspots [--client llmpipe] [--concurrency 64]
        [--mode chat|stream|stream-1]

Starts nginx, runs one chat (or ``--mode``) sample of ``--seconds`` under ``py-spy record``
and prints two tables: CPU by the innermost frame of the package under study
(``--package``; "outside" is aiohttp, asyncio and the harness working for it),
and the hottest leaf functions anywhere. The µs/request figures divide by the
timed calls only, so they slightly overstate (start-up and warm-up are sampled
too): read them as shares, and compare runs of the same length.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.benchmarks.plan import FLOOR
from tests.benchmarks.procs import run_bounded
from tests.benchmarks.runner import REPO
from tests.benchmarks.server import Nginx

_LINE = re.compile(r":\d+\)$")


def _frames(path: Path) -> Iterator[tuple[list[str], int]]:
    """(frames root first, sample count) per line of py-spy's raw (collapsed) output."""
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            yield [_LINE.sub(")", frame) for frame in stack.split(";")], int(count)


def by_owner(path: Path, package: str) -> collections.Counter[str]:
    """Samples by the innermost frame whose file is under ``package``/."""
    owners: collections.Counter[str] = collections.Counter()
    marker = f"({package}/"
    for frames, count in _frames(path):
        owned = [f for f in frames if marker in f or f" {package}/" in f]
        owners[owned[-1] if owned else f"(outside {package})"] += count
    return owners


def by_leaf(path: Path) -> collections.Counter[str]:
    leaves: collections.Counter[str] = collections.Counter()
    for frames, count in _frames(path):
        leaves[frames[-1]] += count
    return leaves


def _table(title: str, counts: collections.Counter[str], rate: int, calls: int, top: int) -> None:
    total = sum(counts.values()) or 1
    print(f"\n{title}\n\n| share | µs/request | function (file) |\n|---:|---:|---|")
    for name, count in counts.most_common(top):
        micros = count / rate / max(calls, 1) * 1e6
        print(f"| {100 * count / total:.1f}% | {micros:.2f} | `{name}` |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--client", default="llmpipe")
    parser.add_argument("--mode", choices=("chat", "stream", "stream-1"), default="chat")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rate", type=int, default=1000, help="py-spy samples per second")
    parser.add_argument(
        "--package", default="llmpipe", help="attribute CPU to this package's frames"
    )
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    py_spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if py_spy is None:
        parser.error("py-spy is not installed in this venv (make bench installs it)")
    cores = sorted(os.sched_getaffinity(0))
    server_cpu, client_cpu = (cores[0], cores[1]) if len(cores) >= 2 else (None, None)
    with Nginx(cpu=server_cpu) as nginx, tempfile.TemporaryDirectory() as tmp:
        stacks = Path(tmp) / "stacks.txt"
        child = [sys.executable, "-m", "tests.benchmarks.child", "--client", args.client]
        url = nginx.url_for(args.mode)
        child += ["--mode", args.mode, "--base-url", url, "--seconds", str(args.seconds)]
        child += ["--concurrency", str(args.concurrency), "--requests", "10000000"]
        child += ["--warmup", str(2 * args.concurrency)]
        if client_cpu is not None:
            child += ["--cpu", str(client_cpu)]
        cmd = [py_spy, "record", "--rate", str(args.rate), "--format", "raw", "--nonblocking"]
        cmd += ["--output", str(stacks), "--", *child]
        code, out, err = run_bounded(cmd, args.seconds + 90, cwd=str(REPO))
        if code != 0 or not stacks.exists():
            print(f"py-spy failed (exit {code}): {err.strip()[-2000:]}", file=sys.stderr)
            return 1
        # py-spy writes its own lines to stdout too; the child's is the JSON one
        result = json.loads(next(ln for ln in reversed(out.splitlines()) if ln.startswith("{")))
        calls = int(result["ops"])
        print(
            f"# {args.client} at concurrency {args.concurrency}: {calls:,} timed calls, "
            f"{result['cpu_s'] / calls * 1e6:.1f} µs CPU each under py-spy "
            f"(compare with --client {FLOOR})"
        )
        _table(
            f"## CPU by innermost `{args.package}` frame",
            by_owner(stacks, args.package),
            args.rate,
            calls,
            args.top,
        )
        _table("## Hottest leaf functions", by_leaf(stacks), args.rate, calls, args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
