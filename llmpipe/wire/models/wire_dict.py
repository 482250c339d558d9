"""``to_dict()``: a reply model as the JSON object the server sent.

The models keep what they do not model in ``extra``, so a reply can be given
back as sent: its modelled fields, then its extra keys. What a model cannot
keep is whether a field it models was absent or sent as ``null``; both are
``None`` once structured. Storing that per reply would cost every reply for
the rare caller who asks, so each class says instead which of its fields
servers send as ``null`` (``finish_reason``, ``logprobs``, ...): those come
back as ``null``, every other ``None`` field is left out, as servers leave
it out. ``to_dict()`` then equals the JSON of the bundled server, OpenAI's
and vLLM's common replies; a server with other habits gets the same data
with a ``null`` more or less.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, cast

import attrs

if TYPE_CHECKING:
    from attrs import AttrsInstance

__all__ = ["WireDict", "wire_value"]

_NOT_ON_THE_WIRE = frozenset({"extra", "http"})


class WireDict:
    """Gives a reply model ``to_dict()``. No state: it adds nothing to a reply's size."""

    __slots__ = ()

    wire_nulls: ClassVar[frozenset[str]] = frozenset()
    """Fields servers send as ``null`` rather than leave out; the rest are omitted when None."""

    if TYPE_CHECKING:
        extra: Mapping[str, Any]  # every subclass is an attrs model with ``extra``

    def to_dict(self) -> dict[str, Any]:
        """This model as the JSON object the server sent, ``extra`` fields included.

        A new dict of plain JSON values (nested models become dicts too), safe
        to change or to pass to ``json.dumps``. A field that is ``None`` is
        left out unless servers send it as ``null`` (see ``wire_nulls``).
        """
        out: dict[str, Any] = {}
        for field in attrs.fields(cast("type[AttrsInstance]", type(self))):
            name = field.name
            if name in _NOT_ON_THE_WIRE:
                continue
            value = getattr(self, name)
            if value is None and name not in self.wire_nulls:
                continue
            out[name] = wire_value(value)
        for key, value in self.extra.items():
            out.setdefault(key, copy.deepcopy(value))
        return out


def wire_value(value: Any) -> Any:
    """A model, a list of them, or a plain value as JSON values."""
    if isinstance(value, WireDict):
        return value.to_dict()
    if isinstance(value, list):
        return [wire_value(item) for item in value]
    if attrs.has(type(value)):  # content parts (TextPart, ImagePart) and their URLs
        from llmpipe.wire.convert import converter  # the converter imports these models

        return converter.unstructure(value)
    return value
