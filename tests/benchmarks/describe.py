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
from tests.benchmarks.relay import TURN, turns_for
from tests.benchmarks.runner import REPO
from tests.benchmarks.server import find_nginx

__all__ = ["notes", "preamble"]


_NAMES = ("aiohttp", "llmpipe", "openai", "httpx2", "httpx", "requests", "orjson", "uvloop")


def _versions() -> str:
    found = []
    for name in _NAMES:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return ", ".join(found)


def _versions_in(python: str) -> str:
    """The same list, as another venv's interpreter sees it."""
    code = (
        "from importlib import metadata as m\n"
        f"for n in {_NAMES!r}:\n"
        "    try: print(n, m.version(n))\n"
        "    except m.PackageNotFoundError: pass\n"
    )
    done = subprocess.run([python, "-c", code], capture_output=True, text=True, check=False)
    return ", ".join(done.stdout.split("\n")).strip(", ") or "unknown"


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


def preamble(
    settings: Settings, argv: list[str], elapsed: float, pythons: dict[str, str]
) -> list[str]:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    shown, skip = [], False  # the command as typed: without what the Makefile adds
    for arg in argv:
        if not skip and not arg.startswith("--fast-python") and arg != "--readme":
            shown.append(arg)
        skip = arg == "--fast-python"
    command = "make bench" + (f" ARGS={shlex.quote(' '.join(shown))}" if shown else "")
    fast = pythons.get("fast")
    return [
        "# llmpipe benchmark",
        "",
        f"`{command}` — {settings.name} mode, {settings.reps} repetitions, {now}, {elapsed:.0f} s.",
        f"Machine: {os.cpu_count()} cores ({_cpu_model()}), Linux {platform.release()}, "
        f"Python {platform.python_version()}; nginx {_nginx_version()}; llmpipe at "
        f"{_git_state()}.",
        f"Default-install venv: {_versions()}.",
        f"Fast venv: {_versions_in(fast) if fast else 'not measured'}.",
        "",
        "Ratios are to raw aiohttp (`ClientSession.post` + stdlib `json.loads`, on the stock "
        "asyncio loop: the floor) in the same table and row group; the floor's own figures "
        "are in bold. A ratio is the median of the ratios within each repetition (both "
        "sides ran in the same seconds, or seconds apart, so a busier minute on the "
        "machine weighs on both), with "
        "a target's range over the repetitions in brackets. CPU is the client process's "
        "alone. Lower is better for CPU, memory and time; higher for requests/s, events/s "
        "and the slowest/median ratio.",
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
        "- Two installs, each in its own venv: `.venv-bench` has `pip install -e .` (no "
        "orjson, no uvloop) plus openai, requests and py-spy; `.venv-bench-fast` has "
        "`pip install -e .[fast]` plus uvloop. The `llmpipe-fast…` rows run in the second, "
        "every other client in the first; a sample whose process loaded another JSON "
        "library than its install has (orjson in the fast venv, none in the other) fails.",
        f"- Each sample is a fresh process running one client. Figures are medians of "
        f"{s.reps} samples per case; repetitions interleave the clients (A B C … A B C …, "
        "rotated each repetition)."
        + (
            f" Chat and stream samples of one concurrency run as a relay: all of the "
            f"group's client processes start and warm up, then take turns of {TURN:g} s "
            f"(the first client rotating each turn; a client waiting for its turn has no "
            f"call in flight), {_turns(s)} each, so every client meets the "
            "same minutes of a shared machine and a repetition's ratios pair up "
            "(tests/benchmarks/relay.py; `--no-relay` runs each sample alone)."
            if s.relay
            else ""
        ),
        "- Every call passes `temperature` and `max_tokens` (llmpipe: as per-call "
        "arguments; the others: in the body they build), as most users do.",
        f"- Chat: a {len(payloads.chat_reply())}-byte chat.completion reply. After a "
        f"warm-up of max({s.warmup}, 2 × concurrency) calls, a timed loop "
        f"of {_timed(s)} (at most {s.max_requests:,} calls per loop) shared by `concurrency` "
        "workers. CPU = user+sys of the client process (all its threads, so the sync "
        "shim's loop thread counts) from getrusage around the loop, per call; requests/s "
        "= calls / loop wall time; peak RSS = ru_maxrss of the process.",
        f"- Every client has a pool of {s.connections} connections (llmpipe's default): "
        "TCPConnector(limit), LLMConfig(connection_limit), httpx Limits, requests' "
        "HTTPAdapter(pool_maxsize); at concurrency 256 calls wait for a connection in "
        "every client. Retries are off (max_retries=0). Every client encodes its "
        "request body on each call and reads the reply's message content.",
        f"- Streaming: `concurrency` workers, each reading one stream after another, "
        f"{_timed(s)} per sample. A stream is an OpenAI-style chat.completion.chunk SSE "
        f"reply of {payloads.STREAM_EVENTS} events ({len(payloads.stream_body()):,} bytes) "
        "ending in `data: [DONE]`; the fixed cost of a streamed call is measured on a "
        f"stream of one event ({len(payloads.short_stream_body())} bytes). The floor "
        "iterates aiohttp's lines and json.loads each data line; every client reads each "
        "chunk's delta text.",
        f"- Many streams: {s.many_streams:,} streams opened 5,000 a second, each on its own "
        f"connection, against a bare asyncio server (trickle_server.py, on uvloop) that "
        f"writes one event to every open stream each {s.many_interval * 1000:g} ms, "
        f"{s.many_events} events per stream. RSS per stream = (peak RSS sampled every 10 ms "
        "- the warm idle baseline) / streams; CPU per event = the batch's CPU (opening, "
        "every event, the ends) / events; each stream's rate is its events / (its last "
        "event - its request), and the slowest over the median shows whether any stream "
        f"starved (the server sends {1 / s.many_interval:g} events/s: a median below that "
        "says the machine fell behind).",
        f"- Memory: a separate aiohttp.web process holds each request {s.hold_seconds:g} s "
        f"(nginx cannot sleep). Each client first makes 3 rounds of {s.hold_warmup} "
        f"concurrent calls that are answered at once, then {s.hold_requests:,} calls at "
        f"once with a {s.hold_requests:,}-connection pool; RSS is sampled every 10 ms "
        "and the table shows the peak minus the warm idle baseline. The batch time "
        "close to the hold time shows they really were all in flight together.",
        f'- Import: wall time of `python -c "import X"` in a fresh interpreter, median '
        f"of {s.import_runs} (interleaved, after one untimed run, which writes the "
        "editable llmpipe's bytecode cache as pip's install does for the others), each "
        "minus the median of a bare `python -c pass`.",
    ]


def _turns(s: Settings) -> str:
    turns = turns_for(s.seconds)
    return "1 turn" if turns == 1 else f"{turns} turns"


def _timed(s: Settings) -> str:
    """How long a sample's calls are timed: one loop, or a relay's turns."""
    if not s.relay:
        return f"{s.seconds:g} s"
    return f"{turns_for(s.seconds) * TURN:g} s ({_turns(s)} of {TURN:g} s)"
