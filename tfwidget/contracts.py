"""The contracts between the fold, the widget and the front end, typed in one place.

Every status and kind is a ``Literal``; the tuples of their values (``TOOL_CALL_STATUSES``, ...) come from
the same ``Literal`` with :func:`typing.get_args`, so each list exists once. The view model Python sends to
the front end, its patches, the intents the front end sends back, the acks and the action state of pause
cards are ``TypedDict`` s. ``js/src/contracts.gen.js`` (the front end's copy of the lists, with JSDoc
typedefs) is generated from this module::

    python -m tfwidget.contracts --js > js/src/contracts.gen.js      # or: make contracts

and a test checks the committed file is up to date.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Literal, get_args

from typing_extensions import NotRequired, TypedDict

__all__ = [
    "BUSY_KINDS",
    "DECISIONS",
    "EMPTY_VIEW",
    "INTENT_ACTIONS",
    "LIVE_STATUSES",
    "MESSAGE_TEXT_FIELDS",
    "NOTICE_LEVELS",
    "PAUSE_KINDS",
    "ROW_KEYS",
    "RUN_KINDS",
    "SET_KEYS",
    "THREAD_STATUSES",
    "TIMELINE_KINDS",
    "TOOL_CALL_STATUSES",
    "TOOL_TEXT_FIELDS",
    "TURN_STATUSES",
    "USAGE_BREAKDOWN_KEYS",
    "USAGE_TOKEN_KEYS",
    "VIEW_STATUSES",
    "VIEW_TIMELINE_KINDS",
    "Ack",
    "Busy",
    "Intent",
    "IntentAction",
    "LiveStatus",
    "MessageView",
    "Notice",
    "NoticeLevel",
    "Patch",
    "PauseKind",
    "PauseView",
    "RunKind",
    "ThreadStatus",
    "ThreadView",
    "TimelineKind",
    "ToolCallStatus",
    "ToolView",
    "TurnActions",
    "TurnStatus",
    "View",
    "ViewStatus",
    "js_module",
]

# ------------------------------------------------------------------------------------ statuses and kinds

#: The fold's status of a turn (``TurnState.status``).
TurnStatus = Literal["running", "done", "paused", "cancelled", "error"]
#: A thread's status: ``running`` until its ``thread.done`` (``done`` / ``error``); threads still open when
#: the turn ends take the turn's ending (``paused``, ``cancelled``, ``error``).
ThreadStatus = Literal["running", "done", "paused", "cancelled", "error"]
#: A tool call's status (``ToolCallInfo.status``).
ToolCallStatus = Literal[
    "streaming", "running", "completed", "awaiting_approval", "awaiting_response", "incomplete"
]
#: The status the view shows in its header: the connection's while the turn runs, else the fold's.
ViewStatus = Literal["connecting", "streaming", "reconnecting", "paused", "done", "cancelled", "error"]
#: The view statuses of a turn that is still running (its view keeps changing).
LiveStatus = Literal["connecting", "streaming", "reconnecting"]
#: A session's status: its newest turn's view status, or ``empty`` before its first turn.
SessionStatus = Literal[
    "empty", "connecting", "streaming", "reconnecting", "paused", "done", "cancelled", "error"
]
#: Kinds of ``TurnState.timeline`` entries (first-seen order of what the turn showed).
TimelineKind = Literal["message", "tool_response", "pause", "thread", "event"]
#: The timeline kinds the view model carries (tool responses and threads show inside their tool card).
ViewTimelineKind = Literal["message", "pause", "event"]
#: What a paused turn waits on (a pause card, a ``PendingAction``).
PauseKind = Literal["approval", "question", "mcp_auth"]
#: How a session view started following a turn (``Run.kind``).
RunKind = Literal["message", "resume", "follow", "loaded"]
#: The request a session has in flight.
Busy = Literal["send", "resume", "cancel"]
#: What a button asks of Python (``{"type": "intent", "action": ...}``).
IntentAction = Literal["send", "approve", "deny", "answer", "clear", "resume", "cancel"]
#: How a paused turn's tool call was answered (``tfwidget.resolution``).
Decision = Literal["approved", "denied", "answered"]
NoticeLevel = Literal["info", "warning", "error"]
#: Where a token total came from: ``metrics`` (turn.done), ``usage`` (summed per call), or both.
TotalsSource = Literal["metrics", "usage", "mixed"]
#: Fields of a message view sent as ``[offset, text]`` appends in patches.
MessageTextField = Literal["content", "reasoning", "refusal"]
#: Fields of a tool view sent as ``[offset, text]`` appends in patches.
ToolTextField = Literal["arguments"]
#: ``input_tokens_breakdown`` keys of a usage record (one column each in the usage chart and ``usage_df``).
UsageBreakdownKey = Literal["harness", "skills", "instructions", "tool_definitions", "messages"]
#: The token counts of a usage record.
UsageTokenKey = Literal["input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens"]
#: Top-level view keys a patch may replace whole (``patch["set"]``), in the order they are computed.
SetKey = Literal[
    "turn_id", "session_id", "status", "status_detail", "created_at", "completed_at", "started_ms",
    "input", "totals", "threads", "pauses", "usage", "notices", "spans", "clock",
]  # fmt: skip

TURN_STATUSES: tuple[TurnStatus, ...] = get_args(TurnStatus)
THREAD_STATUSES: tuple[ThreadStatus, ...] = get_args(ThreadStatus)
TOOL_CALL_STATUSES: tuple[ToolCallStatus, ...] = get_args(ToolCallStatus)
VIEW_STATUSES: tuple[ViewStatus, ...] = get_args(ViewStatus)
LIVE_STATUSES: frozenset[str] = frozenset(get_args(LiveStatus))
SESSION_STATUSES: tuple[SessionStatus, ...] = get_args(SessionStatus)
TIMELINE_KINDS: tuple[TimelineKind, ...] = get_args(TimelineKind)
VIEW_TIMELINE_KINDS: tuple[ViewTimelineKind, ...] = get_args(ViewTimelineKind)
PAUSE_KINDS: tuple[PauseKind, ...] = get_args(PauseKind)
RUN_KINDS: tuple[RunKind, ...] = get_args(RunKind)
BUSY_KINDS: tuple[Busy, ...] = get_args(Busy)
INTENT_ACTIONS: tuple[IntentAction, ...] = get_args(IntentAction)
DECISIONS: tuple[Decision, ...] = get_args(Decision)
NOTICE_LEVELS: tuple[NoticeLevel, ...] = get_args(NoticeLevel)
MESSAGE_TEXT_FIELDS: tuple[MessageTextField, ...] = get_args(MessageTextField)
TOOL_TEXT_FIELDS: tuple[ToolTextField, ...] = get_args(ToolTextField)
USAGE_BREAKDOWN_KEYS: tuple[UsageBreakdownKey, ...] = get_args(UsageBreakdownKey)
USAGE_TOKEN_KEYS: tuple[UsageTokenKey, ...] = get_args(UsageTokenKey)
SET_KEYS: tuple[SetKey, ...] = get_args(SetKey)
#: ``SET_KEYS`` that are lists of rows: a patch carries only their changed and added rows (``patch["rows"]``).
ROW_KEYS: tuple[SetKey, ...] = ("usage", "spans")

# ------------------------------------------------------------------------------------------ the view


class ThreadView(TypedDict):
    id: str
    title: str | None
    parent_thread_id: str | None
    parent_tool_call_id: str | None
    agent_name: str | None
    model: str | None
    status: ThreadStatus
    error: str | None


class TimelineEntryView(TypedDict):
    kind: ViewTimelineKind
    id: str
    thread_id: str | None


class MessageView(TypedDict):
    id: str
    thread_id: str | None
    created_at: str | None
    content: str
    reasoning: str
    refusal: str
    finish_reason: str | None
    tool_call_ids: list[str]
    usage: dict[str, Any] | None
    streaming: bool
    images: NotRequired[list[dict[str, Any]]]
    artifacts: NotRequired[list[dict[str, Any]]]


class ToolView(TypedDict):
    id: str
    message_id: str
    thread_id: str | None
    name: str
    arguments: str
    tool_type: str | None
    server_name: str | None
    response: str | None
    status: ToolCallStatus
    child_thread_id: str | None
    offloaded: NotRequired[dict[str, Any]]


class EventView(TypedDict):
    id: str
    type: str
    thread_id: str | None
    summary: str | None


class McpServerView(TypedDict):
    id: str | None
    name: str | None
    auth_url: str | None


class PauseView(TypedDict):
    id: str
    thread_id: str | None
    pending: bool
    kind: PauseKind
    tool_call_id: str | None
    tool_name: str | None
    arguments: str | None
    question: str | None
    options: list[Any]
    servers: list[McpServerView]


class Notice(TypedDict):
    level: str  # a NoticeLevel; callers' notices pass through as given
    text: str


class View(TypedDict):
    """The settled snapshot (the ``_view`` trait); every patch's ``set`` keys are these (``SET_KEYS``)."""

    rev: int
    turn_id: str | None
    session_id: str | None
    status: ViewStatus
    status_detail: str | None
    created_at: str | None
    completed_at: str | None
    started_ms: int | None
    input: list[dict[str, Any]]
    totals: dict[str, Any] | None
    threads: list[ThreadView]
    pauses: list[PauseView]
    usage: list[dict[str, Any]]
    notices: list[Notice]
    spans: list[dict[str, Any]]
    clock: dict[str, Any]
    timeline: list[TimelineEntryView]
    messages: dict[str, MessageView]
    tools: dict[str, ToolView]
    events: dict[str, EventView]


