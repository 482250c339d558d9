"""The servers the clients talk to, started and stopped by the benchmark itself.

``Nginx`` serves the fixed replies for the throughput and streaming runs.
``HoldServer`` and ``TrickleServer`` do what nginx cannot (it has no sleep;
its echo module is a separate Debian package): hold 1,000 requests open, and
pace 5,000 streams at one event per 100 ms. All listen on 127.0.0.1 only, on
a free port, and die with the run.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from types import TracebackType

from tests.benchmarks import payloads
from tests.benchmarks.procs import HOST, free_port, start, stop, wait_for_port

__all__ = ["HoldServer", "Nginx", "TrickleServer", "find_nginx"]

_TEMPLATE = Path(__file__).with_name("nginx.conf")


def find_nginx() -> str:
    """The nginx binary (Debian puts it in /usr/sbin, often off a user's PATH)."""
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        raise RuntimeError("nginx is not installed; `make bench` installs Debian's nginx")
    return found


class Nginx:
    """nginx as a non-daemon child, with its config, files and temp paths in a temp dir.

    ``cpu`` pins the worker to that core (None: leave it to the scheduler).
    """

    def __init__(self, cpu: int | None = None) -> None:
        self.cpu = cpu
        self.port = 0
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def stream_base_url(self) -> str:
        return self.base_url + payloads.STREAM_PREFIX

    @property
    def short_stream_base_url(self) -> str:
        return self.base_url + payloads.SHORT_STREAM_PREFIX

    def url_for(self, bench: str) -> str:
        """The base URL a client of ``bench`` (chat, stream, stream-1) is pointed at."""
        if bench == "stream":
            return self.stream_base_url
        if bench == "stream-1":
            return self.short_stream_base_url
        return self.base_url

    def __enter__(self) -> Nginx:
        self._dir = tempfile.TemporaryDirectory(prefix="llmpipe-bench-nginx-")
        temp = Path(self._dir.name)
        temp.chmod(0o755)  # the worker runs as an unprivileged user when we are root
        root = temp / "site"
        payloads.write_site(root)
        for path in [root, *root.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        self.port = free_port()
        conf = temp / "nginx.conf"
        conf.write_text(self._render(temp, root))
        error_log = temp / "error.log"
        self._proc = start(
            [find_nginx(), "-p", str(temp), "-c", str(conf), "-e", str(error_log)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for_port(self.port, self._proc)
        except BaseException as exc:
            log = error_log.read_text() if error_log.exists() else ""
            self.__exit__(None, None, None)
            raise RuntimeError(f"nginx did not start: {log.strip()}") from exc
        return self

    def _render(self, temp: Path, root: Path) -> str:
        affinity = "" if self.cpu is None else f"worker_cpu_affinity {1 << self.cpu:b};"
        text = _TEMPLATE.read_text()
        for name, value in {
            "@PORT@": str(self.port),
            "@ROOT@": str(root),
            "@TEMP@": str(temp),
            "@AFFINITY@": affinity,
        }.items():
            text = text.replace(name, value)
        return text

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._proc is not None:
            stop(self._proc, sig=signal.SIGQUIT)  # graceful: workers finish, then exit
            self._proc = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None


class _ScriptServer:
    """A Python server process of ours (``module`` with ``args``) on a free port."""

    module = ""

    def __init__(self, python: str, args: list[str], cpu: int | None) -> None:
        self.python = python
        self.args = args
        self.cpu = cpu
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def __enter__(self) -> _ScriptServer:
        self.port = free_port()
        cmd = [self.python, "-m", self.module, "--port", str(self.port), *self.args]
        if self.cpu is not None:
            cmd += ["--cpu", str(self.cpu)]
        self._proc = start(cmd, stdout=subprocess.DEVNULL)
        try:
            wait_for_port(self.port, self._proc)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._proc is not None:
            stop(self._proc)
            self._proc = None


class HoldServer(_ScriptServer):
    """An aiohttp.web process that holds each chat request ``hold`` seconds.

    Requests for ``payloads.WARM_UP_MODEL`` are answered at once, so a client
    can warm up through the very pool it is then measured with.
    """

    module = "tests.benchmarks.hold_server"

    def __init__(self, python: str = sys.executable, hold: float = 2.0, cpu: int | None = None):
        super().__init__(python, ["--hold", str(hold)], cpu)


class TrickleServer(_ScriptServer):
    """Streams that send one event every ``interval`` seconds, thousands at once."""

    module = "tests.benchmarks.trickle_server"

    def __init__(
        self, python: str, events: int, interval: float = 0.1, cpu: int | None = None
    ) -> None:
        super().__init__(python, ["--events", str(events), "--interval", str(interval)], cpu)
