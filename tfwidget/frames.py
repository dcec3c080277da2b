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
from .artifacts import find_offloaded
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
_USAGE = ["input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens"]
_BREAKDOWN = ["harness", "skills", "instructions", "tool_definitions", "messages"]
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
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for p in content:
            t = getattr(p, "text", None) if not isinstance(p, dict) else p.get("text")
            if t:
                parts.append(t)
        return "".join(parts)
    return str(content)


def events_frame(items: Sequence[StreamItem]) -> pd.DataFrame:
    """One row per stream item, deltas included. Columns: :data:`EVENTS_COLUMNS`."""
    n = len(items)
    seq: list[Any] = [None] * n
    typ: list[str] = [""] * n
    ids: list[str] = [""] * n
    thr: list[Any] = [None] * n
    cat: list[Any] = [None] * n
    rat = np.empty(n, dtype="float64")
    content: list[Any] = [None] * n
    reasoning: list[Any] = [None] * n
    tcid: list[Any] = [None] * n
    synth = np.zeros(n, dtype=bool)
    payload: list[Any] = [None] * n
    delta_t, msg_t, resp_t = ModelMessageDeltaEvent, ModelMessageEvent, ToolResponseEvent
    released: list[int] = []  # released items (see StreamItem.release): fields read from their JSON below
    for i, it in enumerate(items):
        seq[i] = it.sequence_number
        rat[i] = it.received_at
        synth[i] = it.synthesized
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
    columns = {"type": typ, "id": ids, "thread_id": thr, "content": content, "reasoning_content": reasoning,
               "tool_call_id": tcid}  # fmt: skip
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
    return pd.DataFrame(
        {
            "sequence_number": pd.array(seq, dtype="Int64"),
            "type": _str(typ) if strings["type"] is None else strings["type"],
            "id": _str(ids) if strings["id"] is None else strings["id"],
            "thread_id": _str(thr) if strings["thread_id"] is None else strings["thread_id"],
            "created_at": _times(cat),
            "received_at": pd.to_datetime(rat, unit="s", utc=True),
            "content": _str(content) if strings["content"] is None else strings["content"],
            "reasoning_content": (
                _str(reasoning) if strings["reasoning_content"] is None else strings["reasoning_content"]
            ),
            "tool_call_id": _str(tcid) if strings["tool_call_id"] is None else strings["tool_call_id"],
            "synthesized": synth,
            "payload": _str(payload),
        },
        columns=EVENTS_COLUMNS,
    )


def _str(values: Sequence[Any]) -> Any:
    return pd.array(values, dtype="string")


def _ints(rows: list[dict[str, Any]], cols: list[str]) -> dict[str, Any]:
    return {c: pd.array([r.get(c) for r in rows], dtype="Int64") for c in cols}


def _usage_cols(msg: ModelMessageEvent) -> dict[str, Any]:
    u = msg.usage
    if u is None:
        return {}
    row = {c: getattr(u, c) for c in _USAGE}
    b = u.input_tokens_breakdown
    if b is not None:
        row.update({c: getattr(b, c) for c in _BREAKDOWN})
    return row


def messages_frame(state: TurnState) -> pd.DataFrame:
    """One row per merged model message, usage included. Columns: :data:`MESSAGES_COLUMNS`."""
    msgs = state.merged_messages()
    rows = [_usage_cols(m) for m in msgs]
    data: dict[str, Any] = {
        "id": _str([m.id for m in msgs]),
        "thread_id": _str([m.thread_id for m in msgs]),
        "created_at": _times([m.created_at for m in msgs]),
        "content": _str([_text(m.content) for m in msgs]),
        "reasoning_content": _str([m.reasoning_content for m in msgs]),
        "refusal": _str([m.refusal for m in msgs]),
        "finish_reason": _str([m.finish_reason for m in msgs]),
        "n_tool_calls": pd.array(
            [len([t for t in (m.tool_calls or []) if t is not None]) for m in msgs], dtype="Int64"
        ),
        "n_images": pd.array([len(state.message_images(m.id)) for m in msgs], dtype="Int64"),
        **_ints(rows, _USAGE + _BREAKDOWN),
        **call_timing_columns(state, [m.id for m in msgs], [m.usage for m in msgs]),
    }
    return pd.DataFrame(data, columns=MESSAGES_COLUMNS)


def _response_text(v: Any) -> str | None:
    if v is None or isinstance(v, str):
        return v
    try:
        return json.dumps(v, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        return str(v)


def tool_calls_frame(state: TurnState) -> pd.DataFrame:
    """One row per tool call. Columns: :data:`TOOL_CALLS_COLUMNS`.

    ``status``: streaming, running, completed, awaiting_approval, awaiting_response or incomplete.
    """
    calls = list(state.tool_calls.values())
    data = {
        "message_id": _str([c.message_id for c in calls]),
        "thread_id": _str([c.thread_id for c in calls]),
        "tool_call_id": _str([c.id for c in calls]),
        "name": _str([c.name for c in calls]),
        "arguments": _str([c.arguments for c in calls]),
        "tool_type": _str([c.tool_type for c in calls]),
        "server_name": _str([c.server_name for c in calls]),
        "response": _str([_response_text(c.response) for c in calls]),
        "status": _str([c.status for c in calls]),
        "index": pd.array([c.index for c in calls], dtype="Int64"),
        "child_thread_id": _str([c.child_thread_id for c in calls]),
        "offloaded_path": _str([(find_offloaded(c.response) or {}).get("path") for c in calls]),
        **tool_timing_columns(state, [c.id for c in calls]),
    }
    return pd.DataFrame(data, columns=TOOL_CALLS_COLUMNS)


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
    msgs = [m for m in state.merged_messages() if m.usage is not None]
    rows = [_usage_cols(m) for m in msgs]
    threads = state.threads
    data = {
        "message_id": _str([m.id for m in msgs]),
        "thread_id": _str([m.thread_id for m in msgs]),
        "created_at": _times([m.created_at for m in msgs]),
        **_ints(rows, _USAGE + _BREAKDOWN),
        "call_index": pd.array(range(1, len(msgs) + 1), dtype="Int64"),
        "agent_name": _str(
            [
                (threads[m.thread_id].agent_name if m.thread_id in threads else None) or m.thread_id
                for m in msgs
            ]
        ),
        **usage_extra_columns(
            state, [m.id for m in msgs], [m.usage for m in msgs], pricing=pricing, model=model,
            context_window=context_window,
        ),
    }  # fmt: skip
    return pd.DataFrame(data, columns=USAGE_COLUMNS)
