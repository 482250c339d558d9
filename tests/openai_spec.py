"""Validation against the hand-written subset of OpenAI's OpenAPI spec
(``tests/data/openai_spec_subset.json``; its ``$comment`` says what it is)."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

SPEC_FILE = Path(__file__).parent / "data" / "openai_spec_subset.json"


@functools.cache
def spec() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(SPEC_FILE.read_text())
    return document


@functools.cache
def _validator(name: str) -> Draft202012Validator:
    document = spec()
    if name not in document["components"]["schemas"]:
        raise KeyError(f"no schema {name!r} in {SPEC_FILE.name}")
    return Draft202012Validator({**document, "$ref": f"#/components/schemas/{name}"})


def problems(instance: Any, name: str) -> list[str]:
    """Why ``instance`` does not fit schema ``name`` (empty: it fits)."""
    return sorted(
        f"{error.json_path}: {error.message}" for error in _validator(name).iter_errors(instance)
    )
