"""JSON encoding with orjson as an optional fast path.

Without orjson (``pip install llmpipe``), the stdlib is called the cheap way:
one encoder and one decoder built at import rather than per call (``json.dumps``
with non-default options builds a ``JSONEncoder`` every time), and UTF-8 bodies
decoded without ``json.detect_encoding``'s Python-level sniffing when their
first bytes show that they are UTF-8 (what detect_encoding would conclude).
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["dumps", "loads"]

try:
    import orjson
except ImportError:  # pragma: no cover - exercised when orjson is absent
    orjson = None  # type: ignore[assignment]

_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_encode = _encoder.encode
# What _encode builds per call (``iterencode``'s C encoder: the markers dict that
# finds cycles is per call), built here without encode's two Python frames.
_c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
_c_text = json.encoder.encode_basestring
_default = _encoder.default
_decode = json.JSONDecoder().decode
# What _decode runs, without its two Python frames (decode, raw_decode): the
# decoder's C scanner, and the same whitespace rule and errors around it.
_scan = vars(json.JSONDecoder())["scan_once"]  # the C scanner (json.scanner.make_scanner)
_SPACE = " \t\n\r"  # JSON's whitespace, as json.decoder skips it
# First bytes after which detect_encoding may not answer UTF-8: a NUL (UTF-16/32),
# or the first byte of a byte-order mark. Those bodies take json.loads' own path.
_SNIFF = frozenset(b"\x00\xef\xfe\xff")


def _std_dumps(value: Any) -> bytes:
    """``json.dumps(value, ensure_ascii=False, separators=(",", ":"))`` as UTF-8."""
    if _c_make_encoder is None:  # pragma: no cover - a Python without the C accelerator
        return _encode(value).encode()
    encode = _c_make_encoder({}, _default, _c_text, None, ":", ",", False, False, True)
    return "".join(encode(value, 0)).encode()


def _std_loads(data: str | bytes | bytearray) -> Any:
    """``json.loads``, the same answers and errors, minus its per-call overhead."""
    if type(data) is bytes and len(data) > 1 and data[0] not in _SNIFF and data[1]:
        text = data.decode("utf-8", "surrogatepass")
        start = len(text) - len(text.lstrip(_SPACE)) if text[0] in _SPACE else 0
        try:
            value, end = _scan(text, start)
        except StopIteration as err:
            raise json.JSONDecodeError("Expecting value", text, err.value) from None
        if end != len(text):
            extra = text[end:].lstrip(_SPACE)
            if extra:
                raise json.JSONDecodeError("Extra data", text, len(text) - len(extra))
        return value
    return json.loads(data)


if orjson is not None:
    _fast_dumps = orjson.dumps

    def dumps(value: Any) -> bytes:
        """Encode to UTF-8 JSON bytes; orjson when it can, stdlib for what it refuses."""
        try:
            return _fast_dumps(value)
        except TypeError:  # non-str keys, ints beyond 64 bits, ...
            return _std_dumps(value)

    loads = orjson.loads
else:  # pragma: no cover
    dumps = _std_dumps
    loads = _std_loads
