"""pandas DataFrames of a turn.

Column order is stable and documented here; integers stay integers (nullable ``Int64``), missing values are
``NA``/``NaT``, times are timezone-aware (UTC).

``df`` (:func:`events_frame`), one row per stream item, deltas included:
    sequence_number (Int64), type, id, thread_id, created_at (datetime UTC, NaT when absent),
    received_at (datetime UTC), content, reasoning_content, tool_call_id, synthesized (bool),
    payload (the item's raw JSON text)

``messages_df`` (:func:`messages_frame`), one row per merged model message:
    id, thread_id, created_at, content, reasoning_content, refusal, finish_reason, n_tool_calls, n_images,
    input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
    harness, skills, instructions, tool_definitions, messages,
    started_at, first_token_at, ended_at (datetime UTC), ttft_s, duration_s, output_tokens_per_s (Float64),
    time_source

``tool_calls_df`` (:func:`tool_calls_frame`), one row per tool call:
    message_id, thread_id, tool_call_id, name, arguments, tool_type, server_name, response, status,
    index, child_thread_id, offloaded_path,
    started_at, ended_at, awaiting_since (datetime UTC), duration_s (Float64), time_source

``usage_df`` (:func:`usage_frame`), one row per model message that reported usage:
    message_id, thread_id, created_at, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
    harness, skills, instructions, tool_definitions, messages, call_index, agent_name,
    breakdown_gap (Int64), ttft_s, duration_s, output_tokens_per_s (Float64), model, model_source,
    cost_usd (Float64), cost_source, context_window (Int64), context_fill (Float64)

Timing (see :mod:`tfwidget.timing`): a model call runs from its ``model.message`` to its finishing delta, its
first token is its first non-empty delta (``ttft_s``); ``output_tokens_per_s`` is output tokens over the
time from the first token to the end. A tool call runs from its arguments being complete (its model call's
end) to its ``tool.response``; ``awaiting_since`` is when the turn paused on it for a human. ``time_source``
says which clock the times came from: ``received`` (receive times) or ``created_at`` (the events' own
timestamps: listed events, raw ``.sse`` captures).

Cost and context (see :mod:`tfwidget.pricing`): ``call_index`` numbers the model calls from 1 (as the view's
chart and :func:`~tfwidget.analysis.plot_usage` do); ``cost_source`` is ``priced``, ``allocated`` or
``unknown``; ``context_fill`` is ``input_tokens / context_window``. ``breakdown_gap`` is ``input_tokens``
minus the sum of the breakdown (``NA`` without a breakdown): a breakdown that does not add up has a non-zero
gap and must not be drawn as if it did.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._arrow_frames import MIN_ROWS, parse_concatenated, string_array
from ._content import content_text
from ._itemlog import _NONE, ItemLog
from .artifacts import find_offloaded
from .contracts import USAGE_BREAKDOWN_KEYS, USAGE_TOKEN_KEYS
from .events import ModelMessageDeltaEvent, ModelMessageEvent, ToolResponseEvent
from .timing import call_timing_columns, tool_timing_columns, usage_extra_columns

if TYPE_CHECKING:
    from .pricing import Pricing
    from .sse import StreamItem
    from .state import TurnState

__all__ = [
    "EVENTS_COLUMNS",
    "MESSAGES_COLUMNS",
    "TOOL_CALLS_COLUMNS",
    "USAGE_COLUMNS",
    "events_frame",
    "messages_frame",
    "tool_calls_frame",
    "usage_frame",
]

EVENTS_COLUMNS = [
    "sequence_number", "type", "id", "thread_id", "created_at", "received_at",
    "content", "reasoning_content", "tool_call_id", "synthesized", "payload",
]  # fmt: skip
_USAGE: list[str] = list(USAGE_TOKEN_KEYS)
_BREAKDOWN: list[str] = list(USAGE_BREAKDOWN_KEYS)
MESSAGES_COLUMNS = [
    "id", "thread_id", "created_at", "content", "reasoning_content", "refusal", "finish_reason",
    "n_tool_calls", "n_images", *_USAGE, *_BREAKDOWN,
    "started_at", "first_token_at", "ended_at", "ttft_s", "duration_s", "output_tokens_per_s", "time_source",
]  # fmt: skip
TOOL_CALLS_COLUMNS = [
    "message_id", "thread_id", "tool_call_id", "name", "arguments", "tool_type", "server_name",
    "response", "status", "index", "child_thread_id", "offloaded_path",
    "started_at", "ended_at", "awaiting_since", "duration_s", "time_source",
]  # fmt: skip
USAGE_COLUMNS = [
    "message_id", "thread_id", "created_at", *_USAGE, *_BREAKDOWN, "call_index", "agent_name",
    "breakdown_gap", "ttft_s", "duration_s", "output_tokens_per_s", "model", "model_source", "cost_usd",
    "cost_source", "context_window", "context_fill",
]  # fmt: skip


def _times(values: Sequence[str | None]) -> pd.Series:
    return pd.to_datetime(pd.Series(values, dtype=object), utc=True, format="ISO8601", errors="coerce")


def _text(content: Any) -> str | None:
    return None if content is None else content_text(content)


def _json_fields(raw: str) -> tuple[Any, ...]:
    """``type, id, thread_id, created_at, content, reasoning_content, tool_call_id`` of a released item,
    read from its JSON without building a model."""
    d = json.loads(raw)
    t = d["type"]
    content = reasoning = tcid = None
    if t == "model.message.delta":
        content = d.get("content") or None
        reasoning = d.get("reasoning_content") or None
        for c in d.get("tool_calls") or ():
            if c.get("id"):
                tcid = c["id"]
                break
    return t, d["id"], d.get("thread_id"), d.get("created_at"), content, reasoning, tcid


def _object_row(it: StreamItem) -> tuple[Any, ...]:
    """The row of an item kept as an object: ``sequence_number, received_at, synthesized``, the seven fields
    of :func:`_json_fields` and ``payload``."""
    raw = it.raw
    ev = it._event
    head = (it.sequence_number, it.received_at, it.synthesized)
    if ev is None:  # released: its fields are read from the JSON
        return (*head, *_json_fields(raw), raw)  # type: ignore[arg-type]
    content = reasoning = tcid = None
    cls = type(ev)
    if cls is ModelMessageDeltaEvent:
        content = ev.content or None  # type: ignore[union-attr]
        reasoning = ev.reasoning_content or None  # type: ignore[union-attr]
        for c in ev.tool_calls or ():  # type: ignore[union-attr]
            if c.id:
                tcid = c.id
                break
    elif cls is ModelMessageEvent:
        content = _text(ev.content)  # type: ignore[union-attr]
        reasoning = ev.reasoning_content  # type: ignore[union-attr]
        tcs = ev.tool_calls  # type: ignore[union-attr]
        if tcs:
            tcid = tcs[0].id if tcs[0] is not None else None
    elif cls is ToolResponseEvent:
        c = ev.content  # type: ignore[union-attr]
        content = c if c is None or isinstance(c, str) else json.dumps(c)
        tcid = ev.tool_call_id  # type: ignore[union-attr]
    payload = raw if raw is not None else ev.model_dump_json(exclude_none=True)
    return (*head, ev.type, ev.id, ev.thread_id, ev.created_at, content, reasoning, tcid, payload)


# the positions in an _object_row tuple
_SEQ, _RAT, _SYNTH, _TYPE, _ID, _THREAD, _CREATED, _CONTENT, _REASONING, _TCID, _PAYLOAD = range(11)
_TEXT_COLUMNS = {"type": _TYPE, "id": _ID, "thread_id": _THREAD, "content": _CONTENT,
                 "reasoning_content": _REASONING, "tool_call_id": _TCID}  # fmt: skip


class _Part:
    """What one :meth:`EventRows.add` took from an item log: copies of its columns (sequence numbers with
    ``_NONE`` for none, receive times, the raw JSON of its compact items back to back and their offsets) and
    the rows of the items it keeps as objects (:func:`_object_row`), by position."""

    __slots__ = ("data", "n", "obj_pos", "objs", "off", "rat", "seq")

    def __init__(self, log: ItemLog) -> None:
        n = self.n = len(log._seq)
        self.seq = np.frombuffer(log._seq, dtype=np.int64).copy()
        self.off = np.frombuffer(log._off, dtype=np.int64)[: n + 1].copy()
        self.data = bytes(log._buf)
        tpos = np.frombuffer(log._tpos, dtype=np.int64)
        rat = self.rat = np.zeros(n, dtype=np.float64)
        if len(tpos):  # receive times are kept run-length coded; items kept as objects have their own
            rat[tpos[0] :] = np.repeat(np.frombuffer(log._tval, dtype=np.float64), np.diff(tpos, append=n))
        del tpos
        self.obj_pos = sorted(log._obj)
        self.objs = [_object_row(log._obj[i]) for i in self.obj_pos]


class EventRows:
    """The ``df`` columns of one or more turns' items, gathered per turn and typed once at the end
    (:meth:`frame`): stacking many turns costs one DataFrame, not one per turn.

    An item log's compact items (released deltas: raw JSON only) are taken as its columns, not item by item;
    with pyarrow their fields are parsed in bulk and their ``payload`` is the log's text buffer."""

    def __init__(self) -> None:
        self._parts: list[_Part] = []
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def add(self, items: Sequence[StreamItem]) -> EventRows:
        """Append one row per item."""
        part = _Part(items if type(items) is ItemLog else ItemLog(items))
        self._parts.append(part)
        self._n += part.n
        return self

    def frame(self, lead: dict[str, Any] | None = None) -> pd.DataFrame:
        """The DataFrame (:data:`EVENTS_COLUMNS`), after ``lead`` columns (e.g. ``turn_id``) if given."""
        data = self._bulk_columns()
        if data is None:
            data = self._item_columns()
        return pd.DataFrame({**(lead or {}), **data}, columns=[*(lead or {}), *EVENTS_COLUMNS])

    def _item_columns(self) -> dict[str, Any]:
        """The columns built item by item (the reference: the bulk path gives the same)."""
        n = self._n
        rows: list[Any] = [None] * n
        k = 0
        for p in self._parts:
            objs = dict(zip(p.obj_pos, p.objs, strict=True))
            data, off = p.data, p.off.tolist()
            for i, (seq, t) in enumerate(zip(p.seq.tolist(), p.rat.tolist(), strict=True)):
                row = objs.get(i)
                if row is None:
                    raw = data[off[i] : off[i + 1]].decode("utf-8", "surrogatepass")
                    row = (None if seq == _NONE else seq, t, False, *_json_fields(raw), raw)
                rows[k] = row
                k += 1
        cols = list(zip(*rows, strict=True)) if rows else [()] * 11
        return {
            "sequence_number": pd.array(cols[_SEQ], dtype="Int64"),
            "type": _str(cols[_TYPE]),
            "id": _str(cols[_ID]),
            "thread_id": _str(cols[_THREAD]),
            "created_at": _times(cols[_CREATED]),
            "received_at": pd.to_datetime(np.asarray(cols[_RAT], dtype="float64"), unit="s", utc=True),
            "content": _str(cols[_CONTENT]),
            "reasoning_content": _str(cols[_REASONING]),
            "tool_call_id": _str(cols[_TCID]),
            "synthesized": np.asarray(cols[_SYNTH], dtype=bool),
            "payload": _str(cols[_PAYLOAD]),
        }

    def _bulk_columns(self) -> dict[str, Any] | None:
        """The columns from the logs' columns, the compact items parsed in bulk by pyarrow; ``None`` when
        that is not possible (pyarrow missing, few compact items, any value the bulk path does not take):
        the caller then builds them item by item."""
        parts, n = self._parts, self._n
        if not parts or n - sum(len(p.objs) for p in parts) < MIN_ROWS:
            return None
        if getattr(pd.StringDtype(), "storage", None) != "pyarrow":
            return None
        try:
            import pyarrow as pa
            import pyarrow.compute as pc
        except ImportError:  # pragma: no cover - pandas stores strings in Arrow only with pyarrow
            return None
        objs = [row for p in parts for row in p.objs]
        if not all(_plain_row(row) for row in objs):
            return None
        base = np.cumsum([0] + [p.n for p in parts])
        obj_pos = np.array(
            [b + i for p, b in zip(parts, base, strict=False) for i in p.obj_pos], dtype=np.int64
        )
        if len(parts) == 1:
            data, off = parts[0].data, parts[0].off
        else:
            data = b"".join(p.data for p in parts)
            shift = np.cumsum([0] + [len(p.data) for p in parts])
            off = np.concatenate(
                [np.zeros(1, dtype=np.int64)] + [p.off[1:] + s for p, s in zip(parts, shift, strict=False)]
            )
        compact = np.ones(n, dtype=bool)
        compact[obj_pos] = False
        n_compact = n - len(obj_pos)
        # each compact item is one JSON object: back to back, the reader must find exactly these
        starts, ends = off[:-1][compact], off[1:][compact]
        if not (ends > starts).all():
            return None
        chars = np.frombuffer(data, dtype=np.uint8)
        if not ((chars[starts] == 0x7B).all() and (chars[ends - 1] == 0x7D).all()):  # { ... }
            return None
        del chars, starts, ends
        payload = string_array(data, off)
        if payload is None:  # not valid UTF-8: the item path reports it as before
            return None
        bulk = parse_concatenated(data, n_compact)
        if bulk is None:
            return None

        s = pa.large_string()
        where = None
        if objs:
            mask = pa.array(~compact)
            payload = pc.replace_with_mask(payload, mask, pa.array([r[_PAYLOAD] for r in objs], type=s))
            order = np.empty(n, dtype=np.int64)
            order[compact] = np.arange(n_compact)
            order[obj_pos] = n_compact + np.arange(len(obj_pos))
            where = pa.array(order)

        def merged(name: str, k: int) -> Any:
            """The bulk column ``name`` with the objects' values (row position ``k``) in their rows."""
            col = bulk[name]
            if where is not None:
                col = pa.concat_arrays([col, pa.array([r[k] for r in objs], type=s)]).take(where)
            return col

        def text(col: Any) -> Any:
            return pd.arrays.ArrowStringArray(pa.chunked_array([col]))

        seq = np.concatenate([p.seq for p in parts])
        rat = np.concatenate([p.rat for p in parts])
        synth = np.zeros(n, dtype=bool)
        if objs:
            seq[obj_pos] = [_NONE if r[_SEQ] is None else r[_SEQ] for r in objs]
            rat[obj_pos] = np.asarray([r[_RAT] for r in objs], dtype="float64")
            synth[obj_pos] = np.asarray([r[_SYNTH] for r in objs], dtype=bool)
        missing = seq == _NONE
        seq[missing] = 1  # (what pandas puts under a missing value)
        out = {name: text(merged(name, k)) for name, k in _TEXT_COLUMNS.items()}
        return {
            **out,
            "sequence_number": pd.arrays.IntegerArray(seq, missing),
            "created_at": _sparse_times(merged("created_at", _CREATED)),
            "received_at": pd.to_datetime(rat, unit="s", utc=True),
            "synthesized": synth,
            "payload": text(payload),
        }


