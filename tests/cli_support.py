"""Running ``python -m llmpipe`` as a child: with pipes, or with a real terminal (a pty).

The terminal cases (a status line on stderr, a prompt that must not be read
from a keyboard) need ``isatty()`` to be true in the child, so the child gets
the slave end of a pseudo-terminal and the test reads the master end.
"""

from __future__ import annotations

import os
import pty
import select
import socket
import subprocess
import sys
import time

import attrs
import pytest

ENV_VARIABLES = (
    "LLMPIPE_BASE_URL",
    "OPENAI_BASE_URL",
    "LLMPIPE_MODEL",
    "LLMPIPE_API_KEY",
    "OPENAI_API_KEY",
)
COMMAND = (sys.executable, "-m", "llmpipe")


# Not passed on: the developer's settings and keys, a terminal width, and
# PYTHONUNBUFFERED, which would flush stdout for the command and hide a missing flush.
NOT_PASSED_ON = (*ENV_VARIABLES, "COLUMNS", "PYTHONUNBUFFERED")


def child_env(**extra: str) -> dict[str, str]:
    """The environment a user's shell gives the command."""
    env = {k: v for k, v in os.environ.items() if k not in NOT_PASSED_ON}
    return {**env, **extra}


def unused_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_piped(*argv: str, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    """The command with stdout and stderr piped (and stdin from ``stdin``, else empty)."""
    return subprocess.run(
        [*COMMAND, *argv],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=60,
        env=child_env(**env),
        check=False,
    )


@attrs.frozen
class TerminalRun:
    returncode: int
    stdout: str
    terminal: str  # what the terminal received, "\r\n" as the pty sends it back to "\n"


def run_on_terminal(*argv: str, stdin_terminal: bool = False, **env: str) -> TerminalRun:
    """The command with stderr (and stdin, if asked) on a pty; stdout stays a pipe."""
    master, slave = pty.openpty()
    stdin = slave if stdin_terminal else subprocess.DEVNULL
    with subprocess.Popen(
        [*COMMAND, *argv], stdin=stdin, stdout=subprocess.PIPE, stderr=slave, env=child_env(**env)
    ) as child:
        os.close(slave)
        try:
            received = _read_until_closed(master, timeout=60)
            stdout = child.stdout.read() if child.stdout else b""
            child.wait(timeout=20)
        finally:
            os.close(master)
            if child.poll() is None:
                child.kill()
    return TerminalRun(child.returncode, stdout.decode(), received.decode().replace("\r\n", "\n"))


def _read_until_closed(master: int, timeout: float) -> bytes:
    deadline = time.monotonic() + timeout
    received = bytearray()
    while True:
        ready, _, _ = select.select([master], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            pytest.fail(f"the child kept its terminal open for {timeout} s")
        try:
            data = os.read(master, 4096)
        except OSError:  # EIO: every process holding the slave end has closed it
            return bytes(received)
        if not data:
            return bytes(received)
        received += data
