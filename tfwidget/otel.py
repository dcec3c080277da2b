"""Turns as OpenTelemetry traces: GenAI semantic conventions plus OpenInference attributes.

>>> from tfwidget import otel
>>> otel.export(view, endpoint="http://127.0.0.1:6006/v1/traces")        # doctest: +SKIP
>>> otel.export(tfwidget.concat("recordings/"), path="turns.otlp.jsonl")  # doctest: +SKIP

Each turn becomes one trace:

- ``invoke_agent {agent}`` (root): the turn; ``gen_ai.conversation.id`` / ``session.id`` = the session id, its
  status (``truefoundry.turn.status``; an error turn has the span status ERROR with the error message),
  the cancel reason, token totals and cost from the ``turn.done`` metrics.
- ``chat {model}``: one per model call (merged ``model.message``) with ``gen_ai.usage.*``,
  ``gen_ai.response.finish_reasons``, ``gen_ai.response.time_to_first_chunk``, the input-token breakdown
  as ``truefoundry.usage.input_tokens_breakdown.*`` and the call's cost (:mod:`tfwidget.pricing`).
- ``execute_tool {name}``: one per tool call (``gen_ai.tool.name``, ``gen_ai.tool.type``,
  ``gen_ai.tool.call.id``, the MCP server).
- ``invoke_agent {sub-agent}``: each sub-agent thread, under the ``execute_tool create_sub_agent`` span
  that spawned it; its own model calls and tool calls under it.
- pauses (``tool.approval_required``, ``tool.response_required``, ``mcp.auth_required``),
  ``mcp.initialize``, ``sandbox.created`` and any other event are span events on their thread's span.

Span times are the turn's timing (:func:`tfwidget.timing.turn_timing`): receive times of the stream items,
``created_at`` where there are none.

The OpenInference attributes (``openinference.span.kind``, ``llm.token_count.*``, ``llm.model_name``,
``session.id``, ``input.value`` / ``output.value``) make Arize Phoenix show the spans natively.

Trace and span ids are derived from the turn id and the message, tool call and thread ids (SHA-256), so
exporting a turn twice gives the same ids: a backend that keys spans by id keeps one copy. A resumed turn's
root span links to the root span of the turn it resumes.

Message content (model text, reasoning, tool arguments and results, sub-agent inputs and outputs, the
turn's input) is left out unless ``include_content=True``; ``redact(text)`` then runs on every such text,
and on error messages, before anything leaves the process. The gateway's API key is never read.

Needs the OpenTelemetry SDK and its OTLP exporter: ``pip install 'tfwidget[otel]'``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ._content import content_text
from .analysis import TurnCollection, _iter_named, _unique, as_state
from .events import (
    McpAuthRequiredEvent,
    McpInitializeEvent,
    ModelMessageDeltaEvent,
    ModelMessageEvent,
    SandboxCreatedEvent,
    ThreadCreatedEvent,
    ThreadDoneEvent,
    ToolApprovalRequiredEvent,
    ToolResponseEvent,
    ToolResponseRequiredEvent,
    TurnCreatedEvent,
    TurnDoneEvent,
)
from .state import ThreadInfo, ToolCallInfo, TurnState

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan

__all__ = ["ExportResult", "OtelExportError", "export", "span_id", "to_spans", "trace_id"]

_OTEL_EXTRA = (
    "tfwidget.otel needs the OpenTelemetry SDK and its OTLP exporter, which are not installed: "
    "pip install 'tfwidget[otel]'"
)

Redact = Callable[[str], str]


class OtelExportError(RuntimeError):
    """The OTLP endpoint did not take the spans (unreachable, refused, or an error status)."""


# ------------------------------------------------------------------------------------------ ids


def _hash_int(nbytes: int, *parts: str) -> int:
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:nbytes], "big") or 1  # 0 is the invalid id


def trace_id(turn_id: str) -> int:
    """The trace id of a turn (128 bits, derived from its turn id)."""
    return _hash_int(16, "tfwidget.trace", turn_id)


def span_id(turn_id: str, kind: str, key: str = "") -> int:
    """The span id of a part of a turn: ``kind`` is ``turn``, ``message``, ``tool`` or ``thread`` and ``key``
    the message, tool call or thread id (64 bits, derived from both)."""
    return _hash_int(8, "tfwidget.span", turn_id, kind, key)


# ------------------------------------------------------------------------------------------ times
# Span times are tfwidget.timing's (receive times of the stream items; created_at where there are none). Only
# the placement of span events (pauses, mcp.*, sandbox.created) reads items here, with timing's own clock.


def _ns(seconds: float | None) -> int | None:
    return None if seconds is None else round(seconds * 1e9)


@dataclass
class _Times:
    """When each part of a turn happened, in epoch nanoseconds."""

    turn: tuple[int, int] = (0, 0)
    messages: dict[str, list[int | None]] = field(default_factory=dict)  # id -> [start, first chunk, end]
    responses: dict[str, int] = field(default_factory=dict)  # tool call id -> its tool.response
    threads: dict[str, list[int | None]] = field(default_factory=dict)  # id -> [created, done]
    events: dict[str, int] = field(default_factory=dict)  # event id -> first seen


def _times(state: TurnState) -> _Times:
    """Start and end of the turn, its model calls, tool responses, threads and other events."""
    from .timing import _Tracker, turn_timing

    tt = turn_timing(state)
    t = _Times()
    clock = _Tracker()  # timing's rule for one item's time, for the events it does not time itself
    for item in state.items:
        ev = item._event
        if ev is None or isinstance(ev, (ModelMessageDeltaEvent, ModelMessageEvent)):
            continue  # released deltas and model messages: timed by turn_timing
        at, _source = clock._clock(item, ev.created_at)
        t.events.setdefault(ev.id, round(at * 1e9))
    known = list(t.events.values())
    for c in tt.calls.values():
        m = [_ns(c.started_at), _ns(c.first_token_at), _ns(c.ended_at)]
        t.messages[c.message_id] = m
        known.extend(v for v in m if v is not None)
    for tool in tt.tools.values():
        if tool.ended_at is not None:
            t.responses[tool.tool_call_id] = round(tool.ended_at * 1e9)
    for th in tt.threads.values():
        t.threads[th.thread_id] = [_ns(th.started_at), _ns(th.ended_at)]
        known.extend(v for v in t.threads[th.thread_id] if v is not None)
    start = _ns(tt.started_at)
    end = _ns(tt.ended_at)
    if start is None:
        start = min(known) if known else 0
    if end is None:  # still running: as far as it is known
        end = max(known) if known else start
    start = min([start, *known])
    end = max([end, *known])
    if not state.is_finished:  # calls still streaming run to the latest known moment
        for m in t.messages.values():
            if m[2] is None:
                m[2] = end
    t.turn = (start, end)
    return t


# ------------------------------------------------------------------------------------------ turns in


@dataclass
class _Turn:
    key: str
    state: TurnState
    session_id: str | None
    agent_name: str | None


def _session_of(obj: Any) -> str | None:
    sid = getattr(obj, "session_id", None)
    if sid is None:
        sid = getattr(getattr(obj, "_tracker", None), "session_id", None)
    return sid if isinstance(sid, str) else None


def _snapshot(obj: Any) -> TurnState:
    """A consistent state of a turn-like object: a view still streaming is folded again from a copy of its
    items (its own state changes while it is read); a finished one is used as it is."""
    state = getattr(obj, "state", None)
    if not isinstance(obj, TurnState) and isinstance(state, TurnState) and not state.is_finished:
        events = getattr(obj, "events", None)
        if isinstance(events, list):
            return TurnState.from_items(events)
    return as_state(obj)


def _is_session(obj: Any) -> bool:
    return (
        not isinstance(obj, (TurnState, TurnCollection, Mapping, str, os.PathLike))
        and isinstance(getattr(obj, "turns", None), list)
        and isinstance(getattr(obj, "session_id", None), str)
    )


def _iter_turns(objs: Any, session_id: str | None, agent_name: str | None) -> Iterator[_Turn]:
    taken: set[str] = set()

    def one(name: str | None, obj: Any, sid: str | None, agent: str | None) -> _Turn:
        state = _snapshot(obj)
        key = _unique(name or state.turn_id or f"turn-{len(taken)}", taken)
        taken.add(key)
        return _Turn(key, state, session_id or sid or _session_of(obj), agent_name or agent)

    if _is_session(objs) or (isinstance(objs, (list, tuple)) and objs and all(map(_is_session, objs))):
        for sess in [objs] if _is_session(objs) else objs:
            for view in sess.turns:
                yield one(None, view, sess.session_id, getattr(sess, "agent_name", None))
        return
    if not hasattr(objs, "__iter__") and not isinstance(objs, (TurnState, TurnCollection, os.PathLike)):
        if not isinstance(getattr(objs, "state", None), TurnState):
            as_state(objs)  # a clear TypeError naming what is accepted
    for name, obj in _iter_named(objs):
        if _is_session(obj):
            for view in obj.turns:
                yield one(None, view, obj.session_id, getattr(obj, "agent_name", None))
        else:
            yield one(name, obj, None, None)


# ------------------------------------------------------------------------------------------ spans


def _sdk() -> Any:
    try:
        from opentelemetry.sdk import trace as sdk_trace
    except ImportError as exc:  # pragma: no cover - exercised with the extra absent
        raise ImportError(_OTEL_EXTRA) from exc
    return sdk_trace


def _json(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


class _Builder:
    """Builds the spans of one turn through the SDK's tracer, with ids and times set from the turn."""

    def __init__(
        self,
        turn: _Turn,
        *,
        include_content: bool,
        redact: Redact | None,
        resource: Any,
        model: str | None = None,
    ) -> None:
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        from opentelemetry.sdk.trace.id_generator import IdGenerator

        self.turn = turn
        self.state = turn.state
        self.tid = self._turn_key()
        self.include_content = include_content
        self.redact = redact
        self.times = _times(self.state)
        from .pricing import call_costs

        # per call: its model and cost (priced from the table, or a share of the turn's reported cost)
        self.costs = call_costs(self.state, model=model)
        outer = self

        class _Ids(IdGenerator):
            def generate_span_id(self) -> int:
                return outer._next_span

            def generate_trace_id(self) -> int:
                return trace_id(outer.tid)

        self._next_span = 1
        self._memory = InMemorySpanExporter()
        self._provider = TracerProvider(resource=resource, id_generator=_Ids())
        self._provider.add_span_processor(SimpleSpanProcessor(self._memory))
        from . import __version__

        self.tracer = self._provider.get_tracer("tfwidget.otel", __version__)

    def _turn_key(self) -> str:
        st = self.state
        if st.turn_id:
            return st.turn_id
        # no turn.created: the collection key plus the first event ids keep it stable and distinct
        ids = [it.event.id for it in st.items[:8]]
        return "anonymous:" + self.turn.key + ":" + ",".join(ids)

    # -- content
    def content(self, value: Any) -> str | None:
        """Message content as it may leave the process: ``None`` unless content is included."""
        if not self.include_content or value is None:
            return None
        return self.scrub(_json(value))

    def scrub(self, text: str) -> str:
        if self.redact is None:
            return text
        out = self.redact(text)
        if not isinstance(out, str):
            raise TypeError(f"redact() must return a str, not {type(out).__name__}")
        return out

    # -- building
    def start(
        self, sid: int, name: str, parent: Any, start_ns: int, attrs: dict[str, Any], links: Any = ()
    ) -> Any:
        from opentelemetry import trace

        self._next_span = sid
        ctx = trace.set_span_in_context(parent) if parent is not None else None
        if ctx is None:
            from opentelemetry.context import Context

            ctx = Context()  # a root span: never the caller's current span
        clean = {k: v for k, v in attrs.items() if v is not None}
        return self.tracer.start_span(name, context=ctx, attributes=clean, start_time=start_ns, links=links)

    def build(self) -> list[ReadableSpan]:
        from opentelemetry.trace import Status, StatusCode

        st, times = self.state, self.times
        t0, t_end = times.turn
        agent = self.turn.agent_name
        totals = st.totals()
        status = st.status
        session = self.turn.session_id
        root_attrs: dict[str, Any] = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.provider.name": "truefoundry",
            "gen_ai.agent.name": agent,
            "gen_ai.conversation.id": session,
            "gen_ai.usage.input_tokens": totals["input_tokens"],
            "gen_ai.usage.output_tokens": totals["output_tokens"],
            "gen_ai.usage.cache_read.input_tokens": totals["cache_read_tokens"],
            "gen_ai.usage.cache_creation.input_tokens": totals["cache_write_tokens"],
            "truefoundry.turn.id": st.turn_id,
            "truefoundry.turn.previous_turn_id": st.created.previous_turn_id if st.created else None,
            "truefoundry.turn.status": status,
            "truefoundry.turn.total_tokens": totals["total_tokens"],
            "truefoundry.turn.cost_usd": totals["cost_usd"],
            "truefoundry.turn.totals_source": totals["source"],
            "truefoundry.thread.id": "main",
            "openinference.span.kind": "AGENT",
            "session.id": session,
            "agent.name": agent,
        }
        mt = st.metrics
        if mt is not None and mt.total_reasoning_tokens is not None:
            root_attrs["truefoundry.turn.reasoning_tokens"] = mt.total_reasoning_tokens
        if status == "cancelled":
            root_attrs["truefoundry.turn.cancel_reason"] = st.status_reason
        creator = st.created.created_by if st.created is not None else None
        if creator is not None and creator.subject_id:
            root_attrs["enduser.id"] = creator.subject_id
            root_attrs["user.id"] = creator.subject_id
        if self.include_content:
            inp = [i.model_dump(exclude_none=True) for i in st.input]
            texts = [
                content_text(i.get("content"), refusals=True) for i in inp if i.get("type") == "user.message"
            ]
            root_attrs["input.value"] = self.content("\n\n".join(t for t in texts if t) if texts else inp)
            root_attrs["input.mime_type"] = "text/plain" if texts else "application/json"
            root_attrs["gen_ai.input.messages"] = self.content(
                [{"role": "user", "parts": [{"type": "text", "content": t}]} for t in texts if t]
            )
            out = st.output
            if out is not None:
                root_attrs["output.value"] = self.content(content_text(out.content, refusals=True))
                root_attrs["output.mime_type"] = "text/plain"
        links = []
        prev = st.created.previous_turn_id if st.created is not None else None
        if prev and prev not in ("auto", "none"):
            from opentelemetry.trace import Link, SpanContext, TraceFlags

            links.append(
                Link(
                    SpanContext(trace_id(prev), span_id(prev, "turn"), True, TraceFlags(TraceFlags.SAMPLED)),
                    {"truefoundry.link.type": "previous_turn"},
                )
            )
        root = self.start(span_id(self.tid, "turn"), f"invoke_agent {agent}" if agent else "invoke_agent",
                          None, t0, root_attrs, links)  # fmt: skip

        # thread spans (sub-agents), created parent-first
        thread_spans: dict[str, Any] = {"main": root}
        tool_spans: dict[str, Any] = {}
        tools_by_thread: dict[str | None, list[ToolCallInfo]] = {}
        for info in st.tool_calls.values():
            tools_by_thread.setdefault(info.thread_id or "main", []).append(info)
        msg_end = {mid: (v[2] or v[0]) for mid, v in times.messages.items()}

        def tool_window(info: ToolCallInfo) -> tuple[int, int]:
            start = msg_end.get(info.message_id) or t0
            end = times.responses.get(info.id)
            if end is None:
                end = t_end
            if info.child_thread_id is not None:
                cs, ce = times.threads.get(info.child_thread_id, [None, None])
                start = min(start, cs or start)
                end = max(end, ce or end)
            return start, max(start, end)

        def thread_window(th: ThreadInfo) -> tuple[int, int]:
            s, e = times.threads.get(th.id, [None, None])
            s = s if s is not None else t0
            e = e if e is not None else t_end
            return s, max(s, e)

        def open_tools(thread_id: str) -> None:
            for info in tools_by_thread.get(thread_id, []):
                if info.id in tool_spans:
                    continue
                s, _ = tool_window(info)
                tool_spans[info.id] = self.start(
                    span_id(self.tid, "tool", info.id),
                    f"execute_tool {info.name}" if info.name else "execute_tool",
                    thread_spans.get(thread_id, root),
                    s,
                    self.tool_attrs(info),
                )

        open_tools("main")
        pending = [th for tid, th in st.threads.items() if tid != "main"]
        while pending:
            progressed = False
            for th in list(pending):
                parent = tool_spans.get(th.parent_tool_call_id or "")
                if parent is None and th.parent_thread_id not in (None, "main"):
                    if th.parent_thread_id in {p.id for p in pending}:
                        continue  # its parent thread is not open yet
                    parent = thread_spans.get(th.parent_thread_id or "main")
                s, _ = thread_window(th)
                thread_spans[th.id] = self.start(
                    span_id(self.tid, "thread", th.id),
                    f"invoke_agent {th.agent_name}" if th.agent_name else "invoke_agent",
                    parent if parent is not None else root,
                    s,
                    self.thread_attrs(th),
                )
                pending.remove(th)
                open_tools(th.id)
                progressed = True
            if not progressed:  # a cycle of parents: hang the rest under the root
                for th in pending:
                    thread_spans[th.id] = self.start(span_id(self.tid, "thread", th.id), "invoke_agent", root,
                                                     thread_window(th)[0], self.thread_attrs(th))  # fmt: skip
                    open_tools(th.id)
                pending = []
        for tid in tools_by_thread:
            open_tools(tid or "main")  # tool calls on threads never created

        # a resumed turn runs the calls its input approved or answered: those calls were made in the paused
        # turn, their execution (and tool.response) belongs to this one
        from .timing import decisions

        resumed: list[tuple[Any, int]] = []
        answered = decisions(st)
        for ev in st.events_by_id.values():
            if not isinstance(ev, ToolResponseEvent) or ev.tool_call_id in st.tool_calls:
                continue
            decision = answered[ev.tool_call_id].kind if ev.tool_call_id in answered else None
            attrs = {
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.call.id": ev.tool_call_id,
                "truefoundry.tool.status": "completed",
                "truefoundry.tool.resumed": True,
                "truefoundry.tool.decision": decision,
                "truefoundry.thread.id": ev.thread_id or "main",
                "openinference.span.kind": "TOOL",
                "session.id": self.turn.session_id,
            }
            if self.include_content:
                attrs["gen_ai.tool.call.result"] = attrs["output.value"] = self.content(ev.content)
            span = self.start(span_id(self.tid, "tool", ev.tool_call_id), "execute_tool",
                              thread_spans.get(ev.thread_id or "main", root), t0, attrs)  # fmt: skip
            span.set_status(Status(StatusCode.OK))
            resumed.append((span, max(t0, times.responses.get(ev.tool_call_id, t_end))))

        # model calls
        chat_spans = []
        for m in st.merged_messages():
            tm = times.messages.get(m.id, [t0, None, t0])
            s = tm[0] if tm[0] is not None else t0
            e = max(s, tm[2] or s)
            mth = st.threads.get(m.thread_id or "main")
            cost = self.costs.get(m.id)
            model = (cost.model if cost is not None else None) or (mth.model if mth is not None else None)
            span = self.start(
                span_id(self.tid, "message", m.id),
                f"chat {model}" if model else "chat",
                thread_spans.get(m.thread_id or "main", root),
                s,
                self.chat_attrs(m, model, s, tm[1]),
            )
            if m.finish_reason:
                span.set_status(Status(StatusCode.OK))
            chat_spans.append((span, e))

        # events on their thread's span
        for ev in st.events_by_id.values():
            if isinstance(
                ev,
                (ModelMessageEvent, ToolResponseEvent, ThreadCreatedEvent, ThreadDoneEvent, TurnCreatedEvent,
                 TurnDoneEvent),
            ):  # fmt: skip
                continue
            target = thread_spans.get(ev.thread_id or "main", root)
            target.add_event(ev.type, self.event_attrs(ev), timestamp=times.events.get(ev.id, t_end))
        if status == "paused":
            root.add_event("turn.paused", {"truefoundry.pending_actions": len(st.required_actions)},
                           timestamp=t_end)  # fmt: skip

        # end everything (each span at its own end time: the order of ending does not matter)
        for span, e in [*chat_spans, *resumed]:
            span.end(end_time=e)
        for info in st.tool_calls.values():
            span = tool_spans[info.id]
            child = st.threads.get(info.child_thread_id or "")
            if child is not None and child.status == "error":
                span.set_status(Status(StatusCode.ERROR, self._error_text(child.error) or "sub-agent failed"))
            elif info.status == "completed":
                span.set_status(Status(StatusCode.OK))
            span.end(end_time=tool_window(info)[1])
        for tid, th in st.threads.items():
            if tid == "main":
                continue
            span = thread_spans[tid]
            if th.status == "error":
                span.set_status(Status(StatusCode.ERROR, self._error_text(th.error) or "sub-agent failed"))
            elif th.status == "done":
                span.set_status(Status(StatusCode.OK))
            span.end(end_time=thread_window(th)[1])
        if status == "error":
            root.set_status(Status(StatusCode.ERROR, self.scrub(st.status_reason or "turn failed")))
        elif status in ("done", "paused"):
            root.set_status(Status(StatusCode.OK))
        root.end(end_time=t_end)
        spans = list(self._memory.get_finished_spans())
        self._provider.shutdown()
        order = {"invoke_agent": 0, "execute_tool": 1, "chat": 2}
        # parents before children
        depth: dict[int, int] = {}
        by_id = {s.context.span_id: s for s in spans}

        def d(s: Any) -> int:
            sid = s.context.span_id
            if sid not in depth:
                depth[sid] = (
                    0 if s.parent is None or s.parent.span_id not in by_id else d(by_id[s.parent.span_id]) + 1
                )
            return depth[sid]

        spans.sort(key=lambda s: (d(s), s.start_time or 0, order.get(str((s.attributes or {}).get(
            "gen_ai.operation.name")), 9)))  # fmt: skip
        return spans

    def _error_text(self, error: Any) -> str | None:
        if error is None:
            return None
        if isinstance(error, dict):
            error = error.get("message") or error
        return self.scrub(_json(error))

    def tool_attrs(self, info: ToolCallInfo) -> dict[str, Any]:
        ti = info.tool_info or {}
        kind = info.tool_type
        a: dict[str, Any] = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": info.name or None,
            "gen_ai.tool.type": "extension" if kind == "mcp" else "function",
            "gen_ai.tool.call.id": info.id,
            "truefoundry.tool.type": kind,
            "truefoundry.tool.status": info.status,
            "truefoundry.thread.id": info.thread_id or "main",
            "truefoundry.message.id": info.message_id,
            "truefoundry.mcp.server.name": info.server_name if kind == "mcp" else None,
            "truefoundry.mcp.server.id": ti.get("server_id") if kind == "mcp" else None,
            "truefoundry.sub_agent.thread_id": info.child_thread_id,
            "openinference.span.kind": "TOOL",
            "tool.name": info.name or None,
            "session.id": self.turn.session_id,
        }
        a.update(self.wait_attrs(f"pause:{info.id}"))
        if self.include_content:
            a["gen_ai.tool.call.arguments"] = self.content(info.arguments)
            a["input.value"] = self.content(info.arguments)
            a["input.mime_type"] = "application/json"
            if info.response_event_id is not None:
                result = self.content(info.response)
                a["gen_ai.tool.call.result"] = result
                a["output.value"] = result
                a["output.mime_type"] = "text/plain"
        return a

    def thread_attrs(self, th: ThreadInfo) -> dict[str, Any]:
        a: dict[str, Any] = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.provider.name": "truefoundry",
            "gen_ai.agent.name": th.agent_name,
            "gen_ai.request.model": th.model,
            "gen_ai.conversation.id": self.turn.session_id,
            "truefoundry.thread.id": th.id,
            "truefoundry.thread.title": th.title,
            "truefoundry.thread.status": th.status,
            "truefoundry.thread.parent_tool_call_id": th.parent_tool_call_id,
            "openinference.span.kind": "AGENT",
            "session.id": self.turn.session_id,
            "agent.name": th.agent_name,
        }
        if self.include_content:
            ai = th.agent_info or {}
            a["input.value"] = self.content(ai.get("input"))
            a["output.value"] = self.content(
                content_text(th.output, refusals=True) if th.output is not None else None
            )
        return a

    def chat_attrs(
        self, m: ModelMessageEvent, model: str | None, start: int, first: int | None
    ) -> dict[str, Any]:
        cost = self.costs.get(m.id)
        u = m.usage
        a: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "truefoundry",
            "gen_ai.request.model": model,
            "gen_ai.response.id": m.id,
            "gen_ai.response.finish_reasons": [m.finish_reason] if m.finish_reason else None,
            "gen_ai.response.time_to_first_chunk": (first - start) / 1e9 if first is not None else None,
            "truefoundry.thread.id": m.thread_id or "main",
            "truefoundry.message.id": m.id,
            "openinference.span.kind": "LLM",
            "llm.model_name": model,
            "session.id": self.turn.session_id,
        }
        if cost is not None and cost.cost_usd is not None:  # priced from the table, or a share of the total
            a["truefoundry.cost_usd"] = cost.cost_usd
            a["truefoundry.cost_source"] = cost.cost_source
            a["llm.cost.total"] = cost.cost_usd
        if u is not None:
            inp, out = u.input_tokens, u.output_tokens
            a.update({
                "gen_ai.usage.input_tokens": inp,
                "gen_ai.usage.output_tokens": out,
                "gen_ai.usage.cache_read.input_tokens": u.cache_read_tokens,
                "gen_ai.usage.cache_creation.input_tokens": u.cache_write_tokens,
                "llm.token_count.prompt": inp,
                "llm.token_count.completion": out,
                "llm.token_count.total": (inp or 0) + (out or 0) if inp is not None or out is not None else None,
                "llm.token_count.prompt_details.cache_read": u.cache_read_tokens,
                "llm.token_count.prompt_details.cache_write": u.cache_write_tokens,
            })  # fmt: skip
            b = u.input_tokens_breakdown
            if b is not None:
                for k, v in b.model_dump(exclude_none=True).items():
                    if isinstance(v, (int, float)):
                        a[f"truefoundry.usage.input_tokens_breakdown.{k}"] = v
        if self.include_content:
            text = content_text(m.content, refusals=True)
            parts: list[dict[str, Any]] = []
            if m.reasoning_content:
                parts.append({"type": "reasoning", "content": self.content(m.reasoning_content)})
            if text:
                parts.append({"type": "text", "content": self.content(text)})
            prefix = "llm.output_messages.0.message"
            a[f"{prefix}.role"] = "assistant"
            if text:
                a[f"{prefix}.content"] = self.content(text)
                a["output.value"] = self.content(text)
                a["output.mime_type"] = "text/plain"
            for i, tc in enumerate(c for c in (m.tool_calls or []) if c is not None):
                args = self.content(tc.function.arguments)
                parts.append({"type": "tool_call", "id": tc.id, "name": tc.function.name, "arguments": args})
                a[f"{prefix}.tool_calls.{i}.tool_call.id"] = tc.id
                a[f"{prefix}.tool_calls.{i}.tool_call.function.name"] = tc.function.name
                a[f"{prefix}.tool_calls.{i}.tool_call.function.arguments"] = args
            msg: dict[str, Any] = {"role": "assistant", "parts": parts}
            if m.finish_reason:
                msg["finish_reason"] = m.finish_reason
            a["gen_ai.output.messages"] = json.dumps([msg], ensure_ascii=False)
        return a

    def wait_attrs(self, pause_id: str) -> dict[str, Any]:
        """How a wait for a human ended, when the turn that answered it was exported along (see
        :func:`tfwidget.timing.link_pauses`): the decision, and how long the wait was."""
        from .timing import turn_timing

        p = turn_timing(self.state).pauses.get(pause_id)
        if p is None or p.decision is None:
            return {}
        kind, _, detail = p.decision.partition(": ")
        a: dict[str, Any] = {"truefoundry.wait.decision": kind}
        if p.started_at is not None and p.ended_at is not None:
            a["truefoundry.wait.duration_s"] = max(0.0, p.ended_at - p.started_at)
        if detail:  # a deny reason or an answer: words a person typed
            a["truefoundry.wait.detail"] = self.content(detail)
        return {k: v for k, v in a.items() if v is not None}

    def event_attrs(self, ev: Any) -> dict[str, Any]:
        a: dict[str, Any] = {"truefoundry.event.id": ev.id}
        if isinstance(ev, (ToolApprovalRequiredEvent, ToolResponseRequiredEvent)):
            a["truefoundry.tool_call.ids"] = [tc.id for tc in ev.tool_calls]
        elif isinstance(ev, (McpAuthRequiredEvent, McpInitializeEvent)):
            if isinstance(ev, McpAuthRequiredEvent):
                a.update(self.wait_attrs(f"pause:{ev.id}"))
            servers = ev.mcp_servers or []
            a["truefoundry.mcp.server.names"] = [s.name or "" for s in servers]
            a["truefoundry.mcp.server.ids"] = [s.id or "" for s in servers]
        elif isinstance(ev, SandboxCreatedEvent):
            a["truefoundry.sandbox.id"] = ev.sandbox_id
        return {k: v for k, v in a.items() if v is not None}


