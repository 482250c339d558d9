"""README's Configuration table lists every LLMConfig field, in order, with its true default."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import attrs

from llmpipe import LLMConfig

README = Path(__file__).resolve().parent.parent / "README.md"
_ROW = re.compile(
    r"^\| `(?P<field>\w+)` \| `(?P<default>[^`]*)` \| (?P<unit>[^|]+) \| (?P<meaning>[^|].*) \|$"
)
_SIZES = {" KiB": 1024, " MiB": 1024 * 1024}


def table_rows(text: str) -> list[re.Match[str]]:
    section = text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    return [row for line in section.splitlines() if (row := _ROW.match(line))]


def shown_default(cell: str) -> Any:
    """A default as the table writes it: a Python literal, or a size in KiB/MiB."""
    for suffix, factor in _SIZES.items():
        if cell.endswith(suffix):
            return int(cell.removesuffix(suffix)) * factor
    return ast.literal_eval(cell)


def true_default(field: attrs.Attribute) -> Any:  # type: ignore[type-arg]
    default = field.default
    return default.factory() if isinstance(default, attrs.Factory) else default  # type: ignore[arg-type]


ROWS = {row["field"]: row for row in table_rows(README.read_text())}
FIELDS = attrs.fields(LLMConfig)


def test_the_table_lists_every_config_field_in_order():
    assert list(ROWS) == [field.name for field in FIELDS]


def test_the_table_shows_each_fields_true_default():
    shown = {name: shown_default(row["default"]) for name, row in ROWS.items()}
    assert shown == {field.name: true_default(field) for field in FIELDS}


def test_the_table_gives_each_field_a_unit_and_a_meaning():
    vague = [
        name for name, row in ROWS.items() if not row["unit"].strip() or len(row["meaning"]) < 15
    ]
    assert vague == []
