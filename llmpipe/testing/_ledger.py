"""The server's mutable state, behind one lock.

Tests queue faults and read recorded requests from their own thread while the
server's handlers run on another (see `LLMServer.run_in_thread`), so every
read and change goes through a lock; one lock keeps `reset` atomic.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .faults import Fault
    from .server import RecordedRequest

__all__ = ["Ledger"]


class Ledger:
    """The fault queue, the recorded requests and the request counter."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: deque[Fault] = deque()
        self._requests: list[RecordedRequest] = []
        self._count = 0

    def add_faults(self, faults: tuple[Fault, ...]) -> None:
        with self._lock:
            self._faults.extend(faults)

    def admit(self, request: RecordedRequest) -> tuple[int, Fault | None]:
        """Record a request; return its number and the fault it consumes, if any."""
        with self._lock:
            self._count += 1
            self._requests.append(request)
            fault = None
            if self._faults and self._faults[0].applies_to(request.path):
                fault = self._faults.popleft()
            return self._count, fault

    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def reset(self) -> None:
        with self._lock:
            self._faults.clear()
            self._requests.clear()
            self._count = 0
