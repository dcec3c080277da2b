"""Typed models of every turn event of the TrueFoundry Agent Harness.

Every model is *open*: keys the protocol may add later are kept (``extra="allow"``) and come back out of
:meth:`~pydantic.BaseModel.model_dump`. An event whose ``type`` tfwidget does not know, or a known type whose
fields do not fit its model, becomes an :class:`UnknownEvent` that keeps every field, so nothing is dropped.

>>> ev = parse_event('{"type": "tool.response", "id": "e1", "tool_call_id": "c1", "content": "42"}')
>>> type(ev).__name__, ev.tool_call_id
('ToolResponseEvent', 'c1')
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Discriminator, TypeAdapter, ValidationError

from ._content import content_text

__all__ = [
    "EVENT_TYPES",
    "AgentInfo",
    "ContentPart",
    "Event",
    "EventParseError",
    "InputItem",
    "InputTokensBreakdown",
    "McpAuthRequiredEvent",
    "McpInitializeEvent",
    "McpServer",
    "ModelMessageDeltaEvent",
    "ModelMessageEvent",
    "PendingToolCall",
    "SandboxCreatedEvent",
    "Subject",
    "ThreadCreatedEvent",
    "ThreadDoneEvent",
    "ThreadParent",
    "ThreadState",
    "ToolApprovalRequiredEvent",
    "ToolCall",
    "ToolCallDelta",
    "ToolCallFunction",
    "ToolCallFunctionDelta",
    "ToolInfo",
    "ToolResponseEvent",
    "ToolResponseRequiredEvent",
    "TurnCreatedEvent",
    "TurnDoneEvent",
    "TurnMetrics",
    "TurnState",
    "UnknownEvent",
    "Usage",
    "parse_event",
]


class EventParseError(ValueError):
    """A payload that cannot be an event at all: not a JSON object, or without a string ``type``/``id``."""


class _Open(BaseModel):
    """Base of every model: unknown keys are kept."""

    model_config = ConfigDict(extra="allow")


# --------------------------------------------------------------------------- nested models


class ToolInfo(_Open):
    """Where a tool lives: ``{"type": "truefoundry-system", "name"}`` or ``{"type": "mcp", server_id, ...}``."""

    type: str | None = None
    name: str | None = None
    server_id: str | None = None
    server_name: str | None = None


class ToolCallFunction(_Open):
    name: str = ""
    arguments: str = ""


class ToolCall(_Open):
    """A merged tool call of a model message. ``function.arguments`` is JSON text."""

    id: str = ""
    type: str = "function"
    function: ToolCallFunction = ToolCallFunction()
    tool_info: ToolInfo | None = None
    provider_specific_fields: dict[str, Any] | None = None


class ToolCallFunctionDelta(_Open):
    name: str | None = None
    arguments: str | None = None


class ToolCallDelta(_Open):
    """One streamed chunk of a tool call; ``index`` says which call of the message it extends."""

    index: int
    id: str | None = None
    type: str | None = None
    function: ToolCallFunctionDelta | None = None
    tool_info: ToolInfo | None = None
    provider_specific_fields: dict[str, Any] | None = None


class InputTokensBreakdown(_Open):
    """Estimated composition of a call's input tokens; ``messages`` is the remainder."""

    harness: int | None = None
    skills: int | None = None
    instructions: int | None = None
    tool_definitions: int | None = None
    messages: int | None = None


class Usage(_Open):
    """Token usage of one LLM call."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    input_tokens_breakdown: InputTokensBreakdown | None = None


class ContentPart(_Open):
    """A part of list-shaped content: ``{"type": "text", "text"}`` or ``{"type": "refusal", "refusal"}``."""

    type: str
    text: str | None = None
    refusal: str | None = None


class PendingToolCall(_Open):
    """A tool call a pause waits on: ``id`` is the tool call id, ``source_event_id`` its model.message."""

    id: str
    source_event_id: str | None = None


class ThreadParent(_Open):
    thread_id: str | None = None
    tool_call_id: str | None = None


class AgentInfo(_Open):
    type: str | None = None
    name: str | None = None
    input: Any = None
    model: str | None = None


class ThreadState(_Open):
    status: str
    output: Any = None
    error: Any = None


class McpServer(_Open):
    id: str | None = None
    name: str | None = None
    session_id: str | None = None
    transport_type: str | None = None
    auth_url: str | None = None


class InputItem(_Open):
    """An item of a turn's input: ``user.message``, ``user.tool_approval`` or ``user.tool_response``."""

    type: str
    content: Any = None
    thread_id: str | None = None
    tool_call_id: str | None = None
    approval: dict[str, Any] | None = None


