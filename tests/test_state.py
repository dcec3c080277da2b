"""The fold: exact merge on every fixture, idempotent replays, odd orders kept and flagged, statuses."""

from __future__ import annotations

import json
from pathlib import Path

from tfwidget import StreamItem, TurnState, load, parse_event
from tfwidget.events import ModelMessageEvent

from .conftest import FIXTURES, drop_none, merged_expected


def _merged(state: TurnState) -> list[dict]:
    return drop_none([m.model_dump(mode="json") for m in state.messages])


def test_fixture_fold_equals_official_merge(fixture_name: str, fixture_path: Path) -> None:
    state = TurnState.from_items(load(fixture_path))
    assert _merged(state) == merged_expected(fixture_name)
    assert state.anomalies == []


EXPECTED_STATUS = {
    "plain_answer": ("done", None),
    "approval_pause": ("paused", None),
    "ask_user": ("paused", None),
    "sub_agents": ("done", None),
    "cancelled": ("cancelled", "client-cancelled"),
    "error_mcp_auth": ("error", "You have reached iteration limit of 100, please request again"),
}


def test_status_and_reason(fixture_name: str, fixture_path: Path) -> None:
    state = TurnState.from_items(load(fixture_path))
    raw = [json.loads(it.raw) for it in load(fixture_path)]
    done = raw[-1]
    assert done["type"] == "turn.done"
    assert (state.status, state.status_reason) == EXPECTED_STATUS[fixture_name]
    assert state.turn_id == raw[0]["turn_id"]
    assert state.last_sequence_number == len(raw)


def test_replay_of_any_prefix_is_ignored(fixture_path: Path) -> None:
    items = load(fixture_path)
    once = TurnState.from_items(items)
    for cut in range(len(items)):
        st = TurnState()
        st.extend(items[: cut + 1])
        applied = st.extend(items)  # a reconnect that replays from the start
        assert applied == len(items) - cut - 1
        assert _merged(st) == _merged(once)
        assert len(st.items) == len(items)


def test_non_delta_event_seen_again_replaces_never_duplicates(fixture_path: Path) -> None:
    items = load(fixture_path)
    st = TurnState.from_items(items)
    before = (len(st.messages), len(st.tool_calls), len(st.threads), len(st.timeline))
    # the same events again without sequence numbers (as list turn events returns them)
    for it in items:
        if it.event.type != "model.message.delta":
            st.apply(it.event)
    assert (len(st.messages), len(st.tool_calls), len(st.threads), len(st.timeline)) == before
    assert _merged(st) == _merged(TurnState.from_items(items))


def test_listed_merged_message_replaces_a_partial_live_one() -> None:
    items = load(FIXTURES / "plain_answer.sse")
    full = TurnState.from_items(items)
    partial = TurnState.from_items(items[:4])
    for msg in full.messages:
        partial.apply(msg)  # rebuilt from list turn events after a 412
    assert _merged(partial) == _merged(full)


def test_delta_before_base_creates_an_empty_base_and_is_flagged() -> None:
    d1 = parse_event(
        {
            "type": "model.message.delta",
            "id": "m",
            "thread_id": "main",
            "content": "Hel",
            "created_at": "2026-01-01T00:00:00Z",
        }
    )
    d2 = parse_event({"type": "model.message.delta", "id": "m", "thread_id": "main", "content": "lo"})
    st = TurnState()
    st.apply(StreamItem(5, d1))
    st.apply(StreamItem(6, d2))
    (msg,) = st.messages
    assert msg.content == "Hello"
    assert [a.kind for a in st.anomalies] == ["delta_without_base"]
    assert st.anomalies[0].sequence_number == 5


