"""Where the time went: timing of every model call, tool call, thread and pause of a turn, and its spans.

Everything here is derived from a :class:`~tfwidget.state.TurnState`'s stream items (pure: no I/O, the state
is only read). Every stream item has a receive time (:attr:`~tfwidget.sse.StreamItem.received_at`):

- a **model call** (one ``model.message``) starts when its base event arrives (``started_at``), produces its
  first token with its first non-empty content, reasoning, refusal or tool-call delta (``first_token_at``)
  and ends with its finishing delta, the one carrying ``finish_reason`` (``ended_at``);
- a **tool call** starts when its arguments are complete, i.e. when the model call that made it ends, and
  ends with its ``tool.response``;
- a **pause** (a tool call waiting for a human's approval or answer, or an MCP sign-in) starts when the
  turn asked for it (``awaiting_since``: the pause event, or ``turn.done`` when only listed there) and ends
  when the decision came: the ``turn.created`` of the resume turn that answers it (known only when both
  turns are analysed together, see :func:`link_pauses`);
- a **thread** runs from its ``thread.created`` (the main thread: from the turn's start) to its
  ``thread.done`` (or the turn's end); the **turn** from ``turn.created`` to ``turn.done``.

Events that came without a receive time of their own (*listed* turn events, bare events given to
:meth:`TurnState.apply`, and raw ``.sse`` captures, whose items are timed by their ``created_at`` when
loaded) are timed by their ``created_at`` instead. Every derived value says which clock it came from:
``time_source`` is ``"received"`` (when tfwidget received the event) or ``"created_at"`` (the gateway's
event timestamp). Listed model messages come merged, without deltas: their first token and end are unknown.

The results:

- :func:`turn_timing` gives a :class:`TurnTiming` (epoch seconds, ``None`` where unknown), updated
  incrementally as the state grows (cheap to call on every flush of a live view);
- :func:`spans` gives the turn as a list of :class:`Span` records forming one tree: the turn is the only
  root, a thread's parent is the turn (a sub-agent thread's parent is the tool call that spawned it), a
  model call's parent is its thread, a tool call's parent is the model call that made it, a pause's parent
  is the tool call it waits on (an MCP sign-in's, its thread). This is the API to build traces on (e.g.
  OpenTelemetry spans: ``Span.start_ns`` / ``Span.end_ns``, ``Span.parent_id``, ``Span.attributes``);
- :func:`spans_frame` gives the same as a DataFrame (``spans_df``), columns :data:`SPANS_COLUMNS`.

>>> from tfwidget import TurnState, load                         # doctest: +SKIP
>>> state = TurnState.from_items(load("turn.jsonl"))              # doctest: +SKIP
>>> [(s.kind, s.name, s.duration_s) for s in spans(state)]       # doctest: +SKIP
"""

from __future__ import annotations

import json
import weakref
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import msgspec
import numpy as np
import pandas as pd

from ._itemlog import ItemLog
from .contracts import USAGE_BREAKDOWN_KEYS
from .events import ModelMessageDeltaEvent
from .pricing import Pricing, call_costs, current_model, current_pricing, message_bases
from .resolution import resolve

if TYPE_CHECKING:  # at run time this module does not import the fold (which imports it)
    from .state import TurnState

__all__ = [
    "SPANS_COLUMNS",
    "CallTiming",
    "Decision",
    "PauseTiming",
    "Span",
    "SpanKind",
    "ThreadTiming",
    "TimeSource",
    "ToolTiming",
    "TurnTiming",
    "decisions",
    "link_pauses",
    "message_bases",
    "spans",
    "spans_frame",
    "turn_timing",
]

#: Which clock a time came from: when tfwidget received the event, or the event's own ``created_at``.
TimeSource = Literal["received", "created_at"]
#: The kinds of :class:`Span`, from the root down.
SpanKind = Literal["turn", "thread", "model_call", "tool_call", "pause"]


def _dur(a: float | None, b: float | None) -> float | None:
    if a is None or b is None:
        return None
    return max(0.0, b - a)


@dataclass(slots=True)
class CallTiming:
    """Timing of one model call (epoch seconds; ``None`` where not known yet or not knowable)."""

    message_id: str
    thread_id: str | None
    started_at: float | None = None
    first_token_at: float | None = None
    ended_at: float | None = None
    time_source: TimeSource = "received"

    @property
    def ttft_s(self) -> float | None:
        """Time to first token: from the call's start to its first non-empty delta."""
        return _dur(self.started_at, self.first_token_at)

    @property
    def duration_s(self) -> float | None:
        """From the call's start to its finishing delta."""
        return _dur(self.started_at, self.ended_at)

    @property
    def generation_s(self) -> float | None:
        """From the first token to the finishing delta (the time spent producing output)."""
        return _dur(self.first_token_at, self.ended_at)


@dataclass(slots=True)
class ToolTiming:
    """Timing of one tool call: from its arguments being complete to its ``tool.response``.

    ``awaiting_since``: when the turn paused on this call for a human (approval or answer), else ``None``.
    """

    tool_call_id: str
    message_id: str
    thread_id: str | None
    started_at: float | None = None
    ended_at: float | None = None
    awaiting_since: float | None = None
    time_source: TimeSource = "received"

    @property
    def duration_s(self) -> float | None:
        return _dur(self.started_at, self.ended_at)


