"""``make bench-routing``: issue 14's routing benchmarks, each figure beside the
same run without the feature, and the targets marked ✓ or ✗.

    python -m tests.benchmarks.routing [--quick] [--only tail,failover,overload,skewed]

The fleet runs in a process of its own (``routing_fleet``); the client here.
Prints a Markdown section and writes it to ``tests/benchmarks/routing-results.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests.benchmarks import routing_scenarios as scenarios

SCENARIOS = ("tail", "failover", "overload", "skewed")
OUTPUT = Path(__file__).with_name("routing-results.md")
_STARTED = time.monotonic()


def _log(message: str) -> None:
    print(f"[{time.monotonic() - _STARTED:6.1f} s] {message}", file=sys.stderr, flush=True)


def mark(ok: bool) -> str:
    return "✓" if ok else "✗"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


async def tail(quick: bool) -> list[str]:
    calls = 800 if quick else 3000
    skip = 200  # the hedger learns the latencies first
    runs = {}
    for stream in (False, True):
        kind = "streams" if stream else "plain calls"
        for hedged in (True, False):
            _log(f"tail latency, {kind}: {'hedged' if hedged else 'not hedged'}")
            runs[stream, hedged] = await scenarios.tail_latency(calls, hedged, stream)
    rows = []
    for (stream, hedged), run in runs.items():
        p50, p99 = run.percentile(0.5, skip), run.percentile(0.99, skip)
        label = f"{'streams' if stream else 'plain calls'}, {'hedged' if hedged else 'not hedged'}"
        rows.append(
            f"| {label} | {ms(p50)} | {ms(run.percentile(0.9, skip))} | {ms(p99)} | "
            f"{p99 / p50:.2f}× | {run.extra['extra_requests']:.1%} | {run.failed} |"
        )
    _log("tail latency: the bound on hedging plain calls")
    bound, delay, share = scenarios.hedging_bound()
    policy = scenarios.TAIL_HEDGING
    verdicts = []
    for stream, kind in ((False, "plain calls"), (True, "streams, hedged by first event")):
        run = runs[stream, True]
        p50, p99 = run.percentile(0.5, skip), run.percentile(0.99, skip)
        extra = run.extra["extra_requests"]
        verdicts += [
            f"- {mark(p99 <= 2 * p50)} {kind}: hedged p99 ≤ 2× p50: {p99 / p50:.2f}×",
            f"- {mark(extra <= 0.10)} {kind}: extra requests ≤ 10 %: {extra:.1%}",
        ]
    return [
        "### Tail latency: 3 deployments, 5 % of requests 20× slower than the median",
        "",
        f"{calls} calls at concurrency {scenarios.TAIL_CONCURRENCY}; percentiles over the "
        f"last {calls - skip}; extra requests: those the deployments were sent beyond one per "
        f"call. Hedging at the p{policy.percentile * 100:g} of recent latencies, within a "
        f"{policy.max_extra:.0%} budget. Plain calls: median {ms(scenarios.TAIL_MEDIAN)}. "
        f"Streams (read to their end): first event at {ms(scenarios.STREAM_FIRST)}, then "
        f"{scenarios.STREAM_LATER_EVENTS} events {ms(scenarios.STREAM_GAP)} apart; the slow "
        "5 % are slow to their first event (queueing, prefill), by as much as makes the "
        "stream 20× the median's, and are hedged by their time to first event.",
        "",
        "| run | p50 | p90 | p99 | p99/p50 | extra requests | failed |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
        *verdicts,
        "",
        f"Plain calls cannot reach 2× within 10 %: a hedge sent at delay d ends at d + a "
        f"whole service time, so landing under 2× p50 needs d ≲ p50, when over half the "
        f"calls are still out; within the budget d ≥ p90 and p99 ≈ p90 + p5x of the "
        f"service time. The best any delay reaches, by the servers' latency model and with "
        f"no client overhead: **{bound:.2f}×** (delay {ms(delay)}, hedging {share:.1%} of "
        "calls). A stream's hedge costs only the time to first event, which is where its "
        "slow requests are slow.",
    ]


async def failover(quick: bool) -> list[str]:
    calls = 2000 if quick else 5000
    _log("failover: with breakers")
    full = await scenarios.failover(calls, breakers=True)
    _log("failover: without breakers (fallbacks only)")
    bare = await scenarios.failover(calls, breakers=False)
    cooldown = scenarios.COOLDOWN
    rows = [
        f"| {label} | {run.failed} | {run.extra['dead_requests']} | "
        f"{run.extra['per_cooldown']:.2f} | {run.extra['max_in_a_cooldown']} | "
        f"{ms(run.extra['returned_after'])} | {ms(run.percentile(0.99))} |"
        for label, run in (("breakers", full), ("no breakers", bare))
    ]
    back = full.extra["returned_after"]
    return [
        "### Failover: 3 deployments, concurrency 50, one down mid-run and back later",
        "",
        f"{calls} calls; the deployment is down for {full.extra['outage']:.2f} s; "
        f"cooldown {cooldown:g} s.",
        "",
        "| run | failed calls | requests to the dead one after its breaker opened | "
        "per cooldown | most in one cooldown | traffic back after | p99 |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"- {mark(full.failed == 0)} 0 failed calls: {full.failed}",
        f"- {mark(full.extra['max_in_a_cooldown'] <= 1)} ≤ 1 request per cooldown reaches the "
        f"dead deployment: at most {full.extra['max_in_a_cooldown']} in any {cooldown:g} s",
        f"- {mark(back <= 2 * cooldown)} traffic returns within 2 cooldowns of recovery: "
        f"{ms(back)}",
    ]


async def overload(quick: bool) -> list[str]:
    calls = 1200 if quick else 4000
    runs = {}
    for variant in ("aimd", "gradient", "fixed-200", "fixed-16"):
        _log(f"overload: {variant}")
        runs[variant] = await scenarios.overload(calls, variant)
    capacity = runs["fixed-16"].throughput
    nominal = scenarios.CAPACITY / scenarios.SERVICE
    rows = [
        f"| {variant} | {run.throughput:.0f}/s | {run.throughput / capacity:.0%} | "
        f"{run.extra['refused_share']:.1%} | {run.extra['limit'] or '-'} | {run.failed} |"
        for variant, run in runs.items()
    ]
    aimd = runs["aimd"]
    return [
        "### Overload: one deployment of capacity 16, offered concurrency 200",
        "",
        f"{calls} calls; {scenarios.SERVICE * 1000:g} ms each, so at most {nominal:.0f}/s in "
        "theory; capacity below is what exactly 16 in flight achieved here (fixed-16).",
        "",
        "| limit | throughput | of capacity | answered 429 | final limit | failed |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        f"- {mark(aimd.throughput >= 0.9 * capacity)} AIMD throughput ≥ 90 % of capacity: "
        f"{aimd.throughput / capacity:.0%}",
        f"- {mark(aimd.extra['refused_share'] <= 0.02)} AIMD ≤ 2 % answered 429: "
        f"{aimd.extra['refused_share']:.1%}",
    ]


async def skewed(quick: bool) -> list[str]:
    calls = 1200 if quick else 4000
    runs = {}
    for variant in ("p2c", "round-robin", "oracle"):
        _log(f"skewed: {variant}")
        runs[variant] = await scenarios.skewed(calls, variant)
    split, model_mean = scenarios.oracle_split()
    oracle = runs["oracle"].mean
    rows = [
        f"| {variant} | {ms(run.mean)} | {run.mean / oracle:.2f}× | "
        f"{run.extra['share_of_slow']:.1%} |"
        for variant, run in runs.items()
    ]
    ratio = runs["p2c"].mean / oracle
    return [
        "### Skewed replicas: one of 3 deployments 3× slower",
        "",
        f"{calls} calls at concurrency {scenarios.SKEW_CONCURRENCY}; each server runs "
        f"{scenarios.SKEW_BATCH} at full speed and slows in proportion beyond. The oracle "
        f"splits the concurrency {split} (its model's mean: {ms(model_mean)}), enforced "
        "with per-deployment caps.",
        "",
        "| balancer | mean latency | vs oracle | share to the slow one |",
        "|---|---|---|---|",
        *rows,
        "",
        f"- {mark(ratio <= 1.2)} p2c mean latency ≤ 1.2× the oracle split's: {ratio:.2f}×",
    ]


BENCHES: dict[str, Callable[[bool], object]] = {
    "tail": tail,
    "failover": failover,
    "overload": overload,
    "skewed": skewed,
}


async def main(quick: bool, only: list[str]) -> str:
    sections = ["## Routing", ""]
    for name in only:
        sections += await BENCHES[name](quick)  # type: ignore[misc]
        sections.append("")
    return "\n".join(sections)


def cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls, about a minute")
    parser.add_argument("--only", default=",".join(SCENARIOS))
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args, _ = parser.parse_known_args(argv)
    only = [name for name in args.only.split(",") if name]
    unknown = set(only) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s) {sorted(unknown)}; known: {', '.join(SCENARIOS)}")
    report = asyncio.run(main(args.quick, only))
    print(report)
    args.output.write_text(report + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(cli(sys.argv[1:]))
