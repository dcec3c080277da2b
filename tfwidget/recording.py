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
import re
import warnings
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec

from ._itemlog import ItemLog
from .events import ModelMessageDeltaEvent, parse_event
from .sse import MalformedFrame, MalformedFrameWarning, StreamItem, iter_sse
from .state import _DELTA, TurnState

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


def _load_sse(path: Path) -> ItemLog:
    # read in chunks (never the whole file and its items at once); a delta keeps only its raw text, its
    # event is parsed again when asked for (as the fold's release() does), in the log's compact columns
    items = ItemLog()
    last = 0.0
    for it in iter_sse(_file_chunks(path)):
        ev = it.event
        t = _ts(ev.created_at)
        t = last if t is None else t
        last = t
        keep = None if type(ev) is ModelMessageDeltaEvent and it.raw is not None else ev
        items.append(StreamItem(it.sequence_number, keep, t, it.raw, it.synthesized))
    return items


# a line as :func:`save` writes it: the event's own JSON text is the rest of the line, taken as it is
_SAVED_LINE = re.compile(
    r'\{"seq": (null|-?[0-9]+), "t": (-?[0-9][0-9.eE+-]*)(, "synthesized": true)?, "event": '
)


def _saved_line(line: str) -> tuple[int | None, float, str, bool] | None:
    """``(seq, t, event text, synthesized)`` of a line in :func:`save`'s own layout (no re-encoding: the
    event text is kept as saved), or ``None`` for any other line (parsed the general way)."""
    m = _SAVED_LINE.match(line)
    if m is None or not line.endswith("}"):
        return None
    try:
        t = float(m.group(2))
    except ValueError:  # the general path reports it, with the file and line
        return None
    seq = m.group(1)
    return None if seq == "null" else int(seq), t, line[m.end() : -1], m.group(3) is not None


def _jsonl_records(path: Path) -> Iterator[StreamItem | tuple[int | None, float, str, Any]]:
    """The lines of a ``.jsonl`` recording, in order: each an item, or for a plain text delta in
    :func:`save`'s layout (the bulk of a turn, checked by the strict decoder, see ``state._PlainDelta``)
    ``(seq, t, raw, decoded)`` with no event parsed (it is parsed when asked for)."""
    decode = _DELTA.decode
    with path.open("r", encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            saved = _saved_line(line)
            if saved is not None:
                seq, t, raw, synthesized = saved
                try:
                    d = decode(raw)
                except msgspec.MsgspecError:
                    d = None
                plain = d is not None and d.type == "model.message.delta"
                if plain and not synthesized:
                    yield seq, t, raw, d
                    continue
                try:
                    event = None if plain else parse_event(raw)
                except (ValueError, RecursionError):  # the general path reports it, with the file and line
                    pass
                else:
                    yield StreamItem(seq, event, t, raw, synthesized)
                    continue
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
                warnings.warn(
                    str(MalformedFrame("JSON nested too deeply to parse", line[:200], None))
                    + f" ({path.name}, line {lineno})",
                    MalformedFrameWarning,
                    stacklevel=3,
                )
                continue
            except (ValueError, KeyError, TypeError) as err:
                raise ValueError(
                    f"{path.name}, line {lineno}: not a tfwidget recording line ({err})"
                ) from None
            yield item


def _load_jsonl(path: Path) -> ItemLog:
    items = ItemLog()
    for rec in _jsonl_records(path):
        if type(rec) is tuple:
            seq, t, raw, _ = rec
            items._add(raw.encode("utf-8"), seq, t)  # its event is parsed when asked for
        else:
            items.append(rec)  # type: ignore[arg-type]
    return items


def fold_file(path: str | os.PathLike[str]) -> TurnState:
    """``TurnState.from_items(load_file(path))``, without the items in between for a ``.jsonl``
    recording: its plain text deltas go straight into the fold."""
    p = Path(path)
    if p.suffix != ".jsonl" or not p.is_file():
        return TurnState.from_items(load_file(p))
    state = TurnState()
    state._fold_records(_jsonl_records(p))
    if type(state.items) is ItemLog:
        state.items.trim()
    return state


def load(path: str | os.PathLike[str]) -> Sequence[StreamItem] | dict[str, Sequence[StreamItem]]:
    """Load a recording.

    - a ``.sse`` file (raw capture) or ``.jsonl`` file (tfwidget recording): its items, in stream order;
    - a folder: ``{file stem: items}`` for every ``.sse``/``.jsonl`` file in it, sorted by name.

    The items are a read-only :class:`~collections.abc.Sequence` of :class:`StreamItem` (``len``, indexing,
    slicing, iteration, ``==`` with a list), stored compactly like :attr:`TurnState.items`: the many text
    deltas as their raw JSON (their event is parsed when asked for). ``list(items)`` gives a plain list;
    ``items + [...]`` and a slice give lists too. :meth:`TurnState.from_items` folds them fastest as they are.
    """
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.suffix in _SUFFIXES and f.is_file())
        if not files:
            raise FileNotFoundError(f"no .sse or .jsonl recordings in folder {p}")
        return {f.stem: load_file(f) for f in files}
    return load_file(p)


def load_file(path: str | os.PathLike[str]) -> Sequence[StreamItem]:
    """Load one ``.sse`` or ``.jsonl`` recording (see :func:`load`)."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no recording at {p}")
    if p.suffix == ".sse":
        return _load_sse(p)
    if p.suffix == ".jsonl":
        return _load_jsonl(p)
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
