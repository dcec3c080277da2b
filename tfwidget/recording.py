"""Saved turns: raw SSE captures (``.sse``) and tfwidget recordings (``.jsonl``).

Recording format (``.jsonl``, UTF-8, one JSON object per line, in stream order)::

    {"seq": 12, "t": 1785578400.123, "event": {"type": "model.message.delta", "id": "...", ...}}

- ``seq``: the SSE sequence number, or ``null`` for an event that came without one;
- ``t``: when the event was received, epoch seconds (float);
- ``event``: the event object exactly as it came off the wire (unknown fields and types included);
- ``synthesized``: present and ``true`` only for items the client made up (e.g. a rebuilt ``turn.done``).

A raw ``.sse`` capture is the byte stream as it came off the wire. It carries no receive times: items loaded
from it get the event's ``created_at`` (or the previous item's time when absent) as ``received_at``, so a
replay keeps the turn's own rhythm.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

import msgspec

from ._itemlog import ItemLog
from .events import ModelMessageDeltaEvent, parse_event
from .sse import (
    _FAST_DECODE,
    _FAST_DECODE_MANY,
    DEFAULT_MAX_EVENT_BYTES,
    MalformedFrame,
    MalformedFrameWarning,
    StreamItem,
    _FastDelta,
    iter_sse,
    user_stacklevel,
)
from .state import TurnState

__all__ = ["load", "save"]

_SUFFIXES = (".sse", ".jsonl")


def _ts(created_at: str | None) -> float | None:
    if not created_at:
        return None
    try:
        return datetime.fromisoformat(created_at.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _file_chunks(path: Path, size: int = 1 << 20) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while chunk := fh.read(size):
            yield chunk


def _load_sse(path: Path, max_event_bytes: int | None = DEFAULT_MAX_EVENT_BYTES) -> ItemLog:
    # read in chunks (never the whole file and its items at once); a delta keeps only its raw text, its
    # event is parsed again when asked for (as the fold's release() does), in the log's compact columns
    items = ItemLog()
    last = 0.0
    for it in iter_sse(_file_chunks(path), max_event_bytes=max_event_bytes):
        ev = it.event
        t = _ts(ev.created_at)
        t = last if t is None else t
        last = t
        keep = None if type(ev) is ModelMessageDeltaEvent and it.raw is not None else ev
        items.append(StreamItem(it.sequence_number, keep, t, it.raw, it.synthesized))
    return items


class _Line(msgspec.Struct, gc=False):
    """A recording line, its event kept as the raw JSON text it was saved as."""

    event: msgspec.Raw
    seq: int | None = None
    t: float = 0.0
    synthesized: bool = False


_LINES = msgspec.json.Decoder(_Line)
_BLOCK = 1 << 20
# Room on a recording line for the fields around its event.
_LINE_FIELDS = 64 << 10


def _max_line(max_event_bytes: int | None) -> int | None:
    """The bound on one recording line for events of up to ``max_event_bytes`` characters (the SSE decoder's
    cap): four UTF-8 bytes per character, and the line's other fields. ``None``: no bound."""
    return None if max_event_bytes is None else 4 * max_event_bytes + _LINE_FIELDS


