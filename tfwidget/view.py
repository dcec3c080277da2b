"""The widget's view model: :class:`~tfwidget.state.TurnState` -> a JSON-able snapshot and patches.

:func:`build_view` computes the whole snapshot from a state. :class:`ViewTracker` keeps the view it last
sent and, given ``state.take_changes()``, returns one patch covering everything touched since the previous
flush. Both use the same per-item functions, so applying every patch in order to the first snapshot gives
exactly :func:`build_view` of the final state. Nothing here merges events: it only reads the fold.

Patch semantics (mirrored by ``js/src/store.js``):

- a patch whose ``rev`` is not newer than the receiver's is ignored;
- ``set`` replaces top-level keys whole;
- ``timeline`` is a list of ``[start, entries]``: the timeline from ``start`` on becomes ``entries``;
- ``rows`` maps a list key (``usage``, ``spans``: ``ROW_KEYS``) to ``[length, [[index, row], ...]]``: the list
  is cut or grown to ``length`` and those rows are replaced (a row the receiver lacks and the patch does not
  carry is a gap), so a live turn's growing lists travel as their changed rows only;
- ``messages`` / ``tools`` / ``events`` map ids to fields to overwrite on that item (created if new);
  ``content``, ``reasoning``, ``refusal`` (messages) and ``arguments`` (tools) are ``[offset, text]``:
  "the text from ``offset`` on is ``text``", so applying a patch twice is harmless.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from ._content import content_text
from .artifacts import input_media, media_fields, offload_fields
from .contracts import (
    EMPTY_VIEW,
    LIVE_STATUSES,
    MESSAGE_TEXT_FIELDS,
    ROW_KEYS,
    SET_KEYS,
    TOOL_TEXT_FIELDS,
    USAGE_BREAKDOWN_KEYS,
    USAGE_TOKEN_KEYS,
    VIEW_STATUSES,
    VIEW_TIMELINE_KINDS,
    EventView,
    McpServerView,
    MessageView,
    Notice,
    Patch,
    PauseKind,
    PauseView,
    ThreadView,
    TimelineEntryView,
    ToolView,
    View,
    ViewStatus,
)
from .events import (
    McpAuthRequiredEvent,
    ToolApprovalRequiredEvent,
    ToolResponseRequiredEvent,
)
from .resolution import input_label
from .timing import clock_view, spans_view

if TYPE_CHECKING:
    from .state import Changes, ToolCallInfo, TurnState

__all__ = [
    "LIVE_STATUSES",
    "VIEW_STATUSES",
    "PatchGap",
    "ViewStore",
    "ViewTracker",
    "apply_patch",
    "build_view",
    "empty_view",
    "view_status",
]

# the lists (statuses, text fields, usage keys, patchable keys) live in tfwidget.contracts
_TIMELINE_KINDS = frozenset(VIEW_TIMELINE_KINDS)


# --------------------------------------------------------------------------------------------- helpers


def _as_text(value: Any) -> str | None:
    """Tool responses and error payloads may be any JSON value: show them as text."""
    if value is None or isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        return str(value)


def _epoch_ms(iso: str | None) -> int | None:
    if not iso:
        return None
    try:
        return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


def view_status(state: TurnState, status: str | None = None) -> ViewStatus:
    """The header status: the fold's status once the turn finished, else ``status`` (the connection's
    state, e.g. ``connecting``/``reconnecting``) or ``streaming``. An ``error`` override always wins."""
    if status == "error":
        return "error"
    if state.done is not None:
        st = state.status
        return "error" if st == "running" else st
    if status in VIEW_STATUSES:
        return status
    return "streaming" if state.items else "connecting"


# ------------------------------------------------------------------------------------- item views


def message_view(state: TurnState, message_id: str, tool_ids: list[str], live: bool) -> MessageView:
    """One merged message as the front end shows it."""
    msg = state._merged_message(message_id)  # read-only: no copy per flush
    content, reasoning, refusal = state.message_text(message_id)
    if not refusal and isinstance(msg.content, list):
        refusal = "".join(p.refusal or "" for p in msg.content if p.type == "refusal")
    usage = msg.usage.model_dump(exclude_none=True) if msg.usage is not None else None
    view: MessageView = {
        "id": message_id,
        "thread_id": msg.thread_id,
        "created_at": msg.created_at,
        "content": content,
        "reasoning": reasoning,
        "refusal": refusal,
        "finish_reason": msg.finish_reason,
        "tool_call_ids": tool_ids,
        "usage": usage,
        "streaming": bool(live and msg.finish_reason is None),
    }
    view.update(media_fields(state, message_id, content, msg.thread_id))  # type: ignore[typeddict-item]
    return view


def tool_view(info: ToolCallInfo) -> ToolView:
    """One tool call as the front end shows it."""
    view: ToolView = {
        "id": info.id,
        "message_id": info.message_id,
        "thread_id": info.thread_id,
        "name": info.name,
        "arguments": info.arguments or "",
        "tool_type": info.tool_type,
        "server_name": info.server_name,
        "response": _as_text(info.response),
        "status": info.status,
        "child_thread_id": info.child_thread_id,
    }
    view.update(offload_fields(info.response))  # type: ignore[typeddict-item]
    return view


def event_view(state: TurnState, event_id: str) -> EventView:
    """A timeline event that is neither a message nor a pause (mcp.initialize, unknown types, ...)."""
    ev = state.events_by_id.get(event_id)
    if ev is None:
        return {"id": event_id, "type": "event", "thread_id": None, "summary": None}
    summary: str | None = None
    servers = getattr(ev, "mcp_servers", None)
    if ev.type == "mcp.initialize" and servers is not None:
        names = ", ".join(s.name or s.id or "?" for s in servers)
        summary = f"MCP servers: {names}" if names else "no MCP servers"
    elif ev.type == "sandbox.created":
        summary = getattr(ev, "sandbox_id", None)
    elif ev.type == "thread.done":
        summary = getattr(ev, "title", None)
    return {"id": event_id, "type": ev.type, "thread_id": ev.thread_id, "summary": summary}


def _tool_ids_by_message(state: TurnState) -> dict[str, list[str]]:
    by_msg: dict[str, list[tuple[int, str]]] = {}
    for info in state.tool_calls.values():
        by_msg.setdefault(info.message_id, []).append((info.index, info.id))
    return {mid: [tid for _, tid in sorted(pairs)] for mid, pairs in by_msg.items()}


def threads_view(state: TurnState) -> list[ThreadView]:
    return [
        {
            "id": th.id,
            "title": th.title,
            "parent_thread_id": th.parent_thread_id,
            "parent_tool_call_id": th.parent_tool_call_id,
            "agent_name": th.agent_name,
            "model": th.model,
            "status": th.status,
            "error": _as_text(th.error),
        }
        for th in state.threads.values()
    ]


def _question(arguments: str) -> tuple[str | None, list[Any]]:
    try:
        args = json.loads(arguments) if arguments else {}
    except (ValueError, RecursionError):  # not JSON, or nested too deep to parse: the card shows the text
        return None, []
    if not isinstance(args, dict):
        return None, []
    options = args.get("options") or []
    return _as_text(args.get("question")), options if isinstance(options, list) else [options]


def pauses_view(state: TurnState) -> list[PauseView]:
    """One card per pause: approvals and questions per tool call, sign-ins per event.

    Every pause event seen live is listed (a sign-in link stays useful after the turn failed), followed by
    pending actions only ``turn.done`` named; ``pending`` tells whether the turn still waits on it."""
    out: list[PauseView] = []
    pending_ids = {ev.id for ev in state.required_actions}
    seen = {ev.id for ev in state.pause_events}
    events = [*state.pause_events, *(ev for ev in state.required_actions if ev.id not in seen)]
    for ev in events:
        pending_now = ev.id in pending_ids
        if isinstance(ev, McpAuthRequiredEvent):
            servers: list[McpServerView] = [
                {"id": s.id, "name": s.name, "auth_url": s.auth_url} for s in ev.mcp_servers
            ]
            out.append(
                {
                    "id": ev.id,
                    "thread_id": ev.thread_id,
                    "pending": pending_now,
                    "kind": "mcp_auth",
                    "tool_call_id": None,
                    "tool_name": None,
                    "arguments": None,
                    "question": None,
                    "options": [],
                    "servers": servers,
                }
            )
            continue
        kind: PauseKind = "approval" if isinstance(ev, ToolApprovalRequiredEvent) else "question"
        if not isinstance(ev, (ToolApprovalRequiredEvent, ToolResponseRequiredEvent)):
            continue
        for pending in ev.tool_calls:
            info = state.tool_calls.get(pending.id)
            arguments = info.arguments if info is not None else None
            question, options = _question(arguments or "") if kind == "question" else (None, [])
            out.append({
                "id": ev.id,
                "pending": pending_now,
                "thread_id": ev.thread_id or (info.thread_id if info is not None else None),
                "kind": kind,
                "tool_call_id": pending.id,
                "tool_name": info.name if info is not None else None,
                "arguments": arguments,
                "question": question,
                "options": options,
                "servers": [],
            })  # fmt: skip
    return out


def _usage_row(
    message_id: str, thread_id: str | None, usage: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    if not usage:
        return None
    breakdown = usage.get("input_tokens_breakdown") or {}
    row: dict[str, Any] = {"message_id": message_id, "thread_id": thread_id}
    row.update({k: usage.get(k) or 0 for k in USAGE_TOKEN_KEYS})
    row.update({k: breakdown.get(k) for k in USAGE_BREAKDOWN_KEYS})
    return row


def input_view(state: TurnState) -> list[dict[str, Any]]:
    out = []
    for item in state.input:
        if item.type == "user.message":
            text = content_text(
                item.content, "\n", files=True
            )  # a file the user attached shows as [file name]
            out.append({"type": item.type, "text": text, **input_media(item.content)})
            continue
        # what a person did, in words ("Approved process_refund"): see tfwidget.resolution
        info = state.tool_calls.get(item.tool_call_id or "")
        summary = input_label(item, info.name if info is not None else None)
        out.append({"type": item.type, "summary": summary})
    return out


def notices_view(state: TurnState, extra: Iterable[Mapping[str, Any]] = ()) -> list[Notice]:
    """Anomalies of the fold, one line per kind, followed by the caller's notices (reconnects, ...)."""
    by_kind: dict[str, list[str]] = {}
    for a in state.anomalies:
        by_kind.setdefault(a.kind, []).append(a.message)
    out: list[Notice] = []
    for messages in by_kind.values():
        more = f" (and {len(messages) - 1} more like it)" if len(messages) > 1 else ""
        out.append({"level": "warning", "text": messages[0] + more})
    out.extend({"level": str(n.get("level", "info")), "text": str(n.get("text", ""))} for n in extra)
    return out


