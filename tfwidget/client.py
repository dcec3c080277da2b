"""A small client for a TrueFoundry gateway's Agent Harness API, with automatic, visible stream resume.

>>> from tfwidget.client import GatewayClient
>>> with GatewayClient() as client:                       # TFY_GATEWAY_URL and TFY_API_KEY  # doctest: +SKIP
...     for item in client.subscribe(session_id, turn_id):
...         print(item.sequence_number, item.type)

:meth:`GatewayClient.subscribe` yields :class:`~tfwidget.sse.StreamItem` s. When the stream breaks (the body
ends before ``turn.done``, a read times out, the connection fails, the gateway answers 5xx or 504) it asks for
the turn and either subscribes again after the last sequence number it delivered or, when the turn has
finished or its live stream is gone (412), rebuilds the rest from *list turn events* and closes with a
synthesized ``turn.done``. No event is delivered twice and none is lost; every reconnect is reported through
``on_reconnect`` and the subscription's ``reconnects`` list. A drop right after events arrived is resumed at
once; only attempts that make no progress back off (exponentially, with jitter).

The resume logic itself does no I/O (:mod:`tfwidget._resume`): :class:`Subscription` and
:class:`AsyncSubscription` only perform its actions with httpx. :class:`GatewayClient` has sync methods and
``a``-prefixed async twins (``asubscribe``, ``aget_turn``, ...); :class:`AsyncGatewayClient` has the async ones
only. What a gateway can make the client hold or wait for is bounded by :class:`StreamLimits`. The API key is
only ever sent as ``Authorization: Bearer ...``: it is kept out of reprs, log records, error messages and the
local variables of the client's own frames.
"""

from __future__ import annotations

import asyncio
import functools
import os
import socket
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Coroutine, Generator, Iterator
from typing import Any, NamedTuple, Protocol, TypeVar, cast
from urllib.parse import quote

import httpx

from . import artifacts as _artifacts
from ._resume import (
    DONE,
    STREAM_ENCODINGS,
    Call,
    Emit,
    Fetch,
    Flow,
    JsonReader,
    Open,
    Read,
    ReconnectInfo,
    ResumeCore,
    Sleep,
    StreamLimits,
    data_of,
    get_turn_flow,
    next_token,
    turn_events_flow,
    turn_path,
)
from .errors import (
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    GatewayConnectionError,
    GatewayError,
    NotAnEventStreamError,
    NotFoundError,
    ProtocolError,
    RateLimitError,
    ReconnectError,
    ServerError,
    StreamIdleError,
    StreamLimitError,
    scrub,
)
from .events import Event, parse_event
from .sse import MalformedFrame, StreamItem

__all__ = [
    "DEFAULT_TIMEOUT",
    "AsyncGatewayClient",
    "AsyncSubscription",
    "AuthenticationError",
    "ConfigurationError",
    "ConflictError",
    "GatewayClient",
    "GatewayConnectionError",
    "GatewayError",
    "NotAnEventStreamError",
    "NotFoundError",
    "ProtocolError",
    "RateLimitError",
    "ReconnectError",
    "ReconnectInfo",
    "ServerError",
    "SessionEvent",
    "StreamIdleError",
    "StreamLimitError",
    "StreamLimits",
    "Subscription",
]

DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=300.0, write=30.0, pool=10.0)
"""Read timeout long enough for silent tool calls; a timed-out read is resumed, not fatal."""

URL_VARIABLES = ("TFY_GATEWAY_URL", "GATEWAY_BASE_URL")
KEY_VARIABLE = "TFY_API_KEY"

_SESSION_EVENTS_PAGE = 100

# requests are small and latency matters (a resume is a GET and a POST): don't let Nagle hold them back
_SOCKET_OPTIONS = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]

OnReconnect = Callable[[ReconnectInfo], Any]
_UNSET: Any = object()


class SessionEvent(NamedTuple):
    """One entry of *list session events*: the turn it belongs to and the event."""

    turn_id: str
    event: Event


class _BearerAuth(httpx.Auth):
    """Adds ``Authorization: Bearer`` to each request, so no dict of headers holding the key is ever a local."""

    def __init__(self, key: str) -> None:
        self._value = f"Bearer {key}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._value
        yield request

    def __repr__(self) -> str:
        return "<bearer auth ***>"


