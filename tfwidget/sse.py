"""Server-sent events -> :class:`StreamItem` (sequence number + typed event).

The decoder follows the SSE parsing rules of the HTML standard: LF, CRLF and lone CR line ends, multi-line
``data:``, ``:`` comments, ``retry:``, one optional space after the colon, frames split anywhere across chunk
boundaries (including inside a UTF-8 character). A frame whose data is not a JSON event, or whose ``id`` is not
an integer, is *reported* (a :class:`MalformedFrameWarning`, a counter and a :class:`MalformedFrame` record the
caller can read) and skipped; the stream goes on.
"""

from __future__ import annotations

import codecs
import json
import re
import time
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from .errors import StreamLimitError
from .events import _VALIDATE_JSON, Event, EventParseError, parse_event

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

    __slots__ = ("_event", "raw", "received_at", "sequence_number", "synthesized")

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


_LINE_SPLIT = re.compile(r"\r\n|\r|\n")

DEFAULT_MAX_EVENT_BYTES = 32 * 1024 * 1024
"""Default cap on one SSE line and on one event's data (characters of decoded text; 32 MiB)."""


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
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._parts: list[str] = []  # the unfinished last line, in pieces (an endless line stays linear)
        self._plen = 0
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
        return self._items(self.feed_frames(chunk))

    def close(self) -> list[StreamItem]:
        """End of stream: dispatch a final frame that lacked its blank line (a cut stream is not lost)."""
        return self._items(self.close_frames())

    def feed_frames(self, chunk: bytes | bytearray | str) -> list[tuple[str, str | None]]:
        """Decode a chunk; return the completed frames as ``(data, last_event_id)`` (``None``: no id)."""
        if self.limit_error is not None:
            raise self.limit_error
        text = self._utf8.decode(chunk) if isinstance(chunk, (bytes, bytearray)) else chunk
        out: list[tuple[str, str | None]] = []
        if not text:
            return out
        if self._pending_cr:
            self._pending_cr = False
            if text[0] == "\n":
                text = text[1:]
                if not text:
                    return out
        if "\n" not in text and "\r" not in text:  # the middle of a (long) line
            self._parts.append(text)
            self._plen += len(text)
            self._check_line()
            return out
        if self._parts:
            self._parts.append(text)
            buf = "".join(self._parts)
        else:
            buf = text
        lines = _LINE_SPLIT.split(buf)
        rest = lines.pop()  # the unfinished last line
        self._parts = [rest] if rest else []
        self._plen = len(rest)
        if buf.endswith("\r") and not rest:
            # a CR at the very end may be the first half of a CRLF split across chunks
            self._pending_cr = True
        limit = self.max_event_bytes
        # the hot loop: "id:", "data:" and blank lines inline; anything else goes through _line
        data = self._data
        for line in lines:
            if not line:
                if data:
                    self._dispatch(out)
                    data = self._data
            elif line[0] == "d" and line.startswith("data:"):
                value = line[6:] if line[5:6] == " " else line[5:]
                data.append(value)
                if limit is not None:
                    self._size += len(value) + 1
                    if self._size > limit:
                        self._limit("one event's data")
                        return out
            elif line[0] == "i" and line.startswith("id:") and "\0" not in line:
                self.last_event_id = line[4:] if line[3:4] == " " else line[3:]
            else:
                self._line(line, out)
                data = self._data
        self._check_line()
        return out

    def close_frames(self) -> list[tuple[str, str | None]]:
        """End of stream: the final frame that lacked its blank line, as :meth:`feed_frames` returns it."""
        out: list[tuple[str, str | None]] = []
        if self.limit_error is not None:
            return out
        tail = self._utf8.decode(b"", final=True)
        buf = "".join(self._parts) + tail
        self._parts, self._plen = [], 0
        if buf:
            self._line(buf, out)
        self._line("", out)
        return out

    def _check_line(self) -> None:
        limit = self.max_event_bytes
        if limit is not None and self._plen > limit:
            self._limit("one line")

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
        self._parts, self._plen = [], 0

    def _line(self, line: str, out: list[tuple[str, str | None]]) -> None:
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
            self._size += len(value) + 1
            if self.max_event_bytes is not None and self._size > self.max_event_bytes:
                self._limit("one event's data")
        elif name == "id":
            if "\0" not in value:
                self.last_event_id = value
        elif name == "retry":
            if value.isdigit():  # the standard: ASCII digits only (a negative value is ignored)
                self.retry = int(value)
        # "event" and unknown field names are ignored: the JSON "type" tells events apart

    def _dispatch(self, out: list[tuple[str, str | None]]) -> None:
        parts = self._data
        data = "\n".join(parts) if len(parts) > 1 else parts[0]
        self._data = []
        self._size = 0
        if not data:  # "data:" with nothing after it carries no event: skipped like a comment
            return
        self.frames += 1
        out.append((data, self.last_event_id or None))

    def _items(self, frames: list[tuple[str, str | None]]) -> list[StreamItem]:
        out: list[StreamItem] = []
        now = time.time()
        for data, sse_id in frames:
            if sse_id is not None:
                try:  # the common case in one step: an integer id and a known, well-formed event
                    out.append(StreamItem(int(sse_id), _VALIDATE_JSON(data), now, data))
                    continue
                except (
                    ValueError
                ):  # bad id, bad JSON, unknown type: the careful path below keeps or reports it
                    pass
            res = item_from_frame(data, sse_id, now)
            if isinstance(res, MalformedFrame):
                self.errors.append(res)
                if self.warn:
                    warnings.warn(str(res), MalformedFrameWarning, stacklevel=4)
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