def _top_level(
    state: TurnState,
    usage_rows: Sequence[dict[str, Any]],
    *,
    status: str | None,
    detail: str | None,
    session_id: str | None,
    started_ms: int | None,
    notices: Iterable[Mapping[str, Any]],
) -> dict[str, Any]:
    created_at = state.created.created_at if state.created is not None else None
    completed_at = None
    if state.done is not None:
        completed_at = state.done.state.completed_at or state.done.created_at
    vstatus = view_status(state, status)
    if detail is None and state.done is not None:
        detail = state.status_reason
    return {
        "turn_id": state.turn_id,
        "session_id": session_id,
        "status": vstatus,
        "status_detail": detail,
        "created_at": created_at,
        "completed_at": completed_at,
        "started_ms": started_ms if started_ms is not None else _epoch_ms(created_at),
        "input": input_view(state),
        "totals": state.totals() if state.items else None,
        "threads": threads_view(state),
        "pauses": pauses_view(state),
        "usage": list(usage_rows),
        "notices": notices_view(state, notices),
        # timing, cost and context per span (the Timeline tab, the chips): see tfwidget.timing
        "spans": spans_view(state),
        "clock": clock_view(state),
    }


def _timeline_entries(state: TurnState, start: int = 0) -> list[TimelineEntryView]:
    return [
        {"kind": e.kind, "id": e.id, "thread_id": e.thread_id}
        for e in state.timeline[start:]
        if e.kind in _TIMELINE_KINDS
    ]


