"""Server-sent events -> :class:`StreamItem` (sequence number + typed event).

The decoder follows the SSE parsing rules of the HTML standard: LF, CRLF and lone CR line ends, multi-line
``data:``, ``:`` comments, ``retry:``, one optional space after the colon, frames split anywhere across chunk
boundaries (including inside a UTF-8 character). A frame whose data is not a JSON event, or whose ``id`` is not
an integer, is *reported* (a :class:`MalformedFrameWarning`, a counter and a :class:`MalformedFrame` record the
caller can read) and skipped; the stream goes on.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Union

import msgspec

from .errors import StreamLimitError
from .events import _VALIDATE_JSON, EVENT_TYPES, Event, EventParseError, parse_event

__all__ = [
    "DEFAULT_MAX_EVENT_BYTES",
    "MalformedFrame",
    "MalformedFrameWarning",
    "SSEDecoder",
    "SSEStream",
    "StreamItem",
    "item_from_frame",
    "iter_sse",
]


class StreamItem:
    """One event of a turn stream.

    Attributes:
        sequence_number: the SSE ``id`` (dense, from 1 in each turn); ``None`` for events that came without one
            (e.g. rebuilt from *list turn events*).
        event: the typed event (:mod:`tfwidget.events`).
        received_at: epoch seconds when the frame was decoded.
        raw: the event's JSON text exactly as received, when known (used for lossless recordings).
        synthesized: ``True`` for an item tfwidget made up, e.g. the ``turn.done`` that closes a stream rebuilt
            from listed events.

    Items are immutable values: equal when sequence number, event, receive time and ``synthesized`` are equal.
    An item that has its ``raw`` text may drop its parsed event to save memory (:meth:`release`, used by the
    fold for the many delta events); ``event`` then parses it again on the next access.
    """

    __slots__ = ("_event", "_fast", "raw", "received_at", "sequence_number", "synthesized")

    def __init__(
        self,
        sequence_number: int | None,
        event: Event | None = None,
        received_at: float | None = None,
        raw: str | None = None,
        synthesized: bool = False,
    ) -> None:
        if event is None and raw is None:
            raise TypeError("StreamItem needs an event or its raw JSON text")
        self.sequence_number = sequence_number
        self._event = event
        self.received_at = time.time() if received_at is None else received_at
        self.raw = raw
        self.synthesized = synthesized
        # a delta the decoder checked against a strict schema (``_FastDelta``) instead of building its event:
        # the fold merges it from this; ``event`` is built from ``raw`` only when asked for
        self._fast: _FastDelta | None = None

    @property
    def event(self) -> Event:
        ev = self._event
        if ev is None:
            ev = self._event = parse_event(self.raw)  # type: ignore[arg-type]
        return ev

    def release(self) -> None:
        """Drop the parsed event if it can be parsed again from ``raw`` (saves memory on huge streams)."""
        if self.raw is not None:
            self._event = None
            self._fast = None

    def __iter__(self) -> Iterator[object]:  # allows ``seq, event = item``
        yield self.sequence_number
        yield self.event

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StreamItem):
            return NotImplemented
        return (
            self.sequence_number == other.sequence_number
            and self.received_at == other.received_at
            and self.synthesized == other.synthesized
            and self.event == other.event
        )

    __hash__ = None  # type: ignore[assignment]

    @property
    def type(self) -> str:
        if self._event is None and self._fast is not None:
            return "model.message.delta"
        return self.event.type

    def to_json(self) -> str:
        """The event's JSON text (``raw`` when known, else the model dumped without ``None`` values)."""
        if self.raw is not None:
            return self.raw
        return self.event.model_dump_json(exclude_none=True)

    def __repr__(self) -> str:
        ev = self.event
        return f"StreamItem(seq={self.sequence_number}, type={ev.type!r}, id={ev.id!r})"


@dataclass(frozen=True, slots=True)
class MalformedFrame:
    """A frame that was skipped, and why."""

    reason: str
    data: str
    sse_id: str | None

    def __str__(self) -> str:
        snippet = self.data if len(self.data) <= 120 else self.data[:117] + "..."
        return f"skipped malformed SSE frame (id={self.sse_id!r}): {self.reason}; data: {snippet!r}"


class MalformedFrameWarning(UserWarning):
    """Issued once per malformed frame that was skipped."""


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def user_stacklevel() -> int:
    """The ``stacklevel`` for a ``warnings.warn`` made by the caller that names the first frame outside
    tfwidget: the user's line that led to the warning, however deep inside the package (generators
    included) the warning was raised."""
    frame = sys._getframe(1)
    level = 1
    while _inside(frame.f_code.co_filename):
        if frame.f_back is None:
            return level  # nothing outside the package called it (e.g. ``python -m tfwidget.cli``): its first frame
        frame = frame.f_back
        level += 1
    return level