def _checked_key(key: Any) -> str:
    """The API key with surrounding whitespace removed; a :class:`ConfigurationError` (not echoing it) when
    it cannot be sent as a header."""
    if not isinstance(key, str):
        raise ConfigurationError(f"The API key must be a string, got {type(key).__name__}.")
    key = key.strip()
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in key):
        raise ConfigurationError(
            "The API key contains a control character (such as a line break inside it), so it cannot be sent. "
            "Check TFY_API_KEY (or the api_key argument): copy the key again."
        )
    if not key.isascii():
        raise ConfigurationError(
            "The API key contains a non-ASCII character, so it cannot be sent. Check TFY_API_KEY (or the "
            "api_key argument): copy the key again."
        )
    return str(key)


def _input_items(input: str | list[dict[str, Any]] | dict[str, Any]) -> list[dict[str, Any]]:
    if isinstance(input, str):
        return [{"type": "user.message", "content": input}]
    if isinstance(input, dict):
        return [input]
    if not isinstance(input, (list, tuple)):
        raise TypeError(
            f"input must be a message (str), an input item (dict) or a list of input items, "
            f"got {type(input).__name__}"
        )
    items = list(input)
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise TypeError(f"input[{i}] must be a dict (an input item), got {type(item).__name__}")
    return items


def _sid(session_id: str) -> str:
    if not isinstance(session_id, str) or not session_id:
        raise ValueError("session_id must be a non-empty string")
    return quote(session_id, safe="")


# --------------------------------------------------------------------------- operations, written once


def _list_turns_flow(session_id: str, limit: int | None) -> Flow:
    what = f"the turns of session {session_id!r}"
    path = f"v1/agents/sessions/{_sid(session_id)}/turns"
    params: dict[str, Any] = {"limit": min(limit, 25) if limit is not None else 25}
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    while True:
        page = yield Call("GET", path, what, params)
        out.extend(data_of(page, what))
        token = next_token(page, what, seen)
        if token is None or (limit is not None and len(out) >= limit):
            return out[:limit] if limit is not None else out
        params = {**params, "page_token": token}


def _session_events_flow(session_id: str, last_turn_id: str | None) -> Flow:
    what = f"the events of session {session_id!r}"
    path = f"v1/agents/sessions/{_sid(session_id)}/events"
    params: dict[str, Any] = {"limit": _SESSION_EVENTS_PAGE}
    if last_turn_id:
        params["last_turn_id"] = last_turn_id
    out: list[SessionEvent] = []
    seen: set[str] = set()
    while True:
        page = yield Call("GET", path, what, params)
        for row in data_of(page, what):
            if not isinstance(row, dict) or not isinstance(row.get("event"), dict):
                raise ProtocolError(f"Unexpected entry while listing {what}: {str(row)[:200]!r}")
            out.append(SessionEvent(str(row.get("turn_id")), parse_event(row["event"])))
        token = next_token(page, what, seen)
        if token is None:
            return out
        params = {"limit": _SESSION_EVENTS_PAGE, "page_token": token}


def _parsed_events_flow(session_id: str, turn_id: str) -> Flow:
    listed = yield from turn_events_flow(session_id, turn_id)
    return [parse_event(e) for e in listed]


def _create_session_flow(agent_name: str) -> Flow:
    what = f"a new session of agent {agent_name!r}"
    return data_of((yield Call("POST", "v1/agents/sessions", what, json={"agent_name": agent_name})), what)


def _create_turn_flow(session_id: str, body: dict[str, Any]) -> Flow:
    what = f"a new turn of session {session_id!r}"
    return data_of(
        (yield Call("POST", f"v1/agents/sessions/{_sid(session_id)}/turns", what, json=body)), what
    )


def _cancel_flow(session_id: str) -> Flow:
    yield Call("POST", f"v1/agents/sessions/{_sid(session_id)}/cancel", f"session {session_id!r}", json={})


# --------------------------------------------------------------------------- subscriptions


