"""The sync shim's event loop, driven by the threads that call it.

A loop on a thread of its own costs two thread switches per call (the hand-off
and the wake-up), which measured as much CPU as the rest of a call. Here the
calling thread runs the loop itself. When several threads call at once, one
of them drives: it runs the loop, which progresses every thread's call, until
its own call is done; the others wait and one takes over when it stops. A
caller that is already inside a running loop (Jupyter, async code) cannot
drive, so its call is driven from a short-lived helper thread.

In a forked child (gunicorn, multiprocessing, Celery) the driver lets go of
the parent's loop at the fork (``_fork.watch``: no per-call check) and makes
new locks; its first call makes a new loop. The parent's loop is kept,
untouched (``_fork``).

The loop is asyncio's even where uvloop is installed: on the main thread
uvloop sets up and tears down its signal wake-up (a socketpair,
``set_wakeup_fd``, a poll handle) on every run, and the shim runs its loop
once per call. Measured with ``tests/benchmarks/loop_runs.py`` (CPython
3.11, uvloop 0.23, orjson), one run of a task that returns at once, on the
main thread: asyncio 35k instructions, 3 system calls, 7.6 µs of CPU;
uvloop 71k, 22 and 37 µs, 19 µs of it in the kernel (medians of 15
interleaved repetitions; the two ranges do not meet). A whole sync call on
the main thread: 590k instructions on uvloop against 624k, but 30 system
calls against 15, and those 30 µs more: a net loss. On another thread
uvloop would win (558k, 13 system calls, a run as cheap as asyncio's), but
one loop serves whichever threads call, most often the main one, and a
forked child of a process whose shim ran uvloop crashed (SIGSEGV, the
sync case of ``test_fork``). Async programs that run one loop for their
lifetime gain from uvloop without that cost.

Each call runs the loop until it is done (``_dependencies.loop_runner``),
without the stop-and-restart of ``run_until_complete``, on a loop of its own
making (``_shim_loop``): asyncio's selector loop with ``call_soon`` and each
iteration (``_run_once`` with the epoll poll, the event handling and each
callback's run written into it) in one Python frame, and ``time()`` and
``get_debug()`` in none. Measured with valgrind ([fast], c=1 against nginx,
instructions per call): a sync call 588k before this session, 571k with the
one-frame usual call and ``call_soon``, 562k with the transport's reuse flag
no longer set in each call's fresh context, 545k with the one-frame
iteration (raw aiohttp on asyncio's own loop: 545-555k). An awaited
``AsyncLLM`` call on asyncio's own loop: ~537k. What a sync call still pays
is asyncio's price of a task and a run: the call's task (~17k: Task init,
its first step's Handle, the task registry's WeakSet add and the weakref
callback that removes it, the step); setting up and undoing the run (~5.5k,
~4k of it the thread's asyncgen hooks read, replaced and given back); ~0.35
more loop iterations per call (the call's first step needs an iteration of
its own, and its poll, see ``loop_runner``); the driver's checks and lock
(~1.5k). A driver task kept across calls would save ~4k of the task, not
more: its wake-up needs a Handle too, and running each call in a fresh copy
of its caller's context then needs a Python trampoline around every step of
the call, which costs more than it saves (measured: 17.2k against 16.8k for
a call of one step, and more per further step).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Coroutine
from threading import get_ident
from typing import Any, NoReturn, TypeVar

from llmpipe._dependencies import loop_runner, running_loop
from llmpipe._fork import generation, keep_inherited, watch
from llmpipe._shim_loop import new_shim_loop
from llmpipe.errors import ClientClosedError, LLMError

__all__ = ["LoopDriver"]

T = TypeVar("T")


class _Handover:
    """A call given to the loop while another thread drives it."""

    __slots__ = ("coro", "finished", "future", "task")

    def __init__(self, coro: Coroutine[Any, Any, Any], loop: asyncio.AbstractEventLoop) -> None:
        self.coro = coro
        self.task: asyncio.Task[Any] | None = None
        self.future: asyncio.Future[Any] = loop.create_future()
        self.finished = False

    def start(self, loop: asyncio.AbstractEventLoop, notify: threading.Condition) -> None:
        if self.future.cancelled():  # the caller gave up before its turn
            self.coro.close()
            self._done(notify)
            return
        self.task = loop.create_task(self.coro)
        self.task.add_done_callback(lambda task: self._settle(task, notify))

    def _settle(self, task: asyncio.Task[Any], notify: threading.Condition) -> None:
        if not self.future.done():
            if task.cancelled():
                self.future.cancel()
            elif task.exception() is not None:
                self.future.set_exception(task.exception())  # type: ignore[arg-type]
            else:
                self.future.set_result(task.result())
        self._done(notify)

    def _done(self, notify: threading.Condition) -> None:
        with notify:
            self.finished = True
            notify.notify_all()

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
        elif not self.future.done():
            self.future.cancel()


class LoopDriver:
    """Runs coroutines on one private loop, from any number of threads."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._run_loop: Callable[[asyncio.Future[Any]], None] | None = None  # the loop's runner
        self._drive = threading.Lock()  # held by the thread running the loop
        self._changed = threading.Condition()  # a drive ended, or a handed-over call finished
        self._waiting = 0  # threads waiting on _changed (none: a drive's end notifies nobody)
        self._driver: int | None = None  # ident of the thread driving now
        self._stopped = False
        self._generation = generation()  # the process the loop and locks were made in
        watch(self)  # a forked child lets go of the loop at once: run() need not ask per call

    @property
    def started(self) -> bool:
        """Whether this process made the loop (a forked child has not, until it calls)."""
        return self._loop is not None and self._generation == generation()

    @property
    def loop_closed(self) -> bool:
        """Whether the private loop was made and has been closed since."""
        return self._loop is not None and self._loop.is_closed()

    def _loop_for_call(self) -> asyncio.AbstractEventLoop:
        if self._stopped:
            raise ClientClosedError("this LLM is closed; create a new LLM to send requests")
        if self._generation != generation():
            self._after_fork()
        loop = self._loop
        if loop is None:
            with self._changed:
                if self._loop is None:
                    loop = new_shim_loop()
                    self._run_loop = loop_runner(loop)
                    self._loop = loop
                loop = self._loop
        return loop

    def after_fork(self) -> None:
        """In a forked child, at the fork (``_fork.watch``)."""
        self._after_fork()

    def _after_fork(self) -> None:
        """This process is a fork: leave the parent's loop alone and start afresh.

        A lock held by a parent's thread at the fork stays held in the child
        forever, so the locks are new too.
        """
        if self._loop is not None:
            keep_inherited(self._loop)
        self._loop = None
        self._run_loop = None
        self._drive = threading.Lock()
        self._changed = threading.Condition()
        self._waiting = 0
        self._driver = None
        self._generation = generation()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the private loop and return its result.

        The usual call (a loop of this process, open, none running in this
        thread, no other thread driving) is written out here, in one frame: a
        sync call pays for every Python call. It is ``_drive_call`` and
        ``_drive_until`` inlined, and must stay equal to them
        (``test_loop_driver`` checks both paths give the same outcomes).
        """
        loop = self._loop
        if loop is None or self._stopped or running_loop() is not None:
            return self._run_slow(coro)
        if not self._drive.acquire(False):  # another thread drives (or this one, re-entered)
            return self._run_slow(coro)
        try:
            task = loop.create_task(coro, name=_TASK_NAME)  # a given name: none to format
        except BaseException:
            self._release()
            coro.close()
            if loop.is_closed():  # closed since the check above (close() on another thread)
                raise _closed_error() from None
            raise
        self._driver = get_ident()
        try:
            self._run_loop(task)  # type: ignore[misc]
        except BaseException:
            if not task.done():  # Ctrl-C: let the call unwind and give its connection back
                self._interrupted(task)
                raise
        finally:
            self._driver = None
            self._drive.release()  # _release(), written out
            if self._waiting:
                self._wake_waiters()
        if task.cancelled():
            self._raise_cancelled()
        result: T = task.result()
        return result

    def _run_slow(self, coro: Coroutine[Any, Any, T]) -> T:
        """A call outside the usual: the first, after a fork, after close, or
        from a thread whose own loop is running."""
        try:
            loop = self._loop_for_call()
            if self._driver == get_ident():
                raise LLMError(
                    "the sync LLM cannot be called from its own event loop; use AsyncLLM there"
                )
        except BaseException:
            coro.close()
            raise
        if running_loop() is not None:
            return self._run_from_helper(coro)
        return self._run(loop, coro)

    def _run(self, loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T]) -> T:
        if self._drive.acquire(False):
            return self._drive_call(loop, coro)
        call = _Handover(coro, loop)
        try:
            loop.call_soon_threadsafe(call.start, loop, self._changed)
        except RuntimeError:  # closed between the check and now
            coro.close()
            raise _closed_error() from None
        try:
            with self._changed:
                self._waiting += 1  # before trying the lock: a drive ending after sees it
                try:
                    while not call.finished:
                        if self._drive.acquire(blocking=False):
                            break
                        self._changed.wait()
                finally:
                    self._waiting -= 1
        except BaseException:  # Ctrl-C while waiting for another thread to drive
            loop.call_soon_threadsafe(call.cancel)
            raise
        if not call.finished:  # the previous driver stopped: this thread drives now
            self._drive_until(loop, call.future, call.cancel)
        outcome: T = self._outcome(call.future)
        return outcome

    def _drive_call(self, loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` as a task, driving the loop (the drive lock is held)."""
        if loop.is_closed():
            self._release()
            coro.close()
            raise _closed_error()
        task = loop.create_task(coro, name=_TASK_NAME)  # a given name: none to format per call
        self._drive_until(loop, task, task.cancel)
        if task.cancelled():
            self._raise_cancelled()
        result: T = task.result()
        return result

    def _drive_until(
        self, loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any], cancel: Any
    ) -> None:
        """Run the loop (holding the drive lock) until ``future`` is done."""
        run_loop = self._run_loop
        assert run_loop is not None
        self._driver = get_ident()
        try:
            run_loop(future)
        except BaseException:
            if not future.done():  # else the call's own outcome: _outcome reports it
                self._interrupted(future, cancel)
                raise
        finally:
            self._driver = None
            self._release()

    def _interrupted(self, future: asyncio.Future[Any], cancel: Any = None) -> None:
        """Ctrl-C while driving: cancel the call (``future.cancel`` unless given)
        and run the loop until it has unwound and given its connection back."""
        (cancel or future.cancel)()
        with contextlib.suppress(BaseException):  # its outcome no longer matters
            self._run_loop(future)  # type: ignore[misc]

    def _release(self) -> None:
        """Give up driving; wake the threads waiting to drive, if any (a single
        caller, the usual case, skips the condition's Python-level notify)."""
        self._drive.release()
        if self._waiting:  # read after the release: a waiter counted itself before trying
            self._wake_waiters()

    def _wake_waiters(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def _outcome(self, future: asyncio.Future[Any]) -> Any:
        if future.cancelled():
            self._raise_cancelled()
        return future.result()

    def _raise_cancelled(self) -> NoReturn:
        """A call's task or future was cancelled: by ``close()``, or by Ctrl-C."""
        if self._stopped:
            raise _closed_error()
        raise asyncio.CancelledError

    def _run_from_helper(self, coro: Coroutine[Any, Any, T]) -> T:
        outcome: list[Any] = []

        def drive() -> None:
            try:
                outcome.append((True, self._run(self._loop_for_call(), coro)))
            except BaseException as error:
                outcome.append((False, error))

        helper = threading.Thread(target=drive, name="llmpipe-call", daemon=True)
        helper.start()
        helper.join()
        ok, value = outcome[0]
        if ok:
            result: T = value
            return result
        raise value

    def stop(self, final: Coroutine[Any, Any, None]) -> None:
        """Run ``final`` (the client's close), end what is left, close the loop."""
        loop = self._loop
        if loop is None or self._stopped or not self.started:  # nothing of this process's
            self._stopped = True
            final.close()
            return
        if self._driver == get_ident():  # collected while this thread drives
            self._stopped = True
            loop.create_task(_drain(final))
            return
        self._stopped = True
        if running_loop() is not None:
            helper = threading.Thread(target=self._finish, args=(loop, final), daemon=True)
            helper.start()
            helper.join()
        else:
            self._finish(loop, final)

    def _finish(self, loop: asyncio.AbstractEventLoop, final: Coroutine[Any, Any, None]) -> None:
        try:
            self._run(loop, _drain(final))
        finally:
            with self._changed:
                self._waiting += 1
                try:
                    while not self._drive.acquire(blocking=False):
                        self._changed.wait()
                finally:
                    self._waiting -= 1
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()
            finally:
                self._release()


_TASK_NAME = "llmpipe-sync-call"


def _closed_error() -> ClientClosedError:
    return ClientClosedError("the LLM was closed while this call was in flight")


async def _drain(final: Coroutine[Any, Any, None]) -> None:
    """Close the client, then end every call still on the loop."""
    await final
    current = asyncio.current_task()
    pending = [task for task in asyncio.all_tasks() if task is not current]
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
