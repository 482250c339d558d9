"""Building frozen attrs instances on the hot path, without their ``__init__``.

A frozen attrs ``__init__`` called with keywords spends about as much on the
call (keyword matching, ``type.__call__``, the validator hook) as on setting
the fields. ``fast_init`` compiles, once per class, a function that takes the
values of the named fields by position and sets every field the way attrs'
own ``__init__`` does (``object.__setattr__``); fields not named get their
default. Nothing is validated or converted: callers check the values first
(the wire fast path does, and steps aside to cattrs for anything else).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

__all__ = ["fast_init"]


def fast_init(cls: type[Any], *names: str) -> Callable[..., Any]:
    """``build(*values)``: a ``cls`` whose fields ``names`` hold ``values`` (in that
    order) and whose other fields hold their defaults."""
    fields = attrs.fields(cls)
    known = {field.name for field in fields}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise TypeError(f"{cls.__name__} has no field(s) {unknown}")
    namespace: dict[str, Any] = {"new": object.__new__, "setter": object.__setattr__.__get__}
    namespace["cls"] = cls
    lines = [f"def build({', '.join(f'v_{name}' for name in names)}):"]
    lines += ["    obj = new(cls)", "    s = setter(obj)"]
    for field in fields:
        if field.converter is not None:
            raise TypeError(f"{cls.__name__}.{field.name} has a converter: use __init__")
        if field.name in names:
            value = f"v_{field.name}"
        elif isinstance(field.default, attrs.Factory) or field.default is attrs.NOTHING:  # type: ignore[arg-type]
            raise TypeError(f"{cls.__name__}.{field.name} needs a value: name it")
        else:
            value = f"d_{field.name}"
            namespace[value] = field.default
        lines.append(f"    s({field.name!r}, {value})")
    lines.append("    return obj")
    exec(compile("\n".join(lines), f"<fast_init {cls.__qualname__}>", "exec"), namespace)  # noqa: S102 - our own text, as attrs does
    build: Callable[..., Any] = namespace["build"]
    return build