@dataclass(slots=True)
class PauseTiming:
    """A wait for a human: a tool call's approval or answer, or an MCP sign-in.

    ``kind``: ``approval``, ``response`` or ``mcp_auth``. ``ended_at`` (and ``decision``) are filled by
    :func:`link_pauses` from the resume turn; ``None`` while the decision is not known.
    """

    id: str
    kind: Literal["approval", "response", "mcp_auth"]
    thread_id: str | None
    tool_call_id: str | None
    started_at: float | None
    ended_at: float | None = None
    decision: str | None = None
    time_source: TimeSource = "received"

    @property
    def duration_s(self) -> float | None:
        return _dur(self.started_at, self.ended_at)


@dataclass(slots=True)
class ThreadTiming:
    """A thread's start (``thread.created``; the main thread: the turn's start) and end."""

    thread_id: str
    started_at: float | None = None
    ended_at: float | None = None
    time_source: TimeSource = "received"

    @property
    def duration_s(self) -> float | None:
        return _dur(self.started_at, self.ended_at)


@dataclass(frozen=True, slots=True)
class Decision:
    """How a resume turn answered a paused tool call, and when (its ``turn.created``)."""

    tool_call_id: str
    at: float | None
    kind: Literal["approved", "denied", "answered"]
    detail: str | None = None
    time_source: TimeSource = "received"


@dataclass(slots=True)
class TurnTiming:
    """Every timing of one turn (see the module docstring for what each time means).

    Attributes:
        started_at / ended_at: the turn's ``turn.created`` / ``turn.done`` (``ended_at`` ``None`` while
            it runs).
        clock: ``"received"`` for a live stream or a ``.jsonl`` recording, ``"created_at"`` for listed
            events and raw ``.sse`` captures.
        calls / tools / threads / pauses: keyed by message id, tool call id, thread id and pause id.
    """

    started_at: float | None = None
    ended_at: float | None = None
    clock: TimeSource = "received"
    calls: dict[str, CallTiming] = field(default_factory=dict)
    tools: dict[str, ToolTiming] = field(default_factory=dict)
    threads: dict[str, ThreadTiming] = field(default_factory=dict)
    pauses: dict[str, PauseTiming] = field(default_factory=dict)

    @property
    def duration_s(self) -> float | None:
        return _dur(self.started_at, self.ended_at)


# ------------------------------------------------------------------------------------------ derivation


