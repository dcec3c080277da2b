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

from ._arrow_frames import parse_released, scatter_columns
from ._content import content_text
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


class EventRows:
    """The ``df`` columns of one or more turns' items, gathered as plain lists and typed once at the end
    (:meth:`frame`): stacking many turns costs one DataFrame, not one per turn."""

    def __init__(self) -> None:
        self.seq: list[Any] = []
        self.typ: list[Any] = []
        self.ids: list[Any] = []
        self.thr: list[Any] = []
        self.cat: list[Any] = []
        self.rat: list[float] = []
        self.content: list[Any] = []
        self.reasoning: list[Any] = []
        self.tcid: list[Any] = []
        self.synth: list[bool] = []
        self.payload: list[Any] = []
        self.released: list[int] = []  # released items (see StreamItem.release): fields read from their JSON

    def __len__(self) -> int:
        return len(self.seq)

    def add(self, items: Sequence[StreamItem]) -> EventRows:
        """Append one row per item."""
        base = len(self.seq)
        n = len(items)
        none: list[Any] = [None] * n
        self.typ += [""] * n
        self.ids += [""] * n
        for col in (self.seq, self.thr, self.cat, self.content, self.reasoning, self.tcid, self.payload):
            col += none
        seq, typ, ids, thr, cat = self.seq, self.typ, self.ids, self.thr, self.cat
        content, reasoning, tcid, payload, released = (
            self.content, self.reasoning, self.tcid, self.payload, self.released
        )  # fmt: skip
        rat, synth = self.rat, self.synth
        delta_t, msg_t, resp_t = ModelMessageDeltaEvent, ModelMessageEvent, ToolResponseEvent
        for i, it in enumerate(items, base):
            seq[i] = it.sequence_number
            rat.append(it.received_at)
            synth.append(it.synthesized)
            raw = it.raw
            ev = it._event
            if ev is None:
                released.append(i)
                payload[i] = raw
                continue
            typ[i] = ev.type
            ids[i] = ev.id
            thr[i] = ev.thread_id
            cat[i] = ev.created_at
            payload[i] = raw if raw is not None else ev.model_dump_json(exclude_none=True)
            cls = type(ev)
            if cls is delta_t:
                content[i] = ev.content or None  # type: ignore[union-attr]
                reasoning[i] = ev.reasoning_content or None  # type: ignore[union-attr]
                for c in ev.tool_calls or ():  # type: ignore[union-attr]
                    if c.id:
                        tcid[i] = c.id
                        break
            elif cls is msg_t:
                content[i] = _text(ev.content)  # type: ignore[union-attr]
                reasoning[i] = ev.reasoning_content  # type: ignore[union-attr]
                tcs = ev.tool_calls  # type: ignore[union-attr]
                if tcs:
                    tcid[i] = tcs[0].id if tcs[0] is not None else None
            elif cls is resp_t:
                c = ev.content  # type: ignore[union-attr]
                content[i] = c if c is None or isinstance(c, str) else json.dumps(c)
                tcid[i] = ev.tool_call_id  # type: ignore[union-attr]
        return self

    def frame(self, lead: dict[str, Any] | None = None) -> pd.DataFrame:
        """The DataFrame (:data:`EVENTS_COLUMNS`), after ``lead`` columns (e.g. ``turn_id``) if given."""
        n = len(self.seq)
        typ, ids, thr, cat = self.typ, self.ids, self.thr, self.cat
        content, reasoning, tcid, payload, released = (
            self.content, self.reasoning, self.tcid, self.payload, self.released
        )  # fmt: skip
        columns = {"type": typ, "id": ids, "thread_id": thr, "content": content,
                   "reasoning_content": reasoning, "tool_call_id": tcid}  # fmt: skip
        strings: dict[str, Any] = {k: None for k in columns}
        bulk = parse_released([payload[i] for i in released]) if released else None
        if bulk is None:
            for i in released:  # one by one: build no model, read the fields from the JSON
                d = json.loads(payload[i])
                t = typ[i] = d["type"]
                ids[i] = d["id"]
                thr[i] = d.get("thread_id")
                cat[i] = d.get("created_at")
                if t == "model.message.delta":
                    content[i] = d.get("content") or None
                    reasoning[i] = d.get("reasoning_content") or None
                    for c in d.get("tool_calls") or ():
                        if c.get("id"):
                            tcid[i] = c["id"]
                            break
        else:
            strings = scatter_columns(n, released, columns, bulk)
            if bulk["created_at"].null_count < len(released):
                for i, v in zip(released, bulk["created_at"].to_pylist(), strict=True):
                    cat[i] = v
        self.released = []  # parsed into the lists above (or typed from the bulk columns)

        def text(name: str) -> Any:
            return _str(columns[name]) if strings[name] is None else strings[name]

        data = {
            **(lead or {}),
            "sequence_number": pd.array(self.seq, dtype="Int64"),
            "type": text("type"),
            "id": text("id"),
            "thread_id": text("thread_id"),
            "created_at": _times(cat),
            "received_at": pd.to_datetime(np.asarray(self.rat, dtype="float64"), unit="s", utc=True),
            "content": text("content"),
            "reasoning_content": text("reasoning_content"),
            "tool_call_id": text("tool_call_id"),
            "synthesized": np.asarray(self.synth, dtype=bool),
            "payload": _str(payload),
        }
        return pd.DataFrame(data, columns=[*(lead or {}), *EVENTS_COLUMNS])


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
