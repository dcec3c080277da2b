"""Timing of model calls, tool calls, threads and pauses, and the spans tree (tfwidget.timing).

Fixtures and recordings check the columns and the tree; the simulated gateway, served over loopback HTTP
with a scripted timeline, gives known gaps that the derived durations must reflect (within a generous
tolerance: the machine running the tests may be loaded).
"""

from __future__ import annotations

import itertools
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tfwidget
from tfwidget import TurnState, load
from tfwidget.client import GatewayClient
from tfwidget.frames import MESSAGES_COLUMNS, TOOL_CALLS_COLUMNS
from tfwidget.sim import Scenario, serve
from tfwidget.timing import SPANS_COLUMNS, Span, link_pauses, spans, turn_timing

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
RECORDINGS = ROOT / "notebooks" / "recordings"
FIXTURE_NAMES = ["plain_answer", "approval_pause", "sub_agents", "ask_user", "cancelled", "error_mcp_auth"]

pytestmark = pytest.mark.timeout(120)


def _fixture(name: str) -> TurnState:
    return TurnState.from_items(load(FIXTURES / f"{name}.sse"))


def _check_tree(st: TurnState, df: pd.DataFrame) -> None:
    """The spans form one tree with the parent rules of the issue."""
    assert list(df.columns) == SPANS_COLUMNS
    assert df["id"].is_unique
    roots = df[df.parent_id.isna()]
    assert list(roots.kind) == ["turn"]
    kind = dict(zip(df.id, df.kind, strict=True))
    seen: set[str] = set()
    for row in df.itertuples():
        if row.kind == "turn":
            seen.add(row.id)
            continue
        assert row.parent_id in seen, f"{row.kind} {row.id} listed before its parent {row.parent_id}"
        seen.add(row.id)
        parent_kind = kind[row.parent_id]
        if row.kind == "model_call":
            assert parent_kind == "thread" and row.parent_id == (st.message(row.id).thread_id or "main")
        elif row.kind == "tool_call":
            assert parent_kind == "model_call" and row.parent_id == st.tool_calls[row.id].message_id
        elif row.kind == "thread":
            th = st.threads[row.id]
            if row.id == "main":
                assert parent_kind == "turn"
            elif th.parent_tool_call_id in st.tool_calls:
                assert row.parent_id == th.parent_tool_call_id and parent_kind == "tool_call"
        elif row.kind == "pause":
            assert parent_kind in ("tool_call", "thread", "turn")
    # every message, tool call and thread of the fold is a span
    assert set(st.message_ids()) == set(df.id[df.kind == "model_call"])
    assert set(st.tool_calls) == set(df.id[df.kind == "tool_call"])
    assert set(st.threads) == set(df.id[df.kind == "thread"])


def _check_types(df: pd.DataFrame) -> None:
    for c in ("kind", "id", "parent_id", "thread_id", "name", "status", "time_source", "cost_source"):
        assert str(df[c].dtype) == "string", c
    for c in ("started_at", "first_token_at", "ended_at"):
        assert str(df[c].dtype) == "datetime64[ns, UTC]", c
    for c in ("duration_s", "ttft_s", "cost_usd", "total_cost_usd"):
        assert str(df[c].dtype) == "Float64", c
    for c in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "total_tokens"):
        assert str(df[c].dtype) == "Int64", c


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_every_fixture_has_a_spans_tree_and_timing_columns(name: str) -> None:
    st = _fixture(name)
    df = st.spans_df
    _check_tree(st, df)
    _check_types(df)
    # raw .sse captures carry no receive times: the events' created_at is the clock, and says so
    assert turn_timing(st).clock == "created_at"
    assert set(df.time_source.dropna()) == {"created_at"}
    m = st.messages_df
    assert list(m.columns) == MESSAGES_COLUMNS
    assert (m.time_source == "created_at").all()
    assert (m.started_at.notna()).all()
    done = m[m.finish_reason.notna()]
    assert done.ended_at.notna().all() and (done.duration_s >= 0).all()
    assert (done.ended_at >= done.started_at).all()
    t = st.tool_calls_df
    assert list(t.columns) == TOOL_CALLS_COLUMNS
    completed = t[t.status == "completed"]
    assert completed.ended_at.notna().all() and (completed.duration_s >= 0).all()
    # the turn spans everything
    turn = df[df.kind == "turn"].iloc[0]
    assert turn.started_at <= df.started_at.min()
    if st.is_finished:
        assert turn.ended_at >= df.ended_at.max()