def _ts(created_at: Any) -> float | None:
    if not isinstance(created_at, str) or not created_at:
        return None
    try:
        return datetime.fromisoformat(created_at.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


class _Tracker:
    """Incremental scan of a state's items: each call reads only the items added since the last one."""

    __slots__ = (
        "_n",
        "_quiet",
        "_waiting",
        "clock_match",
        "clock_mismatch",
        "listed",
        "streamed",
        "t",
        "version",
    )

    def __init__(self) -> None:
        self._n = 0
        self.t = TurnTiming()
        self.clock_match = 0
        self.clock_mismatch = 0
        self.version = 0  # bumped whenever a time or a span's existence changes
        # calls that had their first token and did not end: their further deltas matter only when finishing
        self._quiet: set[str] = set()  # message ids
        self._waiting: set[str] = set()  # calls without a first token yet
        self.listed = 0  # items without a sequence number (listed events, bare events)
        self.streamed = 0

    def update(self, state: TurnState) -> TurnTiming:
        items = state.items
        if type(items) is ItemLog:
            self._scan_log(items, self._n, len(items))
        else:
            self._scan(items, self._n, len(items))
        self._n = len(items)
        t = self.t
        t.clock = self._turn_clock()
        # tool calls: the fold knows their final ids (ids may arrive in a later chunk); time them here
        for info in state.tool_calls.values():
            tt = t.tools.get(info.id)
            if tt is None:
                tt = t.tools[info.id] = ToolTiming(info.id, info.message_id, info.thread_id)
            call = t.calls.get(info.message_id)
            if call is not None:
                tt.started_at = call.ended_at
                tt.time_source = call.time_source
        for p in t.pauses.values():
            if p.tool_call_id is not None and p.tool_call_id in t.tools:
                tool = t.tools[p.tool_call_id]
                if tool.awaiting_since is None or (
                    p.started_at is not None and p.started_at < tool.awaiting_since
                ):
                    tool.awaiting_since = p.started_at
        # threads the fold knows but that were never created by an event (main, or events before their
        # thread.created) start at their first event
        return t

    def _scan(self, items: Any, start: int, end: int) -> None:
        one = self._one
        for i in range(start, end):
            one(items[i])

    def _scan_log(self, log: ItemLog, start: int, end: int) -> None:
        """:meth:`_scan` over an :class:`ItemLog`: the deltas the fold noted as not finishing their message
        (see :meth:`ItemLog._add`) are skipped, a range at a time and without being rebuilt, once every call
        they belong to had its first token (they cannot time anything then); every other item is read."""
        own_start, own_end, own = log._own_start, log._own_end, log._own  # read in place (no copy per scan)
        quiet = self._quiet
        one = self._one
        nranges = len(own)
        closed = len(own_end)  # the last range may be open: it ends at log._own_next
        r = max(0, bisect_right(own_start, start) - 1)
        i = start
        while i < end:
            stop = own_end[r] if r < closed else log._own_next
            if r < nranges and stop <= i:
                r += 1
                continue
            if r < nranges and own_start[r] <= i:
                ids = own[r]
                if ids in quiet if type(ids) is str else ids <= quiet:  # type: ignore[operator]
                    i = min(stop, end)
                    continue
            one(log[i])
            i += 1

    def _turn_clock(self) -> TimeSource:
        if self.streamed == 0 and self.listed:
            return "created_at"
        return "created_at" if self.clock_match and not self.clock_mismatch else "received"

    def _clock(self, item: Any, created_at: Any) -> tuple[float, TimeSource]:
        if item.sequence_number is None:
            self.listed += 1
            ts = _ts(created_at)
            if ts is not None:
                return ts, "created_at"
            return item.received_at, "received"
        self.streamed += 1
        if not self.clock_mismatch and created_at:
            ts = _ts(created_at)
            if ts is not None:
                if abs(ts - item.received_at) < 1e-6:
                    self.clock_match += 1
                else:
                    self.clock_mismatch += 1
        return item.received_at, "created_at" if (
            self.clock_match and not self.clock_mismatch
        ) else "received"

    def _one(self, item: Any) -> None:
        ev = item._event
        if ev is None:  # a released delta: read the few fields needed from its JSON
            raw = item.raw
            try:
                d = _decode_json(raw)
            except (
                msgspec.MsgspecError,
                RecursionError,
            ):  # what msgspec refuses (NaN, ...): the standard way
                d = json.loads(raw)
            typ, eid, tid, cat = d.get("type"), d.get("id"), d.get("thread_id"), d.get("created_at")
        else:
            if type(ev) is ModelMessageDeltaEvent and not ev.finish_reason:
                call = self.t.calls.get(ev.id)
                if call is not None and call.first_token_at is not None:
                    return  # mid-stream: nothing to time (the same fast path for parsed deltas)
            d = None
            typ, eid, tid, cat = ev.type, ev.id, ev.thread_id, ev.created_at
        at, src = self._clock(item, cat)
        t = self.t
        if t.started_at is None:
            t.started_at = at
        if tid is not None and tid not in t.threads:
            t.threads[tid] = ThreadTiming(tid, at, None, src)
        if typ != "model.message.delta":
            self.version += 1
        if typ == "model.message.delta":
            call = t.calls.get(eid)
            if call is None:
                call = t.calls[eid] = CallTiming(eid, tid, at, None, None, src)
                self._waiting.add(eid)
                self.version += 1
            if d is None:
                d = {
                    "content": ev.content,
                    "reasoning_content": ev.reasoning_content,
                    "refusal": ev.refusal,
                    "tool_calls": ev.tool_calls,
                    "finish_reason": ev.finish_reason,
                }
            if call.first_token_at is None and (
                d.get("content") or d.get("reasoning_content") or d.get("refusal") or d.get("tool_calls")
            ):
                call.first_token_at = at
                self._waiting.discard(eid)
                if call.ended_at is None:
                    self._quiet.add(eid)
                self.version += 1
            if d.get("finish_reason"):
                call.ended_at = at
                self._waiting.discard(eid)
                self._quiet.discard(eid)
                self.version += 1
        elif typ == "model.message":
            if eid in t.calls:
                return
            call = t.calls[eid] = CallTiming(eid, tid, at, None, None, src)
            if ev is not None and ev.finish_reason and src == "received":
                # a complete message received in one piece: it started, produced and ended on arrival
                call.first_token_at = call.ended_at = at
            elif src == "received" or item.sequence_number is not None:
                self._waiting.add(eid)
        elif typ == "tool.response":
            tcid = getattr(ev, "tool_call_id", None)
            if tcid:
                tool = t.tools.get(tcid)
                if tool is None:
                    tool = t.tools[tcid] = ToolTiming(tcid, "", tid)
                if tool.ended_at is None:
                    tool.ended_at = at
        elif typ in ("tool.approval_required", "tool.response_required"):
            kind: Literal["approval", "response"] = (
                "approval" if typ == "tool.approval_required" else "response"
            )
            for pc in getattr(ev, "tool_calls", None) or ():
                pid = f"pause:{pc.id}"
                if pid not in t.pauses:
                    t.pauses[pid] = PauseTiming(pid, kind, tid, pc.id, at, time_source=src)
        elif typ == "mcp.auth_required":
            pid = f"pause:{eid}"
            if pid not in t.pauses:
                t.pauses[pid] = PauseTiming(pid, "mcp_auth", tid, None, at, time_source=src)
        elif typ == "thread.created":
            th_id = tid or eid
            th = t.threads.get(th_id)
            if th is None:
                t.threads[th_id] = ThreadTiming(th_id, at, None, src)
            else:
                th.started_at, th.time_source = at, src
        elif typ == "thread.done":
            th_id = tid or eid
            th = t.threads.setdefault(th_id, ThreadTiming(th_id, at, None, src))
            th.ended_at = at
        elif typ == "turn.created":
            if t.started_at is None or at < t.started_at:
                t.started_at = at
        elif typ == "turn.done":
            t.ended_at = at
            for th in t.threads.values():
                if th.ended_at is None:
                    th.ended_at = at
            for action in getattr(ev, "pause_events", ()) or ():
                atype = action.type
                if atype == "mcp.auth_required":
                    pid = f"pause:{action.id}"
                    if pid not in t.pauses:
                        t.pauses[pid] = PauseTiming(
                            pid, "mcp_auth", action.thread_id, None, at, time_source=src
                        )
                    continue
                if atype not in ("tool.approval_required", "tool.response_required"):
                    continue
                pkind: Literal["approval", "response"] = (
                    "approval" if atype == "tool.approval_required" else "response"
                )
                for pc in getattr(action, "tool_calls", None) or ():
                    pid = f"pause:{pc.id}"
                    if pid not in t.pauses:
                        t.pauses[pid] = PauseTiming(pid, pkind, action.thread_id, pc.id, at, time_source=src)


_decode_json = msgspec.json.Decoder().decode  # a released delta's JSON, as json.loads reads it (faster)

_TRACKERS: weakref.WeakKeyDictionary[Any, _Tracker] = weakref.WeakKeyDictionary()


def turn_timing(state: TurnState) -> TurnTiming:
    """The :class:`TurnTiming` of a state (the same object, updated, on every call for the same state).

    Incremental: a call reads only the items applied since the previous call, so calling it on every
    flush of a live view costs O(new items).
    """

    if not isinstance(getattr(state, "items", None), (list, ItemLog)) or not hasattr(state, "tool_calls"):
        raise TypeError(f"turn_timing() needs a TurnState, not {type(state).__name__}")
    tr = _TRACKERS.get(state)
    if tr is None or tr._n > len(state.items):
        tr = _TRACKERS[state] = _Tracker()
    t = tr.update(state)
    # the main thread runs from the turn's start
    main = t.threads.get("main")
    if main is not None and t.started_at is not None:
        main.started_at = t.started_at
        main.ended_at = t.ended_at
    return t


def decisions(state: TurnState) -> dict[str, Decision]:
    """The decisions a resume turn's input carries, by tool call id, timed by its ``turn.created``."""
    t = turn_timing(state)
    return {
        call_id: Decision(call_id, t.started_at, r["decision"], r["reason"] or r["text"], t.clock)
        for call_id, r in resolve(state.input).items()
    }


def link_pauses(states: Iterable[TurnState]) -> None:
    """Close the pauses of paused turns with the decisions of the turns that resumed them.

    ``states`` in any order; a resume turn is matched to its paused turn by ``previous_turn_id`` (or, when
    absent, by the tool call ids its input answers). An MCP sign-in pause ends when the next turn starts.
    Modifies the cached :class:`TurnTiming` of the paused turns (idempotent).
    """
    states = list(states)
    by_id = {s.turn_id: s for s in states if s.turn_id}
    for s in states:
        ds = decisions(s)
        created = s.created
        prev_id = created.previous_turn_id if created is not None else None
        prev = by_id.get(prev_id) if prev_id else None
        targets = [prev] if prev is not None else [o for o in states if o is not s]
        start = turn_timing(s).started_at
        for target in targets:
            if target is None:
                continue
            tt = turn_timing(target)
            before = [(p.ended_at, p.decision) for p in tt.pauses.values()]
            for p in tt.pauses.values():
                if p.tool_call_id is not None and p.tool_call_id in ds:
                    dec = ds[p.tool_call_id]
                    p.ended_at, p.decision = (
                        dec.at,
                        dec.kind if dec.detail is None else f"{dec.kind}: {dec.detail}",
                    )
                elif p.kind == "mcp_auth" and target is prev and p.ended_at is None:
                    p.ended_at, p.decision = start, "resumed"
            if before != [(p.ended_at, p.decision) for p in tt.pauses.values()]:
                _TRACKERS[target].version += 1  # the view's spans of the paused turn show the decision


# ------------------------------------------------------------------------------------------ spans


@dataclass(frozen=True, slots=True)
class Span:
    """One node of a turn's tree of spans (see :func:`spans`).

    Attributes:
        kind: ``turn``, ``thread``, ``model_call``, ``tool_call`` or ``pause``.
        id: unique within the turn: the turn id, thread id, message id, tool call id, or ``pause:<id>``.
        parent_id: the parent span's id (``None`` only for the turn).
        thread_id: the thread the span runs in (the turn: ``None``; a sub-agent thread: itself).
        name: a label: the turn id, thread title or agent name, model name or ``model call``, tool name,
            ``approval`` / ``response`` / ``mcp_auth``.
        started_at / ended_at: epoch seconds, ``None`` where unknown (still running, never ended).
        first_token_at: model calls only.
        time_source: the clock of ``started_at`` (see :data:`TimeSource`).
        status: the thread's, tool call's or turn's status; for a pause its decision when known.
        input_tokens / output_tokens / cache_read_tokens / cache_write_tokens: a model call's own usage
            (``None`` for other kinds; sum them over ``model_call`` spans for totals).
        cost_usd / cost_source: a model call's own cost (``priced``, ``allocated`` or ``unknown``).
        total_cost_usd / total_tokens: the span's roll-up over itself and every descendant (a spawning
            tool call carries its sub-agent's calls), ``None`` when nothing below has a known value.
        attributes: extra facts (``model``, ``ttft_s``, ``tool_call_id``, ``child_thread_id``...).
    """

    kind: SpanKind
    id: str
    parent_id: str | None
    thread_id: str | None
    name: str
    started_at: float | None
    ended_at: float | None
    time_source: TimeSource = "received"
    status: str | None = None
    first_token_at: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    cost_usd: float | None = None
    cost_source: str | None = None
    total_cost_usd: float | None = None
    total_tokens: int | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)

    @property
    def duration_s(self) -> float | None:
        return _dur(self.started_at, self.ended_at)

    @property
    def ttft_s(self) -> float | None:
        return _dur(self.started_at, self.first_token_at)

    @property
    def start_ns(self) -> int | None:
        """``started_at`` in integer nanoseconds since the epoch (as OpenTelemetry wants it)."""
        return None if self.started_at is None else round(self.started_at * 1e9)

    @property
    def end_ns(self) -> int | None:
        return None if self.ended_at is None else round(self.ended_at * 1e9)