class _SubscriptionBase:
    """What :class:`Subscription` and :class:`AsyncSubscription` share: a :class:`~tfwidget._resume.ResumeCore`
    and read-only views of it."""

    def __init__(
        self,
        client: _ClientBase,
        session_id: str,
        turn_id: str | None,
        *,
        after_sequence_number: int | None,
        on_reconnect: OnReconnect | None,
        create_body: dict[str, Any] | None = None,
    ) -> None:
        self._client = client
        self.session_id = session_id
        self._core = client._core(session_id, turn_id, after_sequence_number, create_body)
        self._core.on_reconnect = on_reconnect
        self._response: httpx.Response | None = None  # the open stream, closed by close() from anywhere
        self._closed = False
        self._started = False

    @property
    def on_reconnect(self) -> OnReconnect | None:
        return self._core.on_reconnect

    @on_reconnect.setter
    def on_reconnect(self, value: OnReconnect | None) -> None:
        self._core.on_reconnect = value

    @property
    def turn_id(self) -> str | None:
        """The turn followed (for a ``create_turn`` stream: known once ``turn.created`` arrived)."""
        return self._core.turn_id

    @property
    def last_sequence_number(self) -> int | None:
        """The highest sequence number delivered (the resume cursor)."""
        return self._core.delivery.last_seq

    @property
    def reconnects(self) -> list[ReconnectInfo]:
        """Every reconnect attempt so far."""
        return self._core.reconnects

    @property
    def errors(self) -> list[MalformedFrame]:
        """The malformed frames that were reported and skipped."""
        return self._core.errors

    @property
    def failures(self) -> list[BaseException]:
        """The exceptions that caused reconnects."""
        return self._core.failures

    @property
    def anomalies(self) -> list[str]:
        """Oddities that were resolved without losing an event (e.g. an SSE id that jumped ahead)."""
        return self._core.anomalies

    @property
    def malformed(self) -> int:
        """How many malformed frames were reported and skipped (details in :attr:`errors`)."""
        return len(self._core.errors)

    @property
    def delivered(self) -> int:
        """How many items were delivered so far."""
        return self._core.delivery.count

    @property
    def done(self) -> bool:
        """Whether ``turn.done`` (live or synthesized) was delivered."""
        return self._core.delivery.done

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def last_event_at(self) -> float | None:
        """Epoch seconds when the last item was delivered (``None``: none yet)."""
        return self._core.last_event_at

    @property
    def idle_seconds(self) -> float:
        """Seconds since the last item was delivered (or since the subscription started)."""
        return self._core.idle_seconds()

    @property
    def next_attempt_in(self) -> float | None:
        """Seconds until the next reconnect attempt while waiting in backoff (``None`` otherwise)."""
        return self._core.next_attempt_in()

    @property
    def state(self) -> str:
        """``"connecting"``, ``"streaming"``, ``"idle"`` (connected, but no event for ``idle_after`` s: only
        keep-alive comments or nothing), ``"reconnecting"``, ``"done"`` or ``"closed"``."""
        return "closed" if self._closed and not self.done else self._core.state

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} session_id={self.session_id!r} turn_id={self.turn_id!r} "
            f"delivered={self.delivered} last_sequence_number={self.last_sequence_number} "
            f"reconnects={len(self.reconnects)} malformed={self.malformed}>"
        )

    def _start(self) -> None:
        if self._started:
            raise RuntimeError("a subscription can be iterated only once; call subscribe() again")
        self._started = True


async def _batches(sub: _SubscriptionBase, io: _IO) -> AsyncGenerator[list[StreamItem], None]:
    """The one loop performing a subscription's :class:`~tfwidget._resume.ResumeCore` actions.

    It yields batches of items to hand out; ``io`` does the I/O, blocking (:class:`_SyncIO`, driven without an
    event loop by :func:`_sync_iter`) or async (:class:`_AsyncIO`).
    """
    core = sub._core
    while not sub._closed:
        act = core.next_action()
        if isinstance(act, Emit):
            yield act.items
            continue
        if act is DONE:
            return
        try:
            if isinstance(act, Read):
                response = sub._response
                assert response is not None
                chunks = io.chunks(response)
                try:
                    async for chunk in chunks:
                        items = core.data(chunk)
                        if items:
                            yield items
                            if sub._closed:
                                return
                        if core.stop_reading:
                            break
                    if not sub._closed:
                        core.eof()
                finally:
                    sub._response = None
                    await chunks.aclose()
                    await io.close(response)
            elif isinstance(act, Open):
                build = functools.partial(sub._client._stream_request_for, act=act)
                sub._response = response = await io.send(build)
                core.response(response.status_code, response.headers)
            elif isinstance(act, Sleep):
                if act.seconds > 0 and await io.sleep(act.seconds):
                    return  # woken by close()
                core.slept()
            elif isinstance(act, Fetch):
                core.fetched(await sub._client._call_on(io, act.call))
        except Exception as exc:
            if sub._closed:
                return
            core.error(exc)


