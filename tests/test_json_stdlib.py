"""The stdlib JSON path (``pip install llmpipe`` without orjson) answers exactly as
``json.loads`` / ``json.dumps(ensure_ascii=False, separators=(",", ":"))`` do."""

import json

import pytest

from llmpipe._json import _std_dumps, _std_loads

BODIES = [
    b'{"id":"chatcmpl-1","choices":[{"message":{"content":"hi"}}]}',
    b"[1,2.5,null,true]",
    b"7",
    b' {"a": "\xc3\xa9"}',
    b'"\\ud800"',
    b"\xef\xbb\xbf{}",  # a UTF-8 byte-order mark: json.loads accepts it from bytes
    "{}".encode("utf-16"),
    "{}".encode("utf-16-le"),
    '{"x": 1}'.encode("utf-32-be"),
    bytearray(b"[1]"),
    '{"s": "str input"}',
]
BAD = [b"", b"x", b"\xef{}", b'{"a":"\xff"}', b"{", "\ufeff{}"]


def _outcome(load, body):
    try:
        return ("ok", load(body))
    except (ValueError, UnicodeDecodeError) as error:
        return (type(error).__name__, str(error))


@pytest.mark.parametrize("body", BODIES, ids=range(len(BODIES)))
def test_std_loads_parses_what_json_loads_parses(body):
    assert _outcome(_std_loads, body) == _outcome(json.loads, body)


@pytest.mark.parametrize("body", BAD, ids=range(len(BAD)))
def test_std_loads_raises_what_json_loads_raises(body):
    outcome = _outcome(_std_loads, body)
    assert outcome[0] != "ok"
    assert outcome == _outcome(json.loads, body)


def test_std_dumps_writes_compact_utf8_like_json_dumps():
    value = {"model": "m", "messages": [{"role": "user", "content": "héllo ✓"}], "t": 0.7}
    expected = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    assert _std_dumps(value) == expected


def test_std_dumps_refuses_what_json_refuses():
    with pytest.raises(TypeError):
        _std_dumps({"x": object()})
