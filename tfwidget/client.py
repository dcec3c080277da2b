"""A small client for a TrueFoundry gateway's Agent Harness API, with automatic, visible stream resume.

>>> from tfwidget.client import GatewayClient
>>> with GatewayClient() as client:                       # TFY_GATEWAY_URL and TFY_API_KEY  # doctest: +SKIP
...     for item in client.subscribe(session_id, turn_id):
...         print(item.sequence_number, item.type)

:meth:`GatewayClient.subscribe` yields :class:`~tfwidget.sse.StreamItem` s. When the stream breaks (the body
ends before ``turn.done``, a read times out, the connection fails, the gateway answers 5xx or 504) it backs off,
asks for the turn, and either subscribes again after the last sequence number it delivered or, when the turn
has finished or its live stream is gone (412), rebuilds the rest from *list turn events* and closes with a
synthesized ``turn.done``. No event is delivered twice and none is lost; every reconnect is reported through
``on_reconnect`` and the subscription's ``reconnects`` list.

Every method has an ``a``-prefixed async twin (``asubscribe``, ``aget_turn``, ...). The API key is only ever
sent as ``Authorization: Bearer ...``: it is kept out of reprs, log records and error messages.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import socket
import threading
import time
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple
from urllib.parse import quote

import httpx
from httpx_sse import EventSource, ServerSentEvent

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
    error_from_response,
    scrub,
    snippet_of,
)
from .events import _VALIDATE_JSON as _validate_event_json
from .events import Event, EventParseError, ModelMessageDeltaEvent, parse_event
from .sse import MalformedFrame, MalformedFrameWarning, StreamItem, item_from_frame

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
    "Subscription",
]

logger = logging.getLogger("tfwidget.client")

DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=300.0, write=30.0, pool=10.0)
"""Read timeout long enough for silent tool calls; a timed-out read is resumed, not fatal."""

URL_VARIABLES = ("TFY_GATEWAY_URL", "GATEWAY_BASE_URL")
KEY_VARIABLE = "TFY_API_KEY"

_TURN_EVENTS_PAGE = 25
_SESSION_EVENTS_PAGE = 100
_MAX_RETRY_AFTER = 600.0
_ERROR_BODY_LIMIT = 4096

# failures worth resuming from (anything else is raised to the caller at once)
_TRANSIENT_HTTPX = (httpx.TransportError,)  # timeouts, connection errors, protocol errors
_TRANSIENT_GATEWAY = (ServerError, RateLimitError, GatewayConnectionError)

# requests are small and latency matters (a resume is a GET and a POST): don't let Nagle hold them back
_SOCKET_OPTIONS = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]

OnReconnect = Callable[["ReconnectInfo"], Any]
_UNSET: Any = object()


@dataclass(frozen=True, slots=True)
class ReconnectInfo:
    """One reconnect attempt of a subscription, as reported to ``on_reconnect``.

    Attributes:
        attempt: 1 for the first reconnect of the subscription, then 2, 3, ... (never reset).
        reason: why the stream was resumed (e.g. ``"read timeout"``, ``"HTTP 503"``, ``"stream ended before
            turn.done"``).
        after_sequence_number: the cursor resumed from (the last sequence number delivered), or ``None``.
        delay: seconds waited before this attempt (backoff, ``retry:`` or ``Retry-After``).
        mode: ``"subscribe"`` (the live stream was opened again after the cursor) or ``"rebuild"`` (the rest
            of the turn comes from *list turn events*).
        replayed: for ``"rebuild"``, how many items the rebuild delivers (synthesized ``turn.done``
            included); ``None`` for ``"subscribe"`` or when the attempt failed.
        ok: whether the attempt connected (``False``: it failed and another attempt follows).
        error: the failure of this attempt, when it failed (scrubbed text), else ``None``.
    """

    attempt: int
    reason: str
    after_sequence_number: int | None
    delay: float
    mode: Literal["subscribe", "rebuild"]
    replayed: int | None = None
    ok: bool = True
    error: str | None = None


class SessionEvent(NamedTuple):
    """One entry of *list session events*: the turn it belongs to and the event."""

    turn_id: str
    event: Event


# --------------------------------------------------------------------------- delivery bookkeeping


class _Delivery:
    """What a subscription delivered: sequence numbers, event ids, finished messages. Shared by sync/async.

    A model message is complete once its finishing delta (``finish_reason``; the protocol puts it, with the
    usage, on a message's last delta) was delivered: sequence numbers are dense, so nothing before it was
    skipped. When a turn is rebuilt from its listed events, the merged version of every message that is not
    complete is delivered (the fold replaces the partial one by id); complete ones are not sent again.
    """

    def __init__(self, after: int | None) -> None:
        # sequence numbers are dense and ordered within a turn: anything at or below the cursor was delivered
        self.last_seq: int | None = after
        self.ids: set[str] = set()
        self.finished: set[str] = set()  # model messages whose finishing delta (or merged version) came
        self.with_usage: set[str] = set()  # model messages whose usage came
        self.count = 0
        self.gaps = 0
        self.created = after is not None and after > 0  # a cursor means turn.created came before
        self.done = False
        self.turn_id: str | None = None

    def wants(self, item: StreamItem) -> bool:
        seq = item.sequence_number
        last = self.last_seq
        return seq is None or last is None or seq > last

    def record(self, item: StreamItem) -> None:
        seq = item.sequence_number
        if seq is not None:
            last = self.last_seq
            if last is not None and seq != last + 1:
                self.gaps += 1
                logger.warning(
                    "sequence numbers jumped from %s to %s: events in between were never sent", last, seq
                )
            self.last_seq = seq
        self.count += 1
        ev = item.event
        if type(ev) is ModelMessageDeltaEvent:  # the hot path: one per token
            if ev.finish_reason:
                self.finished.add(ev.id)
            if ev.usage is not None:
                self.with_usage.add(ev.id)
            return
        etype = ev.type
        if (
            etype == "model.message.delta"
        ):  # a delta whose fields did not fit the model (kept as UnknownEvent)
            return  # never counts as finishing its message: a rebuild sends the merged version
        self.ids.add(ev.id)
        if etype == "model.message":
            if getattr(ev, "finish_reason", None):
                self.finished.add(ev.id)
            if getattr(ev, "usage", None) is not None:
                self.with_usage.add(ev.id)
        elif etype == "turn.created":
            self.created = True
            tid = getattr(ev, "turn_id", None)
            if tid:
                self.turn_id = tid
        elif etype == "turn.done":
            self.done = True

    def complete(self, merged: Any) -> bool:
        """Whether what was delivered of this message already equals its listed merged version."""
        mid = merged.id
        return mid in self.finished and (mid in self.with_usage or getattr(merged, "usage", None) is None)

    def rebuild(self, turn: dict[str, Any], listed: list[dict[str, Any]]) -> list[StreamItem]:
        """Items completing the turn from its listed (merged) events and its final state."""
        now = time.time()
        out: list[StreamItem] = []
        if not self.created:
            created = {
                "type": "turn.created",
                "id": f"{turn.get('id')}:turn.created",
                "created_at": turn.get("created_at"),
                "thread_id": None,
                "turn_id": turn.get("id"),
                "previous_turn_id": turn.get("previous_turn_id"),
                "input": turn.get("input") or [],
                "state": {"status": "running"},
                "created_by": turn.get("created_by_subject"),
            }
            out.append(StreamItem(None, parse_event(created), now, None, True))
        for obj in listed:
            try:
                ev = parse_event(obj)
            except EventParseError as err:
                warnings.warn(
                    str(MalformedFrame(f"listed event: {err}", json.dumps(obj)[:200], None)),
                    MalformedFrameWarning,
                    stacklevel=3,
                )
                continue
            etype = ev.type
            if etype in ("model.message.delta", "turn.created", "turn.done"):
                continue
            if etype == "model.message":
                if self.complete(ev):
                    continue
            elif ev.id in self.ids:
                continue
            out.append(StreamItem(None, ev, now, json.dumps(obj, ensure_ascii=False), False))
        state = turn.get("state") or {}
        done = {
            "type": "turn.done",
            "id": f"{turn.get('id')}:turn.done",
            "created_at": state.get("completed_at") or turn.get("created_at"),
            "thread_id": None,
            "state": state,
        }
        out.append(StreamItem(None, parse_event(done), now, None, True))
        return out


def _status_of(turn: dict[str, Any]) -> str:
    state = turn.get("state")
    if isinstance(state, dict) and isinstance(state.get("status"), str):
        return state["status"]
    raise ProtocolError(f"The gateway's turn object has no state.status: {str(turn)[:200]!r}")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return f"{type(exc).__name__.replace('Timeout', ' timeout').strip().lower()}"
    if isinstance(exc, GatewayError) and exc.status is not None:
        return f"HTTP {exc.status}"
    if isinstance(exc, httpx.TransportError):
        return f"connection error ({type(exc).__name__})"
    return type(exc).__name__


# --------------------------------------------------------------------------- subscriptions


class _SubscriptionBase:
    """State and reporting shared by :class:`Subscription` and :class:`AsyncSubscription`."""

    def __init__(
        self,
        client: GatewayClient,
        session_id: str,
        turn_id: str | None,
        *,
        after_sequence_number: int | None,
        on_reconnect: OnReconnect | None,
        create_body: dict[str, Any] | None = None,
    ) -> None:
        if after_sequence_number is not None and (
            isinstance(after_sequence_number, bool) or not isinstance(after_sequence_number, int)
        ):
            raise TypeError("after_sequence_number must be an int or None")
        if after_sequence_number is not None and after_sequence_number < 0:
            raise ValueError("after_sequence_number must be >= 0")
        self._client = client
        self.session_id = session_id
        self._turn_id = turn_id
        self._create_body = create_body
        self.on_reconnect = on_reconnect
        self._delivery = _Delivery(after_sequence_number)
        self.reconnects: list[ReconnectInfo] = []
        self.errors: list[MalformedFrame] = []
        self.failures: list[BaseException] = []
        self._retry_ms: int | None = None
        self._retry_after: float | None = None
        self._consecutive = 0
        self._attempts = 0
        self._connected = False  # whether the gateway ever answered this subscription
        self._closed = False
        self._started = False

    # -- public read-only views
    @property
    def turn_id(self) -> str | None:
        """The turn followed (for a ``create_turn`` stream: known once ``turn.created`` arrived)."""
        return self._turn_id or self._delivery.turn_id

    @property
    def last_sequence_number(self) -> int | None:
        """The highest sequence number delivered (the resume cursor)."""
        return self._delivery.last_seq

    @property
    def malformed(self) -> int:
        """How many malformed frames were reported and skipped (details in :attr:`errors`)."""
        return len(self.errors)

    @property
    def delivered(self) -> int:
        """How many items were delivered so far."""
        return self._delivery.count

    @property
    def done(self) -> bool:
        """Whether ``turn.done`` (live or synthesized) was delivered."""
        return self._delivery.done

    @property
    def closed(self) -> bool:
        return self._closed

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} session_id={self.session_id!r} turn_id={self.turn_id!r} "
            f"delivered={self.delivered} last_sequence_number={self.last_sequence_number} "
            f"reconnects={len(self.reconnects)} malformed={self.malformed}>"
        )

    # -- helpers used by both drivers
    def _start(self) -> None:
        if self._started:
            raise RuntimeError("a subscription can be iterated only once; call subscribe() again")
        self._started = True

    def _what(self) -> str:
        if self.turn_id is None:
            return f"a new turn of session {self.session_id!r}"
        return f"turn {self.turn_id!r} of session {self.session_id!r}"

    def _subscribe_request(self) -> tuple[str, dict[str, Any], dict[str, str]]:
        if self.turn_id is None:
            raise ReconnectError(
                f"The stream of {self._what()} broke before its turn.created event, so the turn's id is "
                "unknown and the stream cannot be resumed. List the session's turns to find it.",
                cause=self.failures[-1] if self.failures else None,
                attempts=self._attempts,
            )
        path = (
            f"v1/agents/sessions/{quote(self.session_id, safe='')}/turns/"
            f"{quote(self.turn_id, safe='')}/subscribe"
        )
        cursor = self._delivery.last_seq
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-store"}
        if cursor is None:
            body: dict[str, Any] = {}
        else:
            body = {"after_sequence_number": cursor}
            headers["Last-Event-Id"] = str(cursor)
        return path, body, headers

    def _create_request(self) -> tuple[str, dict[str, Any], dict[str, str]]:
        path = f"v1/agents/sessions/{quote(self.session_id, safe='')}/turns"
        assert self._create_body is not None
        return path, self._create_body, {"Accept": "text/event-stream", "Cache-Control": "no-store"}

    def _failed(self, exc: BaseException) -> str:
        """Record a failure; raise :class:`ReconnectError` when too many came in a row without progress."""
        self.failures.append(exc)
        self._consecutive += 1
        reason = scrub(_reason(exc), self._client._api_key)
        ra = getattr(exc, "retry_after", None)
        if isinstance(ra, (int, float)):
            self._retry_after = min(float(ra), _MAX_RETRY_AFTER)
        if self._consecutive > self._client.max_reconnects:
            detail = scrub(str(exc) or type(exc).__name__, self._client._api_key)
            raise ReconnectError(
                f"Gave up resuming the stream of {self._what()} after {self._consecutive - 1} reconnect "
                f"attempts without progress (last failure: {detail}). Check the gateway URL and your network, "
                "or raise max_reconnects.",
                cause=exc,
                attempts=self._attempts,
            ) from exc
        logger.debug("stream of %s interrupted: %s", self._what(), reason)
        return reason

    def _next_delay(self) -> float:
        c = self._client
        base = self._retry_ms / 1000.0 if self._retry_ms is not None else c.backoff
        # the server's retry: hint raises the floor; max_backoff caps the exponential growth above it
        d = min(max(c.max_backoff, base), base * (2 ** max(0, self._consecutive - 1)))
        d = d / 2 + random.uniform(0, d / 2)
        if self._retry_after is not None:
            d = max(d, self._retry_after)
            self._retry_after = None
        return d

    def _report(
        self,
        reason: str,
        delay: float,
        mode: Literal["subscribe", "rebuild"],
        replayed: int | None,
        error: BaseException | None = None,
    ) -> None:
        err = scrub(str(error) or type(error).__name__, self._client._api_key) if error is not None else None
        info = ReconnectInfo(
            attempt=self._attempts,
            reason=reason,
            after_sequence_number=self._delivery.last_seq,
            delay=delay,
            mode=mode,
            replayed=replayed,
            ok=error is None,
            error=err,
        )
        self.reconnects.append(info)
        if error is None:
            logger.info(
                "resumed %s (attempt %d, %s after sequence number %s, reason: %s, waited %.2fs%s)",
                self._what(),
                info.attempt,
                mode,
                info.after_sequence_number,
                reason,
                delay,
                f", {replayed} events replayed" if replayed is not None else "",
            )
        else:
            logger.info(
                "reconnect attempt %d for %s failed (%s): %s",
                info.attempt,
                self._what(),
                mode,
                _reason(error),
            )
        if self.on_reconnect is not None:
            self.on_reconnect(info)

    def _frame(self, sse: ServerSentEvent, prev_id: str | None) -> StreamItem | None:
        """Convert one httpx-sse frame; report malformed ones. ``None``: nothing to deliver."""
        if sse.retry is not None:
            self._retry_ms = sse.retry
        data = sse.data
        if not data:
            return None  # comment-only / retry-only / keep-alive frame
        sse_id = sse.id or None
        if sse_id is not None and sse_id != prev_id:
            # the hot path, one per token: a well-formed frame of a known event type
            try:
                item = StreamItem(int(sse_id), _validate_event_json(data), time.time(), data)
            except ValueError:  # a bad id, bad JSON or an unknown type: the careful path below reports it
                pass
            else:
                last = self._delivery.last_seq
                if last is not None and item.sequence_number <= last:  # type: ignore[operator]
                    return None
                return item
        if sse_id is not None and sse_id == prev_id:
            # httpx-sse repeats the previous id for a frame that had no id line
            res: StreamItem | MalformedFrame = MalformedFrame("frame without an SSE id", data, None)
        else:
            res = item_from_frame(data, sse_id)
        if isinstance(res, MalformedFrame):
            self.errors.append(res)
            warnings.warn(str(res), MalformedFrameWarning, stacklevel=4)
            return None
        if not self._delivery.wants(res):
            return None
        return res

    def _check_stream_response(self, response: httpx.Response, head: bytes) -> None:
        ctype = response.headers.get("content-type", "")
        body = head.decode("utf-8", "replace")
        snippet = snippet_of(body, self._client._api_key, 200)
        raise NotAnEventStreamError(
            f"Expected an event stream (text/event-stream) for {self._what()}, but the gateway answered HTTP "
            f"{response.status_code} with content type {ctype or 'none'!r}. Check that TFY_GATEWAY_URL points "
            f"at the gateway API (it should end with the tenant path, e.g. https://<host>/<tenant>). Body "
            f"starts: {snippet!r}",
            status=response.status_code,
            body_snippet=snippet,
        )


class Subscription(_SubscriptionBase):
    """A resumable stream of a turn's :class:`~tfwidget.sse.StreamItem` s. Iterate it once.

    Attributes readable during and after iteration: :attr:`reconnects` (list of :class:`ReconnectInfo`),
    :attr:`malformed` (count) and :attr:`errors` (the :class:`~tfwidget.sse.MalformedFrame` s skipped),
    :attr:`failures` (the exceptions that caused reconnects), :attr:`last_sequence_number`,
    :attr:`delivered`, :attr:`done`. :meth:`close` (also from another thread) ends the iteration.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._response: httpx.Response | None = None
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

    def _open(self, first: bool) -> httpx.Response:
        c = self._client
        if first and self._create_body is not None:
            path, body, headers = self._create_request()
        else:
            path, body, headers = self._subscribe_request()
        http = c._sync_http()
        request = http.build_request(
            "POST", c._url(path), json=body, headers=c._headers(headers), timeout=c._timeout_for(http)
        )
        response = http.send(request, stream=True)
        try:
            if response.status_code >= 300:
                response.read()
                text = response.text[:_ERROR_BODY_LIMIT]
                raise error_from_response(
                    response.status_code, text, secret=c._api_key, what=self._what(), headers=response.headers
                )
            if "text/event-stream" not in response.headers.get("content-type", ""):
                head = b""
                for chunk in response.iter_bytes():
                    head += chunk
                    if len(head) >= 2048:
                        break
                self._check_stream_response(response, head)
        except BaseException:
            response.close()
            raise
        return response

    def _run(self) -> Iterator[StreamItem]:
        c = self._client
        d = self._delivery
        reason: str | None = None
        first = True
        while not self._closed:
            delay = 0.0
            mode: Literal["subscribe", "rebuild"] = "subscribe"
            turn: dict[str, Any] | None = None
            if reason is not None:
                self._attempts += 1
                delay = self._next_delay()
                logger.debug("reconnecting to %s in %.2fs (%s)", self._what(), delay, reason)
                if delay > 0 and self._wake.wait(delay):
                    return
                if self._closed:
                    return
                if self.turn_id is not None:
                    try:
                        turn = c.get_turn(self.session_id, self.turn_id)
                        if _status_of(turn) != "running":
                            mode = "rebuild"
                    except (*_TRANSIENT_HTTPX, *_TRANSIENT_GATEWAY) as exc:
                        self._report(reason, delay, "subscribe", None, exc)
                        reason = self._failed(exc)
                        continue
            if mode == "subscribe":
                try:
                    response = self._open(first)
                except ConflictError as exc:
                    if exc.status != 412 or (first and self._create_body is not None):
                        raise
                    if reason is None:  # 412 on the very first subscribe: an expired stream
                        self._attempts += 1
                        reason = "HTTP 412 (live stream gone)"
                    mode = "rebuild"
                    self.failures.append(exc)
                except (*_TRANSIENT_HTTPX, *_TRANSIENT_GATEWAY) as exc:
                    if not self._connected and isinstance(exc, httpx.ConnectError):
                        raise self._client._unreachable(
                            exc
                        ) from exc  # never reached: a wrong URL, not a drop
                    if first and self._create_body is not None:
                        raise  # creating a turn is not idempotent: never retried blindly
                    if reason is not None:
                        self._report(reason, delay, "subscribe", None, exc)
                    first = False
                    reason = self._failed(exc)
                    continue
                else:
                    first = False
                    self._connected = True
                    if reason is not None:
                        self._report(reason, delay, "subscribe", None)
                    self._response = response
                    prev_id: str | None = None
                    try:
                        for sse in EventSource(response).iter_sse():
                            item = self._frame(sse, prev_id)
                            prev_id = sse.id or prev_id
                            if item is None:
                                continue
                            d.record(item)
                            self._consecutive = 0
                            yield item
                            if d.done or self._closed:
                                return
                        if self._closed:
                            return
                        self._failed(ProtocolError("stream ended before turn.done"))
                        reason = "stream ended before turn.done"
                    except (*_TRANSIENT_HTTPX, httpx.StreamError) as exc:
                        if self._closed:
                            return
                        reason = self._failed(exc)
                    finally:
                        self._response = None
                        response.close()
                    continue
            # rebuild from the listed events
            first = False
            assert reason is not None
            try:
                if turn is None or _status_of(turn) == "running":
                    turn = c.get_turn(self.session_id, self.turn_id or "")
                listed = c._list_turn_events_raw(self.session_id, self.turn_id or "")
            except (*_TRANSIENT_HTTPX, *_TRANSIENT_GATEWAY, ConflictError) as exc:
                # 409: the turn is still running, its events cannot be listed yet: try again later
                self._report(reason, delay, "rebuild", None, exc)
                reason = self._failed(exc)
                continue
            items = d.rebuild(turn, listed)
            self._report(reason, delay, "rebuild", len(items))
            for item in items:
                d.record(item)
                self._consecutive = 0
                yield item
                if self._closed:
                    return
            return


class AsyncSubscription(_SubscriptionBase):
    """The async twin of :class:`Subscription`: ``async for item in sub``; :meth:`aclose` ends it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._response: httpx.Response | None = None
        self._gen: Any = None

    async def __aenter__(self) -> AsyncSubscription:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop the stream and release the connection."""
        self._closed = True
        gen = self._gen
        if gen is not None and not gen.ag_running:
            await gen.aclose()
        resp = self._response
        if resp is not None:
            await resp.aclose()

    def __aiter__(self) -> AsyncIterator[StreamItem]:
        self._start()
        self._gen = self._run()
        return self._gen

    async def _open(self, first: bool) -> httpx.Response:
        c = self._client
        if first and self._create_body is not None:
            path, body, headers = self._create_request()
        else:
            path, body, headers = self._subscribe_request()
        http = c._async_http()
        request = http.build_request(
            "POST", c._url(path), json=body, headers=c._headers(headers), timeout=c._timeout_for(http)
        )
        response = await http.send(request, stream=True)
        try:
            if response.status_code >= 300:
                await response.aread()
                text = response.text[:_ERROR_BODY_LIMIT]
                raise error_from_response(
                    response.status_code, text, secret=c._api_key, what=self._what(), headers=response.headers
                )
            if "text/event-stream" not in response.headers.get("content-type", ""):
                head = b""
                async for chunk in response.aiter_bytes():
                    head += chunk
                    if len(head) >= 2048:
                        break
                self._check_stream_response(response, head)
        except BaseException:
            await response.aclose()
            raise
        return response

    async def _run(self) -> AsyncIterator[StreamItem]:
        c = self._client
        d = self._delivery
        reason: str | None = None
        first = True
        while not self._closed:
            delay = 0.0
            mode: Literal["subscribe", "rebuild"] = "subscribe"
            turn: dict[str, Any] | None = None
            if reason is not None:
                self._attempts += 1
                delay = self._next_delay()
                logger.debug("reconnecting to %s in %.2fs (%s)", self._what(), delay, reason)
                if delay > 0:
                    await asyncio.sleep(delay)
                if self._closed:
                    return
                if self.turn_id is not None:
                    try:
                        turn = await c.aget_turn(self.session_id, self.turn_id)
                        if _status_of(turn) != "running":
                            mode = "rebuild"
                    except (*_TRANSIENT_HTTPX, *_TRANSIENT_GATEWAY) as exc:
                        self._report(reason, delay, "subscribe", None, exc)
                        reason = self._failed(exc)
                        continue
            if mode == "subscribe":
                try:
                    response = await self._open(first)
                except ConflictError as exc:
                    if exc.status != 412 or (first and self._create_body is not None):
                        raise
                    if reason is None:
                        self._attempts += 1
                        reason = "HTTP 412 (live stream gone)"
                    mode = "rebuild"
                    self.failures.append(exc)
                except (*_TRANSIENT_HTTPX, *_TRANSIENT_GATEWAY) as exc:
                    if not self._connected and isinstance(exc, httpx.ConnectError):
                        raise self._client._unreachable(
                            exc
                        ) from exc  # never reached: a wrong URL, not a drop
                    if first and self._create_body is not None:
                        raise
                    if reason is not None:
                        self._report(reason, delay, "subscribe", None, exc)
                    first = False
                    reason = self._failed(exc)
                    continue
                else:
                    first = False
                    self._connected = True
                    if reason is not None:
                        self._report(reason, delay, "subscribe", None)
                    self._response = response
                    prev_id: str | None = None
                    sse_iter = EventSource(response).aiter_sse()
                    try:
                        async for sse in sse_iter:
                            item = self._frame(sse, prev_id)
                            prev_id = sse.id or prev_id
                            if item is None:
                                continue
                            d.record(item)
                            self._consecutive = 0
                            yield item
                            if d.done or self._closed:
                                return
                        if self._closed:
                            return
                        self._failed(ProtocolError("stream ended before turn.done"))
                        reason = "stream ended before turn.done"
                    except (*_TRANSIENT_HTTPX, httpx.StreamError) as exc:
                        if self._closed:
                            return
                        reason = self._failed(exc)
                    finally:
                        self._response = None
                        await sse_iter.aclose()
                        await response.aclose()
                    continue
            first = False
            assert reason is not None
            try:
                if turn is None or _status_of(turn) == "running":
                    turn = await c.aget_turn(self.session_id, self.turn_id or "")
                listed = await c._alist_turn_events_raw(self.session_id, self.turn_id or "")
            except (*_TRANSIENT_HTTPX, *_TRANSIENT_GATEWAY, ConflictError) as exc:
                self._report(reason, delay, "rebuild", None, exc)
                reason = self._failed(exc)
                continue
            items = d.rebuild(turn, listed)
            self._report(reason, delay, "rebuild", len(items))
            for item in items:
                d.record(item)
                self._consecutive = 0
                yield item
                if self._closed:
                    return
            return


# --------------------------------------------------------------------------- the client


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


class GatewayClient:
    """Client for a TrueFoundry gateway's agent sessions and turns (sync methods and ``a``-prefixed async twins).

    Args:
        base_url: the gateway URL, e.g. ``https://<host>/<tenant>`` (default: ``TFY_GATEWAY_URL``, else
            ``GATEWAY_BASE_URL``).
        api_key: the API key (default: ``TFY_API_KEY``); only ever sent as ``Authorization: Bearer``.
        timeout: httpx timeouts; the read timeout should outlast silent tool calls (a read that times out
            is resumed anyway).
        http_client / async_http_client: httpx clients to use instead of the client's own (they are not
            closed by :meth:`close`; their own timeout applies unless ``timeout`` is given).
        max_reconnects: consecutive failed reconnects (without any new item in between) before a stream
            gives up with :class:`~tfwidget.errors.ReconnectError`.
        backoff / max_backoff: first and largest reconnect delay in seconds (exponential, with jitter).

    Raises:
        ConfigurationError: the URL or key is missing.
    """

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
    ) -> None:
        if base_url is None:
            base_url = next((os.environ[v] for v in URL_VARIABLES if os.environ.get(v)), None)
        if api_key is None:
            api_key = os.environ.get(KEY_VARIABLE) or None
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
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._explicit_timeout = timeout is not _UNSET
        self.timeout = DEFAULT_TIMEOUT if timeout is _UNSET else httpx.Timeout(timeout)
        self.max_reconnects = max_reconnects
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._user_http = http_client
        self._user_async_http = async_http_client
        self._http: httpx.Client | None = None
        self._ahttp: httpx.AsyncClient | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"GatewayClient(base_url={self.base_url!r}, api_key=***)"

    # -- plumbing
    def _url(self, path: str) -> str:
        return f"{self.base_url}/{path}"

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        h = {"Authorization": f"Bearer {self._api_key}", "User-Agent": "tfwidget"}
        if extra:
            h.update(extra)
        return h

    def _timeout_for(self, http: httpx.Client | httpx.AsyncClient) -> httpx.Timeout:
        if http is self._user_http or http is self._user_async_http:
            return self.timeout if self._explicit_timeout else http.timeout
        return self.timeout

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

    def _check(self, response: httpx.Response, what: str) -> Any:
        if response.status_code >= 300:
            raise error_from_response(
                response.status_code,
                response.text[:_ERROR_BODY_LIMIT],
                secret=self._api_key,
                what=what,
                headers=response.headers,
            )
        try:
            return response.json()
        except ValueError as exc:
            snippet = snippet_of(response.text, self._api_key, 200)
            raise ProtocolError(
                f"Expected JSON from the gateway for {what}, got content type "
                f"{response.headers.get('content-type')!r}: {snippet!r}. Check TFY_GATEWAY_URL.",
                status=response.status_code,
                body_snippet=snippet,
            ) from exc

    @staticmethod
    def _data(obj: Any, what: str) -> Any:
        if not isinstance(obj, dict) or "data" not in obj:
            raise ProtocolError(f"The gateway's answer for {what} has no 'data': {str(obj)[:200]!r}")
        return obj["data"]

    def _request(self, method: str, path: str, what: str, **kw: Any) -> Any:
        http = self._sync_http()
        try:
            response = http.request(
                method, self._url(path), headers=self._headers(), timeout=self._timeout_for(http), **kw
            )
        except httpx.ConnectError as exc:
            raise self._unreachable(exc) from exc
        return self._check(response, what)

    async def _arequest(self, method: str, path: str, what: str, **kw: Any) -> Any:
        http = self._async_http()
        try:
            response = await http.request(
                method, self._url(path), headers=self._headers(), timeout=self._timeout_for(http), **kw
            )
        except httpx.ConnectError as exc:
            raise self._unreachable(exc) from exc
        return self._check(response, what)

    def _unreachable(self, exc: BaseException) -> GatewayConnectionError:
        """The error for a gateway that cannot be reached at all (refused, unknown host)."""
        detail = scrub(str(exc) or type(exc).__name__, self._api_key)
        return GatewayConnectionError(
            f"Could not connect to the gateway at {self.base_url} ({detail}). Check TFY_GATEWAY_URL (or the "
            "base_url argument of GatewayClient) and that the gateway is reachable from this machine."
        )

    @staticmethod
    def _sid(session_id: str) -> str:
        if not isinstance(session_id, str) or not session_id:
            raise ValueError("session_id must be a non-empty string")
        return quote(session_id, safe="")

    def _turn_path(self, session_id: str, turn_id: str) -> str:
        if not isinstance(turn_id, str) or not turn_id:
            raise ValueError("turn_id must be a non-empty string")
        return f"v1/agents/sessions/{self._sid(session_id)}/turns/{quote(turn_id, safe='')}"

    @staticmethod
    def _next_token(page: Any, what: str, seen: set[str]) -> str | None:
        pagination = page.get("pagination") if isinstance(page, dict) else None
        token = pagination.get("next_page_token") if isinstance(pagination, dict) else None
        if not token:
            return None
        if token in seen:
            raise ProtocolError(f"The gateway returned the same page token twice while listing {what}.")
        seen.add(token)
        return str(token)

    # -- lifecycle
    def close(self) -> None:
        """Close the client's own sync HTTP connections (clients passed in are left open)."""
        http, self._http = self._http, None
        if http is not None:
            http.close()

    async def aclose(self) -> None:
        """Close the client's own HTTP connections, async and sync."""
        ahttp, self._ahttp = self._ahttp, None
        if ahttp is not None:
            await ahttp.aclose()
        self.close()

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
        self._turn_path(session_id, turn_id)
        return Subscription(
            self, session_id, turn_id, after_sequence_number=after_sequence_number, on_reconnect=on_reconnect
        )

    def asubscribe(
        self,
        session_id: str,
        turn_id: str,
        *,
        after_sequence_number: int | None = None,
        on_reconnect: OnReconnect | None = None,
    ) -> AsyncSubscription:
        """Async twin of :meth:`subscribe`: ``async for item in client.asubscribe(...)``."""
        self._turn_path(session_id, turn_id)
        return AsyncSubscription(
            self, session_id, turn_id, after_sequence_number=after_sequence_number, on_reconnect=on_reconnect
        )

    # -- turns
    def get_turn(self, session_id: str, turn_id: str) -> dict[str, Any]:
        """The ``Turn`` object (``id``, ``session_id``, ``state`` {``status``, ...}, ``input``, ...)."""
        what = f"turn {turn_id!r} of session {session_id!r}"
        return self._data(self._request("GET", self._turn_path(session_id, turn_id), what), what)

    async def aget_turn(self, session_id: str, turn_id: str) -> dict[str, Any]:
        what = f"turn {turn_id!r} of session {session_id!r}"
        return self._data(await self._arequest("GET", self._turn_path(session_id, turn_id), what), what)

    def _list_turn_events_raw(self, session_id: str, turn_id: str) -> list[dict[str, Any]]:
        what = f"the events of turn {turn_id!r} of session {session_id!r}"
        path = self._turn_path(session_id, turn_id) + "/events"
        out: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": _TURN_EVENTS_PAGE, "order": "asc"}
        seen: set[str] = set()
        while True:
            page = self._request("GET", path, what, params=params)
            out.extend(self._data(page, what))
            token = self._next_token(page, what, seen)
            if token is None:
                return out
            params = {**params, "page_token": token}

    async def _alist_turn_events_raw(self, session_id: str, turn_id: str) -> list[dict[str, Any]]:
        what = f"the events of turn {turn_id!r} of session {session_id!r}"
        path = self._turn_path(session_id, turn_id) + "/events"
        out: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": _TURN_EVENTS_PAGE, "order": "asc"}
        seen: set[str] = set()
        while True:
            page = await self._arequest("GET", path, what, params=params)
            out.extend(self._data(page, what))
            token = self._next_token(page, what, seen)
            if token is None:
                return out
            params = {**params, "page_token": token}

    def list_turn_events(self, session_id: str, turn_id: str) -> list[Event]:
        """All merged events of a finished turn (every page, oldest first; no deltas, no ``turn.*``).

        Raises :class:`~tfwidget.errors.ConflictError` (409) while the turn is still running.
        """
        return [parse_event(e) for e in self._list_turn_events_raw(session_id, turn_id)]

    async def alist_turn_events(self, session_id: str, turn_id: str) -> list[Event]:
        return [parse_event(e) for e in await self._alist_turn_events_raw(session_id, turn_id)]

    @staticmethod
    def _session_events(rows: list[Any], what: str) -> list[SessionEvent]:
        out = []
        for row in rows:
            if not isinstance(row, dict) or not isinstance(row.get("event"), dict):
                raise ProtocolError(f"Unexpected entry while listing {what}: {str(row)[:200]!r}")
            out.append(SessionEvent(str(row.get("turn_id")), parse_event(row["event"])))
        return out

    def list_session_events(self, session_id: str, *, last_turn_id: str | None = None) -> list[SessionEvent]:
        """All events of a session's finished turns (every page, newest first, ``turn.*`` included)."""
        what = f"the events of session {session_id!r}"
        path = f"v1/agents/sessions/{self._sid(session_id)}/events"
        params: dict[str, Any] = {"limit": _SESSION_EVENTS_PAGE}
        if last_turn_id:
            params["last_turn_id"] = last_turn_id
        rows: list[Any] = []
        seen: set[str] = set()
        while True:
            page = self._request("GET", path, what, params=params)
            rows.extend(self._data(page, what))
            token = self._next_token(page, what, seen)
            if token is None:
                return self._session_events(rows, what)
            params = {"limit": _SESSION_EVENTS_PAGE, "page_token": token}

    async def alist_session_events(
        self, session_id: str, *, last_turn_id: str | None = None
    ) -> list[SessionEvent]:
        what = f"the events of session {session_id!r}"
        path = f"v1/agents/sessions/{self._sid(session_id)}/events"
        params: dict[str, Any] = {"limit": _SESSION_EVENTS_PAGE}
        if last_turn_id:
            params["last_turn_id"] = last_turn_id
        rows: list[Any] = []
        seen: set[str] = set()
        while True:
            page = await self._arequest("GET", path, what, params=params)
            rows.extend(self._data(page, what))
            token = self._next_token(page, what, seen)
            if token is None:
                return self._session_events(rows, what)
            params = {"limit": _SESSION_EVENTS_PAGE, "page_token": token}

    # -- sessions
    def create_session(self, agent_name: str) -> dict[str, Any]:
        """Create a session for an agent; returns the ``Session`` object (``id``, ...)."""
        what = f"a new session of agent {agent_name!r}"
        return self._data(
            self._request("POST", "v1/agents/sessions", what, json={"agent_name": agent_name}), what
        )

    async def acreate_session(self, agent_name: str) -> dict[str, Any]:
        what = f"a new session of agent {agent_name!r}"
        obj = await self._arequest("POST", "v1/agents/sessions", what, json={"agent_name": agent_name})
        return self._data(obj, what)

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
        body = {"input": _input_items(input), "previous_turn_id": previous_turn_id, "stream": bool(stream)}
        if stream:
            self._sid(session_id)
            return Subscription(
                self,
                session_id,
                None,
                after_sequence_number=None,
                on_reconnect=on_reconnect,
                create_body=body,
            )
        what = f"a new turn of session {session_id!r}"
        return self._data(
            self._request("POST", f"v1/agents/sessions/{self._sid(session_id)}/turns", what, json=body), what
        )

    async def acreate_turn(
        self,
        session_id: str,
        input: str | list[dict[str, Any]] | dict[str, Any],
        *,
        previous_turn_id: str = "auto",
        stream: bool = True,
        on_reconnect: OnReconnect | None = None,
    ) -> Any:
        """Async twin of :meth:`create_turn` (``stream=True`` returns an :class:`AsyncSubscription`)."""
        body = {"input": _input_items(input), "previous_turn_id": previous_turn_id, "stream": bool(stream)}
        if stream:
            self._sid(session_id)
            return AsyncSubscription(
                self,
                session_id,
                None,
                after_sequence_number=None,
                on_reconnect=on_reconnect,
                create_body=body,
            )
        what = f"a new turn of session {session_id!r}"
        obj = await self._arequest(
            "POST", f"v1/agents/sessions/{self._sid(session_id)}/turns", what, json=body
        )
        return self._data(obj, what)

    def cancel(self, session_id: str) -> None:
        """Cancel the session's running turn (idempotent); its stream then ends with a cancelled ``turn.done``."""
        self._request(
            "POST", f"v1/agents/sessions/{self._sid(session_id)}/cancel", f"session {session_id!r}", json={}
        )

    async def acancel(self, session_id: str) -> None:
        await self._arequest(
            "POST", f"v1/agents/sessions/{self._sid(session_id)}/cancel", f"session {session_id!r}", json={}
        )


AsyncGatewayClient = GatewayClient
"""Alias: :class:`GatewayClient` has the async methods too (``asubscribe``, ``aget_turn``, ...)."""