# --------------------------------------------------------------------------------------------- public


def build_view(
    state: TurnState,
    *,
    status: str | None = None,
    detail: str | None = None,
    session_id: str | None = None,
    started_ms: int | None = None,
    notices: Iterable[Mapping[str, Any]] = (),
    rev: int = 0,
) -> View:
    """The whole view snapshot of ``state`` (see docs/design.md, "The widget's view model").

    ``status`` overrides the connection status while the turn runs (``connecting``, ``reconnecting``) and
    ``"error"`` always wins (e.g. the client gave up); ``detail`` is shown next to it.
    """
    vstatus = view_status(state, status)
    live = vstatus in LIVE_STATUSES
    tool_ids = _tool_ids_by_message(state)
    messages = {mid: message_view(state, mid, tool_ids.get(mid, []), live) for mid in state.message_ids()}
    timeline = _timeline_entries(state)
    events = {e["id"]: event_view(state, e["id"]) for e in timeline if e["kind"] == "event"}
    usage_rows = [
        r for m in messages.values() if (r := _usage_row(m["id"], m["thread_id"], m["usage"])) is not None
    ]
    top = _top_level(state, usage_rows, status=status, detail=detail, session_id=session_id,
                     started_ms=started_ms, notices=notices)  # fmt: skip
    return cast("View", {
        "rev": rev,
        **top,
        "timeline": timeline,
        "messages": messages,
        "tools": {tid: tool_view(info) for tid, info in state.tool_calls.items()},
        "events": events,
    })  # fmt: skip