def _inside(filename: str) -> bool:
    return os.path.abspath(filename).startswith(_PACKAGE_DIR)


def _text(data: bytes | str) -> str:
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else data


DEFAULT_MAX_EVENT_BYTES = 32 * 1024 * 1024
"""Default cap on one SSE line and on one event's data (characters of decoded text; 32 MiB)."""


class _ArgsFunction(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    name: str | None = None
    arguments: str | None = None


class _ArgsChunk(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    index: int
    id: str | None = None
    type: str | None = None
    function: _ArgsFunction | None = None
    tool_info: Any = None
    provider_specific_fields: Any = None


class _FastDelta(
    msgspec.Struct, tag="model.message.delta", tag_field="type", forbid_unknown_fields=True, gc=False
):
    """A ``model.message.delta`` as the batch fold reads it. Fields that make it take :meth:`TurnState.apply`
    (a finish, usage, a tool call chunk that is more than argument text) are decoded but not merged there; any
    key outside this schema does not fit (the frame takes the careful path)."""

    id: str
    thread_id: str | None = None
    created_at: str | None = None
    content: str | None = None
    refusal: str | None = None
    reasoning_content: str | None = None
    finish_reason: str | None = None
    tool_calls: list[_ArgsChunk] | None = None
    usage: Any = None


# every other event type of the protocol, decoded only to tell it apart (it takes apply()'s path)
_OTHERS = tuple(
    msgspec.defstruct(f"_Other{k}", [], tag=t, tag_field="type", gc=False)
    for k, t in enumerate(EVENT_TYPES)
    if t != "model.message.delta"
)
_FAST_UNION: Any = Union[((_FastDelta,) + _OTHERS)]  # noqa: UP007 (a built union)
_FAST_DECODE = msgspec.json.Decoder(_FAST_UNION).decode
# a JSON array of events in one call (a recording's block of lines); one event outside the schema fails it
_FAST_DECODE_MANY = msgspec.json.Decoder(list[_FAST_UNION]).decode


def _quick_item(chunk: bytes | str, sse_id: str | bytes, now: float) -> StreamItem | None:
    """The common case in one step: an integer id and a well-formed event of a known type. A delta that fits
    :class:`_FastDelta` with only typed fields (no usage, no tool info) becomes an item whose event is built
    on access; any other known event is validated now. ``None``: the careful path (:func:`item_from_frame`)
    keeps or reports the frame."""
    try:
        seq = int(sse_id)
        d = _FAST_DECODE(chunk)
    except (ValueError, msgspec.MsgspecError, RecursionError):  # bad id, not JSON, unknown type, a field
        return None  # outside the schema, JSON nested too deeply
    data = chunk.decode("utf-8") if isinstance(chunk, bytes) else chunk  # (msgspec checked the UTF-8)
    if d.__class__ is _FastDelta and d.usage is None:
        tcs = d.tool_calls
        if (
            tcs is None
            or (len(tcs) == 1 and tcs[0].tool_info is None and tcs[0].provider_specific_fields is None)
            or all(k.tool_info is None and k.provider_specific_fields is None for k in tcs)
        ):
            item = StreamItem(seq, None, now, data)
            item._fast = d
            return item
    try:
        return StreamItem(seq, _VALIDATE_JSON(data), now, data)
    except ValueError:
        return None


# frames of the common shape only: each an ``id`` line of ASCII digits and one non-empty ``data`` line
_TILES = re.compile(rb"(?:id: [0-9]+\ndata: [^\n]+\n\n)+")


def _unzip(frames: list[tuple[bytes | str, str | None]]) -> tuple[list[bytes | str], list[str | None]]:
    return [f[0] for f in frames], [f[1] for f in frames]


def _recursion_limit_hit(event: Event) -> bool:
    problem = getattr(event, "parse_problem", None)
    return isinstance(problem, str) and "recursion limit" in problem


def item_from_frame(
    data: str, sse_id: str | None, received_at: float | None = None
) -> StreamItem | MalformedFrame:
    """Turn one frame's ``data`` and ``id`` into a :class:`StreamItem`, or a :class:`MalformedFrame`.

    ``sse_id`` ``None`` or empty means the frame had no id (``sequence_number`` ``None``). JSON nested too deep
    for Python to parse is a :class:`MalformedFrame` (never a ``RecursionError``).
    """
    seq: int | None
    if sse_id:
        try:
            seq = int(sse_id)
        except ValueError:
            return MalformedFrame(f"SSE id {sse_id!r} is not an integer sequence number", data, sse_id)
    else:
        seq = None
    try:
        event = parse_event(data)
        if _recursion_limit_hit(event):
            # the fast JSON validator stops at 200 levels; Python's parser goes deeper
            event = parse_event(json.loads(data))
    except EventParseError as err:
        return MalformedFrame(str(err), data, sse_id)
    except RecursionError:
        return MalformedFrame("JSON nested too deeply to parse", data, sse_id)
    return StreamItem(seq, event, time.time() if received_at is None else received_at, data)


class SSEDecoder:
    """Incremental SSE decoder: feed it chunks, get :class:`StreamItem` s.

    Follows the SSE standard's event-id rule: the last event id persists across frames (a frame without an
    ``id`` line carries the previous one; ``id:`` with an empty value clears it), exactly like httpx-sse.
    One line, and one event's data, are capped at ``max_event_bytes`` characters: beyond it the decoder stops
    with :class:`~tfwidget.errors.StreamLimitError` (the frames completed before it are still returned by the
    call that hit the cap; the error is raised by the next call).

    >>> d = SSEDecoder()
    >>> d.feed(b'id: 1\\ndata: {"type": "x", "id": "a"}\\n') + d.feed(b"\\n")
    [StreamItem(seq=1, type='x', id='a')]
    """

    def __init__(self, *, warn: bool = True, max_event_bytes: int | None = DEFAULT_MAX_EVENT_BYTES) -> None:
        # bytes not yet split into frames: the unfinished last frame (or, once it outgrew the cap, its unfinished
        # last line), in pieces so that a long frame arriving in many chunks stays linear
        self._parts: list[bytes] = []
        self._plen = 0
        self._cont = False  # the pending bytes start with the line end of a line already taken
        self._pending_cr = False
        self._data: list[str] = []
        self._size = 0
        self.warn = warn
        self.max_event_bytes = max_event_bytes
        self.retry: int | None = None
        self.last_event_id: str | None = None
        self.errors: list[MalformedFrame] = []
        self.frames = 0
        self.limit_error: StreamLimitError | None = None

    @property
    def malformed(self) -> int:
        """How many frames were skipped as malformed."""
        return len(self.errors)

    # -- feeding

    def feed(self, chunk: bytes | bytearray | str) -> list[StreamItem]:
        """Decode a chunk (bytes or text) and return the items whose frames it completed."""
        return self._items(self._frames(chunk))

    def close(self) -> list[StreamItem]:
        """End of stream: dispatch a final frame that lacked its blank line (a cut stream is not lost)."""
        return self._items(self._close())

    def feed_frames(self, chunk: bytes | bytearray | str) -> list[tuple[str, str | None]]:
        """Decode a chunk; return the completed frames as ``(data, last_event_id)`` (``None``: no id)."""
        return [(_text(d), i) for d, i in self._frames(chunk)]

    def close_frames(self) -> list[tuple[str, str | None]]:
        """End of stream: the final frame that lacked its blank line, as :meth:`feed_frames` returns it."""
        return [(_text(d), i) for d, i in self._close()]

    def _frames(self, chunk: bytes | bytearray | str) -> list[tuple[bytes | str, str | None]]:
        """The frames a chunk completes; a frame's data is bytes (UTF-8) on the common path, else text."""
        datas, ids = self._columns(chunk)
        if ids and type(ids[0]) is bytes:  # the common shape: ASCII digits
            ids = b"\n".join(ids).decode("ascii").split("\n")
        return list(zip(datas, ids, strict=True))

    def _columns(self, chunk: bytes | bytearray | str) -> tuple[list[Any], list[Any]]:
        """The frames a chunk completes, as two lists: their data and their last event ids. When every frame
        has the common shape (:meth:`_tiled`) the ids are the ASCII digits as bytes, else text or ``None``."""
        if self.limit_error is not None:
            raise self.limit_error
        if isinstance(chunk, str):
            chunk = chunk.encode("utf-8", "surrogatepass")
        elif type(chunk) is not bytes:
            chunk = bytes(chunk)
        out: list[tuple[bytes | str, str | None]] = []
        if self._pending_cr:
            self._pending_cr = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        if not chunk:
            return [], []
        if b"\r" in chunk:  # CRLF and lone CR end lines too: one rule for all three from here on
            self._pending_cr = chunk[-1] == 13  # may be the first half of a CRLF split across chunks
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        parts = self._parts
        if parts:
            if b"\n\n" not in chunk and not (chunk[0] == 10 and parts[-1][-1:] == b"\n"):
                parts.append(chunk)  # the middle of a frame
                self._plen += len(chunk)
                self._check_pending(out)
                return _unzip(out)
            parts.append(chunk)
            buf = b"".join(parts)
        else:
            buf = chunk
        limit = self.max_event_bytes
        if not self._data and not self._cont:
            cols = self._tiled(buf, limit)
            if cols is not None:
                self._check_pending(out)
                if out:  # the unfinished rest, beyond the cap, gave lines (never a frame: no blank line)
                    datas, ids = _unzip(out)
                    return cols[0] + datas, cols[1] + ids
                return cols
        blocks = buf.split(b"\n\n")
        rest = blocks.pop()  # the unfinished last frame
        self._parts = [rest] if rest else []
        self._plen = len(rest)
        cap = limit if limit is not None else len(buf) + 1
        # the hot loop: a frame of exactly an "id: " line and a "data: " line takes no per-line work
        for block in blocks:
            if (
                block[:4] == b"id: "
                and not self._data
                and not self._cont
                and block.count(b"\n") == 1
                and len(block) < cap
                and b"\0" not in block
            ):
                k = block.index(b"\n")
                if block[k + 1 : k + 7] == b"data: ":
                    sid = block[4:k].decode("utf-8", "replace")
                    self.last_event_id = sid
                    data = block[k + 7 :]
                    if data:
                        self.frames += 1
                        out.append((data, sid or None))
                    continue
            self._block(block, out)
            if self.limit_error is not None:
                return _unzip(out)
        self._check_pending(out)
        return _unzip(out)

    def _tiled(self, buf: bytes, limit: int | None) -> tuple[list[Any], list[Any]] | None:
        """The common shape in one pass: when the complete frames of ``buf`` are all exactly an ``id: <digits>``
        line and a non-empty ``data: `` line (no NUL, no line or frame beyond the cap), their data and ids as
        two lists (the ids as ASCII digits); the unfinished rest is kept. ``None``: take the general path."""
        end = buf.rfind(b"\n\n") + 2
        if end < 2 or b"\0" in buf or _TILES.fullmatch(buf, 0, end) is None:
            return None
        # every frame is "id: N\ndata: D\n\n" (D without a line feed): one separator between all the fields
        fields = buf[4 : end - 2].replace(b"\n\nid: ", b"\ndata: ").split(b"\ndata: ")
        ids, datas = fields[0::2], fields[1::2]
        if limit is not None and max(map(len, ids)) + max(map(len, datas)) + 13 >= limit:
            return None  # a frame near the cap: the careful path counts its characters
        rest = buf[end:]
        self._parts = [rest] if rest else []
        self._plen = len(rest)
        self.last_event_id = ids[-1].decode("ascii")
        self.frames += len(ids)
        return datas, ids

    def _block(self, block: bytes, out: list[tuple[bytes | str, str | None]], end: bool = True) -> None:
        """Lines of a frame, then (``end``) the blank line that ends it."""
        lines = block.split(b"\n")
        if self._cont:  # the first "line" is the end of a line taken before
            self._cont = False
            del lines[0]
        for raw in lines:
            self._line(raw.decode("utf-8", "replace"), out)
            if self.limit_error is not None:
                return
        if end:
            self._line("", out)

    def _check_pending(self, out: list[tuple[bytes | str, str | None]]) -> None:
        """An unfinished frame beyond the cap: take its complete lines now, keep only the unfinished last one."""
        limit = self.max_event_bytes
        if limit is None or self._plen <= limit:
            return
        buf = b"".join(self._parts)
        cut = buf.rfind(b"\n")
        if cut >= 0:
            self._block(buf[:cut], out, end=False)
            if self.limit_error is not None:
                return
            buf = buf[cut:]
            self._cont = True
        self._parts, self._plen = [buf], len(buf)
        if len(buf) - self._cont > limit and len(buf.decode("utf-8", "replace")) - self._cont > limit:
            self._limit("one line")  # (the cap counts characters; bytes are counted first, as they are more)

    def _close(self) -> list[tuple[bytes | str, str | None]]:
        out: list[tuple[bytes | str, str | None]] = []
        if self.limit_error is not None:
            return out
        buf = b"".join(self._parts)
        self._parts, self._plen = [], 0
        self._pending_cr = False
        if buf:
            self._block(buf, out, end=False)
        self._cont = False
        self._line("", out)
        return out

    def _limit(self, what: str) -> None:
        self.limit_error = StreamLimitError(
            f"The event stream sent more than {self.max_event_bytes:,} characters in {what} "
            f"(limit max_event_bytes). The events before it were kept. If the stream is genuine, raise the "
            f"limit: GatewayClient(limits=StreamLimits(max_event_bytes=...)) or SSEDecoder(max_event_bytes=...).",
            limit="max_event_bytes",
            value=self.max_event_bytes,
        )
        self._data = []
        self._size = 0
        self._parts, self._plen, self._cont = [], 0, False

    def _line(self, line: str, out: list[tuple[bytes | str, str | None]]) -> None:
        if not line:
            if self._data:
                self._dispatch(out)
            return
        if line[0] == ":":
            return
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
            self._size += len(value) + 1  # the joining line feeds; the event's data drops the last one
            if self.max_event_bytes is not None and self._size - 1 > self.max_event_bytes:
                self._limit("one event's data")
        elif name == "id":
            if "\0" not in value:
                self.last_event_id = value
        elif name == "retry":
            if (
                value.isascii() and value.isdigit()
            ):  # the standard: ASCII digits only (a negative value is ignored)
                self.retry = int(value)
        # "event" and unknown field names are ignored: the JSON "type" tells events apart

    def _dispatch(self, out: list[tuple[bytes | str, str | None]]) -> None:
        parts = self._data
        data = "\n".join(parts) if len(parts) > 1 else parts[0]
        self._data = []
        self._size = 0
        if not data:  # "data:" with nothing after it carries no event: skipped like a comment
            return
        self.frames += 1
        out.append((data, self.last_event_id or None))

    def _items(
        self, frames: list[tuple[bytes | str, str | None]], now: float | None = None
    ) -> list[StreamItem]:
        out: list[StreamItem] = []
        if now is None:
            now = time.time()
        for chunk, sse_id in frames:
            if sse_id is not None:
                item = _quick_item(chunk, sse_id, now)
                if item is not None:
                    out.append(item)
                    continue
            data = chunk.decode("utf-8", "replace") if isinstance(chunk, bytes) else chunk
            res = item_from_frame(data, sse_id, now)
            if isinstance(res, MalformedFrame):
                self.errors.append(res)
                if self.warn:
                    warnings.warn(str(res), MalformedFrameWarning, stacklevel=user_stacklevel())
                continue
            out.append(res)
        return out


class SSEStream:
    """Iterator over the items of an SSE source; read ``malformed`` / ``errors`` / ``retry`` during or after.

    A source beyond the decoder's cap raises :class:`~tfwidget.errors.StreamLimitError` after the items
    before it.
    """

    def __init__(
        self,
        source: bytes | bytearray | str | Iterable[bytes | bytearray | str],
        *,
        warn: bool = True,
        max_event_bytes: int | None = DEFAULT_MAX_EVENT_BYTES,
    ):
        self.decoder = SSEDecoder(warn=warn, max_event_bytes=max_event_bytes)
        self._source = source

    @property
    def malformed(self) -> int:
        return self.decoder.malformed

    @property
    def errors(self) -> list[MalformedFrame]:
        return self.decoder.errors

    @property
    def retry(self) -> int | None:
        return self.decoder.retry

    def __iter__(self) -> Iterator[StreamItem]:
        src = self._source
        chunks: Iterable[bytes | bytearray | str] = [src] if isinstance(src, (bytes, bytearray, str)) else src
        feed = self.decoder.feed
        for chunk in chunks:
            yield from feed(chunk)
            if self.decoder.limit_error is not None:
                raise self.decoder.limit_error
        yield from self.decoder.close()


def iter_sse(
    source: bytes | bytearray | str | Iterable[bytes | bytearray | str],
    *,
    warn: bool = True,
    max_event_bytes: int | None = DEFAULT_MAX_EVENT_BYTES,
) -> SSEStream:
    """Parse SSE from bytes, text, or an iterable of chunks or lines (e.g. ``response.iter_bytes()``).

    Returns an iterable :class:`SSEStream` whose ``malformed`` counter and ``errors`` list report the frames
    that were skipped. Lines from ``iter_lines()`` (without their line ends) are fine too: pass them with
    their ends restored, or use ``iter_sse(line + "\\n" for line in lines)``. One line or event beyond
    ``max_event_bytes`` characters raises :class:`~tfwidget.errors.StreamLimitError` (``None``: no cap).
    """
    return SSEStream(source, warn=warn, max_event_bytes=max_event_bytes)