def test_sub_agent_threads_hang_under_their_tool_call_and_roll_up_its_cost() -> None:
    st = _fixture("sub_agents")
    df = st.spans_df.set_index("id")
    for th_id in ("th-qdrant-01", "th-milvus-02"):
        th = st.threads[th_id]
        assert df.loc[th_id, "parent_id"] == th.parent_tool_call_id
        # the spawning tool call carries its sub-agent's cost and tokens
        tool = df.loc[th.parent_tool_call_id]
        sub_calls = df[(df.kind == "model_call") & (df.parent_id == th_id)]
        assert tool.total_cost_usd == pytest.approx(sub_calls.cost_usd.sum())
        assert tool.total_tokens == (sub_calls.input_tokens + sub_calls.output_tokens).sum()
    # the turn's roll-up is the sum over its model calls
    calls = df[df.kind == "model_call"]
    assert df.loc[st.turn_id, "total_cost_usd"] == pytest.approx(calls.cost_usd.sum())
    # the sub-agent threads run 10:00:00.8 -> 10:00:02.3 and 10:00:00.9 -> 10:00:02.5 in the capture
    assert df.loc["th-qdrant-01", "duration_s"] == pytest.approx(1.5, abs=0.01)


@pytest.mark.parametrize("name", ["plain_answer", "approval_pause", "sub_agents"])
def test_recordings_keep_receive_times(name: str) -> None:
    st = TurnState.from_items(load(RECORDINGS / f"{name}.jsonl"))
    t = turn_timing(st)
    assert t.clock == "received"
    df = st.spans_df
    _check_tree(st, df)
    calls = df[df.kind == "model_call"]
    assert (calls.time_source == "received").all()
    # every call streamed: its first token came after it started and before it ended
    assert (calls.ttft_s >= 0).all() and (calls.first_token_at <= calls.ended_at).all()
    m = st.messages_df
    streamed = m[m.output_tokens.notna() & m.duration_s.notna() & (m.duration_s > m.ttft_s)]
    assert (streamed.output_tokens_per_s > 0).all()


def test_listed_events_use_created_at_and_say_so() -> None:
    # bare events (as listed by the gateway: no sequence numbers, merged messages) are timed by created_at
    items = load(FIXTURES / "approval_pause.sse")
    from tfwidget.sim.scenarios import merge_turn_events

    listed = merge_turn_events([it.event.model_dump(exclude_none=True) for it in items])
    st = TurnState.from_items(tfwidget.parse_event(e) for e in listed)
    t = turn_timing(st)
    for call in t.calls.values():
        assert call.time_source == "created_at"
        assert call.first_token_at is None and call.ended_at is None  # unknowable from merged messages
    first = st.message_ids()[0]
    created = pd.Timestamp(st.message(first).created_at).timestamp()
    assert t.calls[first].started_at == pytest.approx(created)
    df = st.spans_df
    assert set(df.time_source.dropna()) == {"created_at"}


def test_incremental_timing_matches_a_fresh_fold() -> None:
    items = load(RECORDINGS / "sub_agents.jsonl")
    live = TurnState()
    for i, it in enumerate(items):
        live.apply(it)
        if i % 7 == 0:
            turn_timing(live)  # read while it grows, as a live view does
    fresh = TurnState.from_items(load(RECORDINGS / "sub_agents.jsonl"))
    pd.testing.assert_frame_equal(live.spans_df, fresh.spans_df)
    pd.testing.assert_frame_equal(live.messages_df, fresh.messages_df)


