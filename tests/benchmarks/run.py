"""``make bench``: measure llmpipe against raw aiohttp and the official SDK.

    python -m tests.benchmarks.run [--quick] [--only chat,stream,...] [--fast-python PATH]
                                   [--readme]

Starts nginx, the hold server and the trickle server on 127.0.0.1, runs every
client in its own process (interleaved, several repetitions) with the python
of its install's venv, stops every process it started (also on Ctrl-C or
SIGTERM), then prints the Markdown report and writes it to
``tests/benchmarks/results.md`` (and, with ``--readme``, into README.md's
Performance section, between its bench markers).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.benchmarks.describe import notes, preamble
from tests.benchmarks.figures import figures, import_figures
from tests.benchmarks.imports import import_times
from tests.benchmarks.otel_overhead import counted as otel_counted
from tests.benchmarks.otel_overhead import section as otel_section
from tests.benchmarks.otel_overhead import summary as otel_summary
from tests.benchmarks.plan import BENCHES, FULL, IMPORTS, QUICK, Case, Settings, cases
from tests.benchmarks.report import Missing, Result, render, table_of_targets
from tests.benchmarks.runner import REPO, Outcome, Runner
from tests.benchmarks.server import HoldServer, Nginx, TrickleServer
from tests.benchmarks.targets import import_case

DEFAULT_OUTPUT = Path(__file__).with_name("results.md")
README = REPO / "README.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


_STARTED = time.monotonic()


def _log(message: str) -> None:
    print(f"[{time.monotonic() - _STARTED:6.1f} s] {message}", file=sys.stderr, flush=True)


def _cores(pin: bool) -> tuple[int | None, int | None]:
    """(server core, client core): the first two this process may use, if pinning."""
    available = sorted(os.sched_getaffinity(0))
    if not pin or len(available) < 2:
        return None, None
    return available[0], available[1]


def _settings(args: argparse.Namespace) -> Settings:
    settings = QUICK if args.quick else FULL
    if args.reps is not None:
        settings = dataclasses.replace(settings, reps=args.reps)
    if args.seconds is not None:
        settings = dataclasses.replace(settings, seconds=args.seconds)
    if not args.relay:
        settings = dataclasses.replace(settings, relay=False)
    if args.many_streams is not None:  # fewer, where the machine cannot keep up with 5,000
        settings = dataclasses.replace(settings, many_streams=args.many_streams)
    return settings


def _result(outcome: Outcome, bench: str) -> Result:
    if outcome.errors and not outcome.samples:
        return Missing("failed", outcome.errors[-1])
    if outcome.unsupported is not None:  # "not implemented: why" reads as "n/a (not implemented)"
        short, _, detail = outcome.unsupported.partition(": ")
        return Missing(f"n/a ({short})", detail)
    found = figures(bench, outcome)
    return found if found is not None else Missing("not run", "the time budget ran out")


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="make bench ARGS=...",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="small samples: under 3 minutes")
    parser.add_argument("--reps", type=int, help="samples per case (default: 3)")
    parser.add_argument("--seconds", type=float, help="timed loop per sample")
    parser.add_argument(
        "--only", default=",".join(BENCHES), help="comma-separated: " + ", ".join(BENCHES)
    )
    parser.add_argument("--many-streams", type=int, help="streams open at once in 'many'")
    parser.add_argument("--no-pin", dest="pin", action="store_false", help="do not pin to cores")
    parser.add_argument(
        "--no-relay",
        dest="relay",
        action="store_false",
        help="run each chat/stream sample alone instead of in turns with its group",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="the Markdown report")
    parser.add_argument(
        "--fast-python",
        help="the python of the llmpipe[fast] + uvloop venv (without it those rows are n/a)",
    )
    parser.add_argument(
        "--readme", action="store_true", help="also put the tables in README.md's Performance"
    )
    args = parser.parse_args(argv)
    unknown = set(args.only.split(",")) - set(BENCHES)
    if unknown:
        parser.error(f"--only: unknown {', '.join(sorted(unknown))}")
    return args


def _on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through every `finally`, which stops the children


def measure(args: argparse.Namespace, settings: Settings) -> tuple[dict[Case, Result], list[str]]:
    only = set(args.only.split(","))
    server_cpu, client_cpu = _cores(args.pin)
    if server_cpu is not None:  # this process mostly waits: keep it off the client's core
        os.sched_setaffinity(0, {server_cpu})
    results: dict[Case, Result] = {}
    if "import" in only:
        _log(f"import time: {settings.import_runs} fresh interpreters per module")
        for module, value in import_times(
            sys.executable, IMPORTS, settings.import_runs, client_cpu
        ).items():
            results[import_case(module)] = (
                import_figures(value) if isinstance(value, list) else Missing("failed", value)
            )
    todo = [case for case in cases(settings) if case.bench in only]
    pythons = pythons_of(args)
    if todo:
        with contextlib.ExitStack() as servers:
            nginx = servers.enter_context(Nginx(cpu=server_cpu))
            hold: HoldServer | None = None
            trickle: TrickleServer | None = None
            if any(case.bench == "hold" for case in todo):
                hold = HoldServer(sys.executable, settings.hold_seconds, server_cpu)
                servers.enter_context(hold)
            if any(case.bench == "many" for case in todo):
                # on uvloop when the fast venv has it: the server must not be the bottleneck
                trickle = TrickleServer(
                    pythons.get("fast", sys.executable),
                    settings.many_events,
                    settings.many_interval,
                    server_cpu,
                )
                servers.enter_context(trickle)

            def base_url(case: Case) -> str:
                if case.bench == "hold" and hold is not None:
                    return hold.base_url
                if case.bench == "many" and trickle is not None:
                    return trickle.base_url
                return nginx.url_for(case.bench)

            _log(f"nginx on {nginx.base_url}; installs: {pythons}")
            runner = Runner(settings, base_url, pythons, client_cpu)
            for case, outcome in runner.run(todo, _log).items():
                results[case] = _result(outcome, case.bench)
    return results, notes(settings, server_cpu, client_cpu)


def otel_overhead(quick: bool) -> tuple[list[str], list[str]]:
    """Issue 15's rows: ``otel_overhead`` in a process of its own (this venv's
    python: the default install, with the OpenTelemetry SDK), in process and
    over loopback; its summary lines, then its table."""
    calls, rounds, http = (1000, 30, 5) if quick else (2000, 60, 15)
    _log(f"OpenTelemetryMiddleware overhead: {rounds} + {http} rounds of {calls} calls")
    command = [sys.executable, "-m", "tests.benchmarks.otel_overhead", "--json"]
    command += ["--calls", str(calls), "--rounds", str(rounds), "--http", str(http)]
    if shutil.which("valgrind") is not None:  # make bench-instructions installs it
        command.append("--instructions")
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, check=False)
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return [f"- — otel: not measured ({why})"], []
    found = json.loads(done.stdout)
    counts = found["instructions"]
    lines = otel_summary(found["cpu"]) + ([] if counts is None else otel_counted(counts))
    return lines, ["", *otel_section(found["cpu"], calls)]


def pythons_of(args: argparse.Namespace) -> dict[str, str]:
    found = {"default": sys.executable}
    if args.fast_python:
        found["fast"] = args.fast_python
    return found


def write_readme(lines: list[str]) -> None:
    """Replace what stands between the bench markers in README.md with ``lines``."""
    text = README.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"README.md has no {BEGIN} ... {END} block for the tables")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    README.write_text(head + BEGIN + "\n" + "\n".join(lines) + "\n" + END + tail)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = _parse(argv)
    settings = _settings(args)
    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with it ignored
    started = time.monotonic()
    try:
        results, method = measure(args, settings)
    except KeyboardInterrupt:
        _log("interrupted; every process the benchmark started has been stopped")
        return 130
    otel_lines: tuple[list[str], list[str]] = ([], [])
    if "otel" in args.only.split(","):
        otel_lines = otel_overhead(args.quick)
    head = preamble(settings, argv, time.monotonic() - started, pythons_of(args))
    report = render(results, head, method, *otel_lines)
    print(report)
    args.output.write_text(report)
    _log(f"written to {args.output}")
    if args.readme:
        tables = table_of_targets(results, *otel_lines)
        write_readme([*head[2:], "", *tables])
        _log(f"tables written to {README}")
    # A case of llmpipe or the floor that failed fails the run; the SDK's own
    # failures (timeouts with 1,000 calls in flight on a busy machine) are reported only.
    failed = [
        case
        for case, r in results.items()
        if isinstance(r, Missing) and r.text == "failed" and not case.client.startswith("openai")
    ]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