def spans(
    state: TurnState,
    *,
    pricing: Pricing | None = None,
    model: str | None = None,
    _costs: Mapping[str, Any] | None = None,
) -> list[Span]:
    """The turn as a tree of :class:`Span` records, parents before children.

    The turn is the only root; a thread's parent is the turn, except a sub-agent thread's, which is the tool
    call that spawned it (its parent thread when that call is unknown); a model call's parent is its thread,
    a tool call's the model call that made it, a pause's the tool call it waits on (an MCP sign-in's, its
    thread). ``pricing`` and ``model`` (the main thread's model) are passed to
    :func:`tfwidget.pricing.call_costs` for the costs.
    """

    t = turn_timing(state)
    costs = _costs if _costs is not None else call_costs(state, pricing=pricing, model=model)
    turn_id = state.turn_id or "turn"
    out: list[Span] = []
    merged = message_bases(state)

    own_cost: dict[str, float] = {}
    own_tokens: dict[str, int] = {}
    children: dict[str, list[str]] = {}

    def add(span: Span) -> None:
        out.append(span)
        if span.parent_id is not None:
            children.setdefault(span.parent_id, []).append(span.id)

    # the turn, then threads parents-first so that every span follows its parent
    add(
        Span(
            "turn", turn_id, None, None, turn_id, t.started_at, t.ended_at, t.clock, state.status,
            attributes={"status_reason": state.status_reason} if state.status_reason else {},
        )
    )  # fmt: skip
    thread_parent: dict[str, str] = {}
    for th in state.threads.values():
        if th.id == "main":
            thread_parent[th.id] = turn_id
        elif th.parent_tool_call_id and th.parent_tool_call_id in state.tool_calls:
            thread_parent[th.id] = th.parent_tool_call_id
        elif th.parent_thread_id and th.parent_thread_id in state.threads:
            thread_parent[th.id] = th.parent_thread_id
        else:
            thread_parent[th.id] = turn_id
    pending_threads = list(state.threads.values())
    emitted: set[str] = {turn_id}
    msg_thread = {mid: (m.thread_id or "main") for mid, m in merged.items()}

    def emit_thread(th: Any) -> None:
        tt = t.threads.get(th.id)
        name = th.agent_name or th.title or th.id
        attrs: dict[str, Any] = {}
        if th.model:
            attrs["model"] = th.model
        if th.parent_tool_call_id:
            attrs["parent_tool_call_id"] = th.parent_tool_call_id
        add(
            Span(
                "thread", th.id, thread_parent[th.id], th.id, name,
                tt.started_at if tt else None, tt.ended_at if tt else None,
                tt.time_source if tt else t.clock, th.status, attributes=attrs,
            )
        )  # fmt: skip
        emitted.add(th.id)
        for mid, tid in msg_thread.items():
            if tid == th.id:
                emit_call(mid)

    def emit_call(mid: str) -> None:
        m = merged[mid]
        ct = t.calls.get(mid)
        c = costs.get(mid)
        u = m.usage
        attrs: dict[str, Any] = {}
        if c is not None and c.model:
            attrs["model"] = c.model
            attrs["model_source"] = c.model_source
        if m.finish_reason:
            attrs["finish_reason"] = m.finish_reason
        if ct is not None and ct.ttft_s is not None:
            attrs["ttft_s"] = ct.ttft_s
        ntok = None if u is None else (u.input_tokens or 0) + (u.output_tokens or 0)
        if ntok is not None:
            own_tokens[mid] = ntok
        if c is not None and c.cost_usd is not None:
            own_cost[mid] = c.cost_usd
        add(
            Span(
                "model_call", mid, m.thread_id or "main", m.thread_id or "main",
                (c.model if c is not None and c.model else None) or "model call",
                ct.started_at if ct else None, ct.ended_at if ct else None,
                ct.time_source if ct else t.clock, m.finish_reason,
                first_token_at=ct.first_token_at if ct else None,
                input_tokens=u.input_tokens if u else None, output_tokens=u.output_tokens if u else None,
                cache_read_tokens=u.cache_read_tokens if u else None,
                cache_write_tokens=u.cache_write_tokens if u else None,
                cost_usd=c.cost_usd if c else None, cost_source=c.cost_source if c else "unknown",
                attributes=attrs,
            )
        )  # fmt: skip
        for info in state.tool_calls.values():
            if info.message_id == mid:
                emit_tool(info)

    def emit_tool(info: Any) -> None:
        tt = t.tools.get(info.id)
        attrs: dict[str, Any] = {"tool_call_id": info.id}
        if info.tool_type:
            attrs["tool_type"] = info.tool_type
        if info.server_name:
            attrs["server_name"] = info.server_name
        if info.child_thread_id:
            attrs["child_thread_id"] = info.child_thread_id
        if tt is not None and tt.awaiting_since is not None:
            attrs["awaiting_since"] = tt.awaiting_since
        add(
            Span(
                "tool_call", info.id, info.message_id, info.thread_id or "main", info.name or "tool",
                tt.started_at if tt else None, tt.ended_at if tt else None,
                tt.time_source if tt else t.clock, info.status, attributes=attrs,
            )
        )  # fmt: skip
        for p in t.pauses.values():
            if p.tool_call_id == info.id:
                emit_pause(p, info.id)
        for th in pending_threads:
            if thread_parent.get(th.id) == info.id and th.id not in emitted:
                emit_thread(th)

    def emit_pause(p: PauseTiming, parent: str) -> None:
        add(
            Span(
                "pause", p.id, parent, p.thread_id or "main", p.kind, p.started_at, p.ended_at,
                p.time_source, p.decision or "waiting",
                attributes={"tool_call_id": p.tool_call_id} if p.tool_call_id else {},
            )
        )  # fmt: skip

    # threads hanging off the turn (or off a thread) first, in the fold's order; the rest follow their tool
    progress = True
    while progress:
        progress = False
        for th in pending_threads:
            if th.id in emitted:
                continue
            parent = thread_parent[th.id]
            if parent == turn_id or (parent in emitted and parent in state.threads):
                emit_thread(th)
                progress = True
    for th in pending_threads:  # parents that never appeared (defensive): hang them off the turn
        if th.id not in emitted:
            thread_parent[th.id] = turn_id
            emit_thread(th)
    for mid, tid in msg_thread.items():  # messages of a thread the fold never saw
        if tid not in emitted and not any(s.id == mid for s in out):
            emit_call(mid)
    for p in t.pauses.values():
        if p.tool_call_id is None or p.tool_call_id not in state.tool_calls:
            pth = p.thread_id or "main"
            emit_pause(p, pth if pth in emitted else turn_id)

    # roll-ups: each span's own value plus its descendants'
    total_cost: dict[str, float | None] = {}
    total_tok: dict[str, int | None] = {}

    def roll(sid: str) -> tuple[float | None, int | None]:
        if sid in total_cost:
            return total_cost[sid], total_tok[sid]
        c = own_cost.get(sid)
        k = own_tokens.get(sid)
        for ch in children.get(sid, ()):
            cc, kk = roll(ch)
            if cc is not None:
                c = (c or 0.0) + cc
            if kk is not None:
                k = (k or 0) + kk
        total_cost[sid], total_tok[sid] = c, k
        return c, k

    result = []
    for s in out:
        c, k = roll(s.id)
        result.append(s if c is None and k is None else _with_totals(s, c, k))
    return result


