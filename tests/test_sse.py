"""The SSE decoder against hand-written edge cases and arbitrary re-chunking."""

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmpipe import ServerSentEvent, SSEDecoder


def decode(*pieces: bytes) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    events = []
    for piece in pieces:
        events += decoder.feed(piece)
    return events + decoder.finish()


def datas(events):
    return [e.data for e in events]


def test_data_lines_of_one_event_join_with_newlines():
    assert datas(decode(b"data: a\ndata: b\n\n")) == ["a\nb"]


@pytest.mark.parametrize("end", [b"\n", b"\r\n", b"\r"])
def test_every_line_ending_is_understood(end):
    stream = b"data: one" + end + end + b"data: two" + end + end
    assert datas(decode(stream)) == ["one", "two"]


def test_crlf_split_across_pieces_is_one_line_end():
    assert datas(decode(b"data: a\r", b"\n\r", b"\ndata: b\r\n\r\n")) == ["a", "b"]


def test_crlf_cut_between_pieces_inside_an_event_ends_one_line_not_the_event():
    assert datas(decode(b"data: a\r", b"\ndata: b\r\n\r\n")) == ["a\nb"]


def test_an_id_containing_nul_is_ignored():
    first, second = decode(b"id: 1\ndata: x\n\nid: 2\x003\ndata: y\n\n")
    assert (first.id, second.id) == ("1", "1")


def test_comments_and_unknown_fields_are_ignored():
    stream = b": keep-alive\nfoo: bar\ndata: x\nnonsense\n\n"
    assert datas(decode(stream)) == ["x"]


def test_only_one_space_after_the_colon_is_removed():
    assert datas(decode(b"data:  two spaces\n\ndata:none\n\n")) == [" two spaces", "none"]


def test_only_one_space_after_the_colon_is_removed_from_any_field():
    [event] = decode(b"event:  spaced\nid:  7\ndata:x\n\n")
    assert (event.event, event.id) == (" spaced", " 7")


def test_field_without_colon_has_empty_value():
    assert datas(decode(b"data\n\n")) == [""]


def test_event_id_and_retry_fields_are_kept():
    [event] = decode(b"event: update\nid: 42\nretry: 1500\ndata: x\n\n")
    assert (event.event, event.id, event.retry) == ("update", "42", 1500)


def test_event_type_resets_after_dispatch_but_id_persists():
    first, second = decode(b"event: a\nid: 1\ndata: x\n\ndata: y\n\n")
    assert (first.event, second.event) == ("a", "message")
    assert second.id == "1"


def test_blank_lines_without_data_dispatch_nothing():
    assert decode(b"\n\n\nevent: x\n\n") == []


def test_leading_byte_order_mark_is_dropped():
    assert datas(decode(b"\xef\xbb\xbf", b"data: x\n\n")) == ["x"]


def test_utf8_character_split_between_pieces_is_decoded_whole():
    text = "data: héllo ✓\n\n".encode()
    pieces = [text[i : i + 1] for i in range(len(text))]
    assert datas(decode(*pieces)) == ["héllo ✓"]


def test_unterminated_last_event_is_still_dispatched_at_end():
    assert datas(decode(b"data: a\n\ndata: [DONE]")) == ["a", "[DONE]"]


def test_json_is_parsed_from_the_raw_bytes_once():
    [event] = decode(b'data: {"a": [1, 2]}\n\n')
    assert event.json() == {"a": [1, 2]}
    assert event.json() is event.json()


# -- property-based ------------------------------------------------------------

payload = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"),
    max_size=40,
)
line_end = st.sampled_from(["\n", "\r\n", "\r"])


@st.composite
def streams(draw):
    messages = draw(st.lists(st.lists(payload, min_size=1, max_size=3), max_size=6))
    end = draw(line_end)
    comments = draw(st.booleans())
    text = ""
    for lines in messages:
        if comments:
            text += ": ping" + end
        text += "".join(f"data: {line}{end}" for line in lines) + end
    return text.encode(), ["\n".join(lines) for lines in messages]


@given(streams(), st.data())
def test_any_rechunking_of_a_valid_stream_gives_the_same_events(stream, data):
    raw, expected = stream
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=12)))
    pieces = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
    assert datas(decode(*pieces)) == expected


@given(st.binary(max_size=300), st.lists(st.integers(1, 50), max_size=20))
def test_arbitrary_bytes_never_raise_and_decode_alike_however_cut(raw, sizes):
    cuts = list(itertools.accumulate(sizes))
    pieces = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
    assert decode(*pieces) == decode(raw)


def _reference(raw: bytes) -> list[tuple[str, str, str | None, int | None]]:
    """The rules of the module docstring applied to a whole stream at once, line by
    line: what the incremental decoder must give however the bytes are cut."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    lines = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
    tail = lines.pop()  # an unterminated last line, never blank, is still a line at the end
    events, data, kind, last_id, retry = [], [], "", None, None
    for line in [*lines, tail] if tail else lines:
        if not line:
            if data:
                events.append((b"\n".join(data).decode(errors="replace"), kind or "message"))
                events[-1] += (last_id, retry)
            data, kind = [], ""
            continue
        if line.startswith(b":"):
            continue
        field, _, value = line.partition(b":")
        value = value[1:] if value.startswith(b" ") else value
        if field == b"data":
            data.append(value)
        elif field == b"event":
            kind = value.decode(errors="replace")
        elif field == b"id" and b"\0" not in value:
            last_id = value.decode(errors="replace")
        elif field == b"retry" and value.isdigit():
            retry = int(value)
        elif field == b"error":
            events.append((value.decode(errors="replace"), "error", last_id, retry))
    if data == [b"[DONE]"]:
        events.append(("[DONE]", kind or "message", last_id, retry))
    return events


sse_line = st.sampled_from(
    [b"data: x", b"data: [DONE]", b"data:y", b"data", b"data:  z", b"event: e", b"id: 7",
     b"id: 8\x009", b"retry: 15", b"retry: x", b"error: {}", b": comment", b"other: 1",
     b"", b"\xef\xbb\xbf", "data: é".encode()]
)  # fmt: skip
sse_block = st.one_of(  # mostly whole events: one data line, or a few lines, then a blank one
    st.just([b"data: w", b""]), st.lists(sse_line, max_size=4).map(lambda lines: [*lines, b""])
)


@settings(max_examples=400)
@given(st.lists(sse_block, max_size=8), line_end, st.data())
def test_the_decoder_gives_what_the_rules_give_line_by_line_however_cut(blocks, end, data):
    raw = b"".join(line + end.encode() for block in blocks for line in block)
    raw += data.draw(st.sampled_from([b"", b"data: [DONE]", b"data: cut"]))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=8)))
    pieces = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
    events = [(e.data, e.event, e.id, e.retry) for e in decode(*pieces)]
    assert events == _reference(raw)