def _resource(service_name: str, attributes: Mapping[str, Any] | None) -> Any:
    from opentelemetry.sdk.resources import Resource

    return Resource.create({"service.name": service_name, **dict(attributes or {})})


def to_spans(
    turn: Any,
    *,
    session_id: str | None = None,
    agent_name: str | None = None,
    model: str | None = None,
    include_content: bool = False,
    redact: Redact | None = None,
    service_name: str = "tfwidget",
    resource_attributes: Mapping[str, Any] | None = None,
) -> list[ReadableSpan]:
    """The spans of one turn (finished OpenTelemetry SDK spans, parents before children).

    Args:
        turn: a :class:`~tfwidget.TurnView`, a :class:`~tfwidget.TurnState`, a list of stream items or the
            path of a recording.
        session_id: the session id (``gen_ai.conversation.id``, ``session.id``); a view knows its own.
        agent_name: the agent's name, for the root span's name and ``gen_ai.agent.name``.
        model: the main agent's model (``chat {model}``; sub-agents name theirs), also used to price each
            call with :mod:`tfwidget.pricing` (``truefoundry.cost_usd``, ``llm.cost.total``; without a price,
            a call's share of the turn's reported cost).
        include_content: put message text, reasoning, tool arguments and results on the spans.
        redact: called on every text that would leave the process (content, error messages); returns
            the text to send.
        service_name: the resource's ``service.name``.
        resource_attributes: more resource attributes (e.g. ``{"openinference.project.name": "agents"}``
            for a Phoenix project).
    """
    _sdk()
    turns = list(_iter_turns(turn, session_id, agent_name))
    if len(turns) != 1:
        raise ValueError(f"to_spans() takes one turn, got {len(turns)}: use export() for several")
    b = _Builder(turns[0], include_content=include_content, redact=redact, model=model,
                 resource=_resource(service_name, resource_attributes))  # fmt: skip
    return b.build()


