"""Building frozen attrs instances on the hot path, without their ``__init__``.

A frozen attrs class refuses attribute stores with a ``__setattr__`` of its
own, so its ``__init__`` sets every field through ``object.__setattr__``: a
call per field, several times the cost of a plain store. ``unfrozen(cls)`` is
a subclass with ``object``'s own ``__setattr__`` back, whose stores the
interpreter does inline; an instance filled that way becomes a ``cls`` by
assigning ``__class__`` (the layout is the same: the subclass adds no slot).
``fast_init`` compiles, once per class, a function that takes the values of
the named fields by position and builds a ``cls`` so; fields not named get
their default. Nothing is validated or converted: callers check the values
first (the wire fast path does, and steps aside to cattrs for anything else).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

__all__ = ["fast_init", "unfrozen"]

_UNFROZEN: dict[type, type] = {}


def unfrozen(cls: type[Any]) -> type[Any]:
    """A subclass of ``cls`` (an attrs class with slots) that takes plain attribute
    stores. Fill ``obj = object.__new__(unfrozen(cls))``, then ``obj.__class__ = cls``."""
    found = _UNFROZEN.get(cls)
    if found is not None:
        return found
    if not attrs.has(cls) or "__slots__" not in cls.__dict__:
        raise TypeError(f"{cls.__name__} is not an attrs class with slots")
    # Both hooks: ``__delattr__`` shares the type's setattr slot, and a Python one
    # there would keep every store on the slow path.
    namespace = {
        "__slots__": (),
        "__setattr__": object.__setattr__,
        "__delattr__": object.__delattr__,
        "__doc__": f"{cls.__name__} while it is being built (see llmpipe._fast_init).",
    }
    found = type(f"Unfrozen{cls.__name__}", (cls,), namespace)
    _UNFROZEN[cls] = found
    return found


def fast_init(cls: type[Any], *names: str) -> Callable[..., Any]:
    """``build(*values)``: a ``cls`` whose fields ``names`` hold ``values`` (in that
    order) and whose other fields hold their defaults."""
    fields = attrs.fields(cls)
    known = {field.name for field in fields}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise TypeError(f"{cls.__name__} has no field(s) {unknown}")
    namespace: dict[str, Any] = {"new": object.__new__, "cls": cls, "twin": unfrozen(cls)}
    lines = [f"def build({', '.join(f'v_{name}' for name in names)}):"]
    lines += ["    obj = new(twin)"]
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
        lines.append(f"    obj.{field.name} = {value}")
    lines += ["    obj.__class__ = cls", "    return obj"]
    exec(compile("\n".join(lines), f"<fast_init {cls.__qualname__}>", "exec"), namespace)  # noqa: S102 - our own text, as attrs does
    build: Callable[..., Any] = namespace["build"]
    return build
