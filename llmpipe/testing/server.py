"""`LLMServer`: a real OpenAI-compatible HTTP server for tests and demos.

Clients are tested over loopback HTTP against it, so everything between the
client and the wire (sessions, timeouts, retries, error mapping) runs for
real. Faults queued with `add_faults` script the failures that are hard to
get from a real provider on demand.

Each request is handled in this order: number it and record it; apply the
fault at the head of the queue if it matches, or else whatever chaos mode
(`chaos.py`) picks for it; check the API key; answer (a stream with the
fault's stream fields applied, if any).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hmac
import json
import ssl
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar

import attrs
from aiohttp import web

from ._api_error import ApiError
from ._checks import streaming
from ._connections import ConnectionCount, CountingServer
from ._events import send_events
from ._ledger import Ledger
from ._load import Load
from ._replies import drop, error_reply, fault_reply, json_reply
from ._routes import ROUTES, Route
from ._stunts import Scene
from ._thread import ServerThread
from .chaos import Chaos, ChaosRecord
from .faults import Fault
from .latency import Latency

__all__ = ["DEFAULT_MODELS", "LLMServer", "RecordedRequest"]

DEFAULT_MODELS = ("gpt-4", "gpt-4o-mini", "llama-3-8b-instruct")
# Seconds stop() waits for handlers still running; delayed faults end at once.
_SHUTDOWN_TIMEOUT = 0.5

# What a request that consumes no fault is answered with: nothing scripted.
_NO_FAULT = Fault()

_Server = TypeVar("_Server", bound="LLMServer")  # typing.Self needs Python 3.11


@attrs.frozen
class RecordedRequest:
    """A request as the server received it, for tests to assert on."""

    method: str
    path: str
    headers: Mapping[str, str]  # a plain dict, names in the case received
    json: Any  # the decoded body, or None if it was empty or not JSON
    received_at: float  # time.monotonic()


class LLMServer:
    """An OpenAI-compatible server: /v1/chat/completions, /v1/completions (both
    can stream), /v1/embeddings and /v1/models, under `base_url`.

    Start it on the running loop with `async with server:` (or `start`/`stop`),
    or on a loop of its own with `with server.run_in_thread():`. Listens on
    127.0.0.1 by default; `port=0` picks a free port. With `api_key`, every
    request must carry `Authorization: Bearer <api_key>`. Streams send
    `stream_words_per_event` words of content per event (default 1). With
    `chaos`, requests that consume no scripted fault may misbehave at random
    (`Chaos`); `chaos_log` says which did, and how.

    For fleets (several servers behind one routing client): `latency` is a
    `Latency` profile every request waits out before it is handled;
    `capacity` caps the requests in flight, refusing the others with a 429
    carrying `capacity_retry_after` (`Retry-After` and `retry-after-ms`);
    `go_down()` and `come_back()` stop and resume serving on the same port.

    Like the servers clients meet: `keepalive_timeout` closes a connection
    idle that long (uvicorn's default is 5 s, aiohttp's 75 s); `ssl_context`
    serves HTTPS (require client certificates on it for mutual TLS);
    `unix_socket` listens on that path instead of TCP (`base_url` is then
    `http://localhost`, for the Host header).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        models: Sequence[str] = DEFAULT_MODELS,
        api_key: str | None = None,
        stream_words_per_event: int = 1,
        chaos: Chaos | None = None,
        *,
        latency: Latency | None = None,
        capacity: int | None = None,
        capacity_retry_after: float = 0.1,
        keepalive_timeout: float = 75.0,
        ssl_context: ssl.SSLContext | None = None,
        unix_socket: str | None = None,
    ) -> None:
        if (
            isinstance(stream_words_per_event, bool)
            or not isinstance(stream_words_per_event, int)
            or stream_words_per_event < 1
        ):
            raise ValueError(
                f"stream_words_per_event must be an integer >= 1, got {stream_words_per_event!r}"
            )
        self._host = host
        self._port = port
        self._models = tuple(models)
        self._api_key = api_key
        self._words_per_event = stream_words_per_event
        self._chaos = chaos
        self._keepalive_timeout = keepalive_timeout
        self._ssl_context = ssl_context
        self._unix_socket = unix_socket
        self._ledger = Ledger()
        self._connections = ConnectionCount()
        self._load = Load(latency, capacity, capacity_retry_after)
        self._runner: web.ServerRunner | None = None
        self._bound_port: int | None = None
        self._down_port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = asyncio.Event()

    @property
    def port(self) -> int:
        """The port the server listens on (the real one when created with port=0)."""
        port = self._bound_port if self._bound_port is not None else self._down_port
        if port is None:
            raise RuntimeError("the server is not running")
        return port

    @property
    def base_url(self) -> str:
        """E.g. "http://127.0.0.1:8080", without the /v1 prefix."""
        if self._unix_socket is not None:
            if self._runner is None:
                raise RuntimeError("the server is not running")
            return "http://localhost"
        host = f"[{self._host}]" if ":" in self._host else self._host
        scheme = "http" if self._ssl_context is None else "https"
        return f"{scheme}://{host}:{self.port}"

    @property
    def connections(self) -> int:
        """The number of client TCP connections open to the server right now.

        Counted when the socket opens and closes, whether or not a request is
        in flight; readable from any thread. The server learns of a close a
        moment after the client makes it, so poll rather than read once.
        """
        return self._connections.value

    @property
    def latency(self) -> Latency | None:
        """The latency profile requests wait out (None: they are answered at once)."""
        return self._load.latency

    @property
    def in_flight(self) -> int:
        """Requests being handled now (a stream until its last byte); any thread."""
        return self._load.in_flight

    @property
    def refused(self) -> int:
        """Requests refused with 429 for arriving beyond `capacity`."""
        return self._load.refused

    @property
    def peak_in_flight(self) -> int:
        """The most requests that were in flight at once."""
        return self._load.peak

    @property
    def down(self) -> bool:
        """Whether `go_down()` has stopped the server (until `come_back()`)."""
        return self._down_port is not None

    async def go_down(self) -> None:
        """Stop listening and close every connection (requests in flight are cut
        off), keeping the port for `come_back()`: clients get refused connections.
        Callable from any thread's loop."""
        await self._on_own_loop(self._go_down)

    async def come_back(self) -> None:
        """Serve again on the same port after `go_down()`. Callable from any thread's loop."""
        await self._on_own_loop(self._come_back)

    async def _go_down(self) -> None:
        if self._runner is None:
            raise RuntimeError("the server is not running")
        port = self.port
        await self.stop()
        self._port = self._down_port = port

    async def _come_back(self) -> None:
        if self._down_port is None:
            raise RuntimeError("the server is not down: call go_down() first")
        await self.start()
        self._down_port = None

    async def _on_own_loop(self, action: Callable[[], Any]) -> None:
        """Run ``action()`` on the loop the server runs on, from whichever loop calls."""
        loop = self._loop
        if loop is None or loop is asyncio.get_running_loop():
            await action()
            return
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(action(), loop))

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of the requests received so far, oldest first."""
        return self._ledger.requests()

    @property
    def chaos_log(self) -> list[ChaosRecord]:
        """The faults chaos mode applied so far (none without chaos), oldest first."""
        return [] if self._chaos is None else self._chaos.log

    def add_faults(self, *faults: Fault) -> None:
        """Queue faults; each matching request consumes the one at the head."""
        self._ledger.add_faults(faults)

    def reset(self) -> None:
        """Forget queued faults and recorded requests, and restart numbering at 1."""
        self._ledger.reset()

    async def start(self) -> None:
        """Start serving on the running loop; return once the port is listening."""
        if self._runner is not None:
            raise RuntimeError("the server is already running")
        # The low-level server, not a web.Application: one handler serves every
        # path, and the server is where connections can be counted.
        server = CountingServer(
            self._handle,
            self._connections,
            access_log=None,
            keepalive_timeout=self._keepalive_timeout,
        )
        runner = web.ServerRunner(server, shutdown_timeout=_SHUTDOWN_TIMEOUT)
        await runner.setup()
        site: web.BaseSite
        if self._unix_socket is not None:
            site = web.UnixSite(runner, self._unix_socket)
        else:
            site = web.TCPSite(runner, self._host, self._port, ssl_context=self._ssl_context)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._stopping = asyncio.Event()
        self._runner = runner
        if self._unix_socket is None:
            self._bound_port = runner.addresses[0][1]
        self._loop = asyncio.get_running_loop()

    async def stop(self) -> None:
        """Stop serving and close every connection; a no-op if not running."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self._stopping.set()
        self._bound_port = None
        await runner.cleanup()

    async def serve_forever(self, ready: Callable[[str], None] | None = None) -> None:
        """Start, call `ready(base_url)` once listening, serve until cancelled, then stop."""
        await self.start()
        try:
            if ready is not None:
                ready(self.base_url)
            await asyncio.Event().wait()
        finally:
            # Shielded: stopping in a task that is being cancelled would turn
            # aiohttp's shutdown timeouts into errors.
            await asyncio.shield(self.stop())

    @contextlib.contextmanager
    def run_in_thread(self: _Server) -> Iterator[_Server]:
        """Serve from a daemon thread with its own loop while the block runs."""
        thread = ServerThread(self.serve_forever)
        thread.start()
        try:
            yield self
        finally:
            thread.stop()

    async def __aenter__(self: _Server) -> _Server:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        return await self._load.handle(request, self._respond, self._pause)

    async def _respond(self, request: web.BaseRequest) -> web.StreamResponse:
        body, parsed = _decode(await request.read())
        number, fault = self._ledger.admit(
            RecordedRequest(
                method=request.method,
                path=request.path,
                headers=dict(request.headers),
                json=body,
                received_at=time.monotonic(),
            )
        )
        headers = {"x-request-id": f"req-{number}"}
        if fault is None and self._chaos is not None:
            chosen = self._chaos.choose(number, request.path, body)
            if callable(chosen):  # a stunt: a reply no Fault can script
                resolve = functools.partial(self._resolve, request, body, parsed, number)
                scene = Scene(request, body, headers, resolve, self._words_per_event, self._pause)
                return await chosen(scene)
            fault = chosen
        fault = fault or _NO_FAULT
        if fault.delay_before_answer and not await self._pause(fault.delay_before_answer):
            return drop(request)  # the server is stopping: do not keep it waiting
        if fault.drop:
            return drop(request)
        headers.update(fault.headers)
        echo = _bearer_token(request) if fault.echo_key else None
        if fault.replaces_answer:
            return _with_headers(fault_reply(fault, echo), headers)
        return await self._answer(request, body, parsed, number, headers, fault, echo)

    async def _answer(
        self,
        request: web.BaseRequest,
        body: Any,
        parsed: bool,
        number: int,
        headers: Mapping[str, str],
        fault: Fault,
        echo: str | None,
    ) -> web.StreamResponse:
        try:
            route, reply = self._resolve(request, body, parsed, number)
        except ApiError as error:
            return _with_headers(error_reply(error), headers)
        if route.chunker is not None:
            stream, include_usage = streaming(body)
            if stream:
                chunks = route.chunker(reply, include_usage, self._words_per_event)
                latency = self._load.latency
                per_event = 0.0 if latency is None else latency.per_event
                return await send_events(
                    request, chunks, headers, fault, self._pause, echo, per_event
                )
        return _with_headers(json_reply(reply), headers)

    def _resolve(
        self, request: web.BaseRequest, body: Any, parsed: bool, number: int
    ) -> tuple[Route, dict[str, Any]]:
        """The route and its reply payload, or the ApiError a real server would send."""
        self._check_api_key(request)
        route = ROUTES.get(request.path)
        if route is None:
            raise ApiError(404, f"Invalid URL ({request.method} {request.path}).")
        if request.method != route.method:
            raise ApiError(405, f"Method {request.method} is not allowed on {request.path}.")
        if route.method == "POST" and not parsed:
            raise ApiError(400, "We could not parse the JSON body of your request.")
        return route, route.endpoint(body, self._models, number)

    def _check_api_key(self, request: web.BaseRequest) -> None:
        if self._api_key is None:
            return
        sent = request.headers.get("Authorization", "")
        expected = f"Bearer {self._api_key}"
        if not hmac.compare_digest(sent.encode(), expected.encode()):
            # Never echo what was sent: it may be a real key sent by mistake.
            raise ApiError(401, "Incorrect API key provided.", code="invalid_api_key")

    async def _pause(self, seconds: float) -> bool:
        """Wait `seconds`; False if the server began stopping first."""
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            return True
        return False


def _with_headers(response: web.Response, headers: Mapping[str, str]) -> web.Response:
    response.headers.update(headers)
    return response


def _bearer_token(request: web.BaseRequest) -> str:
    """The key the request carried: its `Authorization: Bearer` token, or ""."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token if scheme.lower() == "bearer" else ""


def _decode(raw: bytes) -> tuple[Any, bool]:
    """The body decoded as JSON (None if it is not), and whether it was JSON."""
    try:
        return json.loads(raw), True
    except ValueError:
        return None, False