def _line_blocks(path: Path, max_line: int | None = _max_line(DEFAULT_MAX_EVENT_BYTES)) -> Iterator[bytes]:
    """The file in blocks of whole lines (about 1 MiB each; a longer line is one block). The pieces of a
    line longer than a block are joined once, when its end is read (linear in the line's length). A line
    longer than ``max_line`` bytes is not kept: it is reported (a :class:`MalformedFrameWarning` naming the
    file, the line and the bound), read past and left as a blank line, and the lines after it are read. (The
    bound is checked on a line's pieces as they are read, and no read is longer than the bound, so every
    longer line spans reads and is caught.)"""
    limit = max_line if max_line is not None else -1
    parts: list[bytes] = []  # the start of the next block: pieces read without a line end
    pending = 0  # their length
    newlines = 0  # line ends read so far: the line being read is number newlines + 1
    skipping = 0  # the line number of an overlong line being read past (0: none)
    with path.open("rb") as fh:
        size = min(_BLOCK, os.fstat(fh.fileno()).st_size + 1)  # a small file in one read of its size
        if limit >= 0:
            size = max(1, min(size, limit))
        while chunk := fh.read(size):
            if skipping:
                end = chunk.find(b"\n")
                if end < 0:
                    continue
                _warn_long(path, skipping, limit)
                skipping = 0
                chunk = chunk[end:]  # the overlong line's end: it is left as a blank line
            first = chunk.find(b"\n")
            if limit >= 0 and pending + (first if first >= 0 else len(chunk)) > limit:
                parts, pending, skipping = [], 0, newlines + 1
                if first < 0:
                    continue
                _warn_long(path, skipping, limit)
                skipping = 0
                chunk = chunk[first:]
            newlines += chunk.count(b"\n")
            cut = chunk.rfind(b"\n") + 1
            if cut == 0:
                parts.append(chunk)
                pending += len(chunk)
                continue
            if parts:
                parts.append(chunk[:cut])
                yield b"".join(parts)
                parts, pending = [], 0
            else:
                yield chunk[:cut]
            if cut < len(chunk):
                parts.append(chunk[cut:])
                pending = len(chunk) - cut
    if skipping:
        _warn_long(path, skipping, limit)
    elif parts:
        yield b"".join(parts)


def _warn_long(path: Path, lineno: int, limit: int) -> None:
    warnings.warn(
        f"{path.name}, line {lineno}: skipped a line longer than {limit:,} bytes (the bound on one recording "
        "line: one event of at most max_event_bytes characters and its fields; load(..., max_event_bytes=...) "
        "raises it, None lifts it); the lines after it are read",
        MalformedFrameWarning,
        stacklevel=user_stacklevel(),
    )


Record = StreamItem | tuple[int | None, float, bytes, Any]


class _Lines(NamedTuple):
    """A block of a recording's lines, decoded in one step: line ``k`` is ``items[k]`` (an item), or, where
    that is ``None``, a delta the strict decoder read (``decoded[k]``) with its sequence number, receive
    time and raw UTF-8 JSON (its event is parsed when asked for)."""

    seqs: list[int | None]
    times: list[float]
    raws: list[bytes]
    decoded: list[Any]
    items: list[StreamItem | None]

    def records(self) -> Iterator[Record]:
        for seq, t, raw, d, item in zip(
            self.seqs, self.times, self.raws, self.decoded, self.items, strict=True
        ):
            yield (seq, t, raw, d) if item is None else item


def _jsonl_chunks(
    path: Path, max_line: int | None = _max_line(DEFAULT_MAX_EVENT_BYTES)
) -> Iterator[_Lines | Record]:
    """A ``.jsonl`` recording in order, as blocks of lines decoded in one step (:class:`_Lines`, each event
    kept as its saved text), and, for a block with any other line, that block's records read line by line
    (errors name the file and line): an item, or for a delta the strict decoder reads (see
    ``sse._FastDelta``) ``(seq, t, raw UTF-8, decoded)``."""
    lineno = 0
    for block in _line_blocks(path, max_line):
        try:
            lines = _LINES.decode_lines(block)
        except (msgspec.MsgspecError, RecursionError):
            lines = None
        if lines is None:  # line ends as text mode reads them (\n, \r\n or \r)
            text_lines = block.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n").split("\n")
            for no, line in enumerate(text_lines, lineno + 1):
                yield from _records_of_line(path, no, line)
            lineno += len(text_lines) - 1
            continue
        raws = [bytes(ln.event) for ln in lines]
        try:  # every event of the block in one step: the common case
            decoded: list[Any] = _FAST_DECODE_MANY(b"[" + b",".join(raws) + b"]")
        except (msgspec.MsgspecError, RecursionError):  # an event outside the schema: one by one
            decoded = [_decode_or_none(raw) for raw in raws]
        seqs = [ln.seq for ln in lines]
        times = [ln.t for ln in lines]
        # the lines that are not plain deltas become items (their events parsed now): few in a turn; a line
        # whose event cannot be parsed takes the general path, which reports it with its line number
        items: list[StreamItem | None] = [None] * len(raws)
        start = 0  # the first line not yielded yet
        numbered: list[int] | None = None  # the line number of each line of the block, when one is needed
        for k, ln in enumerate(lines):
            d = decoded[k]
            if d.__class__ is _FastDelta and not ln.synthesized:
                continue
            text = raws[k].decode("utf-8")
            try:
                event = None if d.__class__ is _FastDelta else parse_event(text)
            except (ValueError, RecursionError):
                if numbered is None:
                    numbered = [
                        no for no, bline in enumerate(block.split(b"\n"), lineno + 1) if bline.strip()
                    ]
                if k > start:
                    yield _Lines(
                        seqs[start:k], times[start:k], raws[start:k], decoded[start:k], items[start:k]
                    )
                start = k + 1
                yield from _records_of_line(path, numbered[k], text, ln)
                continue
            items[k] = StreamItem(ln.seq, event, ln.t, text, ln.synthesized)
        if start == 0:
            yield _Lines(seqs, times, raws, decoded, items)
        elif start < len(raws):
            yield _Lines(seqs[start:], times[start:], raws[start:], decoded[start:], items[start:])
        lineno += block.count(b"\n")


