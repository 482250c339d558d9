"""What the report says about the run itself: machine, versions, and method.

Kept apart from the figures so that a reader of results.md can tell exactly
what produced them, and so the method is described where it is configured.
"""

from __future__ import annotations

import datetime
import os
import platform
import shlex
import subprocess
from importlib import metadata
from pathlib import Path

from tests.benchmarks import payloads
from tests.benchmarks.plan import Settings
from tests.benchmarks.runner import REPO
from tests.benchmarks.server import find_nginx

__all__ = ["notes", "preamble"]


def _versions() -> str:
    names = ["aiohttp", "llmpipe", "openai", "httpx2", "httpx", "requests", "orjson"]
    found = []
    for name in names:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return ", ".join(found)


def _git_state() -> str:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = " + uncommitted changes in llmpipe/" if git("status", "--porcelain", "llmpipe") else ""
    return commit + dirty


def _nginx_version() -> str:
    done = subprocess.run([find_nginx(), "-v"], capture_output=True, text=True, check=False)
    return done.stderr.strip().removeprefix("nginx version: ")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def preamble(settings: Settings, argv: list[str], elapsed: float) -> list[str]:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = "make bench" + (f" ARGS={shlex.quote(' '.join(argv))}" if argv else "")
    return [
        "# llmpipe benchmark",
        "",
        f"`{command}` — {settings.name} mode, {now}, {elapsed:.0f} s.",
        f"Machine: {os.cpu_count()} cores ({_cpu_model()}), Linux {platform.release()}, "
        f"Python {platform.python_version()}.",
        f"Versions: {_versions()}; nginx {_nginx_version()}; llmpipe at {_git_state()}.",
        "",
        "Ratios are to raw aiohttp (the floor) in the same table and row group; the floor's "
        "own figures are in bold. CPU is the client process's alone. Lower is better for "
        "CPU, memory and time; higher for requests/s and events/s.",
    ]


def notes(settings: Settings, server_cpu: int | None, client_cpu: int | None) -> list[str]:
    s = settings
    pinning = (
        f"nginx's single worker and the hold server on core {server_cpu}, each client "
        f"process on core {client_cpu}"
        if client_cpu is not None
        else "no pinning (fewer than two cores, or --no-pin)"
    )
    return [
        f"- Server: Debian's nginx, 1 worker, static replies (tests/benchmarks/nginx.conf), "
        f"keep-alive for the whole run, on 127.0.0.1. Pinning: {pinning}.",
        f"- Each sample is a fresh process of the bench venv's python running one client. "
        f"Figures are medians of {s.reps} samples per case; repetitions interleave the "
        "clients (A B C … A B C …, rotated each repetition).",
        f"- Chat: a {len(payloads.chat_reply())}-byte chat.completion reply. After a "
        f"warm-up of max({s.warmup}, 2 × concurrency) calls, a timed loop "
        f"of {s.seconds:g} s (at most {s.max_requests:,} calls) shared by `concurrency` "
        "workers. CPU = user+sys of the client process (all its threads, so the sync "
        "shim's loop thread counts) from getrusage around the loop, per call; requests/s "
        "= calls / loop wall time; peak RSS = ru_maxrss of the process.",
        f"- Every client has a pool of {s.connections} connections (llmpipe's default): "
        "TCPConnector(limit), LLMConfig(connection_limit), httpx Limits, requests' "
        "HTTPAdapter(pool_maxsize); at concurrency 256 calls wait for a connection in "
        "every client. Retries are off (max_retries=0). Every client encodes its "
        "request body on each call and reads the reply's message content; raw aiohttp "
        "uses the stdlib json, llmpipe uses orjson when installed (the bench venv "
        "installs llmpipe[fast]).",
        f"- Streaming: one stream at a time, {s.seconds:g} s per sample. Each stream is an "
        f"OpenAI-style chat.completion.chunk SSE file of {payloads.STREAM_EVENTS} events "
        f"({len(payloads.stream_body()) // 1024} KiB) ending in `data: [DONE]`. The floor "
        "iterates aiohttp's lines and json.loads each data line. llmpipe is measured when "
        "`AsyncLLM.chat_completion(..., stream=True)` gives an async iterator (detected at "
        "run time), otherwise the row says n/a.",
        f"- Memory: a separate aiohttp.web process holds each request {s.hold_seconds:g} s "
        f"(nginx cannot sleep). Each client first makes 3 rounds of {s.hold_warmup} "
        f"concurrent calls that are answered at once, then {s.hold_requests:,} calls at "
        f"once with a {s.hold_requests:,}-connection pool; RSS is sampled every 10 ms "
        "and the table shows the peak minus the warm idle baseline. The batch time "
        "close to the hold time shows they really were all in flight together.",
        f'- Import: wall time of `python -c "import X"` in a fresh interpreter, median '
        f"of {s.import_runs} (interleaved, after one untimed run), each minus the median "
        "of a bare `python -c pass`.",
    ]