def test_incremental_timing_of_interleaved_streams_matches_a_fresh_fold() -> None:
    """Two calls streaming at once (a sub-agent's deltas between the main thread's), read every few items:
    the scan over the compact item log (released deltas are recognised in its text column) times every call
    as a fresh fold does."""
    import json

    from tfwidget._itemlog import ItemLog
    from tfwidget.sse import StreamItem

    events: list[dict[str, Any]] = [
        {"type": "turn.created", "id": "tc", "turn_id": "t", "thread_id": None, "input": [],
         "state": {"status": "running"}},
        {"type": "thread.created", "id": "th", "thread_id": "sub"},
        {"type": "model.message", "id": "a", "thread_id": "main"},
        {"type": "model.message", "id": "b", "thread_id": "sub"},
        {"type": "model.message.delta", "id": "a", "thread_id": "main"},  # no token yet
    ]  # fmt: skip
    for i in range(60):
        events.append({"type": "model.message.delta", "id": "a", "thread_id": "main", "content": f"a{i} "})
        if i % 3 == 0:
            events.append({"type": "model.message.delta", "id": "b", "thread_id": "sub", "content": f"b{i} "})
        if i == 40:
            events.append(
                {"type": "model.message.delta", "id": "b", "thread_id": "sub", "finish_reason": "stop"}
            )
    events.append({"type": "model.message.delta", "id": "a", "thread_id": "main", "finish_reason": "stop"})
    events.append({"type": "turn.done", "id": "td", "thread_id": None, "state": {"status": "done"}})

    def items() -> list[StreamItem]:
        return [StreamItem(n, None, 1000.0 + n, json.dumps(e)) for n, e in enumerate(events, 1)]

    live = TurnState()
    for n, it in enumerate(items()):
        live.apply(it)
        if n % 5 == 0:
            turn_timing(live)
    assert type(live.items) is ItemLog
    fresh = TurnState()
    for it in items():
        fresh.apply(it)
    got, want = turn_timing(live), turn_timing(fresh)
    assert got.calls == want.calls
    assert got.calls["a"].first_token_at == 1006.0 and got.calls["b"].ended_at is not None
    pd.testing.assert_frame_equal(live.spans_df, fresh.spans_df)


_IDS = ["a", "b", "c"]


@st.composite
def _interleaved_turns(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Up to three calls streaming at once, some announced by ``model.message`` first, with deltas that carry
    nothing, a token, or text that spells another call's quoted id (what a text search would mistake for it)."""
    events: list[dict[str, Any]] = [
        {"type": "turn.created", "id": "tc", "turn_id": "t", "input": [], "state": {"status": "running"}}
    ]
    open_ids = draw(st.lists(st.sampled_from(_IDS), min_size=1, max_size=3, unique=True))
    for mid in open_ids:
        if draw(st.booleans()):
            events.append({"type": "model.message", "id": mid, "thread_id": "main"})
    texts = st.sampled_from(["", "x ", "a", "b", "c", '"a"', '"b"', "finish_reason"])
    for mid, text, finish in draw(
        st.lists(st.tuples(st.sampled_from(open_ids), texts, st.integers(0, 15)), max_size=60)
    ):
        if mid not in open_ids:
            continue
        ev: dict[str, Any] = {"type": "model.message.delta", "id": mid, "thread_id": "main"}
        if text:
            ev["content"] = text
        if finish == 0:
            ev["finish_reason"] = "stop"
            open_ids = [m for m in open_ids if m != mid]
        events.append(ev)
    events.append({"type": "turn.done", "id": "td", "state": {"status": "done"}})
    return events


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_interleaved_turns(), st.integers(1, 6))
def test_live_timing_reads_every_delta_that_times_a_call(events: list[dict[str, Any]], every: int) -> None:
    """The live fold notes the mid-stream deltas it merged (their message), and the timing scan skips those
    of calls that already had their first token without reading them. Read every few items as a live view
    does, it times every call as reading each item's parsed event does (the reference)."""
    import json

    from tfwidget import iter_sse
    from tfwidget.events import parse_event
    from tfwidget.sse import StreamItem
    from tfwidget.timing import _Tracker

    body = "".join(f"id: {n}\ndata: {json.dumps(e)}\n\n" for n, e in enumerate(events, 1)).encode()
    live = TurnState()
    for n, it in enumerate(iter_sse([body])):
        it.received_at = 1000.0 + n  # a distinct time per item
        live.apply(it)
        if n % every == 0:
            turn_timing(live)
    parsed = [StreamItem(n, parse_event(json.dumps(e)), 999.0 + n) for n, e in enumerate(events, 1)]

    class Reference:  # what the tracker reads of a state: its items (parsed, read one by one) and tool calls
        items = parsed
        tool_calls = live.tool_calls

    want = _Tracker().update(Reference())  # type: ignore[arg-type]
    got = turn_timing(live)
    assert {k: (c.started_at, c.first_token_at, c.ended_at) for k, c in got.calls.items()} == {
        k: (c.started_at, c.first_token_at, c.ended_at) for k, c in want.calls.items()
    }


