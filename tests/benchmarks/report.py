"""The Markdown report: every figure as a ratio to the floor's, with the floor's
absolute values so the ratios can be read, and the targets marked.

Each table names the install it measures: the default install (``pip install
llmpipe``: stdlib json, stock asyncio) comes first, then ``[fast]`` + uvloop.
A target's ratio is the median of the ratios taken repetition by repetition
(each repetition ran both cases a few seconds apart, so a busy minute on a
shared machine weighs on both sides of a ratio); beside it, their range.
Where a failed sample leaves the repetitions unpaired, it is the ratio of the
medians.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from tests.benchmarks.clients import CLIENTS, INSTALLS
from tests.benchmarks.figures import Figures
from tests.benchmarks.plan import FLOOR, IMPORTS, Case
from tests.benchmarks.targets import TARGETS, Target

__all__ = ["Missing", "Result", "render", "table_of_targets"]


@dataclass(frozen=True)
class Missing:
    """No figures, and why: ``text`` for the tables ("n/a (…)" for what a library
    cannot do, "failed" for errors), ``detail`` for the appendix."""

    text: str
    detail: str = ""


Result = Figures | Missing
Results = Mapping[Case, Result]

_YES, _NO = "✓", "✗"


def _label(case: Case) -> str:
    if case.bench == "import":
        return f"`import {case.client}`" + (" (floor)" if case.client == IMPORTS[0] else "")
    return CLIENTS[case.client].label


def _install_of(case: Case) -> str | None:
    return None if case.bench == "import" else CLIENTS[case.client].install


def _num(value: float, unit: str) -> str:
    if unit == "/s":
        return f"{value:,.0f}{unit}"
    digits = 0 if abs(value) >= 100 else 1 if abs(value) >= 10 else 2
    return f"{value:,.{digits}f} {unit}".rstrip()


def _cell(results: Results, case: Case, floor: Case, metric: str, unit: str) -> str:
    """The floor's absolute value in bold; anyone else's as a ratio to it
    (``unit`` "=": a figure that is already a ratio, shown as it is)."""
    mine, base = results.get(case), results.get(floor)
    if not isinstance(mine, Figures):
        return "—"
    value = mine.median[metric]
    if unit == "=":
        return f"**{value:.2f}**" if case == floor else f"{value:.2f}"
    if case == floor:
        return f"**{_num(value, unit)}**"
    if not isinstance(base, Figures) or not base.median[metric]:
        return _num(value, unit)
    return f"{_ratio(mine, base, metric):.2f}×"


def _paired(mine: Figures, ref: Figures, metric: str) -> list[float]:
    """``metric``'s ratio within each repetition (both cases ran a few seconds
    apart, so a slower minute on a shared machine slows both sides of it);
    empty unless every sample of both sides succeeded, so repetitions pair up."""
    values = mine.values.get(metric, [])
    references = ref.values.get(metric, [])
    if mine.failed or ref.failed or len(values) < 2 or len(values) != len(references):
        return []
    if not all(references):
        return []
    return [a / b for a, b in zip(values, references, strict=True)]


def _ratio(mine: Figures, ref: Figures, metric: str) -> float:
    """The median of the paired ratios, else the ratio of the medians."""
    paired = _paired(mine, ref, metric)
    if paired:
        return statistics.median(paired)
    reference = ref.median[metric]
    return mine.median[metric] / reference if reference else float("inf")


def _spread(mine: Figures, ref: Figures | None, target: Target) -> str:
    """The ratio repetition by repetition, as "min–max"."""
    values = mine.values.get(target.metric, [])
    if ref is None:
        ratios = values
    else:
        pairs = zip(values, ref.values.get(target.metric, []), strict=False)
        ratios = [target.ratio(a, b) for a, b in pairs]
    if len(ratios) < 2:
        return ""
    return f" ({min(ratios):.2f}–{max(ratios):.2f})"


def verdict(results: Results, target: Target) -> tuple[bool | None, str]:
    """(met, ratio text with its per-repetition range); met is None when a side has no figure."""
    mine = results.get(target.case)
    ref = None if target.reference is None else results.get(target.reference)
    if not isinstance(mine, Figures) or (
        target.reference is not None and not isinstance(ref, Figures)
    ):
        return None, "no figure"
    ref_figures = ref if isinstance(ref, Figures) else None
    if ref_figures is None:
        ratio = target.ratio(mine.median[target.metric], None)
    else:
        ratio = _ratio(mine, ref_figures, target.metric)
    unit = "" if target.reference is None else "×"
    return target.met(ratio), f"{ratio:.2f}{unit}{_spread(mine, ref_figures, target)}"


def _mark(met: bool | None) -> str:
    return "—" if met is None else _YES if met else _NO


def _targets_cells(results: Results, case: Case) -> tuple[str, str]:
    mine = [t for t in TARGETS if t.case == case]
    if not mine:
        return "", ""
    texts, marks = [], []
    for target in mine:
        met, ratio = verdict(results, target)
        texts.append(target.text)
        marks.append(f"{_mark(met)} {ratio}")
    return "; ".join(texts), "; ".join(marks)


def _table(header: Iterable[str], rows: Iterable[Iterable[str]]) -> list[str]:
    header = list(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


Column = tuple[str, str, str]  # (header, metric, unit)


@dataclass(frozen=True)
class _Section:
    """One table: one benchmark's cases for one install, each compared with the floor."""

    title: str
    bench: str
    first: str  # the first column's cell for benchmarks without concurrency
    columns: tuple[Column, ...]

    def floor(self, case: Case) -> Case:
        return Case(case.bench, case.concurrency, IMPORTS[0] if case.bench == "import" else FLOOR)

    def first_cell(self, case: Case) -> str:
        return str(case.concurrency) if case.concurrency else self.first

    def cases(self, results: Results, install: str | None) -> list[Case]:
        """The floor, this install's llmpipe, and (with the default install) the others."""
        order = list(IMPORTS) if self.bench == "import" else list(CLIENTS)
        mine = [
            c
            for c in results
            if c.bench == self.bench
            and (
                install is None
                or c.client == FLOOR
                or _install_of(c) == install
                or (install == "default" and _install_of(c) is None)
            )
        ]
        return sorted(
            mine, key=lambda c: (c.concurrency, c != self.floor(c), order.index(c.client))
        )

    def render(self, results: Results, install: str | None) -> list[str]:
        rows = []
        for case in self.cases(results, install):
            missing = results[case]
            if isinstance(missing, Missing):  # the reason once, not in every column
                cells = [missing.text] + ["—"] * (len(self.columns) - 1)
            else:
                cells = [_cell(results, case, self.floor(case), m, u) for _, m, u in self.columns]
            rows.append(
                [self.first_cell(case), _label(case), *cells, *_targets_cells(results, case)]
            )
        if not rows or (install == "fast" and all(len(r) and "floor" in r[1] for r in rows)):
            return []
        first = "concurrency" if self.first == "" else "benchmark"
        header = [first, "client", *(h for h, _, _ in self.columns), "target", "met"]
        title = self.title if install is None else f"{self.title} — {INSTALLS[install]}"
        return ["", f"### {title}", "", *_table(header, rows)]


