"""The official client (truefoundry-gateway-sdk) pointed at the simulated gateway works unchanged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tfwidget.sim import FIXTURE_NAMES, Faults, Simulator, serve

sdk = pytest.importorskip("truefoundry_gateway_sdk")
from truefoundry_gateway_sdk import (  # noqa: E402
    ApprovalAllow,
    ApprovalDeny,
    UserMessage,
    UserToolApprovalEvent,
    UserToolResponseEvent,
)
from truefoundry_gateway_sdk.agents import (  # noqa: E402
    AgentSessionClient,
    ModelMessageDeltaEvent,
    ModelMessageEvent,
    TurnDoneEvent,
    is_event_delta,
    merge_event_delta,
)
from truefoundry_gateway_sdk.core.api_error import ApiError  # noqa: E402

pytestmark = pytest.mark.timeout(60)

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_none(v) for v in value]
    return value


def dump(model: Any) -> dict[str, Any]:
    return drop_none(json.loads(model.model_dump_json()))


def sdk_merge(items: list[Any]) -> list[dict[str, Any]]:
    """Merge streamed events with the official merge_event_delta, first-seen order."""
    bases: dict[str, Any] = {}
    for item in items:
        event = item.event
        if isinstance(event, ModelMessageEvent):
            bases.setdefault(event.id, event.model_copy(deep=True))
        elif is_event_delta(event):
            assert isinstance(event, ModelMessageDeltaEvent)
            if event.id not in bases:
                bases[event.id] = ModelMessageEvent(id=event.id, thread_id=event.thread_id, created_at="")
            merge_event_delta(bases[event.id], event)
    return [dump(m) for m in bases.values()]


def without_rewritten(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop the fields the simulator rewrites when serving a recording (event ids, timestamps)."""
    return [{k: v for k, v in m.items() if k not in ("id", "created_at")} for m in messages]


def make_client(sim: Simulator, **kw: Any) -> AgentSessionClient:
    return AgentSessionClient(base_url=sim.base_url, api_key=sim.api_key, **kw)


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_fixture_scenarios_merge_like_the_recording(name: str) -> None:
    with serve(name, speed=0) as sim:
        session = make_client(sim).get_session(sim.session_id)
        turn = session.get_turn(sim.turn_id)
        items = list(turn.stream())
        assert [i.sequence_number for i in items] == list(range(1, len(items) + 1))
        assert isinstance(items[-1].event, TurnDoneEvent)
        assert turn.state.status == items[-1].event.state.status
        merged = sdk_merge(items)

        listed = [e for e in turn.list_events(limit=3) if isinstance(e, ModelMessageEvent)]
        assert [dump(e) for e in listed] == merged

        expected = drop_none(json.loads((FIXTURES / f"{name}.merged.json").read_text()))
        assert without_rewritten(merged) == without_rewritten(expected)
        assert len(items) == (FIXTURES / f"{name}.sse").read_text().count("\nid: ") + 1


def test_create_stream_resume_subscribe_list_get() -> None:
    with serve("plain_answer", speed=0) as sim:
        client = make_client(sim)
        session = client.create_session(agent_name="support-bot")
        assert session.agent_name == "support-bot" and session.id != sim.session_id

        prepared = session.prepare_turn(input=[UserMessage(content="Please refund order 12")])
        items = list(prepared.execute(stream=True))
        assert [i.sequence_number for i in items] == list(range(1, len(items) + 1))
        state = prepared.state
        assert state is not None and state.status == "done" and len(state.required_actions) == 1
        call_id = state.required_actions[0].tool_calls[0].id

        # a cursor replays exactly what follows it
        again = list(prepared.stream(after_sequence_number=4))
        assert [i.sequence_number for i in again] == [i.sequence_number for i in items[4:]]
        assert [dump(i.event) for i in again] == [dump(i.event) for i in items[4:]]

        resume = session.prepare_turn(
            input=[UserToolApprovalEvent(thread_id="main", tool_call_id=call_id, approval=ApprovalAllow())]
        )
        resumed = list(resume.execute(stream=True))
        final = resume.state
        assert final is not None and final.status == "done" and final.required_actions == []
        assert resume.previous_turn_id == prepared.id
        merged = sdk_merge(resumed)
        assert "processed" in merged[-1]["content"]

        fetched = session.get_turn(resume.id)
        assert fetched.state.status == "done"
        listed = [e for e in fetched.list_events(limit=2) if isinstance(e, ModelMessageEvent)]
        assert [dump(e) for e in listed] == merged
        turns = [t.id for t in session.list_turns()]
        assert turns == [resume.id, prepared.id]
        events = list(session.list_events(limit=5))
        assert events[0].turn_id == resume.id and events[0].event.type == "turn.done"


def test_question_and_denial_with_the_official_types() -> None:
    with serve("plain_answer", speed=0) as sim:
        session = make_client(sim).create_session(agent_name="a")
        ask = session.prepare_turn(input=[UserMessage(content="Ask me which restaurant")])
        list(ask.execute())
        call_id = ask.state.required_actions[0].tool_calls[0].id
        answer = session.prepare_turn(
            input=[UserToolResponseEvent(thread_id="main", tool_call_id=call_id, content="Sakura")]
        )
        assert "Sakura" in sdk_merge(list(answer.execute()))[-1]["content"]

        refund = session.prepare_turn(input=[UserMessage(content="refund everything")])
        list(refund.execute())
        call_id = refund.state.required_actions[0].tool_calls[0].id
        deny = session.prepare_turn(
            input=[
                UserToolApprovalEvent(
                    thread_id="main", tool_call_id=call_id, approval=ApprovalDeny(reason="not today")
                )
            ]
        )
        assert "not today" in sdk_merge(list(deny.execute()))[-1]["content"]


def test_cancel_through_the_official_client() -> None:
    with serve("long_markdown", speed=2) as sim:
        session = make_client(sim).get_session(sim.session_id)
        turn = session.get_turn(sim.turn_id)
        seen = []
        for item in turn.stream():
            seen.append(item)
            if len(seen) == 3:
                turn.cancel()
        done = seen[-1].event
        assert isinstance(done, TurnDoneEvent)
        assert done.state.status == "cancelled" and done.state.reason == "client-cancelled"
        assert turn.state.status == "cancelled"
        assert session.get_turn(sim.turn_id).state.status == "cancelled"


def test_official_client_errors() -> None:
    from truefoundry_gateway_sdk.errors import ConflictError, NotFoundError

    with serve("sub_agents", speed=1) as sim:
        session = make_client(sim, max_retries=0).get_session(sim.session_id)
        with pytest.raises(ConflictError):
            list(session.get_turn(sim.turn_id).list_events())
        with pytest.raises(NotFoundError) as info:
            session.get_turn("turn-that-does-not-exist")
        assert "turn-that-does-not-exist" in info.value.body.error.message
        bad = AgentSessionClient(base_url=sim.base_url, api_key="wrong", max_retries=0)
        with pytest.raises(ApiError) as info:
            bad.get_session(sim.session_id)
        assert info.value.status_code == 401
        assert sim.api_key not in str(info.value)


def test_official_client_skips_malformed_frames() -> None:
    with serve("sub_agents", speed=0, faults=Faults(malformed_every=5)) as sim:
        session = make_client(sim).get_session(sim.session_id)
        got = list(session.get_turn(sim.turn_id).stream())
        assert sim.fault_stats["malformed"] == len(got) // 5
        assert [i.sequence_number for i in got] == list(range(1, len(got) + 1))
        assert isinstance(got[-1].event, TurnDoneEvent)
        assert len(got) == len(sim.events())
