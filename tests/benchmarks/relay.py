"""Clients that take turns: every client of a group measured in the same seconds.

On a shared 2-core VM, a client's CPU per call drifts ±20 % from one
2-second sample to the next (seen: raw aiohttp 137–180 µs at c=256 in six
back-to-back samples, the same hash seed giving both ends), from load the
guest cannot see. Run one after another, the floor and llmpipe meet
different minutes, and a 1.08× target is judged on noise.

So the clients of one (benchmark, concurrency) run as a relay: all start and
warm up, then the runner hands the turn round (``TURN`` seconds each, the
first client rotating turn by turn) until each has had its share of the
sample's seconds. A client that has not the turn is blocked on a pipe read
with no call in flight, so it costs nothing, and the CPU it reports is the
sum over its own turns. A slow minute now falls on every client's turns
alike, and the per-repetition ratios pair up.

The protocol, one byte each way: the child writes ``r`` once warm, then
waits; the runner writes ``g`` (go: one turn) and the child answers ``d``
when its turn's calls have all finished; ``q`` ends it, and it prints its
result as a process run alone does.
"""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO

from tests.benchmarks.procs import start, stop

__all__ = ["TURN", "ChildRelay", "Member", "Relay", "turns_for"]

TURN = 0.2
"""Seconds of one turn: long against a turn's ramp and drain (c=256 calls
start together and the last ones finish alone), short against the minutes a
neighbour's load lasts."""

_GO, _DONE, _READY, _QUIT = b"g", b"d", b"r", b"q"

Result = tuple[int, str, str]
"""A child's exit code (-1: killed), stdout and stderr."""


def turns_for(seconds: float) -> int:
    """Turns that add up to (at least) ``seconds`` of timed calls per client."""
    return max(1, round(seconds / TURN))


class ChildRelay:
    """The child's side: ``--relay GO_FD,DONE_FD`` (file descriptors it inherited)."""

    def __init__(self, spec: str) -> None:
        go, done = (int(fd) for fd in spec.split(","))
        self._go, self._done = go, done

    def turns(self) -> Iterator[None]:
        """Yields once per turn granted; reports each end of turn; stops at ``q`` or EOF."""
        os.write(self._done, _READY)
        while os.read(self._go, 1) == _GO:
            yield
            os.write(self._done, _DONE)


@dataclass
class Member:
    """One client process of a relay, and what it printed."""

    name: str
    proc: subprocess.Popen[bytes]
    go: int  # the runner's end of the pipe the child reads
    done: int  # the runner's end of the pipe the child writes
    out: IO[bytes]
    err: IO[bytes]
    failure: str | None = None  # set once, for good: the child ended or was killed


class Relay:
    """The runner's side: start ``commands`` (name -> argv, without ``--relay``),
    hand out ``turns`` turns, collect every child's exit code, stdout and stderr."""

    def __init__(self, commands: Mapping[str, Sequence[str]], cwd: str, deadline: float) -> None:
        self.commands = commands
        self.cwd = cwd
        self.deadline = deadline  # seconds for the whole relay, start-up included
        self.members: list[Member] = []

    def run(self, turns: int) -> dict[str, Result]:
        ends = time.monotonic() + self.deadline
        with contextlib.ExitStack() as files:
            try:
                return self._run(turns, ends, files)
            finally:
                for member in self.members:
                    stop(member.proc, grace=1.0)
                    os.close(member.go)
                    os.close(member.done)

    def _run(self, turns: int, ends: float, files: contextlib.ExitStack) -> dict[str, Result]:
        for name, cmd in self.commands.items():
            # Files, not pipes: a child blocked on a full stderr pipe would stall its turn.
            out = files.enter_context(tempfile.TemporaryFile())  # noqa: SIM115 (closed by files)
            err = files.enter_context(tempfile.TemporaryFile())  # noqa: SIM115
            self.members.append(self._start(name, cmd, out, err))
        for member in self.members:
            self._await(member, _READY, ends)
        for turn in range(turns):
            alive = [m for m in self.members if m.failure is None]
            if not alive:
                break
            shift = turn % len(alive)
            for member in alive[shift:] + alive[:shift]:
                _write(member.go, _GO)
                self._await(member, _DONE, ends)
        return {m.name: self._finish(m, ends) for m in self.members}

    def _start(self, name: str, cmd: Sequence[str], out: IO[bytes], err: IO[bytes]) -> Member:
        child_go, go = os.pipe()
        done, child_done = os.pipe()
        argv = [*cmd, "--relay", f"{child_go},{child_done}"]
        try:
            proc = start(
                argv, stdout=out, stderr=err, cwd=self.cwd, pass_fds=(child_go, child_done)
            )
        finally:
            os.close(child_go)
            os.close(child_done)
        return Member(name, proc, go, done, out, err)

    def _await(self, member: Member, want: bytes, ends: float) -> None:
        """Read ``want`` from the child; on EOF, a wrong byte or the deadline, mark it failed."""
        if member.failure is not None:
            return
        left = ends - time.monotonic()
        readable, _, _ = select.select([member.done], [], [], max(left, 0.0))
        got = os.read(member.done, 1) if readable else None
        if got == want:
            return
        if got is None:
            member.failure = f"killed: no {want!r} within the relay's {self.deadline:g} s"
            stop(member.proc, grace=1.0)
        else:  # EOF: the child ended (unsupported, or an error) and printed why
            member.failure = "ended"

    def _finish(self, member: Member, ends: float) -> Result:
        if member.proc.poll() is None:
            _write(member.go, _QUIT)
            try:
                member.proc.wait(max(ends - time.monotonic(), 1.0))
            except subprocess.TimeoutExpired:
                stop(member.proc, grace=1.0)
                member.failure = f"killed: still running after the relay's {self.deadline:g} s"
        out, err = (_read(f) for f in (member.out, member.err))
        if member.failure is not None and member.failure.startswith("killed"):
            return -1, out, f"{err}\n{member.failure}"
        return member.proc.returncode, out, err


def _read(file: IO[bytes]) -> str:
    file.seek(0)
    return file.read().decode(errors="replace")


def _write(fd: int, byte: bytes) -> None:
    with contextlib.suppress(BrokenPipeError):  # the child already ended
        os.write(fd, byte)