# ------------------------------------------------------------------------------------------ export


@dataclass
class ExportResult:
    """What :func:`export` wrote or sent.

    Attributes:
        trace_ids: ``{turn key: trace id as 32 hex digits}`` in the order exported.
        spans: how many spans in all.
        path: the OTLP/JSON file written, if any.
        endpoint: the OTLP/HTTP URL the spans were sent to, if any.
    """

    trace_ids: dict[str, str]
    spans: int
    path: Path | None = None
    endpoint: str | None = None


def _traces_url(endpoint: str) -> str:
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"endpoint must be an http(s) URL such as http://127.0.0.1:4318, not {endpoint!r}")
    if parts.path in ("", "/"):
        return endpoint.rstrip("/") + "/v1/traces"
    return endpoint


def _headers(headers: Mapping[str, str] | str | None) -> dict[str, str] | None:
    if headers is None:
        return None
    if isinstance(headers, str):  # the OTEL_EXPORTER_OTLP_HEADERS form: "k1=v1,k2=v2"
        out = {}
        for pair in filter(None, (p.strip() for p in headers.split(","))):
            k, sep, v = pair.partition("=")
            if not sep:
                raise ValueError(f"headers: expected key=value pairs separated by commas, got {pair!r}")
            from urllib.parse import unquote

            out[k.strip()] = unquote(v.strip())
        return out
    if not isinstance(headers, Mapping):
        raise TypeError(f"headers must be a dict or a 'k=v,k2=v2' string, not {type(headers).__name__}")
    return {str(k): str(v) for k, v in headers.items()}