def _with_totals(s: Span, cost: float | None, tokens: int | None) -> Span:
    """``s`` with its roll-ups (``dataclasses.replace`` without its per-field introspection: this runs for
    every span of a turn on every flush of a live view whose spans changed)."""
    return Span(
        s.kind, s.id, s.parent_id, s.thread_id, s.name, s.started_at, s.ended_at, s.time_source, s.status,
        s.first_token_at, s.input_tokens, s.output_tokens, s.cache_read_tokens, s.cache_write_tokens,
        s.cost_usd, s.cost_source, cost, tokens, s.attributes,
    )  # fmt: skip


#: Columns of ``spans_df`` (:func:`spans_frame`), in order.
SPANS_COLUMNS = [
    "kind", "id", "parent_id", "thread_id", "name", "status", "started_at", "first_token_at", "ended_at",
    "duration_s", "ttft_s", "time_source", "input_tokens", "output_tokens", "cache_read_tokens",
    "cache_write_tokens", "cost_usd", "cost_source", "total_cost_usd", "total_tokens",
]  # fmt: skip


def spans_frame(
    state: TurnState, *, pricing: Pricing | None = None, model: str | None = None
) -> pd.DataFrame:
    """``spans_df``: one row per :class:`Span` (see :func:`spans`). Columns: :data:`SPANS_COLUMNS`.

    Types: ``kind, id, parent_id, thread_id, name, status, time_source, cost_source`` strings;
    ``started_at, first_token_at, ended_at`` datetimes (UTC, ``NaT`` where unknown); ``duration_s, ttft_s,
    cost_usd, total_cost_usd`` ``Float64``; token counts ``Int64``.
    """
    return spans_to_frame(spans(state, pricing=pricing, model=model))


