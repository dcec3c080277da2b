"""The resume logic of a turn subscription, with no I/O (in the style of h11, and of httpx's auth flow).

:class:`ResumeCore` is told what came back (a response status and headers, a chunk of body bytes, the end of
a body, an error, a turn, a page of events, the end of a wait) and says what to do next through
:meth:`ResumeCore.next_action`:

- :class:`Open`: send this streaming request, then call :meth:`~ResumeCore.response`;
- :class:`Read`: read the body, feeding each raw chunk to :meth:`~ResumeCore.data` (which returns the items
  to deliver) until :attr:`~ResumeCore.stop_reading`, then call :meth:`~ResumeCore.eof`;
- :class:`Sleep`: wait this long (a close may cut it short), then call :meth:`~ResumeCore.slept`;
- :class:`Fetch`: perform this JSON call (get the turn, list a page of events), then call
  :meth:`~ResumeCore.fetched`;
- :class:`Emit`: deliver these items;
- :data:`DONE`: the stream is over.

Any exception raised while performing an action goes to :meth:`~ResumeCore.error`, which either schedules a
resume or raises the error to the caller. ``Subscription`` and ``AsyncSubscription`` are thin loops that
perform these actions with httpx (sync or async); this module also holds the delivery bookkeeping
(:class:`Delivery`), the backoff, :class:`ReconnectInfo`, error classification, the size limits
(:class:`StreamLimits`) and content decoding with its caps.
"""

from __future__ import annotations

import json
import logging
import random
import time
import warnings
import zlib
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple
from urllib.parse import quote

import httpx

from . import _jsontext
from .errors import (
    ConflictError,
    GatewayConnectionError,
    GatewayError,
    NotAnEventStreamError,
    ProtocolError,
    RateLimitError,
    ReconnectError,
    ServerError,
    StreamIdleError,
    StreamLimitError,
    error_from_response,
    scrub,
    snippet_of,
)
from .events import EventParseError, ModelMessageDeltaEvent, parse_event
from .sse import (
    DEFAULT_MAX_EVENT_BYTES,
    MalformedFrame,
    MalformedFrameWarning,
    SSEDecoder,
    StreamItem,
    _quick_item,
    item_from_frame,
)

__all__ = [
    "DONE",
    "Call",
    "Emit",
    "Fetch",
    "Open",
    "Read",
    "ReconnectInfo",
    "ResumeCore",
    "Sleep",
    "StreamLimits",
]

logger = logging.getLogger("tfwidget.client")

_TURN_EVENTS_PAGE = 25
_MIB = 1024 * 1024


# --------------------------------------------------------------------------- settings and reports


@dataclass(frozen=True, slots=True)
class StreamLimits:
    """Bounds on what a gateway can make the client hold or wait for. Pass to ``GatewayClient(limits=...)``.

    Attributes:
        max_event_bytes: one SSE line, and one event's data, in characters (default 32 MiB; ``None``: no cap).
        max_response_bytes: one JSON answer (a turn, a page of events), decoded (default 256 MiB).
        max_error_body_bytes: how much of an error answer is read before the connection is closed (64 KiB).
        max_decompression_ratio: decoded bytes per compressed byte of a gzip/deflate body, checked once more
            than 1 MiB was decoded (default 200).
        max_server_delay: the longest wait a server's ``retry:`` field or ``Retry-After`` header can ask for,
            in seconds (default 60); longer or negative values are clamped into ``[0, max_server_delay]``.
        idle_timeout: a subscription that delivers no event for this many seconds (only keep-alive
            comments, or nothing at all) ends with :class:`~tfwidget.errors.StreamIdleError` (default 900;
            ``None``: wait forever). A stream gone quiet shows as idle (``Subscription.state``) long before.
        idle_after: seconds without an event after which a connected subscription reports ``state ==
            "idle"`` (default 30).

    Going beyond a size limit raises :class:`~tfwidget.errors.StreamLimitError` naming the limit; the events
    delivered before it are kept.
    """

    max_event_bytes: int | None = DEFAULT_MAX_EVENT_BYTES
    max_response_bytes: int | None = 256 * _MIB
    max_error_body_bytes: int = 64 * 1024
    max_decompression_ratio: float | None = 200.0
    max_server_delay: float = 60.0
    idle_timeout: float | None = 900.0
    idle_after: float = 30.0

    def __post_init__(self) -> None:
        for name in ("max_event_bytes", "max_response_bytes", "max_decompression_ratio", "idle_timeout"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"StreamLimits.{name} must be a positive number or None, not {value!r}")
        for name in ("max_error_body_bytes", "max_server_delay", "idle_after"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"StreamLimits.{name} must be >= 0")

    def clamp_delay(self, seconds: float) -> float:
        """A server-requested delay clamped into ``[0, max_server_delay]`` (NaN counts as 0)."""
        if not seconds > 0:
            return 0.0
        return min(float(seconds), self.max_server_delay)