#: What a receiver shows before its first snapshot (a snapshot's keys are laid over it).
EMPTY_VIEW: dict[str, Any] = {
    "rev": -1,
    "turn_id": None,
    "session_id": None,
    "status": "connecting",
    "status_detail": None,
    "created_at": None,
    "completed_at": None,
    "started_ms": None,
    "input": [],
    "totals": None,
    "threads": [],
    "timeline": [],
    "messages": {},
    "tools": {},
    "pauses": [],
    "usage": [],
    "events": {},
    "notices": [],
}

# ------------------------------------------------------------------------------- messages on the wire

#: ``[offset, text]``: the text from ``offset`` on is ``text`` (so applying a patch twice is harmless).
TextAppend = list[Any]


class Patch(TypedDict):
    """``{"type": "patch"}``: Python -> front end, one per flush window. ``set`` replaces top-level keys
    whole; ``timeline`` is ``[[start, entries]]``; ``rows`` maps a list key (:data:`ROW_KEYS`) to
    ``[length, [[index, row], ...]]``: the list gets that length and those rows, the others stay;
    ``messages`` / ``tools`` / ``events`` overwrite fields of the item with that id (text fields as
    :data:`TextAppend`)."""

    type: Literal["patch"]
    rev: int
    set: NotRequired[dict[str, Any]]
    timeline: NotRequired[list[list[Any]]]
    rows: NotRequired[dict[str, list[Any]]]
    messages: NotRequired[dict[str, dict[str, Any]]]
    tools: NotRequired[dict[str, dict[str, Any]]]
    events: NotRequired[dict[str, dict[str, Any]]]


