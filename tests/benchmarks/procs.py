"""Child processes that always die with the benchmark.

Every child starts in its own session (so a Ctrl-C at the terminal reaches
only the harness, which then decides) and is stopped by killing its whole
process group, so nginx workers and client threads cannot outlive a run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from typing import IO

__all__ = ["free_port", "run_bounded", "start", "stop", "wait_for_port"]

HOST = "127.0.0.1"  # the only address the benchmark ever listens on or talks to


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def start(
    cmd: Sequence[str],
    *,
    stdout: int | IO[bytes] | None = None,
    stderr: int | IO[bytes] | None = None,
    cwd: str | None = None,
    pass_fds: Sequence[int] = (),
    env: Mapping[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``cmd`` as the leader of a new process group (``pass_fds``: inherited;
    ``env``: the environment, None for this process's)."""
    return subprocess.Popen(
        list(cmd),
        stdout=stdout,
        stderr=stderr,
        cwd=cwd,
        start_new_session=True,
        pass_fds=tuple(pass_fds),
        env=env,
    )


def stop(proc: subprocess.Popen[bytes], grace: float = 5.0, sig: int = signal.SIGTERM) -> None:
    """Ask the group to stop with ``sig``; kill it if it is still there after ``grace``."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(grace)
    # The leader may be gone while a worker lingers: the group goes either way.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(grace)


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """Return once ``port`` accepts connections; raise if ``proc`` died or time ran out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode} before listening")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            if sock.connect_ex((HOST, port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listened on {HOST}:{port} within {timeout:g} s")


def run_bounded(
    cmd: Sequence[str],
    timeout: float,
    cwd: str | None = None,
    env: Mapping[str, str] | None = None,
) -> tuple[int, str, str]:
    """Run ``cmd`` to completion within ``timeout`` seconds; its group dies on any exit path.

    Returns (exit code, stdout, stderr); a timeout is exit code -1.
    """
    proc = start(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd, env=env)
    try:
        out, err = proc.communicate(timeout=timeout)
        return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")
    except subprocess.TimeoutExpired:
        stop(proc, grace=1.0, sig=signal.SIGKILL)
        return -1, "", f"killed after {timeout:g} s"
    finally:
        stop(proc, grace=1.0)
