"""Import time, measured from outside: wall time of ``python -c "import X"``.

Each run is a fresh interpreter; modules are interleaved run by run. The
figure is the median minus the median of a bare ``python -c pass``, so it
is the import's own cost without interpreter start-up.

Bytecode is cached, as an install leaves it (pip compiles every module it
installs): the untimed first run writes the ``__pycache__`` of the editable
llmpipe tree, with ``PYTHONDONTWRITEBYTECODE`` taken out of the children's
environment. Where a shell sets it, every run compiled llmpipe's sources
anew while aiohttp and openai loaded pip's bytecode (seen: ``import llmpipe``
221 ms against 156 ms cached, interpreter start-up included).
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Sequence

from tests.benchmarks.procs import run_bounded

__all__ = ["import_times"]

_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _once(python: str, code: str, cpu: int | None) -> float:
    if cpu is not None:  # os is loaded at start-up anyway: pinning costs the same in every run
        code = f"import os; os.sched_setaffinity(0, {{{cpu}}}); {code}"
    started = time.perf_counter()
    status, _, err = run_bounded([python, "-c", code], timeout=60, env=_ENV)
    elapsed = time.perf_counter() - started
    if status != 0:
        raise RuntimeError(f"{code!r} failed: {err.strip().splitlines()[-1:]}")
    return elapsed


def import_times(
    python: str, modules: Sequence[str], runs: int, cpu: int | None = None
) -> dict[str, list[float] | str]:
    """Import seconds per module and run, net of the median start-up; or the module's error."""
    codes = {"": "pass", **{m: f"import {m}" for m in modules}}
    times: dict[str, list[float]] = {name: [] for name in codes}
    failed: dict[str, str] = {}
    for name, code in codes.items():  # once untimed: bytecode compiled, files in the page cache
        try:
            _once(python, code, cpu)
        except RuntimeError as exc:
            failed[name] = str(exc)
    for _ in range(runs):
        for name, code in codes.items():
            if name not in failed:
                times[name].append(_once(python, code, cpu))
    if "" in failed:
        raise RuntimeError(f"the interpreter itself failed: {failed['']}")
    bare = statistics.median(times[""])
    return {name: failed.get(name) or [max(t - bare, 0.0) for t in times[name]] for name in modules}