class SnapshotMessage(TypedDict):
    """Python -> front end: the whole view, the answer to a ``hello`` with ``reason: "gap"``."""

    type: Literal["snapshot"]
    view: View


class Hello(TypedDict):
    """Front end -> Python when a view mounts (or, with ``reason: "gap"``, when a patch had a gap)."""

    type: Literal["hello"]
    rev: NotRequired[int]
    reason: NotRequired[Literal["gap"]]
    turn: NotRequired[str]


class Intent(TypedDict):
    """Front end -> Python: a button of a session view. ``turn`` is the key of the turn whose card was
    clicked (absent for the controls); ``call_id`` names the tool call of approve / deny / answer / clear
    (``null`` for a pause without one); ``reason`` is a deny's reason (``null`` when none was typed).

    Python checks every intent against this type before acting on it (:mod:`tfwidget._session_intents`):
    no other key, every value of its type."""

    type: Literal["intent"]
    id: str
    action: IntentAction
    turn: NotRequired[str]
    call_id: NotRequired[str | None]
    reason: NotRequired[str | None]
    text: NotRequired[str]


class Ack(TypedDict):
    """Python -> front end: the answer to one intent (``error`` says why it was not done)."""

    type: Literal["ack"]
    id: str
    ok: bool
    error: str | None


