"""parse_event: every type gets its model, unknown keys and types are kept, bad payloads say what is wrong."""

from __future__ import annotations

import json

import pytest

from tfwidget import EVENT_TYPES, EventParseError, UnknownEvent, parse_event
from tfwidget import events as ev
from tfwidget.sse import iter_sse

from .conftest import FIXTURES


def test_all_twelve_types_have_models() -> None:
    assert len(EVENT_TYPES) == 12


def test_every_fixture_event_gets_its_model() -> None:
    seen = set()
    for path in FIXTURES.glob("*.sse"):
        for item in iter_sse(path.read_bytes()):
            assert not isinstance(item.event, UnknownEvent), item
            assert item.event.type == json.loads(item.raw)["type"]
            seen.add(item.event.type)
    assert {"turn.created", "turn.done", "model.message", "model.message.delta", "tool.response"} <= seen


@pytest.mark.parametrize(
    "payload, cls",
    [
        (
            {
                "type": "turn.created",
                "id": "a",
                "turn_id": "t",
                "input": [{"type": "user.message", "content": "hi"}],
            },
            ev.TurnCreatedEvent,
        ),
        (
            {"type": "turn.done", "id": "a", "state": {"status": "cancelled", "reason": "abandoned"}},
            ev.TurnDoneEvent,
        ),
        (
            {
                "type": "model.message",
                "id": "a",
                "thread_id": "main",
                "content": [{"type": "text", "text": "x"}],
            },
            ev.ModelMessageEvent,
        ),
        (
            {
                "type": "model.message.delta",
                "id": "a",
                "tool_calls": [{"index": 0, "function": {"arguments": "{"}}],
            },
            ev.ModelMessageDeltaEvent,
        ),
        ({"type": "tool.response", "id": "a", "tool_call_id": "c", "content": "{}"}, ev.ToolResponseEvent),
        (
            {
                "type": "tool.approval_required",
                "id": "a",
                "tool_calls": [{"id": "c", "source_event_id": "m"}],
            },
            ev.ToolApprovalRequiredEvent,
        ),
        (
            {"type": "tool.response_required", "id": "a", "tool_calls": [{"id": "c"}]},
            ev.ToolResponseRequiredEvent,
        ),
        (
            {
                "type": "thread.created",
                "id": "a",
                "thread_id": "t2",
                "title": "x",
                "parent": {"thread_id": "main", "tool_call_id": "c"},
                "agent_info": {"type": "dynamic", "name": "n"},
            },
            ev.ThreadCreatedEvent,
        ),
        (
            {
                "type": "thread.done",
                "id": "a",
                "thread_id": "t2",
                "state": {"status": "error", "error": "boom"},
            },
            ev.ThreadDoneEvent,
        ),
        (
            {"type": "mcp.initialize", "id": "a", "mcp_servers": [{"id": "s", "name": "n"}]},
            ev.McpInitializeEvent,
        ),
        (
            {
                "type": "mcp.auth_required",
                "id": "a",
                "mcp_servers": [{"id": "s", "name": "n", "auth_url": "https://x"}],
            },
            ev.McpAuthRequiredEvent,
        ),
        ({"type": "sandbox.created", "id": "a", "sandbox_id": "sb"}, ev.SandboxCreatedEvent),
    ],
)
def test_types_from_str_bytes_and_mapping(payload: dict, cls: type) -> None:
    for data in (payload, json.dumps(payload), json.dumps(payload).encode()):
        e = parse_event(data)
        assert type(e) is cls
        assert e.model_dump(exclude_none=True, exclude_defaults=False)["id"] == "a"


def test_unknown_keys_are_kept_at_every_level() -> None:
    e = parse_event(
        {
            "type": "model.message.delta",
            "id": "m",
            "future": {"x": 1},
            "usage": {"input_tokens": 1, "output_tokens": 2, "new_counter": 7},
            "tool_calls": [{"index": 0, "extra_chunk_key": True}],
        }
    )
    d = e.model_dump()
    assert d["future"] == {"x": 1}
    assert d["usage"]["new_counter"] == 7
    assert d["tool_calls"][0]["extra_chunk_key"] is True


def test_unknown_type_keeps_every_field() -> None:
    payload = {"type": "agent.thought", "id": "x1", "thread_id": "main", "payload": {"deep": [1, 2]}, "n": 3}
    e = parse_event(json.dumps(payload))
    assert isinstance(e, UnknownEvent)
    assert e.parse_problem is None
    assert {k: v for k, v in e.model_dump().items() if k != "parse_problem" and v is not None} == payload


def test_known_type_with_wrong_field_shape_is_kept_not_dropped() -> None:
    e = parse_event({"type": "tool.response", "id": "r", "tool_call_id": 12345})
    assert isinstance(e, UnknownEvent)
    assert "tool_call_id" in (e.parse_problem or "")
    assert e.model_dump()["tool_call_id"] == 12345


@pytest.mark.parametrize(
    "data, words",
    [
        ("[1, 2]", "JSON object"),
        ("42", "JSON object"),
        ('{"id": "x"}', "type"),
        ('{"type": "turn.done"}', "'id'"),
        ('{"type": "turn.done", "id": 7}', "'id' must be a string"),
        ("{not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
    ],
)
def test_bad_payloads_raise_event_parse_error_naming_the_problem(data: str, words: str) -> None:
    with pytest.raises(EventParseError, match=words):
        parse_event(data)


def test_non_mapping_python_object_is_rejected() -> None:
    with pytest.raises(EventParseError, match="JSON object"):
        parse_event([{"type": "x", "id": "y"}])  # type: ignore[arg-type]


def test_turn_done_pause_events_are_typed() -> None:
    done = parse_event((FIXTURES / "approval_pause.sse").read_text().strip().split("data: ")[-1])
    assert isinstance(done, ev.TurnDoneEvent)
    (pause,) = done.pause_events
    assert isinstance(pause, ev.ToolApprovalRequiredEvent)
    assert pause.tool_calls[0].id == "call_refund_1"
