"""The API key mask: a streamed body is masked as if it had come whole, however cut,
and the transport hands over a streamed body masked, with nothing held back lost."""

import json

from hypothesis import given
from hypothesis import strategies as st

from llmpipe import AiohttpTransport, AsyncLLM, LLMConfig, LLMRequest
from llmpipe.testing import Fault
from llmpipe.transport._mask import KeyMask
from tests.raw_stream_server import SSE_HEAD, RawServer

KEY = "sk-live-0123456789"
SECRET = KEY.encode()
BODY = b'data: {"error": {"message": "bad key sk-live-0123456789 sent"}}\n\n'


def streamed(mask: KeyMask, pieces: list[bytes]) -> list[bytes]:
    """What a stream mask passes on for each piece, then at the end."""
    stream = mask.stream()
    return [stream.feed(piece) for piece in pieces] + [stream.end()]


def test_a_whole_body_has_every_key_masked():
    assert KeyMask(KEY).body(BODY + BODY) == (BODY + BODY).replace(SECRET, b"***")


def test_a_key_cut_at_any_point_between_two_chunks_is_masked():
    expected = BODY.replace(SECRET, b"***")
    for cut in range(len(BODY) + 1):
        passed = streamed(KeyMask(KEY), [BODY[:cut], BODY[cut:]])
        assert b"".join(passed) == expected, cut


def test_a_key_sent_byte_by_byte_is_masked():
    passed = streamed(KeyMask(KEY), [BODY[i : i + 1] for i in range(len(BODY))])
    assert b"".join(passed) == BODY.replace(SECRET, b"***")


def test_only_what_may_start_the_key_is_held_back():
    stream = KeyMask(KEY).stream()
    assert stream.feed(b"data: one\n\n") == b"data: one\n\n"  # an event is never delayed
    assert not stream.holding
    assert stream.feed(b"key: sk-li") == b"key: "
    assert stream.holding


def test_a_held_start_that_is_not_the_key_is_passed_on_with_the_next_chunk():
    stream = KeyMask(KEY).stream()
    assert stream.feed(b"x sk-live") == b"x "
    assert stream.feed(b"ly\n\n") == b"sk-lively\n\n"
    assert stream.end() == b""


def test_a_held_start_is_passed_on_at_the_end_of_the_body():
    stream = KeyMask(KEY).stream()
    assert stream.feed(b"tail sk-") == b"tail "
    assert stream.end() == b"sk-"
    assert not stream.holding


def test_the_mask_never_shows_the_key_in_its_repr():
    stream = KeyMask(KEY).stream()
    stream.feed(b"sk-live-01")
    assert KEY not in repr(KeyMask(KEY))
    assert "sk-live" not in repr(stream)


SMALL_KEY = "sk-ab"


@given(
    st.lists(
        st.sampled_from([b"s", b"k", b"-", b"a", b"b", b"\n", b"sk-ab", b"sk-a"]), max_size=40
    ),
    st.lists(st.integers(0, 200), max_size=10),
)
def test_any_cutting_of_any_body_masks_as_the_whole_body_does(parts, cuts):
    body = b"".join(parts)
    edges = sorted(cuts)
    pieces = [body[a:b] for a, b in zip([0, *edges], [*edges, len(body)], strict=True)]
    mask = KeyMask(SMALL_KEY)
    assert b"".join(streamed(mask, pieces)) == mask.body(body)


async def read_raw(source) -> bytes:
    """Every byte of a streamed body, as the event reader would take them."""
    received = b""
    while True:
        chunk = source.read_nowait() or (b"" if source.at_eof() else await source.read())
        if not chunk and source.at_eof():
            return received
        received += chunk


async def test_the_transport_hands_over_a_streamed_body_masked_and_whole(llm_server):
    # The body ends in what could be the start of the key: held back until the
    # end of the body, then handed over as it is.
    body = b"data: one " + SECRET + b" two\n\n: tail " + SECRET[:5]
    llm_server.add_faults(Fault(body=body, content_type="text/event-stream"))
    transport = AiohttpTransport(LLMConfig(base_url=llm_server.base_url, api_key=KEY))
    try:
        request = LLMRequest("chat/completions", body={"model": "gpt-4"}, stream=True)
        response = await transport.send(request)
        received = await read_raw(response.byte_stream)
        await response.byte_stream.release(True)
    finally:
        await transport.close()
    assert received == b"data: one *** two\n\n: tail " + SECRET[:5]


async def test_a_held_start_of_the_key_is_passed_on_when_the_body_ends_after_a_pause():
    """The last bytes could start the key (it begins with "]"), and the server closes
    the connection a moment after sending them: the end still hands them over."""
    chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    chunk["choices"] = [{"index": 0, "delta": {"content": "Hel"}, "finish_reason": None}]
    body = b"data: " + json.dumps(chunk).encode() + b"\n\ndata: [DONE]"
    async with RawServer(SSE_HEAD, body, 0.3) as server:
        config = LLMConfig(base_url=server.base_url, api_key="]-held-0123", stream_idle_timeout=2)
        async with AsyncLLM(config) as llm:
            stream = await llm.chat_completion([{"role": "user", "content": "hi"}], stream=True)
            reply = await stream.collect()
    assert reply.choices[0].message.content == "Hel"