def spans_to_frame(items: list[Span]) -> pd.DataFrame:
    """A list of :class:`Span` as a DataFrame with :data:`SPANS_COLUMNS`."""

    times = _times_col

    def s(vals: list[Any]) -> Any:
        return pd.array(vals, dtype="string")

    def f(vals: list[Any]) -> Any:
        return pd.array(vals, dtype="Float64")

    def i(vals: list[Any]) -> Any:
        return pd.array(vals, dtype="Int64")

    data = {
        "kind": s([x.kind for x in items]),
        "id": s([x.id for x in items]),
        "parent_id": s([x.parent_id for x in items]),
        "thread_id": s([x.thread_id for x in items]),
        "name": s([x.name for x in items]),
        "status": s([x.status for x in items]),
        "started_at": times([x.started_at for x in items]),
        "first_token_at": times([x.first_token_at for x in items]),
        "ended_at": times([x.ended_at for x in items]),
        "duration_s": f([x.duration_s for x in items]),
        "ttft_s": f([x.ttft_s for x in items]),
        "time_source": s([x.time_source for x in items]),
        "input_tokens": i([x.input_tokens for x in items]),
        "output_tokens": i([x.output_tokens for x in items]),
        "cache_read_tokens": i([x.cache_read_tokens for x in items]),
        "cache_write_tokens": i([x.cache_write_tokens for x in items]),
        "cost_usd": f([x.cost_usd for x in items]),
        "cost_source": s([x.cost_source for x in items]),
        "total_cost_usd": f([x.total_cost_usd for x in items]),
        "total_tokens": i([x.total_tokens for x in items]),
    }
    return pd.DataFrame(data, columns=SPANS_COLUMNS)