def _plain_row(row: tuple[Any, ...]) -> bool:
    """A row the bulk path takes as it is: a sequence number in the log's range (or none), text or ``None``
    in every text column."""
    seq = row[_SEQ]
    if seq is not None and not (type(seq) is int and _NONE < seq < 2**63):
        return False
    return all(v is None or type(v) is str for v in row[_TYPE:])


def _sparse_times(col: Any) -> pd.Series:
    """:func:`_times` of a pyarrow string column, converting only the values that are present."""
    valid = col.is_valid().to_numpy(zero_copy_only=False)
    if valid.all():
        return _times(col.to_pylist())
    present = _times(col.filter(valid).to_pylist())
    where = np.full(len(col), -1, dtype=np.int64)
    where[valid] = np.arange(len(present))
    return pd.Series(present.array.take(where, allow_fill=True))


def events_frame(items: Sequence[StreamItem]) -> pd.DataFrame:
    """One row per stream item, deltas included. Columns: :data:`EVENTS_COLUMNS`."""
    return EventRows().add(items).frame()


def _str(values: Sequence[Any]) -> Any:
    return pd.array(values, dtype="string")


def _epoch(vals: Sequence[float | None]) -> Any:
    """Epoch seconds (``None`` = unknown) -> ``datetime64[ns, UTC]`` (``NaT`` where unknown)."""
    nat = np.iinfo(np.int64).min
    ns = np.array([nat if v is None else round(v * 1e9) for v in vals], dtype="int64")
    return pd.Series(pd.DatetimeIndex(ns.view("datetime64[ns]"), tz="UTC"))