def _decode_or_none(raw: bytes) -> Any:
    try:
        return _FAST_DECODE(raw)
    except (msgspec.MsgspecError, RecursionError):
        return None


def _jsonl_records(path: Path, max_line: int | None = _max_line(DEFAULT_MAX_EVENT_BYTES)) -> Iterator[Record]:
    """The lines of a ``.jsonl`` recording, in order (see :func:`_jsonl_chunks`)."""
    for chunk in _jsonl_chunks(path, max_line):
        if type(chunk) is _Lines:
            yield from chunk.records()
        else:
            yield chunk  # type: ignore[misc]


def _records_of_line(path: Path, lineno: int, line: str, ln: _Line | None = None) -> Iterator[Record]:
    """The record of one line (none for a blank one), read by itself. ``ln``: the line already decoded
    (its event text is ``line``). An event that cannot be parsed is reported and skipped when nested too
    deeply (the rest is kept); any other line that is not a recording line raises, naming file and line."""
    if ln is None:
        line = line.strip()
        if not line:
            return
        try:
            ln = _LINES.decode(line)
        except (msgspec.MsgspecError, RecursionError):
            ln = None
        else:
            line = bytes(ln.event).decode("utf-8")
    if ln is not None:
        d = _decode_or_none(line.encode("utf-8"))
        plain = d.__class__ is _FastDelta
        if plain and not ln.synthesized:
            yield ln.seq, ln.t, line.encode("utf-8"), d
            return
        try:
            event = None if plain else parse_event(line)
        except RecursionError:
            _warn_deep(path, lineno, line)
            return
        except ValueError as err:
            raise ValueError(f"{path.name}, line {lineno}: not a tfwidget recording line ({err})") from None
        yield StreamItem(ln.seq, event, ln.t, line, ln.synthesized)
        return
    try:
        rec = json.loads(line)
        ev_obj = rec["event"]
        raw = json.dumps(ev_obj, ensure_ascii=False)
        item = StreamItem(
            rec.get("seq"),
            parse_event(raw),
            float(rec.get("t") or 0.0),
            raw,
            bool(rec.get("synthesized", False)),
        )
    except RecursionError:  # JSON nested too deeply to parse: reported and skipped, the rest is kept
        _warn_deep(path, lineno, line)
        return
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{path.name}, line {lineno}: not a tfwidget recording line ({err})") from None
    yield item


def _warn_deep(path: Path, lineno: int, line: str) -> None:
    warnings.warn(
        str(MalformedFrame("JSON nested too deeply to parse", line[:200], None))
        + f" ({path.name}, line {lineno})",
        MalformedFrameWarning,
        stacklevel=user_stacklevel(),
    )


def _load_jsonl(path: Path, max_event_bytes: int | None = DEFAULT_MAX_EVENT_BYTES) -> ItemLog:
    items = ItemLog()
    for rec in _jsonl_records(path, _max_line(max_event_bytes)):
        if type(rec) is tuple:
            seq, t, raw, _ = rec
            items._add(raw, seq, t)  # its event is parsed when asked for
        else:
            items.append(rec)  # type: ignore[arg-type]
    return items


