"""Server-sent events -> :class:`StreamItem` (sequence number + typed event).

The decoder follows the SSE parsing rules of the HTML standard: LF, CRLF and lone CR line ends, multi-line
``data:``, ``:`` comments, ``retry:``, one optional space after the colon, frames split anywhere across chunk
boundaries (including inside a UTF-8 character). A frame whose data is not a JSON event, or whose ``id`` is not
an integer, is *reported* (a :class:`MalformedFrameWarning`, a counter and a :class:`MalformedFrame` record the
caller can read) and skipped; the stream goes on.
"""

from __future__ import annotations

import codecs
import re
import time
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from .events import _VALIDATE_JSON, Event, EventParseError, parse_event

__all__ = [
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


def item_from_frame(
    data: str, sse_id: str | None, received_at: float | None = None
) -> StreamItem | MalformedFrame:
    """Turn one frame's ``data`` and ``id`` into a :class:`StreamItem`, or a :class:`MalformedFrame`.

    ``sse_id`` ``None`` or empty means the frame had no id (``sequence_number`` ``None``).
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
    except EventParseError as err:
        return MalformedFrame(str(err), data, sse_id)
    return StreamItem(seq, event, time.time() if received_at is None else received_at, data)


_LINE_SPLIT = re.compile(r"\r\n|\r|\n")


class SSEDecoder:
    """Incremental SSE decoder: feed it chunks, get :class:`StreamItem` s.

    >>> d = SSEDecoder()
    >>> d.feed(b'id: 1\\ndata: {"type": "x", "id": "a"}\\n') + d.feed(b"\\n")
    [StreamItem(seq=1, type='x', id='a')]
    """

    def __init__(self, *, warn: bool = True) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buf = ""
        self._pending_cr = False
        self._data: list[str] = []
        self._id: str | None = None
        self._has_id = False
        self.warn = warn
        self.retry: int | None = None
        self.last_event_id: str | None = None
        self.errors: list[MalformedFrame] = []
        self.frames = 0

    @property
    def malformed(self) -> int:
        """How many frames were skipped as malformed."""
        return len(self.errors)

    # -- feeding

    def feed(self, chunk: bytes | bytearray | str) -> list[StreamItem]:
        """Decode a chunk (bytes or text) and return the items whose frames it completed."""
        text = self._utf8.decode(chunk) if isinstance(chunk, (bytes, bytearray)) else chunk
        if not text:
            return []
        if self._pending_cr:
            self._pending_cr = False
            if text[0] == "\n":
                text = text[1:]
        buf = self._buf + text if self._buf else text
        out: list[StreamItem] = []
        lines = _LINE_SPLIT.split(buf)
        self._buf = lines.pop()  # the unfinished last line
        if buf.endswith("\r") and not self._buf:
            # a CR at the very end may be the first half of a CRLF split across chunks
            self._pending_cr = True
        # the hot loop: "id:", "data:" and blank lines inline; anything else goes through _line
        now = time.time()
        data = self._data
        for line in lines:
            if not line:
                if data:
                    self._dispatch(out, now)
                    data = self._data
                else:
                    self._has_id = False
                    self._id = None
            elif line[0] == "d" and line.startswith("data:"):
                data.append(line[6:] if line[5:6] == " " else line[5:])
            elif line[0] == "i" and line.startswith("id:") and "\0" not in line:
                self._id = line[4:] if line[3:4] == " " else line[3:]
                self._has_id = True
            else:
                self._line(line, out)
                data = self._data
        return out

    def close(self) -> list[StreamItem]:
        """End of stream: dispatch a final frame that lacked its blank line (a cut stream is not lost)."""
        out: list[StreamItem] = []
        tail = self._utf8.decode(b"", final=True)
        if tail:
            self._buf += tail
        if self._buf:
            self._line(self._buf, out)
            self._buf = ""
        self._line("", out)
        return out

    def _line(self, line: str, out: list[StreamItem]) -> None:
        if not line:
            if self._data:
                self._dispatch(out)
            else:
                self._has_id = False
                self._id = None
            return
        if line[0] == ":":
            return
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "id":
            if "\0" not in value:
                self._id = value
                self._has_id = True
        elif name == "retry":
            if value.isdigit():
                self.retry = int(value)
        # "event" and unknown field names are ignored: the JSON "type" tells events apart

    def _dispatch(self, out: list[StreamItem], now: float | None = None) -> None:
        parts = self._data
        data = "\n".join(parts) if len(parts) > 1 else parts[0]
        sse_id = self._id if self._has_id else None
        self._data = []
        self._has_id = False
        self._id = None
        self.frames += 1
        if sse_id is not None:
            self.last_event_id = sse_id
            try:  # the common case in one step: an integer id and a known, well-formed event
                out.append(StreamItem(int(sse_id), _VALIDATE_JSON(data), now, data))
                return
            except ValueError:  # bad id, bad JSON, unknown type: the careful path below keeps or reports it
                pass
        res = item_from_frame(data, sse_id, now)
        if isinstance(res, MalformedFrame):
            self.errors.append(res)
            if self.warn:
                warnings.warn(str(res), MalformedFrameWarning, stacklevel=4)
            return
        out.append(res)


class SSEStream:
    """Iterator over the items of an SSE source; read ``malformed`` / ``errors`` / ``retry`` during or after."""

    def __init__(
        self, source: bytes | bytearray | str | Iterable[bytes | bytearray | str], *, warn: bool = True
    ):
        self.decoder = SSEDecoder(warn=warn)
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
        yield from self.decoder.close()


def iter_sse(
    source: bytes | bytearray | str | Iterable[bytes | bytearray | str], *, warn: bool = True
) -> SSEStream:
    """Parse SSE from bytes, text, or an iterable of chunks or lines (e.g. ``response.iter_bytes()``).

    Returns an iterable :class:`SSEStream` whose ``malformed`` counter and ``errors`` list report the frames
    that were skipped. Lines from ``iter_lines()`` (without their line ends) are fine too: pass them with
    their ends restored, or use ``iter_sse(line + "\\n" for line in lines)``.
    """
    return SSEStream(source, warn=warn)
