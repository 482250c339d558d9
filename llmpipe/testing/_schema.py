"""A deterministic example instance of a JSON schema.

Structured-output and tool-call replies must validate against the schema the
client sent, or the client's parsing cannot be tested; and they must be the
same every time, so tests can assert on them. The rules, in order:

- `$ref` to a local pointer (`#/$defs/X`, `#/definitions/X`, any `#/...`) is
  followed; `const`, then the first `enum` value, wins over everything else;
- `anyOf` / `oneOf`: the first branch that is not `{"type": "null"}`;
  `allOf`: the branches' objects merged;
- object: every property, recursively; array: one item (`minItems` if more,
  one per `prefixItems`); string: "example", or a sample of a known `format`,
  padded or cut to `minLength` / `maxLength`; integer: 1; number: 1.5 (both
  moved inside `minimum` / `maximum` and their exclusive forms); boolean:
  true; null: null; a type list: its first type that is not "null";
- a schema without a type is inferred from `properties` / `items`, else null.

A recursive schema would never end, so a `$ref` met again inside its own
expansion is generated minimally: required properties only, arrays at
`minItems`, the null branch of `anyOf` where there is one. `pattern` and
`multipleOf` are not honoured.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["SchemaError", "example"]

# Deeper than any schema a test writes; reached only by a schema with no finite instance.
MAX_DEPTH = 64
FORMATS = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "00:00:00Z",
    "email": "user@example.com",
    "uri": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "ipv4": "192.0.2.1",
    "hostname": "example.com",
}


class SchemaError(ValueError):
    """The schema cannot be followed: a bad shape, a `$ref` that does not
    resolve, or no finite instance."""


def example(schema: Any) -> Any:
    """The example instance of `schema` (see the module docstring)."""
    return _Generator(schema).value(schema, 0, minimal=False)


class _Generator:
    def __init__(self, root: Any) -> None:
        self._root = root
        self._expanding: list[str] = []  # the $refs being expanded, outermost first

    def value(self, schema: Any, depth: int, *, minimal: bool) -> Any:
        if depth > MAX_DEPTH:
            raise SchemaError("the schema nests too deep, or has no finite instance")
        if schema is True:
            return None
        if not isinstance(schema, Mapping):
            raise SchemaError(f"a schema must be an object, got {schema!r}")
        if "$ref" in schema:
            return self._ref(schema["$ref"], depth, minimal=minimal)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return _first(schema["enum"], "enum")
        for key in ("anyOf", "oneOf"):
            if key in schema:
                branch = _branch(_first_list(schema[key], key), minimal=minimal)
                return self.value(branch, depth + 1, minimal=minimal)
        if "allOf" in schema:
            return self._all_of(_first_list(schema["allOf"], "allOf"), depth, minimal=minimal)
        kind = _type(schema, minimal=minimal)
        if kind == "object":
            return self._object(schema, depth, minimal=minimal)
        if kind == "array":
            return self._array(schema, depth, minimal=minimal)
        if kind == "string":
            return _string(schema)
        if kind in ("integer", "number"):
            return _number(schema, integral=kind == "integer")
        if kind == "boolean":
            return True
        if kind in ("null", None):
            return None
        raise SchemaError(f"unknown type {kind!r}")

    def _ref(self, ref: Any, depth: int, *, minimal: bool) -> Any:
        if not isinstance(ref, str) or not (ref == "#" or ref.startswith("#/")):
            raise SchemaError(f"only local $refs ('#/...') can be followed, got {ref!r}")
        target: Any = self._root
        for part in ref[2:].split("/") if ref != "#" else []:
            key = part.replace("~1", "/").replace("~0", "~")
            if isinstance(target, Mapping) and key in target:
                target = target[key]
            elif isinstance(target, list) and key.isdigit() and int(key) < len(target):
                target = target[int(key)]
            else:
                raise SchemaError(f"$ref {ref!r} does not resolve")
        recursive = minimal or ref in self._expanding
        self._expanding.append(ref)
        try:
            return self.value(target, depth + 1, minimal=recursive)
        finally:
            self._expanding.pop()

    def _all_of(self, branches: list[Any], depth: int, *, minimal: bool) -> Any:
        values = [self.value(b, depth + 1, minimal=minimal) for b in branches]
        if all(isinstance(v, dict) for v in values):
            return {k: v for value in values for k, v in value.items()}
        return values[0]

    def _object(self, schema: Mapping[str, Any], depth: int, *, minimal: bool) -> dict[str, Any]:
        properties = schema.get("properties", {})
        required = schema.get("required", [])
        if not isinstance(properties, Mapping) or not isinstance(required, list):
            raise SchemaError("'properties' must be an object and 'required' an array")
        names = [n for n in properties if not minimal or n in required]
        names += [n for n in required if n not in properties]
        return {
            name: self.value(properties.get(name, True), depth + 1, minimal=minimal)
            for name in names
        }

    def _array(self, schema: Mapping[str, Any], depth: int, *, minimal: bool) -> list[Any]:
        least, most = _size(schema, "minItems"), _size(schema, "maxItems")
        items = schema.get("items", True)
        prefix = schema.get("prefixItems", items if isinstance(items, list) else [])
        if not isinstance(prefix, list):
            raise SchemaError("'prefixItems' must be an array")
        if isinstance(items, list):
            items = True
        count = max(least or 0, 0 if minimal else max(len(prefix), 1))
        if most is not None:
            count = min(count, most)
        if items is False:
            count = min(count, len(prefix))
        schemas = [prefix[i] if i < len(prefix) else items for i in range(count)]
        return [self.value(s, depth + 1, minimal=minimal) for s in schemas]


def _type(schema: Mapping[str, Any], *, minimal: bool) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, list):
        if minimal and "null" in kind:
            return "null"
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        if "properties" in schema or "required" in schema:
            return "object"
        if "items" in schema or "prefixItems" in schema:
            return "array"
        return None
    if not isinstance(kind, str):
        raise SchemaError(f"'type' must be a string or an array of strings, got {kind!r}")
    return kind


def _branch(branches: list[Any], *, minimal: bool) -> Any:
    """The first branch that is not null; the null one when recursing, to end the recursion."""
    nulls = [b for b in branches if isinstance(b, Mapping) and b.get("type") == "null"]
    if minimal and nulls:
        return nulls[0]
    return next((b for b in branches if not any(b is n for n in nulls)), branches[0])


def _string(schema: Mapping[str, Any]) -> str:
    form = schema.get("format")
    text = FORMATS.get(form, "example") if isinstance(form, str) else "example"
    least, most = _size(schema, "minLength"), _size(schema, "maxLength")
    text += "x" * max(0, (least or 0) - len(text))
    return text if most is None else text[:most]


def _number(schema: Mapping[str, Any], *, integral: bool) -> int | float:
    """1 or 1.5 if that fits the bounds, else the first candidate near them that does."""
    low, high = _limit(schema, "minimum"), _limit(schema, "maximum")
    xlow, xhigh = _limit(schema, "exclusiveMinimum"), _limit(schema, "exclusiveMaximum")
    lows = [v for v in (low, xlow) if v is not None]
    highs = [v for v in (high, xhigh) if v is not None]
    candidates: list[float | None]
    if integral:
        candidates = [
            1,
            None if low is None else math.ceil(low),
            None if xlow is None else math.floor(xlow) + 1,
            None if high is None else math.floor(high),
            None if xhigh is None else math.ceil(xhigh) - 1,
        ]
    else:
        middle = (max(lows) + min(highs)) / 2 if lows and highs else None
        candidates = [1.5, low, high, None if xlow is None else xlow + 1, middle]
    for value in candidates:
        if value is None:
            continue
        if (
            (low is None or value >= low)
            and (high is None or value <= high)
            and (xlow is None or value > xlow)
            and (xhigh is None or value < xhigh)
        ):
            return int(value) if integral else value
    raise SchemaError("no number fits the schema's bounds")


def _size(schema: Mapping[str, Any], key: str) -> int | None:
    """A count bound (minItems, maxLength, ...), or None if absent."""
    value = schema.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise SchemaError(f"'{key}' must be a non-negative integer, got {value!r}")
    return value


def _limit(schema: Mapping[str, Any], key: str) -> float | None:
    """A numeric bound, or None (draft 4's boolean exclusive forms are ignored)."""
    value = schema.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value


def _first(values: Any, key: str) -> Any:
    return _first_list(values, key)[0]


def _first_list(values: Any, key: str) -> list[Any]:
    if not isinstance(values, Sequence) or isinstance(values, str) or not values:
        raise SchemaError(f"'{key}' must be a non-empty array")
    return list(values)
