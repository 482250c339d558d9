"""help(LLMConfig) documents every field: its default, and what it means.

The class docstring lists each field as ``name = default`` followed by an
indented description; these tests keep that list complete and its defaults
true, so a field cannot be added, or a default changed, without its doc.
"""

from __future__ import annotations

import pydoc
import re
from typing import Any

import attrs

from llmpipe import LLMConfig

ENTRY = re.compile(r"^    (\w+) = (.+)\n((?:        \S.*\n)+)", re.MULTILINE)


def documented() -> dict[str, tuple[str, str]]:
    """Field name -> (default as written, description) from LLMConfig's docstring."""
    doc = LLMConfig.__doc__ or ""
    return {m.group(1): (m.group(2), m.group(3)) for m in ENTRY.finditer(doc)}


def default_of(field: Any) -> object:
    default = field.default
    return default.factory() if isinstance(default, attrs.Factory) else default


def test_every_field_is_documented_in_the_class_docstring() -> None:
    names = [field.name for field in attrs.fields(LLMConfig)]
    assert sorted(documented()) == sorted(names)


def test_each_documented_default_is_the_fields_default() -> None:
    docs = documented()
    wrong = {
        field.name: (docs[field.name][0], repr(default_of(field)))
        for field in attrs.fields(LLMConfig)
        if docs[field.name][0] != repr(default_of(field))
    }
    assert wrong == {}


def test_each_description_says_more_than_a_few_words() -> None:
    short = [name for name, (_, text) in documented().items() if len(text.split()) < 5]
    assert short == []


def test_pydoc_shows_the_field_meanings() -> None:
    text = pydoc.render_doc(LLMConfig, renderer=pydoc.plaintext)
    assert "max_response_bytes = 33554432" in text
    assert "Bytes (32 MiB" in text
    assert "first eight fields" not in text
