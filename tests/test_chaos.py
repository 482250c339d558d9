"""Tests of llmpipe.testing.chaos: seeded fault injection in the bundled server.

What each fault does to a client is the fault matrix's business
(test_fault_matrix.py); here, how chaos picks faults, logs them, and puts
the ones a `Fault` cannot script on the wire.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest

from llmpipe.testing import Fault, LLMServer
from llmpipe.testing.chaos import RETRYABLE, Chaos, ChaosKind

CHAT = "/v1/chat/completions"
PLAIN = {"model": "gpt-4", "messages": [{"role": "user", "content": "hi there"}]}
STREAM = {**PLAIN, "stream": True}


def kinds(chaos: Chaos, numbers: range, body: object = PLAIN) -> list[ChaosKind | None]:
    picked = []
    for number in numbers:
        before = len(chaos.log)
        chaos.choose(number, CHAT, body)
        log = chaos.log
        picked.append(log[-1].kind if len(log) > before else None)
    return picked


# --- picking -----------------------------------------------------------------------------


def test_the_same_seed_picks_the_same_faults_for_the_same_requests() -> None:
    assert kinds(Chaos(seed=3, rate=0.5), range(1, 300)) == kinds(
        Chaos(seed=3, rate=0.5), range(1, 300)
    )


def test_a_request_s_fate_depends_on_its_number_not_on_what_came_before() -> None:
    whole = kinds(Chaos(seed=3, rate=0.5), range(1, 300))
    assert kinds(Chaos(seed=3, rate=0.5), range(150, 300)) == whole[149:]


def test_different_seeds_pick_different_faults() -> None:
    assert kinds(Chaos(seed=1, rate=0.5), range(1, 300)) != kinds(
        Chaos(seed=2, rate=0.5), range(1, 300)
    )


def test_the_picks_do_not_depend_on_the_interpreter_s_hash_seed() -> None:
    code = (
        "from llmpipe.testing.chaos import Chaos; c = Chaos(seed=9, rate=0.5)\n"
        "for n in range(1, 200): c.choose(n, '/v1/chat/completions', None)\n"
        "print([(r.number, str(r.kind), r.detail) for r in c.log])"
    )
    root = Path(__file__).resolve().parents[1]
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            cwd=root,
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(outputs) == 1


def test_about_rate_of_the_requests_get_a_fault() -> None:
    picked = kinds(Chaos(seed=5, rate=0.1), range(1, 10_001))
    faulted = sum(kind is not None for kind in picked)
    assert 900 < faulted < 1100


@pytest.mark.parametrize("rate", [0.0, 1.0])
def test_rate_zero_injects_nothing_and_rate_one_injects_everywhere(rate: float) -> None:
    picked = kinds(Chaos(rate=rate), range(1, 200))
    assert all((kind is not None) == bool(rate) for kind in picked)


def test_kinds_are_picked_in_proportion_to_their_weights() -> None:
    chaos = Chaos(seed=2, rate=1.0, faults={"rate_limit": 3, "reset": 1})
    counts = collections.Counter(kinds(chaos, range(1, 4001)))
    assert set(counts) == {ChaosKind.RATE_LIMIT, ChaosKind.RESET}
    assert 2.6 < counts[ChaosKind.RATE_LIMIT] / counts[ChaosKind.RESET] < 3.4


def test_stream_faults_go_only_to_streams_and_mid_body_closes_only_to_plain_replies() -> None:
    plain = set(kinds(Chaos(seed=1, rate=1.0), range(1, 2000), PLAIN))
    streamed = set(kinds(Chaos(seed=1, rate=1.0), range(1, 2000), STREAM))
    stream_only = {
        ChaosKind.DROP_BEFORE_FIRST_EVENT,
        ChaosKind.TRUNCATED_STREAM,
        ChaosKind.ERROR_EVENT,
    }
    assert plain == set(ChaosKind) - stream_only
    assert streamed == set(ChaosKind) - {ChaosKind.CLOSE_MID_BODY}


def test_a_kind_that_fits_no_request_injects_nothing() -> None:
    assert kinds(Chaos(rate=1.0, faults=["truncated_stream"]), range(1, 50)) == [None] * 49


def test_only_injects_its_kind_on_the_first_times_requests() -> None:
    chaos = Chaos.only(ChaosKind.RESET, times=2)
    assert kinds(chaos, range(1, 6)) == [ChaosKind.RESET] * 2 + [None] * 3


def test_retryable_lists_the_faults_before_any_of_the_answer_is_seen() -> None:
    assert ChaosKind.TRUNCATED_STREAM not in RETRYABLE
    assert ChaosKind.HUGE_BODY not in RETRYABLE
    assert {ChaosKind.RATE_LIMIT, ChaosKind.RESET, ChaosKind.STALL} <= RETRYABLE


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"rate": 1.5}, "rate must be between 0 and 1"),
        ({"faults": ["no_such_fault"]}, "no_such_fault"),
        ({"faults": {"reset": -1}}, "weights that are >= 0"),
        ({"faults": {"reset": 0}}, "weight above 0"),
        ({"faults": []}, "at least one kind"),
    ],
)
def test_nonsense_settings_are_rejected_at_construction(
    settings: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Chaos(**settings)  # type: ignore[arg-type]


async def poll(condition: Callable[[], bool], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {within} s")
        await asyncio.sleep(0.01)


# --- in the server -------------------------------------------------------------------------


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def test_scripted_faults_take_precedence_over_chaos(session: aiohttp.ClientSession) -> None:
    async with LLMServer(chaos=Chaos(rate=1.0, faults=["rate_limit"])) as server:
        server.add_faults(Fault(status=400))
        async with session.post(server.base_url + CHAT, json=PLAIN) as first:
            assert first.status == 400
        async with session.post(server.base_url + CHAT, json=PLAIN) as second:
            assert second.status == 429
    assert [record.number for record in server.chaos_log] == [2]


async def test_the_log_names_each_request_as_its_request_id_does(
    session: aiohttp.ClientSession,
) -> None:
    async with LLMServer(chaos=Chaos(seed=4, rate=0.5, faults=["server_error"])) as server:
        statuses = {}
        for number in range(1, 21):
            async with session.post(server.base_url + CHAT, json=PLAIN) as reply:
                assert reply.headers["x-request-id"] == f"req-{number}"
                statuses[number] = reply.status
        log = server.chaos_log
    assert log
    assert {number for number, status in statuses.items() if status != 200} == {
        r.number for r in log
    }
    assert all(statuses[r.number] == int(r.detail) for r in log)


async def test_a_server_without_chaos_logs_nothing(
    llm_server: LLMServer, session: aiohttp.ClientSession
) -> None:
    async with session.post(llm_server.base_url + CHAT, json=PLAIN) as reply:
        assert reply.status == 200
    assert llm_server.chaos_log == []


async def test_reset_aborts_the_connection_with_an_rst(session: aiohttp.ClientSession) -> None:
    async with LLMServer(chaos=Chaos.only("reset")) as server:
        with pytest.raises(aiohttp.ClientOSError, match="reset by peer"):
            await session.post(server.base_url + CHAT, json=PLAIN)


async def test_close_mid_body_declares_the_whole_body_and_sends_half(
    session: aiohttp.ClientSession,
) -> None:
    async with (
        LLMServer(chaos=Chaos.only("close_mid_body")) as server,
        session.post(server.base_url + CHAT, json=PLAIN) as reply,
    ):
        declared = reply.content_length
        with pytest.raises(aiohttp.ClientPayloadError):
            await reply.read()
    assert declared is not None
    assert declared > 100


@pytest.mark.parametrize("body", [PLAIN, STREAM], ids=["plain", "stream"])
async def test_huge_body_is_sent_as_read_and_stops_when_the_client_leaves(
    session: aiohttp.ClientSession, body: dict[str, object]
) -> None:
    async with LLMServer(chaos=Chaos.only("huge_body", huge_bytes=1 << 30)) as server:
        async with session.post(server.base_url + CHAT, json=body) as reply:
            assert reply.content_length is None  # nothing declared: the client must count
            received = 0
            while received < 4 << 20:
                received += len(await reply.content.readany())
            reply.close()
        await poll(lambda: server.connections == 0)


@pytest.mark.parametrize("body", [PLAIN, STREAM], ids=["plain", "stream"])
async def test_slow_sends_the_proper_answer_over_slow_seconds(
    session: aiohttp.ClientSession, body: dict[str, object]
) -> None:
    async with LLMServer(chaos=Chaos.only("slow", slow_seconds=0.3)) as server:
        started = time.monotonic()
        async with session.post(server.base_url + CHAT, json=body) as reply:
            pieces = 0
            text = b""
            while piece := await reply.content.readany():
                pieces += 1
                text += piece
        elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 1.0
    assert pieces > 20  # it came in many small pieces, not at once
    assert content_of(text, streamed=body is STREAM) == "Echo: hi there"


def content_of(body: bytes, streamed: bool) -> str:
    """The assistant's text in a chat reply, or in its event stream."""
    if not streamed:
        return str(json.loads(body)["choices"][0]["message"]["content"])
    lines = body.decode().split("\n\n")
    assert lines[-2:] == ["data: [DONE]", ""]
    chunks = [json.loads(line.removeprefix("data: ")) for line in lines[:-2]]
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
