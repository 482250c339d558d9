"""Chaos mode: the test server misbehaves at random, reproducibly.

Scripted `Fault`s test one failure at a time; a client that must survive a
flaky server under load needs failures mixed into real traffic. Give
`LLMServer(chaos=Chaos(seed=7, rate=0.1))` and each request that consumes no
scripted fault is, with probability `rate`, answered with one of the
misbehaviours below instead, picked by weight among those that apply to it:

    rate_limit               429 with Retry-After / retry-after-ms
    server_error             500, 502, 503 or 504 with an OpenAI-style JSON error
    html_error               502, 503 or 504 with a proxy's HTML page
    reset                    the connection is reset (RST) before any header
    close_mid_body           (plain) the headers and half the body, then a close
    drop_before_first_event  (stream) the headers, then a close before any event
    truncated_stream         (stream) 1 to 3 events, then a close
    error_event              (stream) 1 to 3 events, then an error event (500)
    stall                    nothing for `stall_seconds`, then the proper answer
    invalid_json             200 application/json, cut off mid-object
    wrong_content_type       200 text/plain holding a line of text, not JSON
    empty_body               200 application/json with zero bytes
    huge_body                200 with `huge_bytes` of body, sent in pieces
    slow                     the proper answer, byte by byte over `slow_seconds`

The fate of request n depends only on the seed and n (a random generator is
seeded with both), so a run's faults are the same whatever the timing; under
concurrency, which caller's request gets number n is up to the scheduler.
Every fault applied is logged (`Chaos.log`, `LLMServer.chaos_log`) with the
request's number, which is also its `x-request-id` ("req-<n>") and its
position in `LLMServer.requests`, so a test can match each outcome to its
cause.
"""

from __future__ import annotations

import collections
import enum
import math
import random
import threading
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from ._stunts import Stunt, close_mid_body, huge_body, reset, slow, wants_stream
from .faults import Fault

__all__ = ["RETRYABLE", "Chaos", "ChaosKind", "ChaosRecord"]


class ChaosKind(enum.StrEnum):
    """The misbehaviours chaos mode can pick (see the module docstring)."""

    RATE_LIMIT = "rate_limit"
    SERVER_ERROR = "server_error"
    HTML_ERROR = "html_error"
    RESET = "reset"
    CLOSE_MID_BODY = "close_mid_body"
    DROP_BEFORE_FIRST_EVENT = "drop_before_first_event"
    TRUNCATED_STREAM = "truncated_stream"
    ERROR_EVENT = "error_event"
    STALL = "stall"
    INVALID_JSON = "invalid_json"
    WRONG_CONTENT_TYPE = "wrong_content_type"
    EMPTY_BODY = "empty_body"
    HUGE_BODY = "huge_body"
    SLOW = "slow"


# The kinds a client should retry: nothing of the answer has reached its caller.
RETRYABLE = frozenset(
    {
        ChaosKind.RATE_LIMIT,
        ChaosKind.SERVER_ERROR,
        ChaosKind.HTML_ERROR,
        ChaosKind.RESET,
        ChaosKind.CLOSE_MID_BODY,
        ChaosKind.DROP_BEFORE_FIRST_EVENT,
        ChaosKind.STALL,
    }
)
_PLAIN_ONLY = frozenset({ChaosKind.CLOSE_MID_BODY})
_STREAM_ONLY = frozenset(
    {ChaosKind.DROP_BEFORE_FIRST_EVENT, ChaosKind.TRUNCATED_STREAM, ChaosKind.ERROR_EVENT}
)
_HTML_PAGE = (
    "<html><head><title>{0} {1}</title></head><body><center><h1>{0} {1}</h1></center>"
    "<hr><center>nginx</center></body></html>"
)
_REASONS = {502: "Bad Gateway", 503: "Service Temporarily Unavailable", 504: "Gateway Time-out"}
_PLAIN_TEXT = "upstream connect error or disconnect/reset before headers"


@attrs.frozen
class ChaosRecord:
    """One fault chaos mode applied: to request `number`, which kind, and its detail."""

    number: int
    path: str
    stream: bool
    kind: ChaosKind
    detail: str  # e.g. "503", "after 2 events"


Mischief = Fault | Stunt


def _weights(faults: Mapping[str, float] | Iterable[str]) -> dict[ChaosKind, float]:
    pairs = faults.items() if isinstance(faults, Mapping) else ((kind, 1.0) for kind in faults)
    weights = {ChaosKind(kind): float(weight) for kind, weight in pairs}
    if not weights or any(not math.isfinite(w) or w < 0 for w in weights.values()):
        raise ValueError("Chaos faults need at least one kind, and weights that are >= 0")
    if not any(weights.values()):
        raise ValueError("Chaos faults need at least one kind with a weight above 0")
    return weights


def _rate(_: Chaos, __: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"Chaos rate must be between 0 and 1, got {value!r}")