def test_tool_response_for_unknown_call_and_events_after_done_are_kept() -> None:
    st = TurnState.from_items(load(FIXTURES / "plain_answer.sse"))
    late = parse_event(
        {"type": "tool.response", "id": "r9", "thread_id": "main", "tool_call_id": "nope", "content": "x"}
    )
    st.apply(StreamItem(99, late))
    kinds = [a.kind for a in st.anomalies]
    assert "after_done" in kinds and "unknown_tool_call" in kinds
    assert st.items[-1].event is late
    assert st.status == "done"


def test_unknown_event_types_are_kept_in_items_and_timeline() -> None:
    items = load(FIXTURES / "plain_answer.sse")
    odd = parse_event({"type": "agent.telemetry", "id": "u1", "thread_id": "main", "cpu": 3})
    st = TurnState.from_items([*items[:3], StreamItem(None, odd), *items[3:]])
    assert st.events_by_id["u1"] is odd
    assert any(e.kind == "event" and e.id == "u1" for e in st.timeline)
    assert [a.kind for a in st.anomalies] == ["unknown_type"]
    assert _merged(st) == merged_expected("plain_answer")


def test_tool_call_lifecycle_and_pending_statuses() -> None:
    items = load(FIXTURES / "approval_pause.sse")
    st = TurnState()
    statuses = []
    for it in items:
        st.apply(it)
        if "call_refund_1" in st.tool_calls:
            statuses.append(st.tool_calls["call_refund_1"].status)
    assert statuses[0] == "running"  # the delta that carried it also finished the message
    assert statuses[-1] == "awaiting_approval"
    get = st.tool_calls["call_get_1"]
    assert get.status == "completed" and "shipped" in get.response
    assert get.server_name == "orders-api" and get.tool_type == "mcp"
    assert [p.type for p in st.required_actions] == ["tool.approval_required"]

    ask = TurnState.from_items(load(FIXTURES / "ask_user.sse"))
    (call,) = ask.tool_calls.values()
    assert call.status == "awaiting_response" and call.name == "ask_user_question"

    cancelled = TurnState.from_items(load(FIXTURES / "cancelled.sse"))
    assert cancelled.required_actions == []


def test_tool_call_id_arriving_in_a_later_chunk_rekeys_the_call() -> None:
    evs = [
        {"type": "model.message", "id": "m", "thread_id": "main", "created_at": "2026-01-01T00:00:00Z"},
        {
            "type": "model.message.delta",
            "id": "m",
            "thread_id": "main",
            "tool_calls": [{"index": 1, "function": {"arguments": '{"a"'}}],
        },
        {
            "type": "model.message.delta",
            "id": "m",
            "thread_id": "main",
            "tool_calls": [{"index": 1, "id": "call_x", "function": {"name": "f", "arguments": ": 1}"}}],
        },
        {"type": "model.message.delta", "id": "m", "thread_id": "main", "finish_reason": "tool_calls"},
    ]
    st = TurnState.from_items(StreamItem(i + 1, parse_event(e)) for i, e in enumerate(evs))
    assert list(st.tool_calls) == ["call_x"]
    call = st.tool_calls["call_x"]
    assert (call.name, call.arguments, call.index, call.status) == ("f", '{"a": 1}', 1, "running")
    msg = st.messages[0]
    assert msg.tool_calls[0] is None and msg.tool_calls[1].function.arguments == '{"a": 1}'


def test_threads_and_sub_agent_links() -> None:
    st = TurnState.from_items(load(FIXTURES / "sub_agents.sse"))
    assert next(iter(st.threads)) == "main"
    subs = [t for t in st.threads.values() if t.id != "main"]
    assert len(subs) == 2
    for th in subs:
        assert th.parent_thread_id == "main" and th.status == "done"
        assert st.tool_calls[th.parent_tool_call_id].child_thread_id == th.id
        assert th.agent_name and th.model
    assert st.threads["main"].status == "done"