def fold_file(
    path: str | os.PathLike[str], *, max_event_bytes: int | None = DEFAULT_MAX_EVENT_BYTES
) -> TurnState:
    """``TurnState.from_items(load_file(path))``, without the items in between for a ``.jsonl``
    recording: its plain text deltas go straight into the fold."""
    p = Path(path)
    if p.suffix != ".jsonl" or not p.is_file():
        return TurnState.from_items(load_file(p, max_event_bytes=max_event_bytes))
    state = TurnState()
    for chunk in _jsonl_chunks(p, _max_line(max_event_bytes)):
        if type(chunk) is _Lines:
            state._fold_lines(*chunk)
        else:
            state._fold_records((chunk,))  # type: ignore[arg-type]
    if type(state.items) is ItemLog:
        state.items.trim()
    return state


def load(
    path: str | os.PathLike[str], *, max_event_bytes: int | None = DEFAULT_MAX_EVENT_BYTES
) -> Sequence[StreamItem] | dict[str, Sequence[StreamItem]]:
    """Load a recording.

    - a ``.sse`` file (raw capture) or ``.jsonl`` file (tfwidget recording): its items, in stream order;
    - a folder: ``{file stem: items}`` for every ``.sse``/``.jsonl`` file in it, sorted by name.

    The items are a read-only :class:`~collections.abc.Sequence` of :class:`StreamItem` (``len``, indexing,
    slicing, iteration, ``==`` with a list), stored compactly like :attr:`TurnState.items`: the many text
    deltas as their raw JSON (their event is parsed when asked for). ``list(items)`` gives a plain list;
    ``items + [...]`` and a slice give lists too. :meth:`TurnState.from_items` folds them fastest as they are.

    ``max_event_bytes`` bounds one event as the live decoder does (characters, default 32 MiB; ``None``: no
    bound). A ``.sse`` event over it stops the load with :class:`StreamLimitError`; a ``.jsonl`` line longer
    than four bytes per character of it (and its fields) is reported and skipped, the rest is read. Raise it
    for recordings of streams received with a raised cap.
    """
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.suffix in _SUFFIXES and f.is_file())
        if not files:
            raise FileNotFoundError(f"no .sse or .jsonl recordings in folder {p}")
        return {f.stem: load_file(f, max_event_bytes=max_event_bytes) for f in files}
    return load_file(p, max_event_bytes=max_event_bytes)


def load_file(
    path: str | os.PathLike[str], *, max_event_bytes: int | None = DEFAULT_MAX_EVENT_BYTES
) -> Sequence[StreamItem]:
    """Load one ``.sse`` or ``.jsonl`` recording (see :func:`load`)."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no recording at {p}")
    if p.suffix == ".sse":
        return _load_sse(p, max_event_bytes)
    if p.suffix == ".jsonl":
        return _load_jsonl(p, max_event_bytes)
    raise ValueError(f"unknown recording type {p.suffix!r}: expected .sse (raw capture) or .jsonl (tfwidget)")


def _one_line(raw: str) -> str:
    if "\n" in raw or "\r" in raw:
        return json.dumps(json.loads(raw), ensure_ascii=False)
    return raw


def save(items: Iterable[StreamItem], path: str | os.PathLike[str]) -> Path:
    """Write items as a ``.jsonl`` recording (or, for a ``.sse`` path, as a raw SSE capture).

    ``.jsonl`` keeps receive times and is lossless: ``load(save(items, p))`` gives equal items.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    if p.suffix == ".sse":
        with p.open("w", encoding="utf-8", newline="\n") as fh:
            for it in items:
                # the last event id persists across frames (SSE standard): "id:" clears it for an item without one
                fh.write(f"id: {it.sequence_number}\n" if it.sequence_number is not None else "id:\n")
                fh.write(f"data: {_one_line(it.to_json())}\n\n")
        return p
    if p.suffix != ".jsonl":
        raise ValueError(f"save to a .jsonl (recording) or .sse (raw capture) path, not {p.suffix!r}")
    with p.open("w", encoding="utf-8", newline="\n") as fh:
        for it in items:
            seq = "null" if it.sequence_number is None else str(int(it.sequence_number))
            extra = ', "synthesized": true' if it.synthesized else ""
            fh.write(
                f'{{"seq": {seq}, "t": {it.received_at!r}{extra}, "event": {_one_line(it.to_json())}}}\n'
            )
    return p