def _hex_ids(obj: Any) -> Any:
    """OTLP/JSON writes trace and span ids as hex, where protobuf's JSON mapping writes base64."""
    import base64

    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if k in ("traceId", "spanId", "parentSpanId") and isinstance(v, str):
                out[k] = base64.b64decode(v).hex()
            else:
                out[k] = _hex_ids(v)
        return out
    if isinstance(obj, list):
        return [_hex_ids(v) for v in obj]
    return obj


def to_otlp_json(spans: Sequence[ReadableSpan]) -> dict[str, Any]:
    """The OTLP/JSON form of spans: one ``ExportTraceServiceRequest`` as a dict (ids in hex, enums as
    integers, as the OTLP specification's JSON encoding says)."""
    from google.protobuf.json_format import MessageToDict
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    out: dict[str, Any] = _hex_ids(MessageToDict(encode_spans(spans), use_integers_for_enums=True))
    return out


class _Problems(logging.Handler):
    """Keeps what the OTLP exporter logs while it sends, to say why an export failed."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.messages.append(record.getMessage())
        except Exception:  # pragma: no cover - a malformed log call
            pass


def _send(exporter: Any, spans: list[ReadableSpan], url: str | None, key: str) -> None:
    from opentelemetry.sdk.trace.export import SpanExportResult

    problems = _Problems()
    logger = logging.getLogger("opentelemetry.exporter")
    logger.addHandler(problems)
    try:
        result = exporter.export(spans)
    finally:
        logger.removeHandler(problems)
    if result is not SpanExportResult.SUCCESS:
        seen = list(dict.fromkeys(problems.messages))
        why = (
            " / ".join(seen[:1] + seen[-1:] if len(seen) > 1 else seen)
            or "unreachable, or it answered an error"
        )
        raise OtelExportError(
            f"the OTLP endpoint {url} did not take the {len(spans)} spans of turn {key!r}: {why}"
        )


def export(
    turns: Any,
    endpoint: str | None = None,
    path: str | os.PathLike[str] | None = None,
    headers: Mapping[str, str] | str | None = None,
    *,
    session_id: str | None = None,
    agent_name: str | None = None,
    model: str | None = None,
    include_content: bool = False,
    redact: Redact | None = None,
    service_name: str = "tfwidget",
    resource_attributes: Mapping[str, Any] | None = None,
    timeout: float = 10.0,
) -> ExportResult:
    """Export turns as OpenTelemetry traces (one trace per turn).

    Args:
        turns: one turn (a view, a state, a list of stream items, a recording path), several (a list, a
            dict, a folder of recordings, a :class:`~tfwidget.TurnCollection`) or a session view.
        endpoint: an OTLP/HTTP traces URL, e.g. ``http://127.0.0.1:6006/v1/traces`` (Phoenix); a bare
            ``http://host:4318`` gets ``/v1/traces`` appended. Sent with the SDK's OTLP/HTTP exporter
            (protobuf). Without ``endpoint`` and ``path``: the standard ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``
            or ``OTEL_EXPORTER_OTLP_ENDPOINT`` (and, without ``headers``, ``OTEL_EXPORTER_OTLP_HEADERS``).
        path: a file to write OTLP/JSON to instead (or as well): JSON Lines, one ``ExportTraceServiceRequest``
            per turn, the OpenTelemetry file-exporter format (works offline; a collector's ``otlpjsonfile``
            receiver reads it).
        headers: HTTP headers for the endpoint (authentication), a dict or ``"k1=v1,k2=v2"``.
        session_id, agent_name, model, include_content, redact, service_name, resource_attributes: see
            :func:`to_spans`.
        timeout: seconds the exporter may take per request (including its retries).

    Returns:
        An :class:`ExportResult`.

    Raises:
        ValueError: neither ``endpoint`` nor ``path`` given, or an endpoint that is not an http(s) URL.
        OtelExportError: the endpoint did not take the spans.
        ImportError: the ``otel`` extra is not installed.
    """
    if endpoint is None and path is None:
        endpoint = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or None
        if endpoint is None and os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
            endpoint = os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"].rstrip("/") + "/v1/traces"
        if endpoint is None:
            raise ValueError(
                "export() needs endpoint= (an OTLP/HTTP URL) or path= (an OTLP/JSON file), or "
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT in the environment"
            )
    _sdk()
    url = _traces_url(endpoint) if endpoint is not None else None
    hdrs = _headers(headers)
    resource = _resource(service_name, resource_attributes)
    exporter = None
    if url is not None:
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError as exc:  # pragma: no cover - exercised with the extra absent
            raise ImportError(_OTEL_EXTRA) from exc
        exporter = OTLPSpanExporter(endpoint=url, headers=hdrs, timeout=timeout)
    out = None
    fh = None
    if path is not None:
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        fh = out.open("w", encoding="utf-8", newline="\n")
    trace_ids: dict[str, str] = {}
    count = 0
    items: Iterable[_Turn] = _iter_turns(turns, session_id, agent_name)
    if not isinstance(turns, (str, os.PathLike)):  # turns in memory: close each pause with its answer
        from .timing import link_pauses

        items = list(items)
        link_pauses([t.state for t in items])
    try:
        for turn in items:
            spans = _Builder(
                turn, include_content=include_content, redact=redact, resource=resource, model=model
            ).build()
            if not spans:
                continue
            trace_ids[turn.key] = format(spans[0].context.trace_id, "032x")
            count += len(spans)
            if fh is not None:
                fh.write(json.dumps(to_otlp_json(spans), ensure_ascii=False, separators=(",", ":")) + "\n")
            if exporter is not None:
                _send(exporter, spans, url, turn.key)
    finally:
        if fh is not None:
            fh.close()
        if exporter is not None:
            exporter.shutdown()
    return ExportResult(trace_ids, count, out, url)