@dataclass(frozen=True, slots=True)
class ReconnectInfo:
    """One reconnect attempt of a subscription, as reported to ``on_reconnect``.

    Attributes:
        attempt: 1 for the first reconnect of the subscription, then 2, 3, ... (never reset).
        reason: why the stream was resumed (e.g. ``"read timeout"``, ``"HTTP 503"``, ``"stream ended before
            turn.done"``).
        after_sequence_number: the cursor resumed from (the last sequence number delivered), or ``None``.
        delay: seconds waited before this attempt (``0`` right after a connection that delivered events;
            else exponential backoff, ``retry:`` or ``Retry-After``).
        mode: ``"subscribe"`` (the live stream was opened again after the cursor) or ``"rebuild"`` (the rest
            of the turn comes from *list turn events*).
        replayed: for ``"rebuild"``, how many items the rebuild delivers (synthesized ``turn.done``
            included); ``None`` for ``"subscribe"`` or when the attempt failed.
        ok: whether the attempt connected (``False``: it failed and another attempt follows).
        error: the failure of this attempt, when it failed (scrubbed text), else ``None``.
        last_event_at: epoch seconds of the last event delivered before this attempt (``None``: none yet).
    """

    attempt: int
    reason: str
    after_sequence_number: int | None
    delay: float
    mode: Literal["subscribe", "rebuild"]
    replayed: int | None = None
    ok: bool = True
    error: str | None = None
    last_event_at: float | None = None


# --------------------------------------------------------------------------- actions


class Call(NamedTuple):
    """A JSON request: ``method`` ``path`` (relative to the base URL); ``what`` names it in errors."""

    method: str
    path: str
    what: str
    params: dict[str, Any] | None = None
    json: Any = None


class Open(NamedTuple):
    """Send a streaming POST; ``read_timeout`` (seconds) caps a read so the idle deadline is kept."""

    path: str
    body: dict[str, Any]
    headers: dict[str, str]
    read_timeout: float | None


class Read(NamedTuple):
    """Read the open response's raw body into :meth:`ResumeCore.data` until ``stop_reading``, then ``eof()``."""


class Sleep(NamedTuple):
    seconds: float


class Fetch(NamedTuple):
    call: Call


class Emit(NamedTuple):
    items: list[StreamItem]


class _Done:
    def __repr__(self) -> str:
        return "DONE"


DONE = _Done()
Action = Open | Read | Sleep | Fetch | Emit | _Done


# --------------------------------------------------------------------------- bodies


class CorruptStreamError(ProtocolError):
    """A compressed body that does not decompress (a drop: the stream is resumed)."""


STREAM_ENCODINGS = "gzip, deflate"
"""The ``Accept-Encoding`` sent: only what :class:`BodyDecoder` decodes under its caps."""


class BodyDecoder:
    """Content decoding (identity, gzip, deflate) of raw body chunks, with a size cap and a ratio cap."""

    def __init__(self, headers: Mapping[str, str], limits: StreamLimits, cap: int | None, what: str) -> None:
        encoding = (headers.get("content-encoding") or "identity").strip().lower()
        self._z: Any = None
        if encoding in ("gzip", "x-gzip"):
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._z = zlib.decompressobj()
        elif encoding not in ("identity", ""):
            raise ProtocolError(
                f"The gateway answered {what} with content encoding {encoding!r}, which tfwidget does not "
                f"decode (it asks for {STREAM_ENCODINGS})."
            )
        self._deflate_raw_tried = encoding != "deflate"
        self.limits = limits
        self.cap = cap
        self.what = what
        self.raw = 0
        self.decoded = 0
        self.limit_error: StreamLimitError | None = None

    def feed(self, chunk: bytes) -> bytes:
        """Decoded bytes of ``chunk`` (raises :class:`CorruptStreamError`). Beyond the ratio cap it returns what
        was decoded so far and sets :attr:`limit_error`, which the next call raises."""
        if self.limit_error is not None:
            raise self.limit_error
        self.raw += len(chunk)
        z = self._z
        if z is None:
            self.decoded += len(chunk)
            return chunk
        out: list[bytes] = []
        data = chunk
        while data:
            try:
                piece = z.decompress(data, _MIB)
            except zlib.error as exc:
                if (
                    not self._deflate_raw_tried and self.decoded == 0
                ):  # "deflate" sent without its zlib header
                    self._deflate_raw_tried = True
                    self._z = z = zlib.decompressobj(-zlib.MAX_WBITS)
                    continue
                raise CorruptStreamError(f"corrupt compressed body ({exc})") from exc
            self._deflate_raw_tried = True
            self.decoded += len(piece)
            out.append(piece)
            if self._ratio_exceeded() or (self.cap is not None and self.decoded > self.cap):
                break
            data = z.unconsumed_tail
        return b"".join(out)

    def _ratio_exceeded(self) -> bool:
        ratio = self.limits.max_decompression_ratio
        if ratio is None or self.decoded <= _MIB or self.decoded <= ratio * max(self.raw, 1):
            return False
        self.limit_error = StreamLimitError(
            f"The gateway's compressed answer for {self.what} inflates more than {ratio:g} times "
            f"({self.raw:,} bytes -> over {self.decoded:,}; limit max_decompression_ratio). If it is "
            "genuine, raise it: GatewayClient(limits=StreamLimits(max_decompression_ratio=...)).",
            limit="max_decompression_ratio",
            value=ratio,
        )
        return True