@attrs.define
class Chaos:
    """Seeded, per-request fault injection for `LLMServer(chaos=...)`.

    `faults` is a mapping of kind to weight, or a list of kinds (equal
    weights); all kinds by default. `limit` stops injecting after that many
    faults (`Chaos.only(kind, times=2)`: the first two requests fail, the
    rest succeed). The shapes of the faults: `retry_after` seconds in 429s,
    `stall_seconds` of silence, `huge_bytes` of body, `slow_seconds` to drip
    a whole answer.
    """

    seed: int = 0
    rate: float = attrs.field(default=0.1, validator=_rate)
    faults: Mapping[ChaosKind, float] = attrs.field(
        factory=lambda: dict.fromkeys(ChaosKind, 1.0), converter=_weights
    )
    limit: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.ge(0))
    )
    retry_after: float = attrs.field(default=1.0, validator=attrs.validators.ge(0.0))
    stall_seconds: float = attrs.field(default=60.0, validator=attrs.validators.gt(0.0))
    huge_bytes: int = attrs.field(default=64 * 1024 * 1024, validator=attrs.validators.ge(1))
    slow_seconds: float = attrs.field(default=0.2, validator=attrs.validators.ge(0.0))
    _lock: threading.Lock = attrs.field(init=False, factory=threading.Lock, repr=False, eq=False)
    _log: list[ChaosRecord] = attrs.field(init=False, factory=list, repr=False, eq=False)

    @classmethod
    def only(cls, kind: str, times: int | None = 1, **shape: Any) -> Chaos:
        """Apply `kind` to the first `times` requests it applies to (None: to all)."""
        return cls(rate=1.0, faults=[kind], limit=times, **shape)

    @property
    def log(self) -> list[ChaosRecord]:
        """A copy of the faults applied so far, in the order they were applied."""
        with self._lock:
            return list(self._log)

    def counts(self) -> collections.Counter[ChaosKind]:
        """How many faults of each kind were applied."""
        return collections.Counter(record.kind for record in self.log)

    def choose(self, number: int, path: str, body: Any) -> Mischief | None:
        """What to do to request `number` instead of answering it, if anything."""
        stream = wants_stream(path, body)
        rng = random.Random(f"{self.seed}/{number}")  # noqa: S311 - chaos, not security
        if rng.random() >= self.rate:
            return None
        kinds = [k for k, w in self.faults.items() if w > 0 and _applies(k, stream)]
        if not kinds:
            return None
        kind = rng.choices(kinds, weights=[self.faults[k] for k in kinds])[0]
        mischief, detail = self._make(kind, rng)
        with self._lock:
            if self.limit is not None and len(self._log) >= self.limit:
                return None
            self._log.append(ChaosRecord(number, path, stream, kind, detail))
        return mischief

    def _make(self, kind: ChaosKind, rng: random.Random) -> tuple[Mischief, str]:
        """The fault or stunt for `kind`, and its detail for the log."""
        if kind is ChaosKind.RATE_LIMIT:
            wait = {
                "Retry-After": str(math.ceil(self.retry_after)),
                "retry-after-ms": str(round(self.retry_after * 1000)),
            }
            return Fault(status=429, headers=wait), f"retry after {self.retry_after:g} s"
        if kind is ChaosKind.SERVER_ERROR:
            status = rng.choice((500, 502, 503, 504))
            return Fault(status=status), str(status)
        if kind is ChaosKind.HTML_ERROR:
            status = rng.choice((502, 503, 504))
            page = _HTML_PAGE.format(status, _REASONS[status])
            return Fault(status=status, body=page), f"{status} html"
        if kind is ChaosKind.DROP_BEFORE_FIRST_EVENT:
            return Fault(drop_after_events=0), "after 0 events"
        if kind in (ChaosKind.TRUNCATED_STREAM, ChaosKind.ERROR_EVENT):
            events = rng.randint(1, 3)
            if kind is ChaosKind.TRUNCATED_STREAM:
                return Fault(drop_after_events=events), f"after {events} events"
            return Fault(error_after_events=events, status=500), f"500 after {events} events"
        if kind is ChaosKind.STALL:
            return Fault(delay=self.stall_seconds), f"{self.stall_seconds:g} s"
        if kind is ChaosKind.INVALID_JSON:
            return Fault(malformed=True), "cut off mid-object"
        if kind is ChaosKind.WRONG_CONTENT_TYPE:
            return Fault(body=_PLAIN_TEXT, content_type="text/plain"), "text/plain"
        if kind is ChaosKind.EMPTY_BODY:
            return Fault(body=b"", content_type="application/json"), "0 bytes"
        return self._stunt(kind)

    def _stunt(self, kind: ChaosKind) -> tuple[Mischief, str]:
        if kind is ChaosKind.RESET:
            return reset, "RST"
        if kind is ChaosKind.CLOSE_MID_BODY:
            return close_mid_body, "half the body"
        if kind is ChaosKind.HUGE_BODY:
            return huge_body(self.huge_bytes), f"{self.huge_bytes} bytes"
        return slow(self.slow_seconds), f"over {self.slow_seconds:g} s"


def _applies(kind: ChaosKind, stream: bool) -> bool:
    return kind not in (_PLAIN_ONLY if stream else _STREAM_ONLY)
