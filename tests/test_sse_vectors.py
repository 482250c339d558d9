"""The SSE decoder against the vectors peers test, written as our own tests.

Sources, named per test: the WHATWG HTML spec's event-stream interpretation
rules and web-platform-tests ``eventsource/format-*``; openai-python's
``tests/test_streaming.py``; the ``eventsource-parser`` (rexxars) fixtures.
No network was available when they were written: each stream below is
rebuilt from what the named test checks, and its expected events follow the
WHATWG algorithm, which those suites encode.
"""

from __future__ import annotations

import pytest

from llmpipe import SSEDecoder


def decode(*pieces: bytes):
    decoder = SSEDecoder()
    events = []
    for piece in pieces:
        events += decoder.feed(piece)
    return events + decoder.finish()


def datas(*pieces: bytes) -> list[str]:
    return [event.data for event in decode(*pieces)]


# -- web-platform-tests eventsource/format-* -------------------------------------


def test_wpt_format_bom_only_the_first_bom_is_dropped():
    """wpt format-bom: a BOM later in the stream is part of a field name."""
    assert datas(b"\xef\xbb\xbfdata: 1\n\n\xef\xbb\xbfdata: 2\n\ndata: 3\n\n") == ["1", "3"]


def test_wpt_format_bom_2_a_second_leading_bom_is_kept():
    """wpt format-bom-2: two BOMs at the start; only one is stripped."""
    assert datas(b"\xef\xbb\xbf\xef\xbb\xbfdata: 1\n\ndata: 2\n\ndata: 3\n\n") == ["2", "3"]


def test_wpt_format_comments_are_skipped_between_data_lines():
    """wpt format-comments: empty and long comments inside one event."""
    stream = b"data:1\n:\n:comment\n:" + b"x" * 5000 + b"\ndata:2\n\n"
    assert datas(stream) == ["1\n2"]


def test_wpt_format_data_before_final_empty_line_is_discarded():
    """wpt format-data-before-final-empty-line: an event cut off by the end of
    the stream is never dispatched."""
    assert datas(b"retry:1000\ndata:test1\n\nid:test\ndata:test2") == ["test1"]


def test_wpt_format_field_data_empty_and_bare_fields():
    """wpt format-field-data: ``data:`` and a bare ``data`` add empty lines."""
    assert datas(b"data:\n\ndata\ndata\n\ndata:test\n\n") == ["", "\n", "test"]


def test_wpt_format_field_event_sets_the_type_of_one_event():
    """wpt format-field-event: the type resets to "message" after dispatch."""
    assert [e.event for e in decode(b"event:test\ndata:x\n\ndata:y\n\n")] == ["test", "message"]


def test_wpt_format_field_event_empty_is_a_message():
    """wpt format-field-event-empty."""
    assert [e.event for e in decode(b"event: \ndata:data\n\n")] == ["message"]


def test_wpt_format_field_id_an_empty_id_resets_it():
    """wpt format-field-id: ``id`` with no value sets the last event id to ""."""
    assert [e.id for e in decode(b"id: 1\ndata: a\n\nid\ndata: b\n\n")] == ["1", ""]


def test_wpt_format_field_id_null_is_ignored():
    """wpt format-field-id-null: an id holding NUL is ignored."""
    assert [e.id for e in decode(b"id: 1\ndata: a\n\nid: a\x00b\ndata: b\n\n")] == ["1", "1"]


def test_wpt_format_field_parsing():
    """wpt format-field-parsing: field names are exact and case-sensitive, only
    one space is stripped, NUL is data, every line ending counts."""
    stream = (
        b"data:\x00\ndata:  2\rData:1\ndata\x00:2\ndata:1\r\x00data:4\nda-ta:3\r"
        b"data_5\ndata:3\rdata:\r\n data:32\ndata:4\n\n"
    )
    assert datas(stream) == ["\x00\n 2\n1\n3\n\n4"]


def test_wpt_format_field_retry_bogus_is_ignored():
    """wpt format-field-retry-bogus: a retry that is not all digits is ignored."""
    [event] = decode(b"retry:3000\nretry:1000x\ndata:x\n\n")
    assert event.retry == 3000


def test_wpt_format_field_retry_empty_is_ignored():
    """wpt format-field-retry-empty."""
    [event] = decode(b"retry\ndata:test\n\n")
    assert event.retry is None


def test_wpt_format_field_unknown_fields_are_ignored():
    """wpt format-field-unknown: `` data`` (leading space) is an unknown field."""
    stream = b"data:test\n data\ndata\nfoobar:xxx\njustsometext\n:thisisacommentyay\ndata:test\n\n"
    assert datas(stream) == ["test\n\ntest"]


def test_wpt_format_leading_space_only_one_space_is_stripped():
    """wpt format-leading-space: a tab is kept, a lone space becomes empty."""
    assert datas(b"data:\ttest\rdata: \ndata:test\n\n") == ["\ttest\n\ntest"]


def test_wpt_format_newlines_mixed_line_endings():
    """wpt format-newlines: CRLF, LF and a final lone CR."""
    assert datas(b"data:test\r\ndata\ndata:test\r\n\r") == ["test\n\ntest"]


def test_wpt_format_null_character_is_data():
    """wpt format-null-character."""
    assert datas(b"data:\x00\n\n\n\n") == ["\x00"]