#: how a plain list becomes a typed column (see :func:`typed_frame`)
_CONVERT: dict[str, Any] = {
    "string": _str,
    "Int64": lambda v: pd.array(v, dtype="Int64"),
    "Float64": lambda v: pd.array(v, dtype="Float64"),
    "iso": _times,  # ISO-8601 text
    "epoch": _epoch,  # epoch seconds
}

_T = {**dict.fromkeys(["started_at", "first_token_at", "ended_at", "awaiting_since"], "epoch"),
      "ttft_s": "Float64", "duration_s": "Float64", "output_tokens_per_s": "Float64", "time_source": "string"}  # fmt: skip
_COUNTS = dict.fromkeys(_USAGE + _BREAKDOWN, "Int64")
_M = {"created_at": "iso", "n_tool_calls": "Int64", "n_images": "Int64", **_COUNTS, **_T}
MESSAGES_KINDS: dict[str, str] = {c: _M.get(c, "string") for c in MESSAGES_COLUMNS}
TOOL_CALLS_KINDS: dict[str, str] = {c: {"index": "Int64", **_T}.get(c, "string") for c in TOOL_CALLS_COLUMNS}
_U = {"created_at": "iso", **_COUNTS, "call_index": "Int64", "breakdown_gap": "Int64", **_T,
      "cost_usd": "Float64", "context_window": "Int64", "context_fill": "Float64"}  # fmt: skip
