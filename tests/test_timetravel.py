"""Time travel: ``TurnState.at(n)`` is exactly the fold of the items up to ``n``, at every position, on every
fixture and on random recordings; checkpointed seeks stay fast on a 100,000-event turn."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tfwidget import StreamItem, TurnState, load, parse_event
from tfwidget.timetravel import Checkpoints, checkpoints
from tfwidget.view import build_view

from .conftest import FIXTURES

ROOT = Path(__file__).resolve().parent.parent
RECORDINGS = sorted((ROOT / "notebooks" / "recordings").glob("*.jsonl"))


def fingerprint(state: TurnState) -> dict[str, Any]:
    """Everything a reader of the fold can see, as plain values."""
    return {
        "view": build_view(state),
        "messages": [m.model_dump(mode="json") for m in state.messages],
        "anomalies": list(state.anomalies),
        "timeline": list(state.timeline),
        "status": state.status,
        "status_reason": state.status_reason,
        "totals": state.totals(),
        "last_seq": state.last_sequence_number,
        "items": [(i.sequence_number, i.to_json()) for i in state.items],
        "threads": [
            (t.id, t.title, t.parent_thread_id, t.parent_tool_call_id, t.status, t.done_at, repr(t.output))
            for t in state.threads.values()
        ],
        "tools": [
            (k, v.id, v.message_id, v.name, v.arguments, v.status, repr(v.response), v.child_thread_id)
            for k, v in state.tool_calls.items()
        ],
        "required": [e.id for e in state.required_actions],
    }


def assert_same_fold(a: TurnState, b: TurnState) -> None:
    assert fingerprint(a) == fingerprint(b)
    for name in ("df", "messages_df", "tool_calls_df", "usage_df"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))


def _all_positions(items: list[StreamItem], every: int) -> None:
    full = TurnState.from_items(items)
    cp = checkpoints(full, every=every)
    last = items[-1].sequence_number or len(items)
    # forward, then backward: the cache must not leak state between seeks
    frames_at = {0, 1, last // 3, last // 2, last - 1, last}  # the DataFrames (slower) at a few positions
    for n in [*range(0, last + 1), *range(last, -1, -1)]:
        got = full.at(n)
        want = TurnState.from_items(items[: cp.count_at(n)])
        if n in frames_at:
            assert_same_fold(got, want)
        else:
            assert fingerprint(got) == fingerprint(want)
    assert cp.count_at(last) == len(items)


@pytest.mark.parametrize("every", [1, 3, 256])
def test_at_equals_fold_of_prefix_on_every_fixture(fixture_name: str, every: int) -> None:
    items = load(FIXTURES / f"{fixture_name}.sse")
    assert [i.sequence_number for i in items] == list(range(1, len(items) + 1))
    _all_positions(items, every)


@pytest.mark.parametrize("path", RECORDINGS, ids=[p.stem for p in RECORDINGS])
def test_at_equals_fold_of_prefix_on_every_recording(path: Path) -> None:
    _all_positions(load(path), every=4)


def test_at_n_is_items_up_to_sequence_number_n() -> None:
    items = load(FIXTURES / "sub_agents.sse")
    state = TurnState.from_items(items)
    for n in range(len(items) + 1):
        assert_same_fold(state.at(n), TurnState.from_items(items[:n]))
    assert state.at(0).items == [] and state.at(0).status == "running"
    assert_same_fold(state.at(10_000), state)  # past the end: the whole turn


def test_at_result_is_independent_and_can_continue_folding() -> None:
    items = load(FIXTURES / "approval_pause.sse")
    state = TurnState.from_items(items)
    mid = state.at(6)
    before = fingerprint(state)
    mid.extend(items[6:])  # continuing from the seek reaches the full turn
    assert_same_fold(mid, state)
    assert fingerprint(state) == before  # and nothing leaked back into the original
    again = state.at(6)
    assert len(again.items) == 6  # nor into the checkpoints


def test_checkpoints_follow_a_growing_state() -> None:
    items = load(FIXTURES / "sub_agents.sse")
    live = TurnState()
    cp = checkpoints(live, every=4)
    for k, item in enumerate(items, 1):
        live.apply(item)
        assert_same_fold(live.at(k), TurnState.from_items(items[:k]))
        assert_same_fold(live.at(max(0, k - 5)), TurnState.from_items(items[: max(0, k - 5)]))
    assert len(cp) >= len(items) // 4


def test_positions_with_gaps_and_missing_sequence_numbers() -> None:
    items = load(FIXTURES / "plain_answer.sse")
    shifted = [StreamItem(i.sequence_number + 40, i.event, i.received_at, i.raw) for i in items]
    shifted.insert(3, StreamItem(None, items[2].event, items[2].received_at, items[2].raw))
    state = TurnState.from_items(shifted)
    cp = Checkpoints(state, every=2)
    assert cp.count_at(0) == 0 and cp.count_at(40) == 0
    assert cp.count_at(41) == 1
    assert cp.count_at(43) == 4  # the unnumbered item goes with the one before it
    assert cp.sequence_number_of(4) == 43
    for n in range(0, 60):
        assert_same_fold(cp.at(n), TurnState.from_items(shifted[: cp.count_at(n)]))


def test_bad_arguments_are_clear_errors() -> None:
    state = TurnState.from_items(load(FIXTURES / "plain_answer.sse"))
    with pytest.raises(TypeError, match="sequence_number must be an int"):
        state.at("3")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="every must be at least 1"):
        Checkpoints(state, every=0)


# ----------------------------------------------------------------------------------- random recordings

_WORDS = st.sampled_from(["", "a", "b ", "héllo", " ", "\n", "**x**", "{", '"k": 1', "}", "日本", "🙂"])


@st.composite
def recordings(draw: st.DrawFn) -> list[StreamItem]:
    """A random turn stream: messages (main and sub-agent threads) streamed in random chunks, tool calls
    with chunked arguments, responses (some early, some unknown), pauses, unknown events, repeated event
    ids, odd orders, and maybe a turn.done (not always last)."""
    events: list[dict[str, Any]] = [
        {"type": "turn.created", "id": "tc", "turn_id": "t1", "input": [], "state": {"status": "running"}}
    ]
    threads = ["main"]
    calls: list[str] = []
    n_msgs = draw(st.integers(0, 4))
    for m in range(n_msgs):
        thread = draw(st.sampled_from(threads))
        mid = f"m{m}"
        events.append({"type": "model.message", "id": mid, "thread_id": thread})
        chunks: list[dict[str, Any]] = []
        for _ in range(draw(st.integers(0, 5))):
            chunks.append({"content": draw(_WORDS)})
        if draw(st.booleans()):
            chunks.append({"reasoning_content": draw(_WORDS)})
        for index in range(draw(st.integers(0, 2))):
            cid = f"c{m}_{index}"
            calls.append(cid)
            chunks.append({"tool_calls": [{"index": index, "id": cid, "type": "function",
                                           "function": {"name": f"tool{index}", "arguments": ""}}]})  # fmt: skip
            for _ in range(draw(st.integers(0, 3))):
                chunks.append({"tool_calls": [{"index": index, "function": {"arguments": draw(_WORDS)}}]})
        if draw(st.booleans()):
            chunks.append({"finish_reason": "stop", "usage": {"input_tokens": draw(st.integers(0, 99)),
                                                              "output_tokens": 3}})  # fmt: skip
        for c in chunks:
            events.append({"type": "model.message.delta", "id": mid, "thread_id": thread, **c})
        if calls and draw(st.booleans()):
            tid = f"th{m}"
            events.append({"type": "thread.created", "id": f"e-{tid}", "thread_id": tid, "title": "sub",
                           "parent": {"thread_id": thread, "tool_call_id": calls[-1]}})  # fmt: skip
            threads.append(tid)
        if calls and draw(st.booleans()):
            target = draw(st.sampled_from([*calls, "nope"]))
            events.append({"type": "tool.response", "id": f"r{m}", "thread_id": thread,
                           "tool_call_id": target, "content": draw(_WORDS)})  # fmt: skip
        if calls and draw(st.booleans()):
            events.append({"type": "tool.approval_required", "id": f"p{m}", "thread_id": thread,
                           "tool_calls": [{"id": calls[-1]}]})  # fmt: skip
        if len(threads) > 1 and draw(st.booleans()):
            events.append({"type": "thread.done", "id": f"d{m}", "thread_id": threads[-1],
                           "state": {"status": "done", "output": "ok"}})  # fmt: skip
        if draw(st.booleans()):
            events.append({"type": "x.unknown", "id": f"u{m}", "thread_id": None})
    if draw(st.booleans()):
        status = draw(st.sampled_from(["done", "cancelled", "error"]))
        events.append({"type": "turn.done", "id": "td", "thread_id": None,
                       "state": {"status": status, "reason": "r", "message": "m"}})  # fmt: skip
    # odd orders and repeats
    if len(events) > 2 and draw(st.booleans()):
        i = draw(st.integers(1, len(events) - 1))
        j = draw(st.integers(1, len(events) - 1))
        events[i], events[j] = events[j], events[i]
    if len(events) > 1 and draw(st.booleans()):
        events.append(dict(events[draw(st.integers(1, len(events) - 1))]))
    items = []
    for seq, ev in enumerate(events, 1):
        raw = json.dumps(ev)
        items.append(StreamItem(seq, parse_event(raw), 1000.0 + seq, raw))
    return items


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(recordings(), st.integers(1, 5))
def test_at_equals_fold_of_prefix_on_random_recordings(items: list[StreamItem], every: int) -> None:
    state = TurnState.from_items(items)
    checkpoints(state, every=every)
    order = [*range(len(items), -1, -1), *range(0, len(items) + 1)]
    for n in order:
        assert fingerprint(state.at(n)) == fingerprint(TurnState.from_items(items[:n]))
    half = len(items) // 2
    assert_same_fold(state.at(half), TurnState.from_items(items[:half]))


# ----------------------------------------------------------------------------------- speed


def test_seek_on_a_100k_event_turn_is_fast() -> None:
    from tfwidget.sim.scenarios import Scenario

    sc = Scenario.large(deltas=100_000)
    items = [
        StreamItem(seq, parse_event(json.dumps(ev)), 1000.0 + seq * 0.001, json.dumps(ev))
        for seq, ev in enumerate(sc.events, 1)
    ]
    state = TurnState.from_items(items)
    n = len(items)
    assert n > 100_000
    state.at(n)  # builds the checkpoints once (one fold)
    positions = [n - 1, 7, n // 2, 250, n - 300, 99_999, 1, n // 3]
    worst = 0.0
    for pos in positions:
        t0 = time.perf_counter()
        st_ = state.at(pos)
        worst = max(worst, time.perf_counter() - t0)
        assert len(st_.items) == pos
    content = state.at(n // 2).message_text(state.message_ids()[0])[0]
    assert content == "".join(
        items[i].event.content or "" for i in range(n // 2) if items[i].type == "model.message.delta"
    )
    # 100 ms on a quiet machine; the bound allows for a heavily shared one
    assert worst < 0.5, f"slowest seek took {worst * 1000:.0f} ms"