class ApprovalDecision(TypedDict):
    kind: Literal["approval"]
    status: Literal["allow", "deny"]
    reason: NotRequired[str]


class AnswerDecision(TypedDict):
    kind: Literal["question"]
    text: str


#: A decision collected for one tool call of a paused turn (before the resume turn is sent).
PendingDecision = ApprovalDecision | AnswerDecision


class ResolutionView(TypedDict):
    decision: Decision
    reason: str | None
    text: str | None
    label: str


class TurnActions(TypedDict, total=False):
    """What a turn's pause cards may offer (a ``TurnView``'s ``_actions`` trait; empty when nothing)."""

    enabled: bool
    busy: bool
    decisions: dict[str, dict[str, Any]]
    sent: bool
    resolved: bool
    resolutions: dict[str, Any]
    input_labels: list[str]


# --------------------------------------------------------------------------------------- js generator


def _js_list(values: tuple[str, ...] | frozenset[str]) -> str:
    return json.dumps(list(values))


def _js_union(values: tuple[str, ...]) -> str:
    return " | ".join(json.dumps(v) for v in values)


def js_module() -> str:
    """The text of ``js/src/contracts.gen.js``: the shared lists and JSDoc typedefs of the view model."""
    live = [s for s in VIEW_STATUSES if s in LIVE_STATUSES]
    lists = [
        ("VIEW_STATUSES", "Statuses the view's header shows.", VIEW_STATUSES, "ViewStatus"),
        ("LIVE_STATUSES", "View statuses of a turn that still runs.", tuple(live), "ViewStatus"),
        ("THREAD_STATUSES", "Statuses of a thread.", THREAD_STATUSES, "ThreadStatus"),
        ("TOOL_CALL_STATUSES", "Statuses of a tool call.", TOOL_CALL_STATUSES, "ToolCallStatus"),
        ("VIEW_TIMELINE_KINDS", "Kinds of view timeline entries.", VIEW_TIMELINE_KINDS, "TimelineKind"),
        ("PAUSE_KINDS", "Kinds of pause cards.", PAUSE_KINDS, "PauseKind"),
        ("INTENT_ACTIONS", "Actions a button may ask of Python.", INTENT_ACTIONS, "IntentAction"),
        ("NOTICE_LEVELS", "Levels of a notice.", NOTICE_LEVELS, "string"),
        (
            "MESSAGE_TEXT_FIELDS",
            "Message fields that patches send as [offset, text].",
            MESSAGE_TEXT_FIELDS,
            "string",
        ),
        ("TOOL_TEXT_FIELDS", "Tool fields that patches send as [offset, text].", TOOL_TEXT_FIELDS, "string"),
        (
            "USAGE_BREAKDOWN_KEYS",
            "input_tokens_breakdown keys of a usage record.",
            USAGE_BREAKDOWN_KEYS,
            "string",
        ),
        ("USAGE_TOKEN_KEYS", "Token counts of a usage record.", USAGE_TOKEN_KEYS, "string"),
        ("SET_KEYS", "Top-level view keys a patch may replace whole.", SET_KEYS, "string"),
        ("ROW_KEYS", "Top-level lists a patch may update row by row (patch.rows).", ROW_KEYS, "string"),
    ]
    out = [
        "// @ts-check",
        "// GENERATED by `python -m tfwidget.contracts --js` from tfwidget/contracts.py: do not edit.",
        "// tests/test_contracts.py checks that this file is up to date.",
        "",
        f"/** @typedef {{{_js_union(VIEW_STATUSES)}}} ViewStatus */",
        f"/** @typedef {{{_js_union(THREAD_STATUSES)}}} ThreadStatus */",
        f"/** @typedef {{{_js_union(TOOL_CALL_STATUSES)}}} ToolCallStatus */",
        f"/** @typedef {{{_js_union(VIEW_TIMELINE_KINDS)}}} TimelineKind */",
        f"/** @typedef {{{_js_union(PAUSE_KINDS)}}} PauseKind */",
        f"/** @typedef {{{_js_union(INTENT_ACTIONS)}}} IntentAction */",
        "",
    ]
    for name, doc, values, js_type in lists:
        out += [
            f"/** {doc} @type {{readonly {js_type}[]}} */",
            f"export const {name} = Object.freeze({_js_list(values)});",
        ]
    out += [
        "",
        "/** Text fields per item kind that patches send as [offset, text] appends. */",
        "export const TEXT_FIELDS = Object.freeze({",
        "  messages: MESSAGE_TEXT_FIELDS,",
        "  tools: TOOL_TEXT_FIELDS,",
        "  /** @type {readonly string[]} */",
        "  events: Object.freeze([]),",
        "});",
        "",
        "/** What a view shows before its first snapshot (copy it: it is frozen). */",
        f"export const EMPTY_VIEW = Object.freeze({json.dumps(EMPTY_VIEW, indent=2)});",
        "",
        *_JS_TYPEDEFS,
    ]
    return "\n".join(out) + "\n"