USAGE_KINDS: dict[str, str] = {c: _U.get(c, "string") for c in USAGE_COLUMNS}


def typed_frame(
    cols: dict[str, list[Any]], kinds: dict[str, str], lead: dict[str, Any] | None = None
) -> pd.DataFrame:
    """A DataFrame of plain-list columns, each typed by its kind (``kinds`` gives the column order), after
    ``lead`` columns (already typed) if given."""
    data = {**(lead or {}), **{name: _CONVERT[kind](cols[name]) for name, kind in kinds.items()}}
    return pd.DataFrame(data, columns=list(data))


def _usage_cols(msg: ModelMessageEvent) -> dict[str, Any]:
    u = msg.usage
    if u is None:
        return {}
    row = {c: getattr(u, c) for c in _USAGE}
    b = u.input_tokens_breakdown
    if b is not None:
        row.update({c: getattr(b, c) for c in _BREAKDOWN})
    return row


def _ints(rows: list[dict[str, Any]], cols: list[str]) -> dict[str, list[Any]]:
    return {c: [r.get(c) for r in rows] for c in cols}


def messages_columns(state: TurnState, merged: list[ModelMessageEvent] | None = None) -> dict[str, list[Any]]:
    """The columns of :func:`messages_frame` as plain lists (typed by :data:`MESSAGES_KINDS`); ``merged``:
    ``state.merged_messages()`` when the caller has it already."""
    msgs = state.merged_messages() if merged is None else merged
    rows = [_usage_cols(m) for m in msgs]
    return {
        "id": [m.id for m in msgs],
        "thread_id": [m.thread_id for m in msgs],
        "created_at": [m.created_at for m in msgs],
        "content": [_text(m.content) for m in msgs],
        "reasoning_content": [m.reasoning_content for m in msgs],
        "refusal": [m.refusal for m in msgs],
        "finish_reason": [m.finish_reason for m in msgs],
        "n_tool_calls": [len([t for t in (m.tool_calls or []) if t is not None]) for m in msgs],
        "n_images": [len(state.message_images(m.id)) for m in msgs],
        **_ints(rows, _USAGE + _BREAKDOWN),
        **call_timing_columns(state, [m.id for m in msgs], [m.usage for m in msgs]),
    }