class JsonReader:
    """Reads one JSON answer (or its error body, up to a prefix) from raw chunks; :meth:`result` gives it."""

    def __init__(
        self, status: int, headers: Mapping[str, str], limits: StreamLimits, what: str, secret: str | None
    ) -> None:
        self.status = status
        self.headers = headers
        self.ok = status < 300
        cap = limits.max_response_bytes if self.ok else limits.max_error_body_bytes
        self.body = BodyDecoder(headers, limits, cap, what)
        self.what = what
        self.secret = secret
        self.limits = limits
        self._parts: list[bytes] = []
        self.full = False  # True: stop reading (an error body's prefix is complete)

    def feed(self, chunk: bytes) -> bool:
        """Feed a raw chunk; ``True`` when enough was read (close the response)."""
        self._parts.append(self.body.feed(chunk))
        if self.body.limit_error is not None:
            raise self.body.limit_error
        cap = self.body.cap
        if cap is not None and self.body.decoded > cap:
            if self.ok:
                raise StreamLimitError(
                    f"The gateway's answer for {self.what} is larger than {cap:,} bytes (limit "
                    "max_response_bytes). If it is genuine, raise it: "
                    "GatewayClient(limits=StreamLimits(max_response_bytes=...)).",
                    limit="max_response_bytes",
                    value=cap,
                )
            self.full = True
        return self.full

    def text(self) -> str:
        raw = b"".join(self._parts)
        if self.body.cap is not None:
            raw = raw[: self.body.cap]
        return raw.decode("utf-8", "replace")

    def result(self) -> Any:
        """The parsed JSON of a 2xx answer; raises the typed error of any other."""
        text = self.text()
        if not self.ok:
            raise error_from_response(
                self.status, text, secret=self.secret, what=self.what, headers=self.headers
            )
        try:
            return _jsontext.loads(text)
        except ValueError as exc:
            snippet = snippet_of(text, self.secret, 200)
            raise ProtocolError(
                f"Expected JSON from the gateway for {self.what}, got content type "
                f"{self.headers.get('content-type')!r}: {snippet!r}. Check TFY_GATEWAY_URL.",
                status=self.status,
                body_snippet=snippet,
            ) from exc


def data_of(obj: Any, what: str) -> Any:
    """The ``data`` member of a gateway answer (a :class:`ProtocolError` when it has none)."""
    if not isinstance(obj, dict) or "data" not in obj:
        raise ProtocolError(f"The gateway's answer for {what} has no 'data': {str(obj)[:200]!r}")
    return obj["data"]


def next_token(page: Any, what: str, seen: set[str]) -> str | None:
    """The next page token of a listing (``None`` at the end); a repeated token is a protocol error."""
    pagination = page.get("pagination") if isinstance(page, dict) else None
    token = pagination.get("next_page_token") if isinstance(pagination, dict) else None
    if not token:
        return None
    if token in seen:
        raise ProtocolError(f"The gateway returned the same page token twice while listing {what}.")
    seen.add(token)
    return str(token)


Flow = Generator[Call, Any, Any]
"""A client operation written once: yields the :class:`Call` s to perform, receives their JSON, returns."""


def turn_path(session_id: str, turn_id: str) -> str:
    if not isinstance(session_id, str) or not session_id:
        raise ValueError("session_id must be a non-empty string")
    if not isinstance(turn_id, str) or not turn_id:
        raise ValueError("turn_id must be a non-empty string")
    return f"v1/agents/sessions/{quote(session_id, safe='')}/turns/{quote(turn_id, safe='')}"


def get_turn_flow(session_id: str, turn_id: str) -> Flow:
    what = f"turn {turn_id!r} of session {session_id!r}"
    return data_of((yield Call("GET", turn_path(session_id, turn_id), what)), what)


def turn_events_flow(session_id: str, turn_id: str) -> Flow:
    """Every page of *list turn events* (oldest first), as raw dicts."""
    what = f"the events of turn {turn_id!r} of session {session_id!r}"
    path = turn_path(session_id, turn_id) + "/events"
    out: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": _TURN_EVENTS_PAGE, "order": "asc"}
    seen: set[str] = set()
    while True:
        page = yield Call("GET", path, what, params)
        out.extend(data_of(page, what))
        token = next_token(page, what, seen)
        if token is None:
            return out
        params = {**params, "page_token": token}


