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
    b'{"a":1}\n',
    b'\r\n\t {"a": [1, 2]} \n\n',
]
BAD = [b"", b"x", b"\xef{}", b'{"a":"\xff"}', b"{", "\ufeff{}", b"  ", b'{"a":1} x', b'{"a":1}x']
BAD += [b'{"a":', b"[1,]", b' \n"unterminated', b"nul", b"{}{}"]


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


@pytest.mark.parametrize(
    "value",
    ["text é", 7, 2.5, float("nan"), float("-inf"), None, True, [], {}, {"a": [1, {"b": None}]}],
    ids=range(10),
)
def test_std_dumps_writes_any_value_as_json_dumps_does(value):
    expected = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    assert _std_dumps(value) == expected


def test_std_dumps_refuses_a_list_that_holds_itself_as_json_does():
    looped: list[object] = []
    looped.append(looped)
    with pytest.raises(ValueError, match="Circular reference detected"):
        _std_dumps(looped)


def test_std_dumps_after_a_refused_value_writes_the_next_one():
    shared = [1]
    with pytest.raises(TypeError):
        _std_dumps([shared, object()])
    assert _std_dumps([shared, shared]) == b"[[1],[1]]"
