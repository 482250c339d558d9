"""The pool's gate: at most `limit` calls hold a connection; the rest wait in
turn, and a slot is never lost to a wait that was cancelled."""

from __future__ import annotations

import asyncio

import attrs

from llmpipe import AsyncLLM
from llmpipe.testing import Fault
from llmpipe.transport._pool import Gate

MESSAGES = [{"role": "user", "content": "hi"}]


async def test_the_gate_admits_up_to_its_limit_at_once():
    gate = Gate(2)
    assert [gate.take_nowait() for _ in range(3)] == [True, True, False]


async def test_waiters_are_admitted_first_come_first_served():
    gate = Gate(1)
    assert gate.take_nowait()
    order: list[int] = []

    async def wait(number: int) -> None:
        await gate.take(asyncio.get_running_loop())
        order.append(number)

    waiting = [asyncio.create_task(wait(n)) for n in range(3)]
    await asyncio.sleep(0)
    for _ in range(3):
        gate.give()
        await asyncio.sleep(0)
    await asyncio.gather(*waiting)
    assert order == [0, 1, 2]


async def test_a_caller_arriving_while_others_wait_queues_behind_them():
    gate = Gate(1)
    assert gate.take_nowait()
    first = asyncio.create_task(gate.take(asyncio.get_running_loop()))
    await asyncio.sleep(0)
    gate.give()  # handed to the waiter, not left free
    assert gate.take_nowait() is False
    await first


async def test_a_wait_cancelled_after_it_was_handed_a_slot_passes_the_slot_on():
    gate = Gate(1)
    loop = asyncio.get_running_loop()
    assert gate.take_nowait()
    first = asyncio.create_task(gate.take(loop))
    second = asyncio.create_task(gate.take(loop))
    await asyncio.sleep(0)
    gate.give()  # the slot goes to `first`...
    first.cancel()  # ...which is cancelled before it runs again
    await asyncio.gather(first, return_exceptions=True)
    await asyncio.wait_for(second, 1)  # `second` got the slot instead
    assert gate.free == 0


async def test_a_cancelled_wait_is_skipped_and_the_slot_stays_free():
    gate = Gate(1)
    assert gate.take_nowait()
    waiting = asyncio.create_task(gate.take(asyncio.get_running_loop()))
    await asyncio.sleep(0)
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    gate.give()
    assert gate.free == 1
    assert gate.take_nowait()


async def test_plain_calls_past_the_limit_take_turns_and_leave_the_gate_whole(llm_server, config):
    llm_server.add_faults(*[Fault(delay=0.05) for _ in range(3)])
    async with AsyncLLM(attrs.evolve(config, connection_limit=1)) as llm:
        replies = await asyncio.gather(*[llm.chat_completion(MESSAGES) for _ in range(3)])
        pool = llm.transport._pools.current
        assert len(replies) == 3
        assert (pool.gate.free, len(pool.gate.waiters), pool.in_flight) == (1, 0, 0)


async def test_a_pool_retired_during_a_plain_call_closes_when_the_call_ends(llm_server, config):
    llm_server.add_faults(Fault(delay=0.1))
    async with AsyncLLM(config) as llm:
        call = asyncio.create_task(llm.chat_completion(MESSAGES))
        for _ in range(100):  # until the server has the request
            if llm_server.requests:
                break
            await asyncio.sleep(0.01)
        retired = llm.transport._pools.current
        await llm.reset_session()
        assert not retired.closed  # its call is still in flight
        await call
        for _ in range(100):
            if retired.closed:
                break
            await asyncio.sleep(0.01)
        assert (retired.closed, retired.in_flight) == (True, 0)