# ------------------------------------------------------------------------------------------ frame columns


def _times_col(vals: list[float | None]) -> Any:
    """Epoch seconds (``None`` = unknown) -> a ``datetime64[ns, UTC]`` Series (``NaT`` where unknown)."""
    nat = np.iinfo(np.int64).min
    ns = np.array([nat if v is None else round(v * 1e9) for v in vals], dtype="int64")
    return pd.Series(pd.DatetimeIndex(ns.view("datetime64[ns]"), tz="UTC"))


def _per_s(tokens: int | None, seconds: float | None) -> float | None:
    if tokens is None or seconds is None or seconds <= 0:
        return None
    return tokens / seconds


def call_timing_columns(state: TurnState, message_ids: list[str], usages: list[Any]) -> dict[str, list[Any]]:
    """The timing columns of ``messages_df`` for these messages, as plain lists (see :mod:`tfwidget.frames`,
    which types them: epoch seconds for ``*_at``)."""

    t = turn_timing(state)
    calls = [t.calls.get(mid) for mid in message_ids]
    return {
        "started_at": [c.started_at if c else None for c in calls],
        "first_token_at": [c.first_token_at if c else None for c in calls],
        "ended_at": [c.ended_at if c else None for c in calls],
        "ttft_s": [c.ttft_s if c else None for c in calls],
        "duration_s": [c.duration_s if c else None for c in calls],
        "output_tokens_per_s": [
            _per_s(u.output_tokens if u is not None else None, c.generation_s if c else None)
            for c, u in zip(calls, usages, strict=True)
        ],
        "time_source": [c.time_source if c else t.clock for c in calls],
    }


def tool_timing_columns(state: TurnState, tool_call_ids: list[str]) -> dict[str, list[Any]]:
    """The timing columns of ``tool_calls_df`` for these tool calls, as plain lists (see
    :mod:`tfwidget.frames`)."""

    t = turn_timing(state)
    tools = [t.tools.get(i) for i in tool_call_ids]
    return {
        "started_at": [x.started_at if x else None for x in tools],
        "ended_at": [x.ended_at if x else None for x in tools],
        "awaiting_since": [x.awaiting_since if x else None for x in tools],
        "duration_s": [x.duration_s if x else None for x in tools],
        "time_source": [x.time_source if x else t.clock for x in tools],
    }


_BREAKDOWN_FIELDS = USAGE_BREAKDOWN_KEYS


def breakdown_gap(usage: Any) -> int | None:
    """``input_tokens`` minus the sum of the reported breakdown (``None`` without a breakdown)."""
    if usage is None or usage.input_tokens_breakdown is None or usage.input_tokens is None:
        return None
    b = usage.input_tokens_breakdown
    vals = [getattr(b, f) for f in _BREAKDOWN_FIELDS]
    if all(v is None for v in vals):
        return None
    return int(usage.input_tokens) - sum(int(v or 0) for v in vals)


