"""The README's Python snippets, read with the markers that say how each one runs.

Every ```python fence in README.md runs in `make test` (tests/test_readme.py),
each in a child process of its own (tests/readme_run.py) against the bundled
server. A fence may be preceded, on the line right above it, by one marker:

    <!-- snippet: name=usage setup=sync-client continues=quick serves=http://127.0.0.1:8000 -->

- ``name=N``       names the snippet, so a later one can continue from it.
- ``continues=N``  runs snippet N (and whatever N itself needs) first, in the
                   same namespace: the reader saw N just above.
- ``setup=S[,S]``  runs the hidden setup S first (tests/readme_setups.py): for
                   fragments that use ``llm``, ``messages`` or ``config``
                   defined in the prose around them.
- ``serves=URL``   the snippet shows this URL for the server; the runner
                   replaces it with the test server's, and fails if the
                   snippet does not contain it (so the swap stays deliberate).

A fence with top-level ``await`` (or ``async with``/``async for``) runs in an
event loop. Anything not meant to run (shell, output) is not a python fence.
"""

from __future__ import annotations

import re
from pathlib import Path

import attrs

__all__ = ["MarkerError", "Snippet", "chain", "parse", "snippet_at"]

_FENCE = re.compile(r"^```python\s*$")
_MARKER = re.compile(r"^<!--\s*snippet:(?P<body>.*?)-->\s*$")
_KEYS = frozenset({"name", "continues", "setup", "serves"})


class MarkerError(ValueError):
    """A snippet marker that the runner cannot honour; the message names its line."""


@attrs.frozen
class Snippet:
    path: Path
    line: int  # the line of the snippet's first line of code, 1-based
    code: str
    name: str | None = None
    continues: str | None = None
    setups: tuple[str, ...] = ()
    serves: str | None = None

    @property
    def where(self) -> str:
        return f"{self.path.name}:{self.line}"


def _marker(text: str, where: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for item in text.split():
        key, sep, value = item.partition("=")
        if not sep or key not in _KEYS or not value:
            raise MarkerError(
                f"{where}: snippet marker item {item!r}: use key=value, keys {sorted(_KEYS)}"
            )
        fields[key] = value
    return fields


def parse(path: Path) -> list[Snippet]:
    """Every python fence of a Markdown file, with its marker's settings."""
    lines = path.read_text(encoding="utf-8").splitlines()
    snippets: list[Snippet] = []
    i = 0
    while i < len(lines):
        found = _MARKER.match(lines[i])
        if found and not (i + 1 < len(lines) and _FENCE.match(lines[i + 1])):
            raise MarkerError(
                f"{path.name}:{i + 1}: a snippet marker must be right above a ```python fence"
            )
        if not _FENCE.match(lines[i]):
            i += 1
            continue
        above = _MARKER.match(lines[i - 1]) if i else None
        fields = _marker(above["body"], f"{path.name}:{i}") if above else {}
        end = i + 1
        while end < len(lines) and lines[end].rstrip() != "```":
            end += 1
        if end == len(lines):
            raise MarkerError(f"{path.name}:{i + 1}: a ```python fence is never closed")
        setups = fields.get("setup")
        snippets.append(
            Snippet(
                path=path,
                line=i + 2,
                code="\n".join(lines[i + 1 : end]) + "\n",
                name=fields.get("name"),
                continues=fields.get("continues"),
                setups=tuple(setups.split(",")) if setups else (),
                serves=fields.get("serves"),
            )
        )
        i = end + 1
    names = [s.name for s in snippets if s.name]
    if len(names) != len(set(names)):
        raise MarkerError(f"{path.name}: two snippets share a name: {sorted(names)}")
    return snippets


def chain(snippets: list[Snippet], last: Snippet) -> list[Snippet]:
    """The snippets to run, in order, ending with ``last``."""
    by_name = {s.name: s for s in snippets if s.name}
    order = [last]
    while order[0].continues is not None:
        earlier = by_name.get(order[0].continues)
        if earlier is None:
            raise MarkerError(
                f"{order[0].where}: continues={order[0].continues}, but no snippet has that name"
            )
        if earlier.line >= order[0].line:
            raise MarkerError(
                f"{order[0].where}: continues={earlier.name}, which comes later in the file"
            )
        order.insert(0, earlier)
    return order


def snippet_at(snippets: list[Snippet], line: int) -> Snippet:
    for snippet in snippets:
        if snippet.line == line:
            return snippet
    raise MarkerError(f"no snippet starts at line {line}")