# --------------------------------------------------------------------------- delivery bookkeeping


class Delivery:
    """What a subscription delivered: sequence numbers, event ids, finished messages.

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
        fast = item._fast
        if fast is not None and item._event is None:  # the hot path: a delta checked by the strict schema
            if fast.finish_reason:
                self.finished.add(fast.id)
            if fast.usage is not None:
                self.with_usage.add(fast.id)
            return
        ev = item.event
        if type(ev) is ModelMessageDeltaEvent:  # one per token when the event was built
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

    def rebuild(self, turn: dict[str, Any], listed: list[Any]) -> list[StreamItem]:
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
            except (EventParseError, RecursionError) as err:
                reason = str(err) if isinstance(err, EventParseError) else "nested too deeply"
                warnings.warn(
                    str(MalformedFrame(f"listed event: {reason}", str(obj)[:200], None)),
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
            try:
                raw: str | None = json.dumps(obj, ensure_ascii=False)
            except (ValueError, TypeError, RecursionError):
                raw = None
            out.append(StreamItem(None, ev, now, raw, False))
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


def status_of(turn: Any) -> str:
    state = turn.get("state") if isinstance(turn, dict) else None
    if isinstance(state, dict) and isinstance(state.get("status"), str):
        return str(state["status"])
    raise ProtocolError(f"The gateway's turn object has no state.status: {str(turn)[:200]!r}")


def reason_of(exc: BaseException) -> str:
    """A short reason for a failure (``"read timeout"``, ``"HTTP 503"``, ...)."""
    if isinstance(exc, httpx.TimeoutException):
        return f"{type(exc).__name__.replace('Timeout', ' timeout').strip().lower()}"
    if isinstance(exc, GatewayError) and exc.status is not None:
        return f"HTTP {exc.status}"
    if isinstance(exc, CorruptStreamError):
        return "corrupt compressed stream"
    if isinstance(exc, httpx.TransportError):
        return f"connection error ({type(exc).__name__})"
    return type(exc).__name__


# failures worth resuming from (anything else is raised to the caller at once)
TRANSIENT: tuple[type[BaseException], ...] = (
    httpx.TransportError,  # timeouts, connection errors, protocol errors
    httpx.StreamError,
    httpx.DecodingError,
    ServerError,
    RateLimitError,
    GatewayConnectionError,
    CorruptStreamError,
)

_UTF8 = ("utf-8", "utf8")


def _charset(content_type: str) -> str | None:
    for part in content_type.split(";")[1:]:
        name, _, value = part.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"').lower()
    return None


# --------------------------------------------------------------------------- the core

Phase = Literal["open", "read", "read_error", "read_head", "backoff", "check", "rebuild", "done"]


class ResumeCore:
    """The resume state machine of one subscription (see the module docs). No I/O, no threads.

    Args:
        session_id / turn_id: the turn followed (``turn_id`` ``None`` for a ``create_turn`` stream, known
            once its ``turn.created`` arrived).
        after: the cursor to start after (``None``: from the start).
        create_body: the body of ``POST .../turns`` for a ``create_turn`` stream (sent once, never retried).
        base_url / secret: for messages (the secret is scrubbed from everything reported).
        max_reconnects / backoff / max_backoff: the reconnect budget and the backoff of attempts that make
            no progress (the first attempt after a connection that delivered events waits nothing).
        limits: :class:`StreamLimits`.
        read_timeout: the transport's read timeout (a read is capped further by the idle deadline).
        clock / rng: injectable for tests (monotonic seconds; a ``random.Random``).
    """

    def __init__(
        self,
        session_id: str,
        turn_id: str | None,
        *,
        after: int | None = None,
        create_body: dict[str, Any] | None = None,
        base_url: str = "",
        secret: str | None = None,
        max_reconnects: int = 10,
        backoff: float = 0.5,
        max_backoff: float = 15.0,
        limits: StreamLimits | None = None,
        read_timeout: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        if after is not None and (isinstance(after, bool) or not isinstance(after, int)):
            raise TypeError("after_sequence_number must be an int or None")
        if after is not None and after < 0:
            raise ValueError("after_sequence_number must be >= 0")
        self.session_id = session_id
        self._turn_id = turn_id
        self._create_body = create_body
        self.base_url = base_url
        self.secret = secret
        self.max_reconnects = max_reconnects
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.limits = limits or StreamLimits()
        self.read_timeout = read_timeout
        self._clock = clock
        self._rng = rng or random.Random()
        self.delivery = Delivery(after)
        self.reconnects: list[ReconnectInfo] = []
        self.errors: list[MalformedFrame] = []
        self.failures: list[BaseException] = []
        self.anomalies: list[str] = []
        self.on_reconnect: Callable[[ReconnectInfo], Any] | None = None
        self.last_event_at: float | None = None  # epoch seconds of the last delivered item
        self._last_progress = clock()
        self._began = False
        self.phase: Phase = "open"
        self.stop_reading = False
        self._first = True
        self._connected = False
        self._consecutive = 0  # failures since the last delivered item
        self._streak = 0  # failed attempts in a row that made no progress (drives the backoff)
        self._count_at_failure = 0
        self._attempts = 0
        self._attempt: tuple[str, float] | None = None  # (reason, delay) of an attempt not reported yet
        self._reason: str | None = None
        self._delay = 0.0
        self.retry_at = 0.0  # clock time of the next attempt while in backoff
        self._retry_ms: int | None = None
        self._retry_after: float | None = None
        self._emit: list[StreamItem] = []
        self._pending: BaseException | None = None
        self._turn: dict[str, Any] | None = None
        self._flow: Flow | None = None
        self._fetching: Literal["check", "turn", "events"] | None = None
        self._turn_fresh = False
        self._page: Any = None
        self._body: BodyDecoder | None = None
        self._sse: SSEDecoder | None = None
        self._held: StreamItem | None = None  # an item whose id jumped ahead, until the next frame tells
        self._prefix: list[bytes] = []
        self._status = 0
        self._headers: Mapping[str, str] = {}

    # ------------------------------------------------------------------ read-only views

    @property
    def turn_id(self) -> str | None:
        return self._turn_id or self.delivery.turn_id

    @property
    def done(self) -> bool:
        return self.phase == "done"

    def what(self) -> str:
        if self.turn_id is None:
            return f"a new turn of session {self.session_id!r}"
        return f"turn {self.turn_id!r} of session {self.session_id!r}"

    def idle_seconds(self) -> float:
        """Seconds since the last delivered item (or since the start)."""
        return max(0.0, self._clock() - self._last_progress)

    @property
    def state(self) -> Literal["connecting", "streaming", "idle", "reconnecting", "done"]:
        """``connecting`` (never connected yet), ``streaming``, ``idle`` (connected, no event for
        ``limits.idle_after`` s), ``reconnecting`` (waiting or trying again) or ``done``."""
        if self.phase == "done":
            return "done"
        if (self._reason is not None and self._attempt is not None) or self.phase == "backoff":
            return "reconnecting"
        if not self._connected:
            return "connecting"
        if self.phase == "read" and self.idle_seconds() >= self.limits.idle_after:
            return "idle"
        return "streaming"

    # ------------------------------------------------------------------ what to do next

    def next_action(self) -> Action:
        """The next action to perform (raises the error that ends the stream, if one is pending)."""
        if not self._began:
            self._began = True
            self._last_progress = self._clock()  # the idle deadline counts from the first action
        if self._emit:
            items, self._emit = self._emit, []
            return Emit(items)
        if self._pending is not None:
            exc, self._pending = self._pending, None
            raise exc
        phase = self.phase
        if phase == "done":
            return DONE
        if phase == "backoff":
            return Sleep(self._delay)
        if phase in ("read", "read_error", "read_head"):
            return Read()
        if phase == "check":
            self._fetching = "check"
            return Fetch(next(get_turn_flow(self.session_id, self.turn_id or "")))
        if phase == "rebuild":
            return self._rebuild_next()
        self._check_idle()
        return self._open()

    def _open(self) -> Open:
        headers = {
            "Accept": "text/event-stream",
            "Cache-Control": "no-store",
            "Accept-Encoding": STREAM_ENCODINGS,
        }
        timeout = self.read_timeout
        idle = self.limits.idle_timeout
        if idle is not None:
            left = max(0.05, idle - self.idle_seconds())
            timeout = left if timeout is None else min(timeout, left)
        if self._first and self._create_body is not None:
            return Open(f"v1/agents/sessions/{quote(self.session_id, safe='')}/turns", self._create_body,
                        headers, timeout)  # fmt: skip
        if self.turn_id is None:
            raise ReconnectError(
                f"The stream of {self.what()} broke before its turn.created event, so the turn's id is "
                "unknown and the stream cannot be resumed. List the session's turns to find it.",
                cause=self.failures[-1] if self.failures else None,
                attempts=self._attempts,
            )
        cursor = self.delivery.last_seq
        body: dict[str, Any] = {}
        if cursor is not None:
            body = {"after_sequence_number": cursor}
            headers["Last-Event-Id"] = str(cursor)
        return Open(turn_path(self.session_id, self.turn_id) + "/subscribe", body, headers, timeout)

    # ------------------------------------------------------------------ inputs

    def next_attempt_in(self) -> float | None:
        """Seconds until the next reconnect attempt while waiting in backoff, else ``None``."""
        if self.phase != "backoff":
            return None
        return max(0.0, self.retry_at - self._clock())

    @property
    def reason(self) -> str | None:
        """Why the stream is being resumed (while reconnecting), else the last such reason."""
        return self._reason

    def slept(self) -> None:
        """The backoff wait is over: check the turn (or open again when its id is unknown)."""
        self.phase = "check" if self.turn_id is not None else "open"

    def response(self, status: int, headers: Mapping[str, str]) -> None:
        """The answer's status and headers arrived (after :class:`Open`)."""
        self._status, self._headers = status, headers
        self._prefix = []
        self.stop_reading = False
        what = self.what()
        if status >= 300:
            self.phase = "read_error"
            self._body = BodyDecoder(headers, self.limits, self.limits.max_error_body_bytes, what)
            return
        ctype = headers.get("content-type", "")
        if "text/event-stream" not in ctype:
            self.phase = "read_head"
            self._body = BodyDecoder(headers, self.limits, 2048, what)
            return
        charset = _charset(ctype)
        if charset is not None and charset not in _UTF8:
            raise ProtocolError(
                f"The gateway sent the event stream of {what} as {charset!r}; server-sent events are always "
                "UTF-8. This is a gateway or proxy misconfiguration (check what sits in front of the gateway).",
                status=status,
            )
        self._body = BodyDecoder(headers, self.limits, None, what)
        self._sse = SSEDecoder(warn=False, max_event_bytes=self.limits.max_event_bytes)
        self._held = None
        self.phase = "read"
        self._first = False
        self._connected = True
        if self._attempt is not None:
            self._report("subscribe", None)

    def data(self, chunk: bytes) -> list[StreamItem]:
        """A raw chunk of the open body; returns the items to deliver now (in order)."""
        body = self._body
        assert body is not None
        decoded = body.feed(chunk)
        if self.phase != "read":
            self._prefix.append(decoded)
            cap = body.cap or 0
            if body.decoded >= cap:
                self.stop_reading = True
            return []
        sse = self._sse
        assert sse is not None
        frames = sse._frames(decoded)
        if sse.retry is not None:
            self._retry_ms = sse.retry
        out = self._accept(frames) if frames else []
        limit_error = sse.limit_error or body.limit_error
        if limit_error is not None and self._pending is None and not self.done:
            self._pending = limit_error
            self.stop_reading = True
        elif not out:
            self._check_idle()
        return out

    def eof(self) -> list[StreamItem]:
        """The body ended (or reading stopped). The items of a last frame cut short are emitted by the next
        action (and returned, for reference)."""
        phase = self.phase
        if phase == "read_error":
            text = b"".join(self._prefix).decode("utf-8", "replace")
            raise error_from_response(self._status, text, secret=self.secret, what=self.what(),
                                      headers=self._headers)  # fmt: skip
        if phase == "read_head":
            ctype = self._headers.get("content-type", "")
            snippet = snippet_of(b"".join(self._prefix).decode("utf-8", "replace"), self.secret, 200)
            raise NotAnEventStreamError(
                f"Expected an event stream (text/event-stream) for {self.what()}, but the gateway answered HTTP "
                f"{self._status} with content type {ctype or 'none'!r}. Check that TFY_GATEWAY_URL points at "
                f"the gateway API (it should end with the tenant path, e.g. https://<host>/<tenant>). Body "
                f"starts: {snippet!r}",
                status=self._status,
                body_snippet=snippet,
            )
        if phase != "read":
            return []
        out: list[StreamItem] = []
        sse = self._sse
        if sse is not None and self._pending is None:
            out = self._accept(sse._close())
        held, self._held = self._held, None
        if held is not None and self.phase == "read" and held.event.type == "turn.done":
            out.append(
                held
            )  # a turn.done after a gap in the numbering, and nothing after it: the turn is over
            self.phase = "done"
        if self.phase == "read" and self._pending is None:
            # (a jumped id never confirmed is dropped: the resume asks again after the cursor)
            self._transient(ProtocolError("stream ended before turn.done"), "stream ended before turn.done")
        self._emit = out + self._emit
        return out

    def fetched(self, result: Any) -> None:
        """The JSON answer of the last :class:`Fetch`."""
        kind, self._fetching = self._fetching, None
        if kind == "check":
            turn = data_of(result, self.what())
            self._turn = turn
            if status_of(turn) == "running":
                self.phase = "open"
            else:
                self._enter_rebuild(fresh=True)
        elif kind == "turn":
            self._turn = data_of(result, self.what())
            self._turn_fresh = True
        else:
            self._page = result

    def _enter_rebuild(self, *, fresh: bool) -> None:
        self.phase = "rebuild"
        self._flow = None
        self._turn_fresh = fresh

    def error(self, exc: BaseException) -> None:
        """Performing the last action raised ``exc``: schedule a resume, or raise the error to the caller."""
        phase = self.phase
        if isinstance(exc, (StreamLimitError, StreamIdleError, ReconnectError)):
            raise exc
        if phase == "open" or phase == "read_error":
            creating = self._first and self._create_body is not None
            if isinstance(exc, ConflictError) and exc.status == 412 and not creating:
                # the live stream is gone: rebuild from the listed events
                if self._reason is None:
                    self._attempts += 1
                    self._reason = "HTTP 412 (live stream gone)"
                    self._attempt = (self._reason, 0.0)
                self.failures.append(exc)
                self._first = False
                self._enter_rebuild(fresh=False)
                return
            if not isinstance(exc, TRANSIENT):
                raise exc
            if not self._connected and isinstance(exc, httpx.ConnectError):
                raise self.unreachable(exc) from exc  # never reached: a wrong URL, not a drop
            if creating:
                raise exc  # creating a turn is not idempotent: never retried blindly
            self._first = False
            if self._attempt is not None:
                self._report("subscribe", exc)
            self._transient(exc)
            return
        if phase in ("read", "read_head"):
            if phase == "read_head" or not isinstance(exc, TRANSIENT):
                raise exc
            self._transient(exc)
            return
        if phase in ("check", "rebuild"):
            allowed = TRANSIENT + ((ConflictError,) if phase == "rebuild" else ())
            # 409 while rebuilding: the turn is still running, its events cannot be listed yet
            if not isinstance(exc, allowed):
                raise exc
            if self._attempt is not None:
                self._report("subscribe" if phase == "check" else "rebuild", exc)
            self._flow = None
            self._fetching = None
            self._transient(exc)
            return
        raise exc

    def unreachable(self, exc: BaseException) -> GatewayConnectionError:
        """The error for a gateway that cannot be reached at all (refused, unknown host)."""
        detail = scrub(str(exc) or type(exc).__name__, self.secret)
        return GatewayConnectionError(
            f"Could not connect to the gateway at {self.base_url} ({detail}). Check TFY_GATEWAY_URL (or the "
            "base_url argument of GatewayClient) and that the gateway is reachable from this machine."
        )

    # ------------------------------------------------------------------ frames -> items

    def _accept(self, frames: list[tuple[bytes | str, str | None]]) -> list[StreamItem]:
        """The items of these frames to deliver, in order (the driver passes each to :meth:`deliver`)."""
        out: list[StreamItem] = []
        now = time.time()
        last = self.delivery.last_seq  # every item returned before was delivered before more is read
        for data, sse_id in frames:
            # the hot path, one per token: an integer id and a well-formed event of a known type
            item = None if sse_id is None else _quick_item(data, sse_id, now)
            if item is None:
                text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
                res = item_from_frame(text, sse_id, now)
                if isinstance(res, MalformedFrame):
                    self.errors.append(res)
                    warnings.warn(str(res), MalformedFrameWarning, stacklevel=5)
                    continue
                item = res
            seq = item.sequence_number
            if seq is not None:
                if last is not None and seq <= last:
                    continue  # delivered before (a replay after a resume)
                if seq != (last or 0) + 1:
                    held = self._held
                    if (
                        held is not None
                        and held.sequence_number is not None
                        and seq == held.sequence_number + 1
                    ):
                        self._held = None  # the numbering really skipped: the held item was genuine
                        out.append(held)
                    else:
                        if held is not None:
                            out.append(self._bogus(held, last))
                        self._held = item  # the next frame tells whether this id is real
                        continue
                elif self._held is not None:
                    held, self._held = self._held, None
                    out.append(self._bogus(held, last))
                last = seq
            out.append(item)
            if item._fast is None and item.event.type == "turn.done":
                self.phase = "done"
                self.stop_reading = True
                break
        return out

    def deliver(self, item: StreamItem) -> None:
        """``item`` is being handed to the consumer: record it (the cursor only moves for what was handed)."""
        self.delivery.record(item)
        self._consecutive = 0
        self._last_progress = self._clock()
        self.last_event_at = item.received_at

    def _bogus(self, held: StreamItem, last: int | None) -> StreamItem:
        """``held`` jumped ahead of the dense numbering and the next frame did not follow it: keep its event
        without a sequence number (the cursor stays on the dense numbering) and report the anomaly."""
        text = (f"SSE id {held.sequence_number} jumped ahead of sequence number {last} and the next frame did "
                "not follow it: its event is kept without a sequence number")  # fmt: skip
        self.anomalies.append(text)
        logger.warning("%s (%s)", text, self.what())
        return StreamItem(None, held.event, held.received_at, held.raw, held.synthesized)

    def _check_idle(self) -> None:
        idle = self.limits.idle_timeout
        if idle is None or self.phase == "done":
            return
        quiet = self.idle_seconds()
        if quiet > idle:
            when = (time.strftime("%H:%M:%S", time.localtime(self.last_event_at))
                    if self.last_event_at is not None else None)  # fmt: skip
            last = f"the last one came at {when}" if when else "none came at all"
            exc = StreamIdleError(
                f"No event from {self.what()} for {quiet:.0f} s ({last}); the gateway kept the connection "
                f"open without progress. Raise or disable the limit with "
                f"GatewayClient(limits=StreamLimits(idle_timeout=...)).",
                last_event_at=self.last_event_at,
            )
            self.stop_reading = True
            if self._pending is None:
                self._pending = exc
            if self.phase != "read":
                raise exc

    # ------------------------------------------------------------------ failures and backoff

    def _transient(self, exc: BaseException, reason: str | None = None) -> None:
        """A resumable failure: count it, give up past the budget, else schedule the next attempt."""
        self.failures.append(exc)
        self._consecutive += 1
        progressed = self.delivery.count > self._count_at_failure
        self._count_at_failure = self.delivery.count
        self._streak = 0 if progressed else self._streak + 1
        ra = getattr(exc, "retry_after", None)
        if isinstance(ra, (int, float)):
            self._retry_after = self.limits.clamp_delay(float(ra))
        if self._consecutive > self.max_reconnects:
            detail = scrub(str(exc) or type(exc).__name__, self.secret)
            raise ReconnectError(
                f"Gave up resuming the stream of {self.what()} after {self._consecutive - 1} reconnect "
                f"attempts without progress (last failure: {detail}). Check the gateway URL and your network, "
                "or raise max_reconnects.",
                cause=exc,
                attempts=self._attempts,
            ) from exc
        self._check_idle()
        self._reason = scrub(reason or reason_of(exc), self.secret)
        logger.debug("stream of %s interrupted: %s", self.what(), self._reason)
        self._attempts += 1
        self._delay = self.next_delay()
        self._attempt = (self._reason, self._delay)
        self.retry_at = self._clock() + self._delay
        self.phase = "backoff"

    def next_delay(self) -> float:
        """Seconds to wait before the next attempt: none right after progress (unless the server's ``retry:``
        asks for a wait), then exponential with jitter; never less than a ``Retry-After``."""
        retry = self.limits.clamp_delay(self._retry_ms / 1000.0) if self._retry_ms is not None else None
        k = self._streak
        if k == 0:
            d = retry or 0.0
        else:
            base = max(retry, self.backoff) if retry is not None else self.backoff
            d = min(max(self.max_backoff, base), base * (2 ** (k - 1)))
        d = d / 2 + self._rng.uniform(0, d / 2)
        if self._retry_after is not None:
            d = max(d, self._retry_after)
            self._retry_after = None
        return d

    def _report(self, mode: Literal["subscribe", "rebuild"], error: BaseException | None,
                replayed: int | None = None) -> None:  # fmt: skip
        assert self._attempt is not None
        reason, delay = self._attempt
        self._attempt = None
        err = scrub(str(error) or type(error).__name__, self.secret) if error is not None else None
        info = ReconnectInfo(
            attempt=self._attempts,
            reason=reason,
            after_sequence_number=self.delivery.last_seq,
            delay=delay,
            mode=mode,
            replayed=replayed,
            ok=error is None,
            error=err,
            last_event_at=self.last_event_at,
        )
        self.reconnects.append(info)
        if error is None:
            logger.info("resumed %s (attempt %d, %s after sequence number %s, reason: %s, waited %.2fs%s)",
                        self.what(), info.attempt, mode, info.after_sequence_number, reason, delay,
                        f", {replayed} events replayed" if replayed is not None else "")  # fmt: skip
        else:
            logger.info("reconnect attempt %d for %s failed (%s): %s", info.attempt, self.what(), mode,
                        scrub(reason_of(error), self.secret))  # fmt: skip
        if self.on_reconnect is not None:
            self.on_reconnect(info)

    # ------------------------------------------------------------------ rebuild from listed events

    def _rebuild_next(self) -> Action:
        tid = self.turn_id or ""
        if not self._turn_fresh and (self._turn is None or status_of(self._turn) == "running"):
            self._fetching = "turn"
            return Fetch(next(get_turn_flow(self.session_id, tid)))
        if self._flow is None:
            self._flow = turn_events_flow(self.session_id, tid)
            call = next(self._flow)
        else:
            try:
                call = self._flow.send(self._page)
            except StopIteration as stop:
                self._finish_rebuild(stop.value)
                return self.next_action()
        self._fetching = "events"
        return Fetch(call)

    def _finish_rebuild(self, listed: list[Any]) -> None:
        self._flow = None
        assert self._turn is not None
        items = self.delivery.rebuild(self._turn, listed)
        if self._attempt is not None:
            self._report("rebuild", None, len(items))
        self.phase = "done"
        self._emit = items
