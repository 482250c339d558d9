"""Instructions counted by valgrind: how every benchmark runs a process under it.

Cachegrind without its cache simulation counts the instructions a process
executes in user space: the one figure that load on a shared machine cannot
move. A per-call figure always comes from two runs that differ only in how
many calls they make, ``(more - fewer) / (the extra calls)``, so start-up,
imports and warm-up cancel out.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Sequence

from tests.benchmarks.procs import run_bounded
from tests.benchmarks.runner import REPO

__all__ = ["VALGRIND", "count", "instructions_in", "per_loop", "per_unit"]

VALGRIND = ("valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null")
_REFS = re.compile(r"I\s+refs:\s+([\d,]+)")


def instructions_in(stderr: str) -> int:
    """The instruction count in valgrind's summary (it writes it on stderr)."""
    found = _REFS.search(stderr)
    if found is None:
        raise RuntimeError(f"no valgrind summary: {stderr.strip()[-500:]}")
    return int(found.group(1).replace(",", ""))


def count(command: Sequence[str], timeout: float = 1800) -> int:
    """The instructions ``command`` executes, run under valgrind from the repository."""
    code, _, err = run_bounded([*VALGRIND, *command], timeout=timeout, cwd=str(REPO))
    if code != 0:
        raise RuntimeError(f"{' '.join(command[1:4])}: exit {code}: {err.strip()[-500:]}")
    return instructions_in(err)


def per_unit(command_for: Callable[[int], Sequence[str]], fewer: int, more: int) -> float:
    """Instructions of one more unit (call, loop, stream): two runs ``more - fewer`` apart."""
    return (count(command_for(more)) - count(command_for(fewer))) / (more - fewer)


def per_loop(module: str, only: str, loops: int, *options: str) -> float:
    """Instructions of one loop of ``python -m module --only ONLY --loops N`` (the
    in-process benches' convention), from runs of 50 and ``50 + loops`` loops."""

    def command(n: int) -> list[str]:
        return [sys.executable, "-m", module, "--only", only, "--loops", str(n), *options]

    return per_unit(command, 50, 50 + loops)
