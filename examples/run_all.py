"""Run every example against the bundled test server: the `make demo` driver.

Starts `python -m llmpipe serve --port 0`, learns its URL from the ready line,
runs each example as a child process with LLMPIPE_BASE_URL pointing at it,
then stops the server. Exits 1 if an example failed or the server did not
come up within 20 s. The server is stopped however this script ends: an
example failing, Ctrl-C, or SIGTERM.

Usage: python examples/run_all.py [EXAMPLE.py ...]   (default: every example here)
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

HERE = Path(__file__).resolve().parent
READY_PREFIX = "llmpipe test server listening on "
STARTUP_TIMEOUT = 20.0
EXAMPLE_TIMEOUT = 120.0
STOP_TIMEOUT = 10.0
# The demo server is local and keyless: never hand it the user's real key, and
# never point the examples at another server or a model it does not have.
NOT_PASSED_ON = ("LLMPIPE_API_KEY", "OPENAI_API_KEY", "LLMPIPE_MODEL", "LLMPIPE_BASE_URL")


class ServerDidNotStart(Exception):
    """The test server exited or stayed silent instead of printing its ready line."""


def discover() -> list[Path]:
    return sorted(
        path
        for path in HERE.glob("*.py")
        if path.name != Path(__file__).name and not path.name.startswith("_")
    )


def _pump(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    """Move the server's stdout into a queue, so waiting for a line can time out."""
    for line in stream:
        lines.put(line)
    lines.put(None)  # end of output: the server has exited


def _ready_url(lines: queue.Queue[str | None]) -> str:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise ServerDidNotStart(f"no ready line within {STARTUP_TIMEOUT:g} s") from None
        if line is None:
            raise ServerDidNotStart("the server exited before it was ready")
        if line.startswith(READY_PREFIX):
            return line[len(READY_PREFIX) :].strip()
        print(f"server: {line}", end="")


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def bundled_server() -> Iterator[str]:
    """`python -m llmpipe serve --port 0` as a child; yields its base URL."""
    command = [sys.executable, "-m", "llmpipe", "serve", "--port", "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    lines: queue.Queue[str | None] = queue.Queue()
    reader = threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True)
    reader.start()
    try:
        yield _ready_url(lines)
    finally:
        _stop(process)
        reader.join(STOP_TIMEOUT)
        if not reader.is_alive():
            process.stdout.close()


def run_example(path: Path, base_url: str) -> bool:
    """Run one example with its output shown as it comes; True if it exited 0."""
    print(f"\n===== {path.name} =====", flush=True)
    env = {name: value for name, value in os.environ.items() if name not in NOT_PASSED_ON}
    env["LLMPIPE_BASE_URL"] = base_url
    started = time.perf_counter()
    try:
        result = subprocess.run(
            [sys.executable, str(path)], env=env, timeout=EXAMPLE_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:  # run() has killed it
        print(f"----- {path.name}: FAILED, still running after {EXAMPLE_TIMEOUT:g} s", flush=True)
        return False
    elapsed = time.perf_counter() - started
    verdict = "ok" if result.returncode == 0 else f"FAILED (exit {result.returncode})"
    print(f"----- {path.name}: {verdict} in {elapsed:.2f} s", flush=True)
    return result.returncode == 0


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks that stop children


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    examples = [Path(arg).resolve() for arg in argv] or discover()
    try:
        with bundled_server() as base_url:
            print(f"Test server listening on {base_url}", flush=True)
            failed = [path.name for path in examples if not run_example(path, base_url)]
    except ServerDidNotStart as error:
        print(f"run_all: the test server did not start: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nrun_all: interrupted; the test server has been stopped", file=sys.stderr)
        return 130
    print()
    if failed:
        print(f"{len(failed)} of {len(examples)} examples failed: {', '.join(failed)}")
        return 1
    print(f"All {len(examples)} examples passed.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
