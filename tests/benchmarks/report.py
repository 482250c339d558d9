"""The Markdown report: every figure as a ratio to the floor's, with the floor's
absolute values so the ratios can be read, and issue 4's targets marked."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from tests.benchmarks.clients import CLIENTS
from tests.benchmarks.figures import Figures
from tests.benchmarks.plan import FLOOR, IMPORTS, Case
from tests.benchmarks.targets import TARGETS, Target

__all__ = ["Missing", "Result", "render"]


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


def _num(value: float, unit: str) -> str:
    if unit == "/s":
        return f"{value:,.0f}{unit}"
    digits = 0 if abs(value) >= 100 else 1 if abs(value) >= 10 else 2
    return f"{value:,.{digits}f} {unit}"


def _cell(results: Results, case: Case, floor: Case, metric: str, unit: str) -> str:
    """The floor's absolute value in bold; anyone else's as a ratio to it."""
    mine, base = results.get(case), results.get(floor)
    if not isinstance(mine, Figures):
        return "—"
    value = mine.median[metric]
    if case == floor:
        return f"**{_num(value, unit)}**"
    if not isinstance(base, Figures) or not base.median[metric]:
        return _num(value, unit)
    return f"{value / base.median[metric]:.2f}×"


def verdict(results: Results, target: Target) -> tuple[bool | None, str]:
    """(met, ratio text); met is None when either side has no figure."""
    mine, ref = results.get(target.case), results.get(target.reference)
    if not isinstance(mine, Figures) or not isinstance(ref, Figures):
        return None, "no figure"
    ratio = target.ratio(mine.median[target.metric], ref.median[target.metric])
    return ratio <= target.max_ratio, f"{ratio:.2f}×"


def _targets_cells(results: Results, case: Case) -> tuple[str, str]:
    mine = [t for t in TARGETS if t.case == case]
    if not mine:
        return "", ""
    texts, marks = [], []
    for target in mine:
        met, ratio = verdict(results, target)
        texts.append(target.text)
        marks.append(f"{'—' if met is None else _YES if met else _NO} {ratio}")
    return "; ".join(texts), "; ".join(marks)


def _table(header: Iterable[str], rows: Iterable[Iterable[str]]) -> list[str]:
    header = list(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


Column = tuple[str, str, str]  # (header, metric, unit)


@dataclass(frozen=True)
class _Section:
    """One table: the cases of one benchmark, each compared with that benchmark's floor."""

    title: str
    bench: str
    first: str  # the first column: its header, and its cell for benchmarks without concurrency
    columns: tuple[Column, ...]

    def floor(self, case: Case) -> Case:
        return Case(case.bench, case.concurrency, IMPORTS[0] if case.bench == "import" else FLOOR)

    def first_cell(self, case: Case) -> str:
        return str(case.concurrency) if self.bench == "chat" else self.first

    def cases(self, results: Results) -> list[Case]:
        order = list(IMPORTS) if self.bench == "import" else list(CLIENTS)
        mine = [c for c in results if c.bench == self.bench]
        return sorted(
            mine, key=lambda c: (c.concurrency, c != self.floor(c), order.index(c.client))
        )

    def render(self, results: Results) -> list[str]:
        rows = []
        for case in self.cases(results):
            missing = results[case]
            if isinstance(missing, Missing):  # the reason once, not in every column
                cells = [missing.text] + ["—"] * (len(self.columns) - 1)
            else:
                cells = [_cell(results, case, self.floor(case), m, u) for _, m, u in self.columns]
            rows.append(
                [self.first_cell(case), _label(case), *cells, *_targets_cells(results, case)]
            )
        first = "concurrency" if self.bench == "chat" else "benchmark"
        header = [first, "client", *(h for h, _, _ in self.columns), "issue-4 target", "met"]
        return ["", f"## {self.title}", "", *_table(header, rows)]


_RSS: Column = ("peak RSS", "rss_mib", "MiB")
_SECTIONS = (
    _Section(
        "Chat completions (not streamed)",
        "chat",
        "chat",
        (("CPU / request", "cpu_us", "µs"), ("requests / s", "rate", "/s"), _RSS),
    ),
    _Section(
        "Streaming (one stream at a time)",
        "stream",
        "stream",
        (("CPU / event", "cpu_us", "µs"), ("events / s", "rate", "/s"), _RSS),
    ),
    _Section(
        "Memory with 1,000 requests in flight",
        "hold",
        "1,000 in flight",
        (("RSS added", "added_mib", "MiB"), ("batch wall time", "batch_s", "s"), _RSS),
    ),
    _Section("Import time", "import", "import", (("import time", "ms", "ms"),)),
)


def summary(results: Results) -> list[str]:
    lines = []
    for target in TARGETS:
        met, ratio = verdict(results, target)
        mark = "—" if met is None else _YES if met else _NO
        where = (
            f"{target.case.bench} c={target.case.concurrency}"
            if target.case.bench == "chat"
            else target.case.bench
        )
        lines.append(f"- {mark} {where}, {_label(target.case)}: {target.text} — measured {ratio}")
    return lines


def render(results: Results, preamble: list[str], notes: list[str]) -> str:
    """The whole report as Markdown."""
    out = [*preamble, "", "## Issue-4 targets", "", *summary(results)]
    for section in _SECTIONS:
        out += section.render(results)
    out += ["", "## Absolute medians (min–max over the samples)", "", *_absolute(results)]
    out += ["", "## How it was measured", "", *notes, ""]
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