def test_list_content_base_merges_into_last_text_part() -> None:
    evs = [
        {
            "type": "model.message",
            "id": "m",
            "thread_id": "main",
            "created_at": "t",
            "content": [{"type": "refusal", "refusal": "no"}],
        },
        {"type": "model.message.delta", "id": "m", "thread_id": "main", "content": "a"},
        {"type": "model.message.delta", "id": "m", "thread_id": "main", "content": "b"},
    ]
    st = TurnState.from_items(parse_event(e) for e in evs)
    msg = st.messages[0]
    assert [p.model_dump(exclude_none=True) for p in msg.content] == [
        {"type": "refusal", "refusal": "no"},
        {"type": "text", "text": "ab"},
    ]
    assert msg.text == "ab"


def test_take_changes_reports_what_changed() -> None:
    items = load(FIXTURES / "sub_agents.sse")
    st = TurnState()
    st.extend(items[:5])
    ch = st.take_changes()
    assert ch.turn and ch.timeline_start == 0
    assert not st.take_changes()
    st.extend(items[5:])
    ch = st.take_changes()
    assert ch.messages and ch.threads and ch.turn
    assert ch.timeline_start == len(st.timeline) - len(st.timeline[ch.timeline_start :])


def test_totals_prefer_metrics_and_fall_back_to_summed_usage() -> None:
    st = TurnState.from_items(load(FIXTURES / "approval_pause.sse"))
    t = st.totals()
    assert t["input_tokens"] == 22100 and t["cost_usd"] == 0.069
    assert t["sources"]["input_tokens"] == "metrics" and t["sources"]["cost_usd"] == "metrics"
    # metrics without cache fields: those fields are the calls' usage summed, and say so
    assert t["sources"]["cache_read_tokens"] == "usage" and t["source"] == "mixed"
    partial = TurnState.from_items(load(FIXTURES / "approval_pause.sse")[:-1])
    t = partial.totals()
    assert t["source"] == "usage"
    assert t["input_tokens"] == 10611 + 11489 and t["output_tokens"] == 84 + 66
    assert set(t["sources"].values()) == {"usage", None}  # no reported cost


def test_totals_take_cache_reads_from_usage_when_metrics_lack_them() -> None:
    # sub_agents: turn.done metrics carry no cache fields, the calls read 11,000 tokens from cache
    st = TurnState.from_items(load(FIXTURES / "sub_agents.sse"))
    t = st.totals()
    assert t["cache_read_tokens"] == int(st.usage_df.cache_read_tokens.sum()) == 11_000
    assert t["sources"]["cache_read_tokens"] == "usage"
    assert t["sources"]["input_tokens"] == "metrics" and t["input_tokens"] == 30_600


def test_messages_are_independent_copies() -> None:
    st = TurnState.from_items(load(FIXTURES / "plain_answer.sse"))
    m: ModelMessageEvent = st.messages[0]
    m.content = "tampered"
    assert st.messages[0].content != "tampered"


def test_repr_is_informative() -> None:
    r = repr(TurnState.from_items(load(FIXTURES / "cancelled.sse")))
    assert "cancelled" in r and "client-cancelled" in r and "0x" not in r


def test_open_threads_take_the_turns_ending() -> None:
    def stream(done_state: dict) -> list[StreamItem]:
        evs = [
            {"type": "turn.created", "id": "tc", "turn_id": "t", "input": []},
            {
                "type": "thread.created",
                "id": "th",
                "thread_id": "sub",
                "title": "s",
                "parent": {"thread_id": "main", "tool_call_id": "c"},
            },
            {"type": "turn.done", "id": "td", "state": done_state},
        ]
        return [StreamItem(i + 1, parse_event(e)) for i, e in enumerate(evs)]

    paused = TurnState.from_items(
        stream(
            {
                "status": "done",
                "required_actions": [
                    {
                        "type": "tool.response_required",
                        "id": "p",
                        "thread_id": "sub",
                        "tool_calls": [{"id": "q"}],
                    }
                ],
            }
        )
    )
    assert (paused.status, paused.threads["main"].status, paused.threads["sub"].status) == (
        "paused",
        "paused",
        "paused",
    )
    cancelled = TurnState.from_items(stream({"status": "cancelled", "reason": "client-cancelled"}))
    assert {t.status for t in cancelled.threads.values()} == {"cancelled"}
    done = TurnState.from_items(stream({"status": "done", "required_actions": []}))
    assert {t.status for t in done.threads.values()} == {"done"}
    running = TurnState.from_items(stream({"status": "done"})[:2])
    assert running.threads["sub"].status == "running" and running.threads["main"].status == "running"


