"""Running the samples: one client process per sample, interleaved across clients.

Repetition r runs every case once, each group's clients rotated by r, so a
slow minute on the machine hits every client rather than one. The chat and
stream groups go further: their clients run at once and take turns of a
fifth of a second (``relay.py``), so every client of a group meets the same
minutes and each repetition's ratios pair up. A client that
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

from tests.benchmarks.clients import CLIENTS
from tests.benchmarks.plan import Case, Settings
from tests.benchmarks.procs import run_bounded
from tests.benchmarks.relay import TURN, Relay, turns_for

__all__ = ["Outcome", "Runner", "interleave"]

REPO = Path(__file__).resolve().parents[2]
_CHILD = "tests.benchmarks.child"
RELAYED = ("chat", "stream", "stream-1")  # benchmarks whose clients take turns in a relay


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


def interleave(cases: list[Case], reps: int) -> Iterator[tuple[int, list[Case]]]:
    """(repetition, group) in run order: every group of one (benchmark, concurrency)
    once per repetition, its cases rotated by the repetition."""
    groups = [list(g) for _, g in itertools.groupby(cases, key=lambda c: (c.bench, c.concurrency))]
    for rep in range(reps):
        for group in groups:
            shift = rep % len(group)
            yield rep, group[shift:] + group[:shift]


class Runner:
    """Runs samples with the python of each client's venv (``pythons``: install name ->
    interpreter; a client whose install has none is "n/a"), pinned to ``cpu`` when given."""

    def __init__(
        self,
        settings: Settings,
        base_url: Callable[[Case], str],
        pythons: dict[str, str] | None = None,
        cpu: int | None = None,
    ) -> None:
        self.settings = settings
        self.base_url = base_url
        self.pythons = pythons if pythons is not None else {"default": sys.executable}
        self.cpu = cpu

    def python(self, case: Case) -> str | None:
        return self.pythons.get(CLIENTS[case.client].venv)

    def command(self, case: Case, deadline: float | None = None) -> list[str]:
        """The child's argv; with ``deadline`` (a relay's), its timed loop is one turn."""
        s = self.settings
        python = self.python(case)
        assert python is not None
        args = ["--client", case.client, "--mode", case.bench, "--base-url", self.base_url(case)]
        if case.bench in RELAYED:
            chat = case.bench == "chat"
            warmup = s.warmup_for(case.concurrency) if chat else s.stream_warmup
            args += ["--concurrency", str(case.concurrency), "--requests", str(s.max_requests)]
            args += [
                "--warmup",
                str(max(warmup, 2 * case.concurrency)),
                "--seconds",
                str(s.seconds if deadline is None else TURN),
            ]
            args += ["--connections", str(s.connections)]
        elif case.bench == "hold":  # a pool big enough that every request is on the wire at once
            args += ["--requests", str(s.hold_requests), "--warmup", str(s.hold_warmup)]
            args += ["--connections", str(s.hold_requests)]
        else:  # many: every stream open at once, each on its own connection
            args += ["--requests", str(s.many_streams), "--warmup", str(s.hold_warmup)]
            args += ["--connections", str(s.many_streams)]
        args += ["--deadline", str(self.deadline(case) if deadline is None else deadline)]
        if self.cpu is not None:
            args += ["--cpu", str(self.cpu)]
        return [python, "-m", _CHILD, *args]

    def deadline(self, case: Case) -> float:
        """Seconds a sample may take in all; the process is killed a little after."""
        if case.bench == "hold":
            return 10 * self.settings.hold_seconds + 30
        if case.bench == "many":
            return 3 * self.settings.many_events * self.settings.many_interval + 60
        return 10 * self.settings.seconds + 30

    def sample(self, case: Case, outcome: Outcome) -> None:
        """Run one sample of ``case`` and add what it gave to ``outcome``."""
        if self.python(case) is None:
            outcome.unsupported = (
                f"not installed: no venv for the {CLIENTS[case.client].venv} install"
            )
            return
        code, out, err = run_bounded(self.command(case), self.deadline(case) + 15, cwd=str(REPO))
        _record(case, outcome, code, out, err)

    def relay(self, group: list[Case], outcomes: dict[Case, Outcome]) -> None:
        """One sample of every case of ``group`` at once, taking turns (``relay.py``)."""
        ready = []
        for case in group:
            if self.python(case) is None:
                self.sample(case, outcomes[case])  # records "not installed"
            else:
                ready.append(case)
        if not ready:
            return
        turns = turns_for(self.settings.seconds)
        deadline = 60 + 10 * len(ready) + 3 * turns * len(ready) * TURN
        commands = {str(case): self.command(case, deadline) for case in ready}
        printed = Relay(commands, str(REPO), deadline + 15).run(turns)
        for case in ready:
            _record(case, outcomes[case], *printed[str(case)])

    def run(self, cases: list[Case], log: Callable[[str], None]) -> dict[Case, Outcome]:
        """Every case ``settings.reps`` times, interleaved, within ``settings.budget`` seconds;
        the cases of a chat or stream group take turns in one relay when ``settings.relay``."""
        outcomes = {case: Outcome() for case in cases}
        stop_at = time.monotonic() + self.settings.budget
        for rep, group in interleave(cases, self.settings.reps):
            group = [case for case in group if not outcomes[case].done]
            if not group:
                continue
            if time.monotonic() > stop_at:
                log(f"time budget of {self.settings.budget:g} s spent; reporting what ran")
                break
            before = {case: len(outcomes[case].errors) for case in group}
            if self.settings.relay and group[0].bench in RELAYED:
                self.relay(group, outcomes)
            else:
                for case in group:
                    self.sample(case, outcomes[case])
            for case in group:
                brief = _brief(outcomes[case], before[case])
                log(f"rep {rep + 1}/{self.settings.reps} {case}: {brief}")
        return outcomes


def _record(case: Case, outcome: Outcome, code: int, out: str, err: str) -> None:
    """Add what one child printed (its last stdout line, JSON) to ``outcome``."""
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
    elif (wrong := _wrong_install(case, result)) is not None:
        outcome.errors.append(wrong)
    else:
        outcome.samples.append(result)


def _wrong_install(case: Case, result: dict[str, Any]) -> str | None:
    """Why a sample did not measure the install it claims (None: it did)."""
    install = CLIENTS[case.client].venv
    want = "orjson" if install == "fast" else "json"
    if result.get("json") != want:
        return f"the {install} install's process used {result.get('json')}, not {want}"
    return None


def _brief(outcome: Outcome, before: int) -> str:
    """The sample just run, for the progress log (``before``: errors before it)."""
    if len(outcome.errors) > before:
        return f"FAILED {outcome.errors[-1]}"
    if outcome.unsupported:
        return f"n/a ({outcome.unsupported})"
    last = outcome.samples[-1]
    if "fairness" in last:
        per = last["added_rss"] / last["streams"] / 1024
        cpu = last["cpu_s"] / max(last["ops"], 1) * 1e6
        return (
            f"{per:.1f} KiB/stream, {cpu:.1f} µs/event, slowest/median {last['fairness']:.2f}, "
            f"median {last['median_rate']:.1f} events/s"  # the server sends 1 per interval
        )
    if "added_rss" in last:
        return f"+{last['added_rss'] / 2**20:.1f} MiB in {last['wall_s']:.2f} s"
    return f"{last['cpu_s'] / max(last['ops'], 1) * 1e6:.1f} µs/op, {last['ops']} ops"
