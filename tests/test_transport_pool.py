"""The pool's gate: at most `limit` calls hold a connection; the rest wait in
turn, and a slot is never lost to a wait that was cancelled."""

from __future__ import annotations

import asyncio

from llmpipe.transport._pool import Gate


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