def test_roll_ups_keep_every_other_field_of_a_span() -> None:
    from dataclasses import replace

    from tfwidget.timing import _with_totals

    st = TurnState.from_items(load(RECORDINGS / "sub_agents.jsonl"))
    for s in spans(st):
        assert _with_totals(s, 1.5, 7) == replace(s, total_cost_usd=1.5, total_tokens=7)


def test_spans_are_a_clean_api_for_tracers() -> None:
    st = TurnState.from_items(load(RECORDINGS / "sub_agents.jsonl"))
    out = spans(st)
    assert all(isinstance(s, Span) for s in out)
    by_id = {s.id: s for s in out}
    for s in out:
        if s.started_at is not None and s.ended_at is not None:
            assert s.end_ns >= s.start_ns
            assert s.duration_s == pytest.approx((s.end_ns - s.start_ns) / 1e9, abs=1e-6)
        if s.parent_id is not None:
            assert s.parent_id in by_id
    call = next(s for s in out if s.kind == "model_call")
    assert call.ttft_s is not None and "ttft_s" in call.attributes


def test_concat_stacks_spans_and_links_a_pause_to_its_decision() -> None:
    c = tfwidget.concat([RECORDINGS / "sub_agents.jsonl", RECORDINGS / "approval_pause.jsonl"])
    df = c.spans_df
    assert list(df.columns) == ["turn_id", *SPANS_COLUMNS]
    assert set(df.turn_id) == set(c.states)
    assert (df.groupby("turn_id").kind.apply(lambda k: (k == "turn").sum()) == 1).all()


# ---------------------------------------------------------------------- the simulated gateway

THINK = 0.8  # before the first token
GEN = 0.5  # first token -> finishing delta
TOOL = 1.0  # the tool's run


def _scripted() -> Scenario:
    usage = {"input_tokens": 1000, "output_tokens": 50}
    events: list[dict[str, Any]] = [
        {"type": "turn.created", "id": "e0", "input": [{"type": "user.message", "content": "hi"}]},
        {"type": "model.message", "id": "m1", "thread_id": "main"},
        {"type": "model.message.delta", "id": "m1", "thread_id": "main", "content": "Looking"},
        {"type": "model.message.delta", "id": "m1", "thread_id": "main", "tool_calls": [
            {"index": 0, "id": "call_x", "type": "function", "function": {"name": "get_x", "arguments": "{}"}}]},
        {"type": "model.message.delta", "id": "m1", "thread_id": "main", "finish_reason": "tool_calls",
         "usage": usage},
        {"type": "tool.response", "id": "r1", "thread_id": "main", "tool_call_id": "call_x", "content": "42"},
        {"type": "model.message", "id": "m2", "thread_id": "main"},
        {"type": "model.message.delta", "id": "m2", "thread_id": "main", "content": "It is 42."},
        {"type": "model.message.delta", "id": "m2", "thread_id": "main", "finish_reason": "stop", "usage": usage},
        {"type": "turn.done", "id": "d", "state": {"status": "done", "metrics": {"total_cost_in_usd": 0.01}}},
    ]  # fmt: skip
    delays = [0.0, 0.05, THINK, 0.05, GEN - 0.05, TOOL, 0.05, THINK, GEN, 0.05]
    return Scenario(name="scripted", events=events, delays=delays)


