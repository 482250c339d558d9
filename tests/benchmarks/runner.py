"""Running the samples: one client process per sample, interleaved across clients.

Repetition r runs every case once, each group's clients rotated by r, so a
slow minute on the machine hits every client rather than one. A client that
cannot do a measurement (``unsupported``) is asked once, not every repetition.
A failed sample is recorded and the run goes on (the tree may be mid-edit);
a case that failed twice without a single good sample is given up.
"""

from __future__ import annotations

import itertools
import json
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.benchmarks.plan import Case, Settings
from tests.benchmarks.procs import run_bounded

__all__ = ["Outcome", "Runner", "interleave"]

REPO = Path(__file__).resolve().parents[2]
_CHILD = "tests.benchmarks.child"


@dataclass
class Outcome:
    """What the samples of one case gave: figures, or why there are none."""

    samples: list[dict[str, Any]] = field(default_factory=list)
    unsupported: str | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def done(self) -> bool:
        """No further sample is worth running."""
        given_up = len(self.errors) >= 2 and not self.samples
        return self.unsupported is not None or given_up


def interleave(cases: list[Case], reps: int) -> Iterator[tuple[int, Case]]:
    """(repetition, case) in run order: every case once per repetition, groups rotated."""
    groups = [list(g) for _, g in itertools.groupby(cases, key=lambda c: (c.bench, c.concurrency))]
    for rep in range(reps):
        for group in groups:
            shift = rep % len(group)
            for case in group[shift:] + group[:shift]:
                yield rep, case


class Runner:
    """Runs samples with the bench venv's python, pinned to ``cpu`` when given."""

    def __init__(
        self,
        settings: Settings,
        base_url: Callable[[Case], str],
        python: str = sys.executable,
        cpu: int | None = None,
    ) -> None:
        self.settings = settings
        self.base_url = base_url
        self.python = python
        self.cpu = cpu

    def command(self, case: Case) -> list[str]:
        s = self.settings
        args = ["--client", case.client, "--mode", case.bench, "--base-url", self.base_url(case)]
        if case.bench == "chat":
            args += ["--concurrency", str(case.concurrency), "--requests", str(s.max_requests)]
            args += ["--warmup", str(s.warmup_for(case.concurrency)), "--seconds", str(s.seconds)]
            args += ["--connections", str(s.connections)]
        elif case.bench == "stream":
            args += ["--requests", str(s.max_requests), "--warmup", str(s.stream_warmup)]
            args += ["--seconds", str(s.seconds), "--connections", str(s.connections)]
        else:  # hold: a pool big enough that every request is on the wire at once
            args += ["--requests", str(s.hold_requests), "--warmup", str(s.hold_warmup)]
            args += ["--connections", str(s.hold_requests)]
        args += ["--deadline", str(self.deadline(case))]
        if self.cpu is not None:
            args += ["--cpu", str(self.cpu)]
        return [self.python, "-m", _CHILD, *args]

    def deadline(self, case: Case) -> float:
        """Seconds a sample may take in all; the process is killed a little after."""
        if case.bench == "hold":
            return 10 * self.settings.hold_seconds + 30
        return 10 * self.settings.seconds + 30

    def sample(self, case: Case, outcome: Outcome) -> None:
        """Run one sample of ``case`` and add what it gave to ``outcome``."""
        code, out, err = run_bounded(self.command(case), self.deadline(case) + 15, cwd=str(REPO))
        last = out.strip().splitlines()[-1] if out.strip() else ""
        try:
            result = json.loads(last) if code == 0 else None
        except ValueError:
            result = None
        if result is None:
            tail = (err.strip().splitlines() or ["no output"])[-1]
            outcome.errors.append(f"exit {code}: {tail}")
        elif "unsupported" in result:
            outcome.unsupported = str(result["unsupported"])
        else:
            outcome.samples.append(result)

    def run(self, cases: list[Case], log: Callable[[str], None]) -> dict[Case, Outcome]:
        """Every case ``settings.reps`` times, interleaved, within ``settings.budget`` seconds."""
        outcomes = {case: Outcome() for case in cases}
        stop_at = time.monotonic() + self.settings.budget
        for rep, case in interleave(cases, self.settings.reps):
            outcome = outcomes[case]
            if outcome.done:
                continue
            if time.monotonic() > stop_at:
                log(f"time budget of {self.settings.budget:g} s spent; reporting what ran")
                break
            errors = len(outcome.errors)
            self.sample(case, outcome)
            log(f"rep {rep + 1}/{self.settings.reps} {case}: {_brief(outcome, errors)}")
        return outcomes


def _brief(outcome: Outcome, before: int) -> str:
    """The sample just run, for the progress log (``before``: errors before it)."""
    if len(outcome.errors) > before:
        return f"FAILED {outcome.errors[-1]}"
    if outcome.unsupported:
        return f"n/a ({outcome.unsupported})"
    last = outcome.samples[-1]
    if "added_rss" in last:
        return f"+{last['added_rss'] / 2**20:.1f} MiB in {last['wall_s']:.2f} s"
    return f"{last['cpu_s'] / max(last['ops'], 1) * 1e6:.1f} µs/op, {last['ops']} ops"
