"""Each private API llmpipe borrows from a dependency (llmpipe._dependencies)
works through the real dependency, and its fallback works without it."""

from __future__ import annotations

import asyncio
import sys

import aiohttp
import pytest
from loguru import logger

from llmpipe import _dependencies
from llmpipe._dependencies import (
    close_connector_now,
    fail_stream_reader,
    loguru_gate,
    loop_runner,
    otel_provider_probe,
    run_until_done,
    running_loop,
    task_of,
    write_failed,
)
from llmpipe.testing import Fault


def test_loguru_gate_reads_loguru_itself():
    seen: list[str] = []
    handler = logger.add(seen.append, level="WARNING")
    probe = {"__name__": "llmpipe_probe", "logger": logger}
    try:
        assert loguru_gate(logger, "llmpipe_probe", 5) is False  # TRACE: below every handler
        assert loguru_gate(logger, "llmpipe_probe", 40) is True
        logger.disable("llmpipe_probe")
        exec("logger.error('dropped')", probe)  # loguru decides for the module, and caches it
        assert loguru_gate(logger, "llmpipe_probe", 40) is False  # a disabled module
        assert seen == []
    finally:
        logger.remove(handler)
        logger.enable("llmpipe_probe")


def test_loguru_gate_without_loguru_internals_leaves_the_decision_to_loguru():
    class NoCore:
        pass

    assert loguru_gate(NoCore(), "llmpipe", 40) is None


async def test_close_connector_now_closes_a_real_connectors_sockets(llm_server):
    connector = aiohttp.TCPConnector()
    session = aiohttp.ClientSession(connector=connector, connector_owner=False)
    async with session, session.get(f"{llm_server.base_url}/v1/models") as reply:
        await reply.read()
    assert not connector.closed
    close_connector_now(connector)
    assert connector.closed


def test_close_connector_now_without_the_private_close_leaves_the_connector_alone():
    class Plain:
        closed = False

    plain = Plain()
    close_connector_now(plain)  # no _close: nothing to call, nothing raised
    assert plain.closed is False


async def test_fail_stream_reader_wakes_a_blocked_reader_with_the_error(llm_server):
    llm_server.add_faults(Fault(stall_after_events=0, delay=30))
    body = {"model": "gpt-4", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    url = f"{llm_server.base_url}/v1/chat/completions"
    async with aiohttp.ClientSession() as session, session.post(url, json=body) as reply:
        waiting = asyncio.create_task(reply.content.readany())
        await asyncio.sleep(0.05)
        assert not waiting.done()  # blocked: the server stalls before its first event
        fail_stream_reader(reply.content, ConnectionResetError("closed"))
        with pytest.raises(ConnectionResetError, match="closed"):
            await waiting
        reply.close()


async def test_fail_stream_reader_without_set_exception_ends_the_body():
    class EndOnly:
        ended = False

        def feed_eof(self) -> None:
            self.ended = True

    reader = EndOnly()
    fail_stream_reader(reader, ConnectionResetError("closed"))
    assert reader.ended is True


async def test_running_loop_sees_the_loop_and_its_fallback_agrees():
    loop = asyncio.get_running_loop()
    assert running_loop() is loop
    assert _dependencies._public_running_loop() is loop


def test_running_loop_is_none_outside_a_loop_by_either_path():
    assert running_loop() is None
    assert _dependencies._public_running_loop() is None


async def test_task_of_gives_the_running_task_as_current_task_does():
    loop = asyncio.get_running_loop()
    inner = asyncio.create_task(_tasks_seen())
    assert task_of(loop) is asyncio.current_task() is not None
    assert await inner == (inner, inner)


async def _tasks_seen() -> tuple[object, object]:
    return task_of(asyncio.get_running_loop()), asyncio.current_task()


def test_task_of_is_current_task_itself_where_that_is_not_a_python_function(monkeypatch):
    monkeypatch.setattr(asyncio, "current_task", len)  # stands for 3.12's C function
    assert _dependencies._task_reader() is len


async def _answer_after_a_hop(after: list[str]) -> str:
    await asyncio.sleep(0)
    asyncio.get_running_loop().call_soon(after.append, "ran")  # a close the call's end schedules
    return "done"


@pytest.mark.parametrize("debug", [False, True], ids=["iterations", "run_until_complete"])
def test_run_until_done_runs_the_call_and_what_its_end_scheduled(debug):
    loop = asyncio.new_event_loop()
    loop.set_debug(debug)  # debug mode takes the fallback, run_until_complete
    try:
        after: list[str] = []
        task = loop.create_task(_answer_after_a_hop(after))
        run_until_done(loop, task)
        assert (task.result(), after) == ("done", ["ran"])
        assert not loop.is_running()
        assert running_loop() is None
    finally:
        loop.close()


def test_run_until_done_refuses_a_closed_loop_as_run_until_complete_does():
    loop = asyncio.new_event_loop()
    future = loop.create_future()
    loop.close()
    with pytest.raises(RuntimeError, match="closed"):
        run_until_done(loop, future)


async def _first_step(seen: list[str]) -> None:
    seen.append("step")


def test_loop_runner_gives_back_the_asyncgen_hooks_it_replaced():
    loop = asyncio.new_event_loop()
    try:
        before = sys.get_asyncgen_hooks()
        loop_runner(loop)(loop.create_task(_first_step([])))
        assert sys.get_asyncgen_hooks() == before
    finally:
        loop.close()


async def _note_asyncgen_hooks(seen: list[object]) -> None:
    seen.append(tuple(sys.get_asyncgen_hooks()))


def test_loop_runner_installs_the_asyncgen_hooks_run_until_complete_installs():
    loop = asyncio.new_event_loop()
    try:
        seen: list[object] = []
        loop_runner(loop)(loop.create_task(_note_asyncgen_hooks(seen)))
        loop.run_until_complete(_note_asyncgen_hooks(seen))
        assert seen[0] == seen[1]
        assert seen[0] != tuple(sys.get_asyncgen_hooks())  # the loop's own, not the thread's
    finally:
        loop.close()


def test_otel_provider_probe_reads_the_apis_own_globals():
    """In a subprocess: a global provider can be set once per process."""
    code = (
        "from opentelemetry import trace\n"
        "from opentelemetry.sdk.trace import TracerProvider\n"
        "from llmpipe._dependencies import otel_provider_probe\n"
        "probe = otel_provider_probe()\n"
        "print(probe())\n"
        "trace.set_tracer_provider(TracerProvider())\n"
        "print(probe())\n"
    )
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.split() == ["False", "True"]


def test_otel_provider_probe_without_the_globals_says_set(monkeypatch):
    """Telemetry then always runs, on the API's proxies: correct, not free."""
    from opentelemetry import trace

    monkeypatch.delattr(trace, "_TRACER_PROVIDER")
    assert otel_provider_probe()() is True


def test_write_failed_recognises_aiohttps_own_error():
    error = aiohttp.ClientOSError(None, "Can not write request body for http://h/v1/x")
    assert write_failed(error) is True


def test_write_failed_on_other_wording_says_no_so_the_request_counts_as_a_retry():
    assert write_failed(aiohttp.ClientOSError(104, "Connection reset by peer")) is False
