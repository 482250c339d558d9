"""Readers compiled per key set: how the fast path reads a JSON object shape it has seen.

A server sends the same keys reply after reply. Read field by field, each
``dict.get`` costs ~400 instructions on CPython 3.11, checking that no key is
unknown (``keys() <= names``) ~1.7k, and copying the unknown ones into
``extra`` ~4k. A reader compiled for one key set instead takes every key by
subscript, checks only the fields present (an absent one holds its default,
which needs no check), stores them straight into the model (through
``_fast_init.unfrozen``), and builds ``extra`` from the keys it already knows
to be unknown.

A reader is only right for its own key set. The dispatcher tries the readers
of the object's length: same length and no ``KeyError`` means the same keys.
A reader nested in another calls the first reader compiled for its level
directly (``Level.entry``), which checks the length itself.
A new key set gets a reader of its own; past ``KEY_SETS_KEPT`` key sets a level
compiles no more and steps aside (``NotPlain``) on new ones, so a server whose
keys vary without end costs cattrs' time, never unbounded memory or compiles
(so does an object with more than ``KEYS_COMPILED`` keys).

The rules say what each field accepts; they must stay those of cattrs'
structuring (``tests/test_fastpath.py`` compares the two on generated replies).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from llmpipe._fast_init import unfrozen
from llmpipe.wire.models import EMPTY
from llmpipe.wire.models.http import HTTPInfo

__all__ = ["KEYS_COMPILED", "KEY_SETS_KEPT", "SHARED_KEPT", "Level", "NotPlain", "Rule", "extra"]

KEY_SETS_KEPT = 32
"""Readers one level keeps (real servers send a handful of key sets per model)."""
SHARED_KEPT = 64
"""Shared models one reader of a ``share`` level keeps."""
KEYS_COMPILED = 64
"""Objects with more keys than this are cattrs' (a reader's source grows with its keys)."""


class NotPlain(Exception):
    """The payload is not the plain shape: let cattrs structure it."""


def extra(value: dict[str, Any], names: frozenset[str]) -> Mapping[str, Any]:
    """The keys of ``value`` not in ``names``, in the order sent. (A copy less the
    known keys: less time than a comprehension.)"""
    found = dict(value)
    for name in names:
        found.pop(name, None)
    return found


_DEFAULT = "<the field's default>"


@attrs.frozen
class Rule:
    """How a reader takes one field.

    ``check``: a condition on ``{v}`` (the value sent) under which the object is
    not plain. ``take``: the expression stored (a nested level's reader, say).
    ``absent``: the expression stored when the key is missing (by default the
    field's own default); None: an object without this key is not plain.
    """

    check: str = ""
    take: str = "{v}"
    absent: str | None = _DEFAULT


Reader = Callable[[dict[str, Any], "HTTPInfo | None"], Any]


class Level:
    """The readers of one model: ``read(value)`` is the model, or NotPlain.
    ``read(value, http)`` also sets a reply's ``http`` field (the client's
    ``setattr`` on a frozen model after the build costs ~1k instructions).

    ``rules`` name every field the wire sets (all but ``extra``); ``names`` are
    what their expressions refer to. ``nullable``: None reads as None. With
    ``share``, equal objects give one shared model (token details: the same few
    counts come back reply after reply, and the models are frozen); keys no
    rule knows are then not plain, and the rules must check the types, so that
    ``False`` or ``0.0`` never find the model of an equal int.
    """

    def __init__(
        self,
        cls: type,
        rules: dict[str, Rule],
        names: dict[str, Any],
        *,
        nullable: bool = False,
        share: bool = False,
    ) -> None:
        fields = attrs.fields(cls)
        wire = {a.name for a in fields if a.init and a.name != "extra"}
        if rules.keys() != wire or any(a.converter for a in fields):
            raise TypeError(f"fastpath: {cls.__name__} changed; update its rules")
        self.cls = cls
        self.rules = rules
        self.names = names
        self.share = share
        self.readers: dict[int, list[Reader]] = {}  # by the length of their key set
        self.first: dict[int, Reader] = {}  # the first of each length: tried without a loop
        self.count = 0
        self.read = self._dispatcher(nullable)
        self.entry: Callable[..., Any] = self.read
        """What a reader of an enclosing level calls (``_name.entry(value)``): the
        first reader compiled, which checks the length itself and hands any
        other object to ``read``: a nested object costs one Python call, not
        the dispatcher's and its reader's (~500 instructions a level)."""

    def forget(self) -> None:
        """Drop every compiled reader (tests make far more key sets than servers)."""
        self.readers.clear()
        self.first.clear()
        self.count = 0
        self.entry = self.read

    def _dispatcher(self, nullable: bool) -> Callable[[Any], Any]:
        first = self.first
        others = self._others

        def read(value: Any, http: HTTPInfo | None = None) -> Any:
            if type(value) is not dict:
                if nullable and value is None:
                    return None
                raise NotPlain
            reader = first.get(len(value))
            if reader is not None:
                try:
                    return reader(value, http)
                except KeyError:  # another key set of the same length
                    pass
            return others(value, http)

        return read

    def _others(self, value: dict[str, Any], http: HTTPInfo | None) -> Any:
        """Read ``value`` with another reader of its length, or a new one."""
        for reader in self.readers.get(len(value), [])[1:]:
            try:
                return reader(value, http)
            except KeyError:
                pass
        if self.count >= KEY_SETS_KEPT or len(value) > KEYS_COMPILED:
            raise NotPlain
        first = len(value) not in self.first
        reader = self._compile(tuple(value), first=first)
        self.readers.setdefault(len(value), []).append(reader)
        if first:
            self.first[len(value)] = reader
        if self.count == 0:
            self.entry = reader
        self.count += 1
        return reader(value, http)

    def _compile(self, keys: tuple[Any, ...], *, first: bool = False) -> Reader:
        """A reader for objects with exactly ``keys``. The ``first`` of its length
        may be called with any value (as ``entry``): it hands one of another
        length to ``read``, and one with other keys of its length to ``_others``."""
        cls, rules = self.cls, self.rules
        namespace: dict[str, Any] = {
            **self.names,
            "_NotPlain": NotPlain,
            "_new": object.__new__,
            "_twin": unfrozen(cls),
            "_cls": cls,
            "_EMPTY": EMPTY,
            "_extra": extra,
            "_known": frozenset(rules),
            "_read": self.read,
            "_others": self._others,
        }
        # Every key first: a KeyError here means another key set, and nothing is built yet.
        lines = ["def read(d, _http=None):"]
        if first:
            lines += [
                f"    if type(d) is not dict or len(d) != {len(keys)}:",
                "        return _read(d, _http)",
            ]
        guarded = first and keys  # with no key to take, no KeyError to catch
        if guarded:
            lines.append("    try:")
        for i, key in enumerate(keys):
            namespace[f"_k{i}"] = key  # keys from the wire stay data, never source text
            lines.append(f"{'    ' if guarded else ''}    v{i} = d[_k{i}]")
        if guarded:
            lines += ["    except KeyError:", "        return _others(d, _http)"]
        not_plain = [*lines, "    raise _NotPlain"]
        sent = {key: f"v{i}" for i, key in enumerate(keys)}
        unknown = [i for i, key in enumerate(keys) if key not in rules]
        if unknown and self.share:
            return _compiled(not_plain, namespace, cls)
        checks, stores, taken = [], [], []
        for field in attrs.fields(cls):
            name = field.name
            rule = rules.get(name)
            if name == "http":  # the reply's HTTP facts: the reader's second argument
                value = "_http"
            elif name == "extra":
                if len(unknown) > 1:  # the same keys may come in another order: keep it
                    value = "_extra(d, _known)"
                else:
                    value = "".join(f"{{_k{i}: v{i}}}" for i in unknown) or "_EMPTY"
            elif rule is not None and name in sent:
                v = sent[name]
                if rule.check:
                    checks += [f"    if {rule.check.format(v=v)}:", "        raise _NotPlain"]
                value = rule.take.format(v=v)
                taken.append(v)
            elif rule is None or rule.absent == _DEFAULT:  # absent, or not on the wire (http)
                value = _default(field)
            elif rule.absent is None:  # a required key is missing: cattrs explains
                return _compiled(not_plain, namespace, cls)
            else:
                value = rule.absent
            stores.append(f"    obj.{name} = {value}")
        lines += checks
        if self.share:
            namespace["_shared"] = {}
            lines += [
                f"    key = ({''.join(f'{v}, ' for v in taken)})",
                "    obj = _shared.get(key)",
                "    if obj is not None:",
                "        return obj",
            ]
        lines += ["    obj = _new(_twin)", *stores, "    obj.__class__ = _cls"]
        if self.share:
            lines += [f"    if len(_shared) < {SHARED_KEPT}:", "        _shared[key] = obj"]
        lines.append("    return obj")
        return _compiled(lines, namespace, cls)


def _default(field: Any) -> str:
    """The field's default as a literal (an immutable constant of the model's own)."""
    value = field.default
    if value is None or type(value) in (int, str, bool):
        return repr(value)
    raise TypeError(f"fastpath: the default of {field.name} is not a constant; give it a rule")


def _compiled(lines: list[str], namespace: dict[str, Any], cls: type) -> Reader:
    source = "\n".join(lines)
    exec(compile(source, f"<fastpath {cls.__name__} reader>", "exec"), namespace)  # noqa: S102 - our own text; wire keys are data
    reader: Reader = namespace["read"]
    return reader
