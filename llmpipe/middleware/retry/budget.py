"""RetryBudget: retries may add at most a fraction of extra load.

Per-call retry limits do not stop a storm: when a server fails every call,
each call still retries N times and the load multiplies. A budget shared by
all calls of a client caps retries at ``ratio`` of the calls made over a
sliding window, plus a small floor so a quiet client can still retry.
"""

from __future__ import annotations

import collections
import math
import time
from collections.abc import Callable

__all__ = ["RetryBudget"]

_SLOTS = 10


class RetryBudget:
    """Tracks calls and retries over ``window`` seconds, in ten slots."""

    def __init__(
        self,
        ratio: float = 0.2,
        min_per_second: float = 10.0,
        window: float = 10.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ratio < 0 or min_per_second < 0 or window <= 0:
            raise ValueError(
                "RetryBudget needs ratio >= 0, min_per_second >= 0 and window > 0, got "
                f"ratio={ratio!r}, min_per_second={min_per_second!r}, window={window!r}"
            )
        self.ratio = ratio
        self.reserve = min_per_second * window
        self._slot_length = window / _SLOTS
        self.clock = clock
        """Where the budget reads the time (a caller that has just read it may pass it on)."""
        self._slots: collections.deque[list[int]] = collections.deque()  # [slot, calls, retries]
        self._newest = [0, 0, 0]  # the newest slot (a placeholder until the first call)
        self._retries = 0
        self._until = -math.inf  # when the newest slot ends; until then it is the current one

    def __repr__(self) -> str:
        return f"RetryBudget(ratio={self.ratio}, reserve={self.reserve:g})"

    def _current(self) -> list[int]:
        now = self.clock()
        return self._newest if now < self._until else self._advance(now)

    def _advance(self, now: float) -> list[int]:
        """Drop the slots that left the window; the slot of ``now`` becomes the newest."""
        slot = math.floor(now / self._slot_length)
        slots = self._slots
        while slots and slots[0][0] <= slot - _SLOTS:
            self._retries -= slots.popleft()[2]
        if not slots or slots[-1][0] != slot:
            slots.append([slot, 0, 0])
        self._until = (slot + 1) * self._slot_length
        self._newest = slots[-1]
        return self._newest

    def _calls(self) -> int:
        """Calls in the window: summed when a retry asks (rarely), not kept per call."""
        return sum(slot[1] for slot in self._slots)

    def deposit(self, now: float | None = None) -> None:
        """Record one call: it runs per call, so usually one comparison and one addition.

        ``now``: ``clock()``'s reading, when the caller has just taken one (the
        retry layer reads the time for its own use; one read per call is enough).
        """
        if now is None:
            now = self.clock()
        if now < self._until:
            self._newest[1] += 1
        else:
            self._advance(now)[1] += 1

    def withdraw(self) -> bool:
        """Spend one retry if the budget allows it."""
        current = self._current()
        if self._retries + 1 > self.reserve + self.ratio * self._calls():
            return False
        current[2] += 1
        self._retries += 1
        return True

    @property
    def available(self) -> float:
        """Retries that may still be made in the current window."""
        self._current()
        return max(0.0, self.reserve + self.ratio * self._calls() - self._retries)