def test_wpt_format_utf_8():
    """wpt format-utf-8."""
    assert datas("data:ok\u2026\n\n".encode()) == ["ok\u2026"]


def test_whatwg_a_lone_cr_dispatches_without_waiting_for_the_next_byte():
    """WHATWG: CR alone ends a line; the event must not wait for a possible LF."""
    decoder = SSEDecoder()
    assert [e.data for e in decoder.feed(b"data: a\r\r")] == ["a"]
    assert [e.data for e in decoder.feed(b"\ndata: b\r\n\r\n")] == ["b"]


def test_whatwg_a_crlf_split_after_the_cr_is_one_line_end():
    """WHATWG: CRLF is one line ending even when the pieces split it."""
    assert datas(b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n") == ["a\nb"]


# -- openai-python tests/test_streaming.py ---------------------------------------


def test_openai_basic_named_event():
    """openai-python test_basic."""
    [event] = decode(b'event: completion\ndata: {"foo":true}\n\n')
    assert (event.event, event.json()) == ("completion", {"foo": True})


def test_openai_data_missing_event_is_a_message():
    """openai-python test_data_missing_event."""
    [event] = decode(b'data: {"foo":true}\n\n')
    assert (event.event, event.json()) == ("message", {"foo": True})


def test_openai_event_missing_data_is_not_dispatched():
    """openai-python test_event_missing_data (its decoder yields an empty event;
    WHATWG dispatches none, and the stream layer would skip it either way)."""
    assert decode(b"event: ping\n\n") == []


def test_openai_multiple_events_with_data():
    """openai-python test_multiple_events_with_data."""
    events = decode(
        b'event: ping\ndata: {"foo":true}\n\nevent: completion\ndata: {"bar":false}\n\n'
    )
    assert [(e.event, e.json()) for e in events] == [
        ("ping", {"foo": True}),
        ("completion", {"bar": False}),
    ]


def test_openai_multiple_data_lines_with_empty_line():
    """openai-python test_multiple_data_lines_with_empty_line."""
    [event] = decode(b'event: ping\ndata: {\ndata: "foo":\ndata: \ndata:\ndata: true}\n\n')
    assert (event.data, event.json()) == ('{\n"foo":\n\n\ntrue}', {"foo": True})


def test_openai_data_json_escaped_double_new_line():
    """openai-python test_data_json_escaped_double_new_line."""
    [event] = decode(b'event: ping\ndata: {"foo": "my long\\n\\ncontent"}\n\n')
    assert event.json() == {"foo": "my long\n\ncontent"}


def test_openai_special_new_line_character_is_not_a_line_break():
    """openai-python test_special_new_line_character: U+2028 inside data."""
    stream = (
        'data: {"content": " culpa"}\n\ndata: {"content": " \u2028"}\n\ndata: {"content":"foo"}\n\n'
    ).encode()
    assert [e.json()["content"] for e in decode(stream)] == [" culpa", " \u2028", "foo"]


def test_openai_multi_byte_character_over_multiple_chunks():
    """openai-python test_multi_byte_character_multiple_chunks."""
    raw = 'data: {"content":"известни"}\n\n'.encode()
    cut = raw.index("з".encode()) + 1  # inside a two-byte character
    [event] = decode(raw[:cut], raw[cut:])
    assert event.json() == {"content": "известни"}


# -- eventsource-parser fixtures -------------------------------------------------


@pytest.mark.parametrize(
    ("stream", "expected"),
    [
        (b"data: Hello, world!\n\n", ["Hello, world!"]),
        (b": heartbeat\n\n:\n\ndata: after\n\n", ["after"]),
        (b"data:  two\n\n", [" two"]),
        (b"data: a\rdata: b\r\r", ["a\nb"]),
        (b"data: a\r\n\r\ndata: b\n\n", ["a", "b"]),
    ],
    ids=["basic-unnamed", "heartbeats", "one-space-stripped", "cr-endings", "mixed-endings"],
)
def test_eventsource_parser_fixture(stream, expected):
    """eventsource-parser: the fixtures for unnamed events, heartbeats, leading
    space and line endings."""
    assert datas(stream) == expected


def test_eventsource_parser_fixture_retry_with_units_is_ignored():
    """eventsource-parser: ``retry: 1000ms`` is not a number of milliseconds."""
    [event] = decode(b"retry: 1000ms\ndata: x\n\n")
    assert event.retry is None


def test_eventsource_parser_fixture_any_split_gives_the_same_events():
    """eventsource-parser: its chunked fixtures, fed one byte at a time."""
    stream = b"id: 1\nevent: a\ndata: one\r\n\r\n: c\r\ndata: tw\xc3\xb6\rdata: three\r\r"
    pieces = [stream[i : i + 1] for i in range(len(stream))]
    assert [(e.id, e.event, e.data) for e in decode(*pieces)] == [
        ("1", "a", "one"),
        ("1", "message", "twö\nthree"),
    ]


# -- what llmpipe adds, for servers in the field -------------------------------------


def test_an_unterminated_done_is_still_dispatched():
    assert datas(b"data: a\n\ndata: [DONE]") == ["a", "[DONE]"]


def test_an_error_field_line_is_an_error_event():
    """Older llama.cpp servers: ``error: {...}`` instead of a data event."""
    [error, done] = decode(b'error: {"code":400,"message":"bad"}\n\ndata: [DONE]\n\n')
    assert (error.event, error.json()["code"], done.data) == ("error", 400, "[DONE]")