_ROW_KEYS = frozenset(ROW_KEYS)


def _changed_rows(old: list[Any], new: list[Any]) -> list[list[Any]] | None:
    """``[[index, row], ...]`` of the rows of ``new`` that ``old`` lacks or has otherwise, or ``None`` when
    most rows changed (then the whole list is cheaper to send)."""
    changed = [[i, row] for i, row in enumerate(new) if i >= len(old) or old[i] != row]
    if len(changed) > 1 and 2 * len(changed) > len(new):
        return None
    return changed


def _text_patch(old: str | None, new: str) -> list[Any]:
    old = old or ""
    if new.startswith(old):
        return [len(old), new[len(old) :]]
    return [0, new]


class ViewTracker:
    """Turns a state's change sets into patches, keeping the view the front end has.

    >>> tracker = ViewTracker()
    >>> snapshot = tracker.snapshot(state)                   # doctest: +SKIP
    >>> patch = tracker.update(state, state.take_changes())  # doctest: +SKIP
    """

    def __init__(self, *, session_id: str | None = None) -> None:
        self.session_id = session_id
        self.rev = 0
        self.view: dict[str, Any] = {}
        self._timeline_pos = 0  # how much of state.timeline was looked at
        self._usage: dict[str, dict[str, Any]] = {}  # message id -> usage row
        self._reset_needed = True

    def snapshot(self, state: TurnState | None = None, **ctx: Any) -> dict[str, Any]:
        """The current view (a deep copy, safe to hand to a trait). With ``state``: rebuild it from scratch
        first (the tracker then continues from there)."""
        if state is not None:
            self.reset(state, **ctx)
        return copy.deepcopy(self.view)

    def reset(self, state: TurnState, **ctx: Any) -> None:
        """Rebuild the whole view from ``state`` (bumps ``rev``)."""
        self.rev += 1
        ctx.setdefault("session_id", self.session_id)
        self.view = cast("dict[str, Any]", build_view(state, rev=self.rev, **ctx))
        self._timeline_pos = len(state.timeline)
        self._usage = {r["message_id"]: r for r in self.view["usage"]}
        self._reset_needed = False

    def update(
        self,
        state: TurnState,
        changes: Changes | None,
        *,
        status: str | None = None,
        detail: str | None = None,
        started_ms: int | None = None,
        notices: Iterable[Mapping[str, Any]] = (),
    ) -> Patch | None:
        """One patch covering ``changes`` (from ``state.take_changes()``), or ``None`` when nothing that
        the front end shows changed. The tracker's view is updated to match."""
        ctx: dict[str, Any] = {
            "status": status,
            "detail": detail,
            "started_ms": started_ms,
            "notices": notices,
        }
        if self._reset_needed:
            self.reset(state, **ctx)
            return {"type": "patch", "rev": self.rev, "set": {k: v for k, v in self.view.items()
                                                              if k != "rev"}}  # fmt: skip
        view = self.view
        patch: dict[str, Any] = {}
        vstatus = view_status(state, status)
        live = vstatus in LIVE_STATUSES
        status_changed = vstatus != view.get("status")

        # timeline
        new_entries = _timeline_entries(state, self._timeline_pos)
        self._timeline_pos = len(state.timeline)
        if new_entries:
            start = len(view["timeline"])
            view["timeline"].extend(new_entries)
            patch["timeline"] = [[start, new_entries]]

        # messages: the changed ones, all of them when liveness flipped (streaming flags)
        msg_ids: Iterable[str] = (
            state.message_ids() if status_changed else (changes.messages if changes else ())
        )
        tool_changes = set(changes.tools) if changes else set()
        tool_ids = _tool_ids_by_message(state) if (msg_ids or tool_changes) else {}
        msg_patch: dict[str, dict[str, Any]] = {}
        usage_changed = False
        for mid in msg_ids:
            new = message_view(state, mid, tool_ids.get(mid, []), live)
            old = view["messages"].get(mid)
            fields = self._diff(old, new, MESSAGE_TEXT_FIELDS)
            if fields:
                msg_patch[mid] = fields
                view["messages"][mid] = new
            row = _usage_row(mid, new["thread_id"], new["usage"])
            if row != self._usage.get(mid):
                usage_changed = True
                if row is None:
                    self._usage.pop(mid, None)
                else:
                    self._usage[mid] = row
        # tool ids may move between messages (an id that arrived in a later chunk)
        for tid in tool_changes:
            info = state.tool_calls.get(tid)
            if info is None or info.message_id in msg_patch:
                continue
            mid = info.message_id
            cur = view["messages"].get(mid)
            ids = tool_ids.get(mid, [])
            if cur is not None and cur["tool_call_ids"] != ids:
                cur["tool_call_ids"] = ids
                msg_patch.setdefault(mid, {})["tool_call_ids"] = ids
        if msg_patch:
            patch["messages"] = msg_patch

        # tools
        tools_view = view["tools"]
        stale = [tid for tid in tools_view if tid not in state.tool_calls]
        if stale:  # a provisional id was replaced: send the whole dict
            for tid in stale:
                del tools_view[tid]
            for tid, info in state.tool_calls.items():
                tools_view[tid] = tool_view(info)
            patch.setdefault("set", {})["tools"] = copy.deepcopy(tools_view)
        else:
            tool_patch = {}
            for tid in tool_changes:
                info = state.tool_calls.get(tid)
                if info is None:
                    continue
                new_tool = tool_view(info)
                fields = self._diff(tools_view.get(tid), new_tool, TOOL_TEXT_FIELDS)
                if fields:
                    tool_patch[tid] = fields
                    tools_view[tid] = new_tool
            if tool_patch:
                patch["tools"] = tool_patch

        # events (new timeline events and changed ones)
        event_ids = {e["id"] for e in new_entries if e["kind"] == "event"}
        if changes:
            event_ids |= {eid for eid in changes.events if eid in view["events"] or eid in event_ids}
        ev_patch = {}
        for eid in event_ids:
            new_event = event_view(state, eid)
            if view["events"].get(eid) != new_event:
                ev_patch[eid] = new_event
                view["events"][eid] = new_event
        if ev_patch:
            patch["events"] = ev_patch

        # top-level keys
        order = {mid: i for i, mid in enumerate(state.message_ids())}
        usage_rows = (
            sorted(self._usage.values(), key=lambda r: order.get(r["message_id"], len(order)))
            if usage_changed
            else view["usage"]
        )
        top = _top_level(state, usage_rows, session_id=self.session_id, **ctx)
        sets = patch.get("set", {})
        rows: dict[str, list[Any]] = {}
        for key in SET_KEYS:
            value, old = top[key], view.get(key)
            if value is old:
                continue  # a memo, unchanged
            if key in _ROW_KEYS and isinstance(old, list):
                changed = _changed_rows(old, value)
                if changed is not None:
                    if changed or len(value) != len(old):
                        rows[key] = [len(value), changed]
                        view[key] = value
                    continue
            if value != old:
                # freshly built (or a memo that is replaced, never changed in place) and sent at once: the
                # patch needs no copy of its own (a deep copy of the growing spans per flush was most of it)
                view[key] = sets[key] = value
        if sets:
            patch["set"] = sets
        if rows:
            patch["rows"] = rows

        if not patch:
            return None
        self.rev += 1
        view["rev"] = self.rev
        return cast("Patch", {"type": "patch", "rev": self.rev, **patch})

    @staticmethod
    def _diff(
        old: Mapping[str, Any] | None, new: Mapping[str, Any], text_fields: Sequence[str]
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in new.items():
            if old is not None and key in old and old[key] == value:
                continue
            if key in text_fields:
                out[key] = _text_patch(old.get(key) if old is not None else None, value)
            else:
                out[key] = copy.deepcopy(value)
        return out


class PatchGap(ValueError):
    """A patch refers to text or timeline entries the receiver does not have (a patch was missed)."""


def _patch_gap(view: Mapping[str, Any], patch: Mapping[str, Any]) -> str | None:
    """Why ``patch`` cannot apply cleanly to ``view`` (after its ``set``), or ``None`` when it can."""
    sets = patch.get("set") or {}
    length = len(sets["timeline"] if "timeline" in sets else view.get("timeline") or [])
    for start, entries in patch.get("timeline") or []:
        if start > length:
            return f"timeline gap: start {start} > {length}"
        length = start + len(entries)
    for key, (n, changed) in (patch.get("rows") or {}).items():
        have = len(sets[key] if key in sets else view.get(key) or [])
        given = {i for i, _ in changed}
        missing = next((i for i in range(have, n) if i not in given), None)
        if missing is not None:
            return f"rows gap in {key}: row {missing} of {n} missing (have {have})"
    text_fields = {"messages": MESSAGE_TEXT_FIELDS, "tools": TOOL_TEXT_FIELDS}
    for kind, fields_of in text_fields.items():
        items = sets[kind] if kind in sets else view.get(kind) or {}
        for item_id, fields in (patch.get(kind) or {}).items():
            item = items.get(item_id) or {}
            for field in fields_of:
                value = fields.get(field)
                if isinstance(value, list):
                    offset, cur = value[0], item.get(field) or ""
                    if offset > len(cur):
                        return f"text gap in {kind}[{item_id}].{field}: {offset} > {len(cur)}"
    return None


def apply_patch(view: dict[str, Any], patch: Mapping[str, Any]) -> bool:
    """Apply a patch to a view dict in place, with the front end's rules (``js/src/store.js``).

    Returns ``False`` when the patch was ignored (not newer). A patch with a gap (a timeline ``start`` or a
    text offset past what the view has: a patch was missed) is not applied at all, so the view never shows a
    wrong transcript: this raises :class:`PatchGap` and leaves ``view`` as it was. :class:`ViewStore` is the
    receiving end built on it (it flags the gap instead, as the front end does).
    """
    if patch.get("type") != "patch" or patch["rev"] <= view.get("rev", -1):
        return False
    why = _patch_gap(view, patch)
    if why is not None:
        raise PatchGap(why)
    view["rev"] = patch["rev"]
    for key, value in (patch.get("set") or {}).items():
        view[key] = copy.deepcopy(value)
    for start, entries in patch.get("timeline") or []:
        view["timeline"] = view.get("timeline", [])[:start] + copy.deepcopy(entries)
    for key, (n, changed) in (patch.get("rows") or {}).items():
        rows = list(view.get(key) or [])[:n]
        rows += [None] * (n - len(rows))
        for i, row in changed:
            rows[i] = copy.deepcopy(row)
        view[key] = rows
    text_fields = {"messages": MESSAGE_TEXT_FIELDS, "tools": TOOL_TEXT_FIELDS, "events": ()}
    for kind, fields_of in text_fields.items():
        items = view.setdefault(kind, {})
        for item_id, fields in (patch.get(kind) or {}).items():
            item = items.setdefault(item_id, {"id": item_id})
            for field, value in fields.items():
                if field in fields_of and isinstance(value, list):
                    offset, text = value
                    item[field] = (item.get(field) or "")[:offset] + text
                else:
                    item[field] = copy.deepcopy(value)
    return True


def empty_view() -> dict[str, Any]:
    """The view a receiver shows before its first snapshot (``emptyView()`` in ``js/src/store.js``)."""
    return copy.deepcopy(EMPTY_VIEW)


class ViewStore:
    """The receiving end of snapshots and patches, with the front end's rules (``ViewStore`` in
    ``js/src/store.js``; ``tests/conformance`` holds both to the same cases).

    ``replace(snapshot)`` takes a snapshot unless it is older than the view; ``apply_patch(patch)`` applies a
    newer patch. A patch with a gap is not applied: ``gap`` is set, and patches are ignored until a snapshot
    replaces the view (the front end asks Python for one with ``{"type": "hello", "reason": "gap"}``).
    """

    def __init__(self) -> None:
        self.view: dict[str, Any] = empty_view()
        self.gap = False

    @property
    def rev(self) -> int:
        return int(self.view["rev"])

    def replace(self, snapshot: Mapping[str, Any]) -> bool:
        if not isinstance(snapshot, Mapping):
            return False
        rev = snapshot.get("rev")
        rev = rev if isinstance(rev, int) else 0
        if rev < self.view["rev"]:
            return False
        self.view = {**empty_view(), **copy.deepcopy(dict(snapshot))}
        self.gap = False
        return True

    def apply_patch(self, patch: Mapping[str, Any]) -> bool:
        if not isinstance(patch, Mapping) or not isinstance(patch.get("rev"), int):
            return False
        if self.gap:
            return False  # waiting for a snapshot
        try:
            return apply_patch(self.view, patch)
        except PatchGap:
            self.gap = True
            return False