class Subscription(_SubscriptionBase):
    """A resumable stream of a turn's :class:`~tfwidget.sse.StreamItem` s. Iterate it once.

    Attributes readable during and after iteration: :attr:`reconnects` (list of :class:`ReconnectInfo`),
    :attr:`malformed` (count) and :attr:`errors` (the :class:`~tfwidget.sse.MalformedFrame` s skipped),
    :attr:`failures` (the exceptions that caused reconnects), :attr:`anomalies`, :attr:`last_sequence_number`,
    :attr:`delivered`, :attr:`done`, :attr:`state`, :attr:`last_event_at`. :meth:`close` (also from another
    thread) ends the iteration at once, also during a backoff wait.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._wake = threading.Event()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the stream: the iteration ends quietly and the connection is released."""
        self._closed = True
        self._wake.set()
        resp = self._response
        if resp is not None:
            try:
                resp.close()
            except Exception:  # closing from another thread mid-read may race; the reader sees it closed
                pass

    def __iter__(self) -> Iterator[StreamItem]:
        self._start()
        return self._run()

    def _run(self) -> Iterator[StreamItem]:
        deliver = self._core.deliver
        io = _SyncIO(cast("GatewayClient", self._client), self._wake)
        for batch in _sync_iter(_batches(self, io)):
            for item in batch:
                deliver(item)  # the cursor moves only for what is handed out
                yield item
                if self._closed:
                    return


class AsyncSubscription(_SubscriptionBase):
    """The async counterpart of :class:`Subscription`: ``async for item in sub``; :meth:`aclose` ends it at
    once, also during a backoff wait."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._gen: Any = None
        self._wake = asyncio.Event()

    async def __aenter__(self) -> AsyncSubscription:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop the stream and release the connection."""
        self._closed = True
        self._wake.set()
        gen = self._gen
        if gen is not None and not gen.ag_running:
            await gen.aclose()
        resp = self._response
        if resp is not None:
            await resp.aclose()

    def __aiter__(self) -> AsyncIterator[StreamItem]:
        self._start()
        gen = self._gen = self._run()
        return gen

    async def _run(self) -> AsyncIterator[StreamItem]:
        deliver = self._core.deliver
        batches = _batches(self, _AsyncIO(self._client, self._wake))
        try:
            async for batch in batches:
                for item in batch:
                    deliver(item)
                    yield item
                    if self._closed:
                        return
        finally:
            await batches.aclose()


# --------------------------------------------------------------------------- I/O: blocking or async


class _IO(Protocol):
    """The I/O a subscription or a call needs; everything else is shared."""

    async def send(self, build: Callable[[Any], httpx.Request]) -> httpx.Response: ...

    def chunks(self, response: httpx.Response) -> AsyncGenerator[bytes, None]: ...

    async def close(self, response: httpx.Response) -> None: ...

    async def sleep(self, seconds: float) -> bool: ...


class _SyncIO:
    """Blocking httpx I/O behind ``async def``: it never suspends, so :func:`_sync` / :func:`_sync_iter` run
    the shared coroutines without an event loop."""

    def __init__(self, client: GatewayClient, wake: threading.Event | None = None) -> None:
        self.client = client
        self.wake = wake

    async def send(self, build: Callable[[Any], httpx.Request]) -> httpx.Response:
        http = self.client._sync_http()
        return http.send(build(http), stream=True, auth=self.client._auth)

    async def chunks(self, response: httpx.Response) -> AsyncGenerator[bytes, None]:
        for chunk in response.iter_raw():
            yield chunk

    async def close(self, response: httpx.Response) -> None:
        response.close()

    async def sleep(self, seconds: float) -> bool:
        if self.wake is None:
            time.sleep(seconds)
            return False
        return self.wake.wait(seconds)


class _AsyncIO:
    """httpx's async I/O on the running event loop."""

    def __init__(self, client: _ClientBase, wake: asyncio.Event | None = None) -> None:
        self.client = client
        self.wake = wake

    async def send(self, build: Callable[[Any], httpx.Request]) -> httpx.Response:
        http = self.client._async_http()
        return await http.send(build(http), stream=True, auth=self.client._auth)

    async def chunks(self, response: httpx.Response) -> AsyncGenerator[bytes, None]:
        async for chunk in response.aiter_raw():
            yield chunk

    async def close(self, response: httpx.Response) -> None:
        await response.aclose()

    async def sleep(self, seconds: float) -> bool:
        if self.wake is None:
            await asyncio.sleep(seconds)
            return False
        try:
            await asyncio.wait_for(self.wake.wait(), seconds)
        except asyncio.TimeoutError:
            return False
        return True