def messages_frame(state: TurnState) -> pd.DataFrame:
    """One row per merged model message, usage included. Columns: :data:`MESSAGES_COLUMNS`."""
    return typed_frame(messages_columns(state), MESSAGES_KINDS)


def _response_text(v: Any) -> str | None:
    if v is None or isinstance(v, str):
        return v
    try:
        return json.dumps(v, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        return str(v)


def tool_calls_columns(state: TurnState) -> dict[str, list[Any]]:
    """The columns of :func:`tool_calls_frame` as plain lists (typed by :data:`TOOL_CALLS_KINDS`)."""
    calls = list(state.tool_calls.values())
    return {
        "message_id": [c.message_id for c in calls],
        "thread_id": [c.thread_id for c in calls],
        "tool_call_id": [c.id for c in calls],
        "name": [c.name for c in calls],
        "arguments": [c.arguments for c in calls],
        "tool_type": [c.tool_type for c in calls],
        "server_name": [c.server_name for c in calls],
        "response": [_response_text(c.response) for c in calls],
        "status": [c.status for c in calls],
        "index": [c.index for c in calls],
        "child_thread_id": [c.child_thread_id for c in calls],
        "offloaded_path": [(find_offloaded(c.response) or {}).get("path") for c in calls],
        **tool_timing_columns(state, [c.id for c in calls]),
    }


def tool_calls_frame(state: TurnState) -> pd.DataFrame:
    """One row per tool call. Columns: :data:`TOOL_CALLS_COLUMNS`.

    ``status``: streaming, running, completed, awaiting_approval, awaiting_response or incomplete.
    """
    return typed_frame(tool_calls_columns(state), TOOL_CALLS_KINDS)


def usage_columns(
    state: TurnState,
    *,
    pricing: Pricing | None = None,
    model: str | None = None,
    context_window: int | None = None,
    merged: list[ModelMessageEvent] | None = None,
) -> dict[str, list[Any]]:
    """The columns of :func:`usage_frame` as plain lists (typed by :data:`USAGE_KINDS`); ``merged``:
    ``state.merged_messages()`` when the caller has it already."""
    msgs = [m for m in (state.merged_messages() if merged is None else merged) if m.usage is not None]
    rows = [_usage_cols(m) for m in msgs]
    threads = state.threads
    return {
        "message_id": [m.id for m in msgs],
        "thread_id": [m.thread_id for m in msgs],
        "created_at": [m.created_at for m in msgs],
        **_ints(rows, _USAGE + _BREAKDOWN),
        "call_index": list(range(1, len(msgs) + 1)),
        "agent_name": [
            (threads[m.thread_id].agent_name if m.thread_id in threads else None) or m.thread_id for m in msgs
        ],
        **usage_extra_columns(
            state, [m.id for m in msgs], [m.usage for m in msgs], pricing=pricing, model=model,
            context_window=context_window,
        ),
    }  # fmt: skip


def usage_frame(
    state: TurnState,
    *,
    pricing: Pricing | None = None,
    model: str | None = None,
    context_window: int | None = None,
) -> pd.DataFrame:
    """One row per model message that reported usage. Columns: :data:`USAGE_COLUMNS`.

    The five breakdown columns are estimates whose sum should be ``input_tokens`` (``messages`` is the
    remainder); ``breakdown_gap`` shows when it is not. ``pricing`` (default: the table set with
    :func:`tfwidget.set_pricing`, else the default one), ``model`` (the main thread's model) and
    ``context_window`` (tokens, overriding the table's) give the cost and context columns.
    """
    cols = usage_columns(state, pricing=pricing, model=model, context_window=context_window)
    return typed_frame(cols, USAGE_KINDS)