def test_a_resume_turns_results_for_the_calls_it_answers_are_expected() -> None:
    evs = [
        {"type": "turn.created", "id": "tc", "turn_id": "t2", "input": [
            {"type": "user.tool_approval", "thread_id": "main", "tool_call_id": "call_refund_1", "approval": {"status": "allow"}}]},
        {"type": "tool.response", "id": "r1", "thread_id": "main", "tool_call_id": "call_refund_1", "content": "ok"},
        {"type": "tool.response", "id": "r2", "thread_id": "main", "tool_call_id": "call_other", "content": "?"},
    ]  # fmt: skip
    st = TurnState.from_items(StreamItem(i + 1, parse_event(e)) for i, e in enumerate(evs))
    assert [(a.kind, a.event_id) for a in st.anomalies] == [("unknown_tool_call", "r2")]


def _arg_deltas(n: int, piece: str = "xy") -> list[StreamItem]:
    evs: list[dict] = [
        {"type": "model.message", "id": "m", "thread_id": "main", "created_at": "2026-01-01T00:00:00Z"},
        {"type": "model.message.delta", "id": "m", "thread_id": "main",
         "tool_calls": [{"index": 0, "id": "c1", "type": "function", "function": {"name": "f", "arguments": "["}}]},
    ]  # fmt: skip
    evs += [
        {"type": "model.message.delta", "id": "m", "thread_id": "main",
         "tool_calls": [{"index": 0, "function": {"arguments": piece}}]}
        for _ in range(n)
    ]  # fmt: skip
    return [StreamItem(i + 1, parse_event(e), 0.0, json.dumps(e)) for i, e in enumerate(evs)]


def test_streamed_arguments_are_kept_as_chunks_and_joined_once_when_read() -> None:
    st = TurnState()
    items = _arg_deltas(1_000)
    for it in items[:2]:
        st.apply(it)
    info = st.tool_calls["c1"]
    assert info.arguments == "["
    st.take_changes()
    for it in items[2:]:
        st.apply(it)
    # argument-only deltas append a chunk each: no re-join of the whole string per delta (quadratic)
    assert len(info._args) == 1_001
    assert st.take_changes().tools == {"c1"}
    assert info.arguments == "[" + "xy" * 1_000  # the same info object reads the new text
    assert len(info._args) == 1  # joined once, and the join is kept
    assert st.message("m").tool_calls[0].function.arguments == info.arguments
    assert st.tool_calls["c1"] is info and info.status == "streaming" and info.name == "f"
    st.apply(StreamItem(2_000, parse_event({"type": "model.message.delta", "id": "m", "thread_id": "main",
                                            "tool_calls": [{"index": 0, "function": {"arguments": "]"}}]})))  # fmt: skip
    assert info.arguments.endswith("xy]") and st.message("m").tool_calls[0].function.arguments.endswith("xy]")


def test_tool_call_info_equality_repr_and_assignment() -> None:
    a = TurnState.from_items(_arg_deltas(3)).tool_calls["c1"]
    b = TurnState.from_items(_arg_deltas(3)).tool_calls["c1"]
    c = TurnState.from_items(_arg_deltas(4)).tool_calls["c1"]
    assert a == b and a != c
    assert "arguments='[xyxyxy'" in repr(a) and repr(a).startswith("ToolCallInfo(id='c1'")
    b.arguments = "{}"
    assert b.arguments == "{}" and a.arguments == "[xyxyxy"