class Subject(_Open):
    subject_id: str | None = None
    subject_type: str | None = None
    subject_slug: str | None = None


class TurnMetrics(_Open):
    """Turn totals, sent with ``turn.done``."""

    total_input_tokens: int | None = None
    total_output_tokens: int | None = None
    total_tokens: int | None = None
    total_cache_read_tokens: int | None = None
    total_cache_write_tokens: int | None = None
    total_reasoning_tokens: int | None = None
    total_cost_in_usd: float | None = None


# --------------------------------------------------------------------------- events


class _EventBase(_Open):
    type: str
    id: str
    created_at: str | None = None
    thread_id: str | None = None


class ModelMessageEvent(_EventBase):
    """One LLM call's message. Live, an empty base filled by deltas; listed, fully merged."""

    type: Literal["model.message"] = "model.message"
    content: str | list[ContentPart] | None = None
    name: str | None = None
    refusal: str | None = None
    reasoning_content: str | None = None
    tool_calls: list[ToolCall] | None = None
    finish_reason: str | None = None
    usage: Usage | None = None

    @property
    def text(self) -> str:
        """The message's text content as one string (text parts joined)."""
        return content_text(self.content)


class ModelMessageDeltaEvent(_EventBase):
    """An increment of a ``model.message`` with the same ``id``."""

    type: Literal["model.message.delta"] = "model.message.delta"
    content: str | None = None
    refusal: str | None = None
    reasoning_content: str | None = None
    tool_calls: list[ToolCallDelta] | None = None
    finish_reason: str | None = None
    usage: Usage | None = None


class ToolResponseEvent(_EventBase):
    type: Literal["tool.response"] = "tool.response"
    tool_call_id: str
    content: Any = None


class ToolApprovalRequiredEvent(_EventBase):
    """Pause: these tool calls wait for the user's approval."""

    type: Literal["tool.approval_required"] = "tool.approval_required"
    tool_calls: list[PendingToolCall] = []


class ToolResponseRequiredEvent(_EventBase):
    """Pause: these tool calls (e.g. ``ask_user_question``) wait for the user's answer."""

    type: Literal["tool.response_required"] = "tool.response_required"
    tool_calls: list[PendingToolCall] = []


class ThreadCreatedEvent(_EventBase):
    """A sub-agent thread started by a ``create_sub_agent`` tool call."""

    type: Literal["thread.created"] = "thread.created"
    title: str | None = None
    parent: ThreadParent | None = None
    agent_info: AgentInfo | None = None


class ThreadDoneEvent(_EventBase):
    type: Literal["thread.done"] = "thread.done"
    title: str | None = None
    parent: ThreadParent | None = None
    state: ThreadState | None = None


class McpInitializeEvent(_EventBase):
    type: Literal["mcp.initialize"] = "mcp.initialize"
    mcp_servers: list[McpServer] = []


class McpAuthRequiredEvent(_EventBase):
    """Pause: the user must sign in to these MCP servers (``auth_url``)."""

    type: Literal["mcp.auth_required"] = "mcp.auth_required"
    mcp_servers: list[McpServer] = []


class SandboxCreatedEvent(_EventBase):
    type: Literal["sandbox.created"] = "sandbox.created"
    sandbox_id: str | None = None


class TurnState(_Open):
    """A turn's state: ``running``, ``done`` (paused when ``required_actions``), ``cancelled`` or ``error``."""

    status: str
    output: ModelMessageEvent | None = None
    required_actions: list[dict[str, Any]] | None = None
    completed_at: str | None = None
    metrics: TurnMetrics | None = None
    reason: str | None = None
    message: str | None = None


class TurnCreatedEvent(_EventBase):
    type: Literal["turn.created"] = "turn.created"
    turn_id: str | None = None
    previous_turn_id: str | None = None
    input: list[InputItem] = []
    state: TurnState | None = None
    created_by: Subject | None = None


class TurnDoneEvent(_EventBase):
    """The last event of a turn. ``state.required_actions`` non-empty means the turn is paused."""

    type: Literal["turn.done"] = "turn.done"
    state: TurnState

    @property
    def pause_events(self) -> list[Event]:
        """``state.required_actions`` parsed into typed pause events."""
        out: list[Event] = []
        for action in self.state.required_actions or []:
            try:
                out.append(parse_event(action))
            except EventParseError:
                continue
        return out