def _iso(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def test_simulated_timeline_gives_the_scripted_gaps() -> None:
    scenario = _scripted()
    with serve(scenario, speed=1) as sim, GatewayClient(sim.base_url, sim.api_key) as client:
        st = TurnState()
        items = []
        for item in client.subscribe(sim.session_id, sim.turn_id):
            st.apply(item)
            items.append(item)
        listed = TurnState.from_items(client.list_turn_events(sim.session_id, sim.turn_id))
    assert st.status == "done"
    # What holds however busy the machine: the simulator keeps an absolute schedule from the turn's creation
    # (a late event is sent late, never early) and an event is received after it was sent. So each item's
    # receive time is at least the turn's creation plus the scripted delays before it; a gap between two
    # receive times can shrink when the first of the two is received late, so gaps are checked from above.
    created = _iso(items[0].event.created_at)
    due = list(itertools.accumulate(scenario.delays))
    assert [i.sequence_number for i in items] == list(range(1, len(due) + 1))
    for item, at in zip(items, due, strict=True):
        assert item.received_at >= created + at - 0.002, (item.event.type, item.received_at - created, at)
    recv = {(i.event.type, i.event.id, k): i.received_at for k, i in enumerate(items)}
    m = st.messages_df
    assert (m.time_source == "received").all()
    # receive times: each call from its base message's arrival to its first token's and its finishing delta's
    for row, (base, first, fin) in zip(m.itertuples(), [(1, 2, 4), (6, 7, 8)], strict=True):
        mid = row.id
        start, tok, end = (recv[(t, mid, k)] for t, k in
                           (("model.message", base), ("model.message.delta", first), ("model.message.delta", fin)))  # fmt: skip
        assert row.ttft_s == pytest.approx(tok - start, abs=1e-6)
        assert row.duration_s == pytest.approx(end - start, abs=1e-6)
        assert row.ttft_s <= THINK + 3.0 and row.duration_s <= THINK + GEN + 3.0
    t = st.tool_calls_df
    assert t.tool_call_id.tolist() == ["call_x"]
    assert items[5].event.type == "tool.response"
    assert t.duration_s[0] == pytest.approx(items[5].received_at - items[4].received_at, abs=1e-6)
    assert t.duration_s[0] <= TOOL + 3.0
    # the tool started when its call ended and ended when the next call started (both within a delay)
    assert t.started_at[0] == m.ended_at[0]
    assert (m.started_at[1] - t.ended_at[0]).total_seconds() <= 0.05 + 3.0
    spans_df = st.spans_df
    turn = spans_df[spans_df.kind == "turn"].iloc[0]
    scripted_total = sum(scenario.delays)
    assert turn.duration_s == pytest.approx(items[-1].received_at - items[0].received_at, abs=1e-6)
    assert created + scripted_total - 0.002 - items[0].received_at <= turn.duration_s <= scripted_total + 5.0
    assert m.output_tokens_per_s.notna().all() and (m.output_tokens_per_s > 0).all()
    # the listed events carry the gateway's own timestamps (stamped when sent, on the scripted schedule):
    # timed by created_at, never before their scripted moment
    lt = turn_timing(listed)
    assert lt.clock == "received" or all(c.time_source == "created_at" for c in lt.calls.values())
    calls = list(lt.calls.values())
    assert all(c.time_source == "created_at" for c in calls)
    assert calls[0].started_at >= created + due[1] - 0.002 and calls[1].started_at >= created + due[6] - 0.002
    scripted_gap = THINK + GEN + TOOL + 0.05  # from m1's base to m2's
    assert calls[1].started_at - calls[0].started_at <= scripted_gap + 3.0


def test_link_pauses_closes_a_wait_with_the_decision() -> None:
    paused = TurnState.from_items(load(RECORDINGS / "approval_pause.jsonl"))
    pause = turn_timing(paused).pauses
    assert len(pause) == 1
    (p,) = pause.values()
    assert p.started_at is not None and p.ended_at is None
    call_id = p.tool_call_id
    assert call_id is not None
    # a resume turn approving the call, created 30 s after the pause
    resume = TurnState()
    resume.apply(
        tfwidget.StreamItem(
            1,
            tfwidget.parse_event(
                {
                    "type": "turn.created",
                    "id": "r0",
                    "turn_id": "t-resume",
                    "previous_turn_id": paused.turn_id,
                    "input": [
                        {
                            "type": "user.tool_approval",
                            "tool_call_id": call_id,
                            "approval": {"status": "allow"},
                        }
                    ],
                }
            ),
            p.started_at + 30.0,
        )
    )
    link_pauses([paused, resume])
    assert p.ended_at == pytest.approx(p.started_at + 30.0)
    assert p.decision == "approved"
    df = tfwidget.concat({"a": paused, "b": resume}).spans_df
    row = df[df.kind == "pause"].iloc[0]
    assert row.duration_s == pytest.approx(30.0)
    assert row.status == "approved"


def test_session_spans_close_the_wait_when_the_person_decides(monkeypatch: pytest.MonkeyPatch) -> None:
    """chat(): a paused turn's wait for approval ends when the approving turn starts, and says so."""
    import time as _time

    from tfwidget.session import chat
    from tfwidget.widget import TurnView

    monkeypatch.setattr(TurnView, "send", lambda self, content, buffers=None: None)  # no front end here
    with serve("plain_answer", speed=0) as sim, GatewayClient(sim.base_url, sim.api_key) as client:
        view = chat("sim-agent", client=client)
        view.send("Please refund order 42")
        view.wait(10)
        [p] = view.pending
        _time.sleep(0.4)  # the person reads the card
        resumed = view.approve(p.tool_call_id)
        view.wait(10)
        assert resumed.status == "done"
        df = view.spans_df
    assert list(df.columns) == ["turn_id", *SPANS_COLUMNS]
    pauses = df[df.kind == "pause"]
    assert len(pauses) == 1
    row = pauses.iloc[0]
    assert row.status == "approved" and row.parent_id == p.tool_call_id
    resume_start = df[(df.kind == "turn") & (df.turn_id == resumed.turn_id)].started_at.iloc[0]
    assert row.ended_at == resume_start
    assert 0.4 <= row.duration_s <= 30
    # the tool call's row in the paused turn says since when it waited
    calls = view.tool_calls_df
    waited = calls[calls.tool_call_id == p.tool_call_id]
    assert waited.awaiting_since.notna().any()


def test_a_linked_decision_reaches_the_paused_turns_view_spans() -> None:
    from tfwidget.timing import spans_view

    paused = TurnState.from_items(load(RECORDINGS / "approval_pause.jsonl"))
    before = [s for s in spans_view(paused) if s["kind"] == "pause"]
    assert [s["end_ms"] for s in before] == [None] and before[0]["status"] == "waiting"
    (p,) = turn_timing(paused).pauses.values()
    resume = TurnState.from_items(
        [
            tfwidget.StreamItem(
                1,
                tfwidget.parse_event(
                    {
                        "type": "turn.created",
                        "id": "r0",
                        "turn_id": "t-resume",
                        "previous_turn_id": paused.turn_id,
                        "input": [
                            {
                                "type": "user.tool_approval",
                                "tool_call_id": p.tool_call_id,
                                "approval": {"status": "deny", "reason": "too much"},
                            }
                        ],
                    }
                ),
                (p.started_at or 0) + 5.0,
            )
        ]
    )
    link_pauses([paused, resume])
    (after,) = [s for s in spans_view(paused) if s["kind"] == "pause"]
    assert after["status"] == "denied: too much"
    assert after["end_ms"] - after["start_ms"] == pytest.approx(5000, abs=2)


def test_tfwidget_show_reports_cache_reads_with_their_source_and_the_timing(tmp_path: Path) -> None:
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "tfwidget.cli", "show", str(RECORDINGS / "sub_agents.jsonl")],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    usage = next(line for line in proc.stdout.splitlines() if line.startswith("usage:"))
    assert "11,000 cache read" in usage  # metrics lack cache fields: the calls' usage is summed
    assert (
        "cache read, cache write from sum of calls' usage" in usage
        and "in, out, total from turn.done" in usage
    )
    timing = next(line for line in proc.stdout.splitlines() if line.startswith("time:"))
    st = TurnState.from_items(load(RECORDINGS / "sub_agents.jsonl"))
    assert f"time: {turn_timing(st).duration_s:.2f} s" in timing and "4 model calls" in timing