_T = TypeVar("_T")


def _sync(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run a coroutine that never suspends (its I/O is :class:`_SyncIO`) to its result."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    coro.close()
    raise RuntimeError("blocking I/O suspended: a coroutine awaited something other than _SyncIO")


def _sync_iter(agen: AsyncGenerator[_T, None]) -> Iterator[_T]:
    """Iterate an async generator that never suspends (its I/O is :class:`_SyncIO`), without an event loop."""
    try:
        while True:
            step = agen.__anext__()
            try:
                step.send(None)
            except StopIteration as stop:
                yield stop.value
                continue
            except StopAsyncIteration:
                return
            step.close()
            raise RuntimeError(
                "blocking I/O suspended: an async generator awaited something other than _SyncIO"
            )
    finally:
        closing = agen.aclose()
        try:
            closing.send(None)
        except (StopIteration, StopAsyncIteration):
            pass


# --------------------------------------------------------------------------- the clients


class _ClientBase:
    """Configuration, request building and the I/O primitives shared by both clients."""

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: httpx.Timeout | float | None = _UNSET,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        max_reconnects: int = 10,
        backoff: float = 0.5,
        max_backoff: float = 15.0,
        limits: StreamLimits | None = None,
    ) -> None:
        if base_url is None:
            base_url = next((os.environ[v] for v in URL_VARIABLES if os.environ.get(v)), None)
        if api_key is None:
            api_key = os.environ.get(KEY_VARIABLE) or None
        if isinstance(base_url, str):
            base_url = base_url.strip()
        if api_key is not None:
            api_key = _checked_key(api_key)
        missing = []
        if not base_url:
            missing.append("TFY_GATEWAY_URL (or GATEWAY_BASE_URL), or pass base_url=")
        if not api_key:
            missing.append("TFY_API_KEY, or pass api_key=")
        if missing:
            raise ConfigurationError(
                "The gateway client is not configured: set " + " and ".join(missing) + ". "
                "The URL is your TrueFoundry gateway, e.g. https://<host>/<tenant>."
            )
        assert base_url is not None and api_key is not None
        if not base_url.startswith(("http://", "https://")):
            raise ConfigurationError(
                f"The gateway URL must start with http:// or https://, got {scrub(base_url, api_key)!r} "
                "(check TFY_GATEWAY_URL or the base_url argument)."
            )
        if max_reconnects < 0:
            raise ValueError("max_reconnects must be >= 0")
        if limits is not None and not isinstance(limits, StreamLimits):
            raise TypeError(f"limits must be a StreamLimits, not {type(limits).__name__}")
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._auth = _BearerAuth(api_key)
        self._explicit_timeout = timeout is not _UNSET
        self.timeout = DEFAULT_TIMEOUT if timeout is _UNSET else httpx.Timeout(timeout)
        self.max_reconnects = max_reconnects
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.limits = limits or StreamLimits()
        self._user_http = http_client
        self._user_async_http = async_http_client
        self._http: httpx.Client | None = None
        self._ahttp: httpx.AsyncClient | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, api_key=***)"

    # -- plumbing
    def _url(self, path: str) -> str:
        return f"{self.base_url}/{path}"

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        h = {"User-Agent": "tfwidget", "Accept-Encoding": STREAM_ENCODINGS}
        if extra:
            h.update(extra)
        return h

    def _timeout_for(
        self, http: httpx.Client | httpx.AsyncClient, read: float | None = None
    ) -> httpx.Timeout:
        t = self.timeout if ((http is not self._user_http and http is not self._user_async_http)
                             or self._explicit_timeout) else http.timeout  # fmt: skip
        if read is not None and (t.read is None or read < t.read):
            t = httpx.Timeout(connect=t.connect, read=read, write=t.write, pool=t.pool)
        return t

    def _core(
        self, session_id: str, turn_id: str | None, after: int | None, create_body: dict[str, Any] | None
    ) -> ResumeCore:
        return ResumeCore(session_id, turn_id, after=after, create_body=create_body, base_url=self.base_url,
                          secret=self._api_key, max_reconnects=self.max_reconnects, backoff=self.backoff,
                          max_backoff=self.max_backoff, limits=self.limits,
                          read_timeout=self.timeout.read)  # fmt: skip

    def _request_for(self, http: httpx.Client | httpx.AsyncClient, call: Call) -> httpx.Request:
        return http.build_request(call.method, self._url(call.path), params=call.params, json=call.json,
                                  headers=self._headers(), timeout=self._timeout_for(http))  # fmt: skip

    def _stream_request_for(self, http: httpx.Client | httpx.AsyncClient, act: Open) -> httpx.Request:
        return http.build_request("POST", self._url(act.path), json=act.body, headers=self._headers(act.headers),
                                  timeout=self._timeout_for(http, act.read_timeout))  # fmt: skip

    def _reader(self, response: httpx.Response, call: Call) -> JsonReader:
        return JsonReader(response.status_code, response.headers, self.limits, call.what, self._api_key)

    def _unreachable(self, exc: BaseException) -> GatewayConnectionError:
        """The error for a gateway that cannot be reached at all (refused, unknown host)."""
        return self._core("-", "-", None, None).unreachable(exc)

    # -- async I/O (both clients have the async methods)
    def _async_http(self) -> httpx.AsyncClient:
        if self._user_async_http is not None:
            return self._user_async_http
        if self._ahttp is None or self._ahttp.is_closed:
            self._ahttp = httpx.AsyncClient(
                timeout=self.timeout,
                follow_redirects=False,
                transport=httpx.AsyncHTTPTransport(socket_options=_SOCKET_OPTIONS),
            )
        return self._ahttp

    async def _call_on(self, io: _IO, call: Call) -> Any:
        """Perform one JSON call with ``io``: its answer (read under the limits), or its typed error."""
        try:
            response = await io.send(lambda http: self._request_for(http, call))
        except httpx.ConnectError as exc:
            raise self._unreachable(exc) from exc
        try:
            reader = self._reader(response, call)
            chunks = io.chunks(response)
            try:
                async for chunk in chunks:
                    if reader.feed(chunk):
                        break
            finally:
                await chunks.aclose()
        finally:
            await io.close(response)
        return reader.result()

    async def _run_flow(self, io: _IO, flow: Flow) -> Any:
        """Perform every call of an operation's flow; its return value."""
        call = next(flow)
        while True:
            result = await self._call_on(io, call)
            try:
                call = flow.send(result)
            except StopIteration as stop:
                return stop.value

    async def _adrive(self, flow: Flow) -> Any:
        return await self._run_flow(_AsyncIO(self), flow)

    async def aclose(self) -> None:
        """Close the client's own HTTP connections (clients passed in are left open)."""
        ahttp, self._ahttp = self._ahttp, None
        if ahttp is not None:
            await ahttp.aclose()
        http, self._http = self._http, None
        if http is not None:
            http.close()

    # -- async methods
    def asubscribe(
        self,
        session_id: str,
        turn_id: str,
        *,
        after_sequence_number: int | None = None,
        on_reconnect: OnReconnect | None = None,
    ) -> AsyncSubscription:
        """Follow a turn's events live: ``async for item in client.asubscribe(...)`` (see ``subscribe``)."""
        turn_path(session_id, turn_id)
        return AsyncSubscription(
            self, session_id, turn_id, after_sequence_number=after_sequence_number, on_reconnect=on_reconnect
        )

    async def aget_turn(self, session_id: str, turn_id: str) -> dict[str, Any]:
        """The ``Turn`` object (``id``, ``session_id``, ``state`` {``status``, ...}, ``input``, ...)."""
        return await self._adrive(get_turn_flow(session_id, turn_id))  # type: ignore[no-any-return]

    async def alist_turns(self, session_id: str, *, limit: int | None = None) -> list[dict[str, Any]]:
        """The session's turns, newest first (``limit``: at most this many, one request)."""
        return await self._adrive(_list_turns_flow(session_id, limit))  # type: ignore[no-any-return]

    async def alist_turn_events(self, session_id: str, turn_id: str) -> list[Event]:
        """All merged events of a finished turn (see ``list_turn_events``)."""
        return await self._adrive(_parsed_events_flow(session_id, turn_id))  # type: ignore[no-any-return]

    async def alist_session_events(
        self, session_id: str, *, last_turn_id: str | None = None
    ) -> list[SessionEvent]:
        """All events of a session's finished turns (every page, newest first, ``turn.*`` included)."""
        return await self._adrive(_session_events_flow(session_id, last_turn_id))  # type: ignore[no-any-return]

    async def adownload_sandbox_file(
        self,
        sandbox_id: str,
        path: str,
        *,
        max_bytes: int = _artifacts.DEFAULT_MAX_BYTES,
        to: str | os.PathLike[str] | None = None,
        on_progress: Callable[[int, int | None], Any] | None = None,
    ) -> _artifacts.SandboxFile:
        """Download a sandbox file (see :meth:`GatewayClient.download_sandbox_file`)."""
        return await _artifacts.adownload(
            self, sandbox_id, path, max_bytes=max_bytes, to=to, on_progress=on_progress
        )

    async def acreate_session(self, agent_name: str) -> dict[str, Any]:
        """Create a session for an agent; returns the ``Session`` object (``id``, ...)."""
        return await self._adrive(_create_session_flow(agent_name))  # type: ignore[no-any-return]

    async def acreate_turn(
        self,
        session_id: str,
        input: str | list[dict[str, Any]] | dict[str, Any],
        *,
        previous_turn_id: str = "auto",
        stream: bool = True,
        on_reconnect: OnReconnect | None = None,
    ) -> Any:
        """Start (or continue) a turn (``stream=True`` returns an :class:`AsyncSubscription`)."""
        body = _create_turn_body(input, previous_turn_id, stream, session_id)
        if stream:
            return AsyncSubscription(self, session_id, None, after_sequence_number=None,
                                     on_reconnect=on_reconnect, create_body=body)  # fmt: skip
        return await self._adrive(_create_turn_flow(session_id, body))

    async def acancel(self, session_id: str) -> None:
        """Cancel the session's running turn (idempotent)."""
        await self._adrive(_cancel_flow(session_id))