class UnknownEvent(_EventBase):
    """An event tfwidget has no model for (or whose fields did not fit): every field is kept.

    ``parse_problem`` says why a *known* type fell back here (``None`` for a genuinely unknown type).
    """

    parse_problem: str | None = None


_MODELS: dict[str, type[_EventBase]] = {
    "turn.created": TurnCreatedEvent,
    "turn.done": TurnDoneEvent,
    "model.message": ModelMessageEvent,
    "model.message.delta": ModelMessageDeltaEvent,
    "tool.response": ToolResponseEvent,
    "tool.approval_required": ToolApprovalRequiredEvent,
    "tool.response_required": ToolResponseRequiredEvent,
    "thread.created": ThreadCreatedEvent,
    "thread.done": ThreadDoneEvent,
    "mcp.initialize": McpInitializeEvent,
    "mcp.auth_required": McpAuthRequiredEvent,
    "sandbox.created": SandboxCreatedEvent,
}
#: The event types of the protocol that tfwidget models.
EVENT_TYPES: tuple[str, ...] = tuple(_MODELS)

# the types in _MODELS, in its order (tests/test_typing.py checks the two agree)
_KnownEvent = Union[  # noqa: UP007  (a runtime alias usable in isinstance-free annotations)
    TurnCreatedEvent,
    TurnDoneEvent,
    ModelMessageEvent,
    ModelMessageDeltaEvent,
    ToolResponseEvent,
    ToolApprovalRequiredEvent,
    ToolResponseRequiredEvent,
    ThreadCreatedEvent,
    ThreadDoneEvent,
    McpInitializeEvent,
    McpAuthRequiredEvent,
    SandboxCreatedEvent,
]
Event = Union[_KnownEvent, UnknownEvent]  # noqa: UP007


# A union tagged on the "type" field, resolved inside pydantic-core. An unknown type fails validation and
# takes the (rare) fallback path below, which keeps it as an UnknownEvent.
_ADAPTER: TypeAdapter[_KnownEvent] = TypeAdapter(Annotated[_KnownEvent, Discriminator("type")])
_VALIDATE_JSON = _ADAPTER.validator.validate_json
_VALIDATE_PYTHON = _ADAPTER.validator.validate_python


def _check_shape(obj: Any) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise EventParseError(f"an event must be a JSON object, got {type(obj).__name__}")
    t = obj.get("type")
    if not isinstance(t, str) or not t:
        raise EventParseError(
            "event has no string 'type' field" if t is None else f"event 'type' must be a string, got {t!r}"
        )
    i = obj.get("id")
    if not isinstance(i, str):
        raise EventParseError(
            f"{t} event has no 'id' field" if i is None else f"{t} event 'id' must be a string, got {i!r}"
        )
    return obj


def _fallback(obj: dict[str, Any], err: ValidationError | None) -> Event:
    problem = None
    if err is not None and obj["type"] in _MODELS:
        first = err.errors()[0]
        loc = ".".join(str(p) for p in first["loc"][1:]) or "event"
        problem = f"{obj['type']}: {loc}: {first['msg']}"
    ev = UnknownEvent.model_validate(obj)
    if problem is not None:
        ev.parse_problem = problem
    return ev


def parse_event(data: str | bytes | bytearray | Mapping[str, Any]) -> Event:
    """Parse one event from JSON text/bytes or a mapping into its typed model.

    Raises :class:`EventParseError` when the payload is not a JSON object or lacks a string ``type``
    or ``id``. An unknown ``type`` (or a known one whose fields do not fit) gives :class:`UnknownEvent`.
    """
    if isinstance(data, (str, bytes, bytearray)):
        try:
            event: Event = _VALIDATE_JSON(data)
            return event
        except ValidationError as err:
            try:
                obj = json.loads(data)
            except ValueError as jerr:
                raise EventParseError(f"not valid JSON: {jerr}") from None
            return _fallback(_check_shape(obj), err)
    if not isinstance(data, Mapping):
        raise EventParseError(f"an event must be a JSON object, got {type(data).__name__}")
    obj = dict(data)
    try:
        event = _VALIDATE_PYTHON(obj)
        return event
    except ValidationError as err:
        return _fallback(_check_shape(obj), err)