def usage_extra_columns(
    state: TurnState,
    message_ids: list[str],
    usages: list[Any],
    *,
    pricing: Pricing | None = None,
    model: str | None = None,
    context_window: int | None = None,
) -> dict[str, list[Any]]:
    """The timing, cost and context columns of ``usage_df``, as plain lists (see :mod:`tfwidget.frames`)."""

    if context_window is not None and (
        not isinstance(context_window, int) or isinstance(context_window, bool) or context_window <= 0
    ):
        raise ValueError(f"context_window must be a positive int (tokens), not {context_window!r}")
    timing = call_timing_columns(state, message_ids, usages)
    costs = call_costs(state, pricing=pricing, model=model if model is not None else current_model())
    cc = [costs.get(mid) for mid in message_ids]
    windows = [
        context_window if context_window is not None else (c.context_window if c else None) for c in cc
    ]
    fills = [
        (u.input_tokens / w) if (u is not None and u.input_tokens is not None and w) else None
        for u, w in zip(usages, windows, strict=True)
    ]
    return {
        "breakdown_gap": [breakdown_gap(u) for u in usages],
        "ttft_s": timing["ttft_s"],
        "duration_s": timing["duration_s"],
        "output_tokens_per_s": timing["output_tokens_per_s"],
        "model": [c.model if c else None for c in cc],
        "model_source": [c.model_source if c else None for c in cc],
        "cost_usd": [c.cost_usd if c else None for c in cc],
        "cost_source": [c.cost_source if c else "unknown" for c in cc],
        "context_window": windows,
        "context_fill": fills,
    }


# ------------------------------------------------------------------------------------------ the view model


def _ms(t: float | None) -> int | None:
    return None if t is None else round(t * 1000)


def spans_view(
    state: TurnState, *, pricing: Pricing | None = None, model: str | None = None
) -> list[dict[str, Any]]:
    """The spans as the front end's Timeline and usage chips read them (JSON-ready, times in epoch ms).

    One dict per :class:`Span`, parents first: ``kind, id, parent_id, thread_id, name, status, start_ms,
    first_ms, end_ms, time_source``, and where known ``cost_usd, cost_source, total_cost_usd, input_tokens,
    output_tokens, cache_read_tokens, model, context_window`` (model calls), ``tool_call_id`` (pauses).
    """

    turn_timing(state)
    tracker = _TRACKERS[state]
    sig = (
        tracker.version,
        len(state.message_ids()),
        tuple((i.id, i.name, i.status, i.child_thread_id) for i in state.tool_calls.values()),
        tuple((th.id, th.status, th.title) for th in state.threads.values()),
        state.status,
        id(pricing if pricing is not None else current_pricing()),
        model if model is not None else current_model(),
    )
    memo = _VIEW_MEMO.get(state)
    if memo is not None and memo[0] == sig:
        return memo[1]
    costs = call_costs(state, pricing=pricing, model=model)
    out: list[dict[str, Any]] = []
    # the rows of spans that did not change are the same objects as before (cheaper to build, and to compare
    # with the view the front end has: a live view patches only the rows that changed)
    old_rows = memo[2] if memo is not None else {}
    new_rows: dict[str, tuple[Span, Any, dict[str, Any]]] = {}
    for s in spans(state, pricing=pricing, model=model, _costs=costs):
        c = costs.get(s.id) if s.kind == "model_call" else None
        key = (c.model, c.context_window) if c is not None else None
        prev = old_rows.get(s.id)
        if prev is not None and prev[1] == key and prev[0] == s:
            out.append(prev[2])
            new_rows[s.id] = prev
            continue
        row: dict[str, Any] = {
            "kind": s.kind,
            "id": s.id,
            "parent_id": s.parent_id,
            "thread_id": s.thread_id,
            "name": s.name,
            "status": s.status,
            "start_ms": _ms(s.started_at),
            "first_ms": _ms(s.first_token_at),
            "end_ms": _ms(s.ended_at),
            "time_source": s.time_source,
        }
        if s.total_cost_usd is not None:
            row["total_cost_usd"] = s.total_cost_usd
        if s.kind == "model_call":
            row.update(
                {
                    "cost_usd": s.cost_usd,
                    "cost_source": s.cost_source,
                    "input_tokens": s.input_tokens,
                    "output_tokens": s.output_tokens,
                    "cache_read_tokens": s.cache_read_tokens,
                }
            )
            if c is not None:
                row["model"] = c.model
                row["context_window"] = c.context_window
        elif s.kind == "pause" and "tool_call_id" in s.attributes:
            row["tool_call_id"] = s.attributes["tool_call_id"]
        out.append(row)
        new_rows[s.id] = (s, key, row)
    _VIEW_MEMO[state] = (sig, out, new_rows)
    return out


_VIEW_MEMO: weakref.WeakKeyDictionary[Any, tuple[Any, list[dict[str, Any]], dict[str, Any]]] = (
    weakref.WeakKeyDictionary()
)


def clock_view(state: TurnState) -> dict[str, Any]:
    """``{"source", "now_ms"}``: the turn's clock and its latest known time (the last item's), which the
    Timeline grows open bars to while the turn streams."""
    t = turn_timing(state)
    now = None
    if state.items:
        last = state.items[-1]
        now = last.received_at
        if t.clock == "created_at" or last.sequence_number is None:
            latest = [x for x in (t.ended_at, t.started_at) if x is not None]
            for c in t.calls.values():
                latest.extend(x for x in (c.started_at, c.first_token_at, c.ended_at) if x is not None)
            for tool in t.tools.values():
                latest.extend(x for x in (tool.started_at, tool.ended_at) if x is not None)
            now = max(latest) if latest else now
    return {"source": t.clock, "now_ms": _ms(now)}