def _create_turn_body(input: Any, previous_turn_id: str, stream: bool, session_id: str) -> dict[str, Any]:
    body = {"input": _input_items(input), "previous_turn_id": previous_turn_id, "stream": bool(stream)}
    _sid(session_id)
    return body


class AsyncGatewayClient(_ClientBase):
    """The async client: the same arguments, limits and behaviour as :class:`GatewayClient`, with only the
    ``a``-prefixed async methods (``asubscribe``, ``aget_turn``, ``alist_turns``, ``acreate_turn``, ...).
    ``async with AsyncGatewayClient() as client:`` closes its connections at the end (:meth:`aclose`).
    """

    async def __aenter__(self) -> AsyncGatewayClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class GatewayClient(_ClientBase):
    """Client for a TrueFoundry gateway's agent sessions and turns (sync methods and ``a``-prefixed async twins).

    Args:
        base_url: the gateway URL, e.g. ``https://<host>/<tenant>`` (default: ``TFY_GATEWAY_URL``, else
            ``GATEWAY_BASE_URL``).
        api_key: the API key (default: ``TFY_API_KEY``); surrounding whitespace is removed; only ever sent as
            ``Authorization: Bearer``.
        timeout: httpx timeouts; the read timeout should outlast silent tool calls (a read that times out
            is resumed anyway).
        http_client / async_http_client: httpx clients to use instead of the client's own (they are not
            closed by :meth:`close`; their own timeout applies unless ``timeout`` is given).
        max_reconnects: consecutive failed reconnects (without any new item in between) before a stream
            gives up with :class:`~tfwidget.errors.ReconnectError`.
        backoff / max_backoff: first and largest reconnect delay in seconds for attempts that make no
            progress (exponential, with jitter); a drop after events arrived is resumed at once.
        limits: :class:`StreamLimits` (sizes, decompression, server-requested delays, idle deadline).

    Raises:
        ConfigurationError: the URL or key is missing, or the key contains a control character.
    """

    def _sync_http(self) -> httpx.Client:
        if self._user_http is not None:
            return self._user_http
        with self._lock:
            if self._http is None or self._http.is_closed:
                self._http = httpx.Client(
                    timeout=self.timeout,
                    follow_redirects=False,
                    transport=httpx.HTTPTransport(socket_options=_SOCKET_OPTIONS),
                )
            return self._http

    def _drive(self, flow: Flow) -> Any:
        return _sync(self._run_flow(_SyncIO(self), flow))

    # -- lifecycle
    def close(self) -> None:
        """Close the client's own sync HTTP connections (use :meth:`aclose` for the async ones too)."""
        http, self._http = self._http, None
        if http is not None:
            http.close()

    def __enter__(self) -> GatewayClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> GatewayClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- streams
    def subscribe(
        self,
        session_id: str,
        turn_id: str,
        *,
        after_sequence_number: int | None = None,
        on_reconnect: OnReconnect | None = None,
    ) -> Subscription:
        """Follow a turn's events live (replaying from the start, or after ``after_sequence_number``).

        Returns a :class:`Subscription`: iterate it for :class:`~tfwidget.sse.StreamItem` s; it stops after
        ``turn.done`` and resumes automatically across dropped connections (see the module docs).
        Nothing is sent before iteration starts.
        """
        turn_path(session_id, turn_id)
        return Subscription(
            self, session_id, turn_id, after_sequence_number=after_sequence_number, on_reconnect=on_reconnect
        )

    # -- turns
    def get_turn(self, session_id: str, turn_id: str) -> dict[str, Any]:
        """The ``Turn`` object (``id``, ``session_id``, ``state`` {``status``, ...}, ``input``, ...)."""
        return self._drive(get_turn_flow(session_id, turn_id))  # type: ignore[no-any-return]

    def list_turns(self, session_id: str, *, limit: int | None = None) -> list[dict[str, Any]]:
        """The session's ``Turn`` objects, newest first (``limit``: at most this many, e.g. ``1`` for the
        newest; default: every page)."""
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise ValueError("limit must be a positive int or None")
        return self._drive(_list_turns_flow(session_id, limit))  # type: ignore[no-any-return]

    def list_turn_events(self, session_id: str, turn_id: str) -> list[Event]:
        """All merged events of a finished turn (every page, oldest first; no deltas, no ``turn.*``).

        Raises :class:`~tfwidget.errors.ConflictError` (409) while the turn is still running.
        """
        return self._drive(_parsed_events_flow(session_id, turn_id))  # type: ignore[no-any-return]

    def list_session_events(self, session_id: str, *, last_turn_id: str | None = None) -> list[SessionEvent]:
        """All events of a session's finished turns (every page, newest first, ``turn.*`` included)."""
        return self._drive(_session_events_flow(session_id, last_turn_id))  # type: ignore[no-any-return]

    # -- sessions
    def download_sandbox_file(
        self,
        sandbox_id: str,
        path: str,
        *,
        max_bytes: int = _artifacts.DEFAULT_MAX_BYTES,
        to: str | os.PathLike[str] | None = None,
        on_progress: Callable[[int, int | None], Any] | None = None,
    ) -> _artifacts.SandboxFile:
        """Download a file from an agent's sandbox (``GET v1/agents/sandbox/{sandbox_id}/file?path=``).

        Streams the body, refusing more than ``max_bytes`` (default 100 MiB) before or while reading. With
        ``to`` (a file, or a folder to put the file's name in) the bytes go to disk (via ``NAME.part``, renamed
        when complete) and ``data`` is ``None``; else they are in ``data``. ``on_progress(received, total)``
        is called per chunk (``total`` from ``Content-Length``, or ``None``).

        Raises:
            ValueError: ``path`` is not absolute or has a ``..`` segment (nothing is requested).
            SandboxFileNotFoundError: HTTP 404. SandboxGoneError: HTTP 410 (the sandbox was removed).
            FileTooLargeError: HTTP 413, or over ``max_bytes``. SandboxUnavailableError: HTTP 424.
        """
        return _artifacts.download(
            self, sandbox_id, path, max_bytes=max_bytes, to=to, on_progress=on_progress
        )

    def create_session(self, agent_name: str) -> dict[str, Any]:
        """Create a session for an agent; returns the ``Session`` object (``id``, ...)."""
        return self._drive(_create_session_flow(agent_name))  # type: ignore[no-any-return]

    def create_turn(
        self,
        session_id: str,
        input: str | list[dict[str, Any]] | dict[str, Any],
        *,
        previous_turn_id: str = "auto",
        stream: bool = True,
        on_reconnect: OnReconnect | None = None,
    ) -> Any:
        """Start (or continue) a turn.

        ``input``: a string (one ``user.message``) or a list of input items (sent as is). With
        ``stream=True`` (default) returns a :class:`Subscription` over the new turn's events (resumed like
        :meth:`subscribe` once its ``turn.created`` arrived); the request is sent when iteration starts. With
        ``stream=False`` returns the ``Turn`` object.
        """
        body = _create_turn_body(input, previous_turn_id, stream, session_id)
        if stream:
            return Subscription(self, session_id, None, after_sequence_number=None, on_reconnect=on_reconnect,
                                create_body=body)  # fmt: skip
        return self._drive(_create_turn_flow(session_id, body))

    def cancel(self, session_id: str) -> None:
        """Cancel the session's running turn (idempotent); its stream then ends with a cancelled ``turn.done``."""
        self._drive(_cancel_flow(session_id))