_RSS: Column = ("peak RSS", "rss_mib", "MiB")
_SECTIONS = (
    _Section(
        "Chat completions (not streamed)",
        "chat",
        "",
        (("CPU / request", "cpu_us", "µs"), ("requests / s", "rate", "/s"), _RSS),
    ),
    _Section(
        "Streams of 20 events (~6 KB)",
        "stream",
        "",
        (
            ("CPU / event", "cpu_us", "µs"),
            ("CPU / stream", "stream_us", "µs"),
            ("events / s", "rate", "/s"),
            _RSS,
        ),
    ),
    _Section(
        "Streams of one event (a streamed call's fixed cost)",
        "stream-1",
        "",
        (("CPU / stream", "stream_us", "µs"), ("streams / s", "rate", "/s"), _RSS),
    ),
    _Section(
        "Many long-lived streams (one event per 100 ms each)",
        "many",
        "streams",
        (
            ("RSS / stream", "stream_kib", "KiB"),
            ("CPU / event", "cpu_us", "µs"),
            ("slowest / median events/s", "fairness", "="),
            ("all open after", "open_s", "s"),
            _RSS,
        ),
    ),
    _Section(
        "Memory with 1,000 requests in flight",
        "hold",
        "1,000 in flight",
        (("RSS added", "added_mib", "MiB"), ("batch wall time", "batch_s", "s"), _RSS),
    ),
)
_IMPORT = _Section(  # measured in the default-install venv (beside aiohttp and openai)
    f"Import time — {INSTALLS['default']}", "import", "import", (("import time", "ms", "ms"),)
)


def summary(results: Results) -> list[str]:
    lines = []
    for install in INSTALLS:
        lines += ["", f"{INSTALLS[install]}:", ""]
        for target in TARGETS:
            if (_install_of(target.case) or "default") != install:
                continue
            met, ratio = verdict(results, target)
            case = target.case
            where = f"{case.bench} c={case.concurrency}" if case.concurrency else case.bench
            lines.append(
                f"- {_mark(met)} {where}, {_label(case)}: {target.text} — measured {ratio}"
            )
    return lines


def table_of_targets(
    results: Results, otel_targets: Sequence[str] = (), otel_table: Sequence[str] = ()
) -> list[str]:
    """The targets and every table, for the README's Performance section
    (with ``otel_overhead``'s target lines and table, measured apart)."""
    out = ["### Targets", *summary(results)]
    if otel_targets:
        out += ["", "`pip install llmpipe[otel]` and the OpenTelemetry SDK:", "", *otel_targets]
    for install in INSTALLS:
        for section in _SECTIONS:
            out += section.render(results, install)
    out += _IMPORT.render(results, None)
    return [*out, *otel_table]


def render(
    results: Results,
    preamble: list[str],
    notes: list[str],
    otel_targets: Sequence[str] = (),
    otel_table: Sequence[str] = (),
) -> str:
    """The whole report as Markdown."""
    out = [*preamble, "", *table_of_targets(results, otel_targets, otel_table)]
    out += ["", "### Absolute medians (min–max over the samples)", "", *_absolute(results)]
    out += ["", "### How it was measured", "", *notes, ""]
    return "\n".join(out)


def _absolute(results: Results) -> list[str]:
    rows = []
    for case in sorted(results):
        result = results[case]
        if not isinstance(result, Figures):
            rows.append([str(case), "0", f"{result.text}: {result.detail}".rstrip(": ")])
            continue
        figures = ", ".join(
            f"{name} {_plain(median)} ({_plain(result.low[name])}–{_plain(result.high[name])})"
            for name, median in result.median.items()
        )
        count = str(result.samples) + (f" ({result.failed} failed)" if result.failed else "")
        rows.append([str(case), count, figures])
    return _table(["case", "samples", "figures"], rows)


def _plain(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"