_JS_TYPEDEFS = [
    "/**",
    " * @typedef {object} ThreadView",
    " * @property {string} id",
    " * @property {string | null} title",
    " * @property {string | null} parent_thread_id",
    " * @property {string | null} parent_tool_call_id",
    " * @property {string | null} agent_name",
    " * @property {string | null} model",
    " * @property {ThreadStatus} status",
    " * @property {string | null} error",
    " */",
    "",
    "/**",
    " * @typedef {object} TimelineEntry",
    " * @property {TimelineKind} kind",
    " * @property {string} id",
    " * @property {string | null} [thread_id]",
    " */",
    "",
    "/**",
    " * @typedef {object} MessageView",
    " * @property {string} id",
    " * @property {string | null} [thread_id]",
    " * @property {string | null} [created_at]",
    " * @property {string} [content]",
    " * @property {string} [reasoning]",
    " * @property {string} [refusal]",
    " * @property {string | null} [finish_reason]",
    " * @property {string[]} [tool_call_ids]",
    " * @property {Record<string, any> | null} [usage]",
    " * @property {boolean} [streaming]",
    " * @property {any[]} [images]",
    " * @property {any[]} [artifacts]",
    " */",
    "",
    "/**",
    " * @typedef {object} ToolView",
    " * @property {string} id",
    " * @property {string} [message_id]",
    " * @property {string | null} [thread_id]",
    " * @property {string} [name]",
    " * @property {string} [arguments]",
    " * @property {string | null} [tool_type]",
    " * @property {string | null} [server_name]",
    " * @property {string | null} [response]",
    " * @property {ToolCallStatus} [status]",
    " * @property {string | null} [child_thread_id]",
    " * @property {Record<string, any>} [offloaded]",
    " */",
    "",
    "/**",
    " * @typedef {object} EventView",
    " * @property {string} id",
    " * @property {string} type",
    " * @property {string | null} thread_id",
    " * @property {string | null} summary",
    " */",
    "",
    "/**",
    " * @typedef {object} McpServerView",
    " * @property {string | null} id",
    " * @property {string | null} name",
    " * @property {string | null} auth_url",
    " */",
    "",
    "/**",
    " * @typedef {object} PauseView",
    " * @property {string} id",
    " * @property {string | null} thread_id",
    " * @property {boolean} pending",
    " * @property {PauseKind} kind",
    " * @property {string | null} tool_call_id",
    " * @property {string | null} tool_name",
    " * @property {string | null} arguments",
    " * @property {string | null} question",
    " * @property {any[]} options",
    " * @property {McpServerView[]} servers",
    " */",
    "",
    "/**",
    " * @typedef {object} Notice",
    " * @property {string} level",
    " * @property {string} text",
    " */",
    "",
    "/**",
    " * @typedef {object} View The view model (the `_view` trait), as tfwidget/contracts.py `View`.",
    " * @property {number} rev",
    " * @property {string | null} turn_id",
    " * @property {string | null} session_id",
    " * @property {ViewStatus} status",
    " * @property {string | null} status_detail",
    " * @property {string | null} created_at",
    " * @property {string | null} completed_at",
    " * @property {number | null} started_ms",
    " * @property {any[]} input",
    " * @property {Record<string, any> | null} totals",
    " * @property {ThreadView[]} threads",
    " * @property {TimelineEntry[]} timeline",
    " * @property {Record<string, MessageView>} messages",
    " * @property {Record<string, ToolView>} tools",
    " * @property {PauseView[]} pauses",
    " * @property {any[]} usage",
    " * @property {Record<string, EventView>} events",
    " * @property {Notice[]} notices",
    " * @property {any[]} [spans]",
    " * @property {Record<string, any>} [clock]",
    " */",
    "",
    "/**",
    ' * @typedef {object} Patch A `{"type": "patch"}` message.',
    ' * @property {"patch"} type',
    " * @property {number} rev",
    " * @property {Record<string, any>} [set]",
    " * @property {Array<[number, TimelineEntry[]]>} [timeline]",
    " * @property {Record<string, [number, Array<[number, any]>]>} [rows]",
    " * @property {Record<string, Record<string, any>>} [messages]",
    " * @property {Record<string, Record<string, any>>} [tools]",
    " * @property {Record<string, Record<string, any>>} [events]",
    " */",
    "",
    "/**",
    ' * @typedef {object} Intent A `{"type": "intent"}` message (front end -> Python).',
    ' * @property {"intent"} type',
    " * @property {string} id",
    " * @property {IntentAction} action",
    " * @property {string} [turn]",
    " * @property {string | null} [call_id]",
    " * @property {string | null} [reason]",
    " * @property {string} [text]",
    " */",
    "",
    "/**",
    ' * @typedef {object} Ack A `{"type": "ack"}` message (Python -> front end).',
    ' * @property {"ack"} type',
    " * @property {string} id",
    " * @property {boolean} ok",
    " * @property {string | null} error",
    " */",
    "",
    "/**",
    " * @typedef {object} ApprovalDecision",
    ' * @property {"approval"} kind',
    ' * @property {"allow" | "deny"} status',
    " * @property {string} [reason]",
    " */",
    "",
    "/**",
    " * @typedef {object} AnswerDecision",
    ' * @property {"question"} kind',
    " * @property {string} text",
    " */",
    "",
    "/** A decision collected for one tool call of a paused turn. @typedef {ApprovalDecision | AnswerDecision} PendingDecision */",
    "",
    "/**",
    " * @typedef {object} ResolutionView How a paused turn's tool call was answered.",
    f" * @property {{{_js_union(DECISIONS)}}} decision",
    " * @property {string | null} reason",
    " * @property {string | null} text",
    " * @property {string} label",
    " */",
    "",
    "/**",
    " * @typedef {object} TurnActions What a turn's pause cards may offer (the `_actions` trait).",
    " * @property {boolean} [enabled]",
    " * @property {boolean} [busy]",
    " * @property {Record<string, PendingDecision>} [decisions]",
    " * @property {boolean} [sent]",
    " * @property {boolean} [resolved]",
    " * @property {Record<string, ResolutionView>} [resolutions]",
    " * @property {string[]} [input_labels]",
    " */",
]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args != ["--js"]:
        print("usage: python -m tfwidget.contracts --js > js/src/contracts.gen.js", file=sys.stderr)
        return 2
    sys.stdout.write(js_module())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
