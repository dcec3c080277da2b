"""The view model: snapshots of every fixture, and patches that reproduce them exactly."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path

import pytest

from tfwidget.events import parse_event
from tfwidget.recording import load
from tfwidget.sse import StreamItem
from tfwidget.state import TurnState
from tfwidget.view import ViewTracker, apply_patch, build_view

FIXTURES = Path(__file__).resolve().parent / "fixtures"
NAMES = sorted(p.stem for p in FIXTURES.glob("*.sse"))


def _raw_events(name: str) -> list[dict]:
    """The fixture's events as plain JSON, read without tfwidget (an independent view of the file)."""
    out = []
    for line in (FIXTURES / f"{name}.sse").read_text(encoding="utf-8").splitlines():
        if line.startswith("data:"):
            try:
                out.append(json.loads(line[5:]))
            except ValueError:
                pass
    return out


def _text(content) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(p.get("text") or "" for p in content if p.get("type") == "text")


def _item(seq: int | None, event: dict) -> StreamItem:
    return StreamItem(seq, parse_event(json.dumps(event)), 0.0, json.dumps(event))


def _stream(state: TurnState, items, flush_every: int | list[int]):
    """Fold items, flushing a patch every few items; returns (first snapshot, patches, tracker)."""
    tracker = ViewTracker()
    first = tracker.snapshot(state)
    state.take_changes()
    patches = []
    sizes = iter(flush_every) if isinstance(flush_every, list) else None
    budget = next(sizes) if sizes else flush_every
    pending = 0
    for it in items:
        state.apply(it)
        pending += 1
        if pending >= budget:
            pending = 0
            budget = next(sizes, 1) if sizes else flush_every
            p = tracker.update(state, state.take_changes())
            if p is not None:
                patches.append(p)
    p = tracker.update(state, state.take_changes())
    if p is not None:
        patches.append(p)
    return first, patches, tracker


@pytest.fixture(params=NAMES)
def name(request) -> str:
    return request.param


def test_there_are_fixtures():
    assert {"plain_answer", "sub_agents", "approval_pause"} <= set(NAMES)


def test_snapshot_matches_the_fixture(name):
    raw = _raw_events(name)
    merged = json.loads((FIXTURES / f"{name}.merged.json").read_text(encoding="utf-8"))
    view = build_view(TurnState.from_items(load(FIXTURES / f"{name}.sse")))
    json.dumps(view)  # JSON-able

    # messages: content, reasoning and tool calls as the official client merged them
    assert len(view["messages"]) == len(merged)
    for m in merged:
        v = view["messages"][m["id"]]
        assert v["content"] == _text(m.get("content"))
        assert v["reasoning"] == (m.get("reasoning_content") or "")
        assert v["refusal"] == (m.get("refusal") or "")
        assert v["finish_reason"] == m.get("finish_reason")
        assert v["streaming"] is False
        calls = [c for c in m.get("tool_calls") or [] if c]
        assert v["tool_call_ids"] == [c["id"] for c in calls]
        for c in calls:
            t = view["tools"][c["id"]]
            assert t["name"] == c["function"]["name"]
            assert t["arguments"] == c["function"]["arguments"]
            assert t["message_id"] == m["id"]
        assert v["usage"] == m.get("usage")

    # tool responses
    responses = {e["tool_call_id"]: e["content"] for e in raw if e["type"] == "tool.response"}
    for call_id, tool in view["tools"].items():
        expected = responses.get(call_id)
        if expected is not None and not isinstance(expected, str):
            expected = json.dumps(expected)
        assert tool["response"] == expected
        assert (tool["status"] == "completed") == (call_id in responses)

    # threads: main first, then every thread.created with its parent tool call
    created = [e for e in raw if e["type"] == "thread.created"]
    assert [t["id"] for t in view["threads"]] == ["main"] + [e["thread_id"] for e in created]
    for e in created:
        th = next(t for t in view["threads"] if t["id"] == e["thread_id"])
        assert th["parent_tool_call_id"] == e["parent"]["tool_call_id"]
        assert th["agent_name"] == e["agent_info"]["name"]
        assert view["tools"][e["parent"]["tool_call_id"]]["child_thread_id"] == e["thread_id"]
    done_threads = {e["thread_id"]: e["state"]["status"] for e in raw if e["type"] == "thread.done"}
    for tid, status in done_threads.items():
        assert next(t for t in view["threads"] if t["id"] == tid)["status"] == status

    # status from turn.done
    done = next(e for e in raw if e["type"] == "turn.done")["state"]
    expected_status = (
        "paused" if done["status"] == "done" and done.get("required_actions") else done["status"]
    )
    assert view["status"] == expected_status
    assert view["status_detail"] == (done.get("reason") or done.get("message"))
    assert view["completed_at"] == done.get("completed_at")

    # pauses: one card per pending tool call / sign-in event seen
    pause_events = [e for e in raw if e["type"] in ("tool.approval_required", "tool.response_required")]
    auth_events = [e for e in raw if e["type"] == "mcp.auth_required"]
    expected_pauses = sum(len(e["tool_calls"]) for e in pause_events) + len(auth_events)
    assert len(view["pauses"]) == expected_pauses
    for p in view["pauses"]:
        if p["kind"] == "approval":
            assert view["tools"][p["tool_call_id"]]["status"] == "awaiting_approval"
            assert p["arguments"] == view["tools"][p["tool_call_id"]]["arguments"]
        elif p["kind"] == "question":
            args = json.loads(view["tools"][p["tool_call_id"]]["arguments"])
            assert (p["question"], p["options"]) == (args["question"], args["options"])
        else:
            assert [s["auth_url"] for s in p["servers"]] == [
                s["auth_url"] for e in auth_events for s in e["mcp_servers"]
            ]
    assert [e["id"] for e in view["timeline"] if e["kind"] == "pause"] == [
        e["id"]
        for e in raw
        if e["type"] in ("tool.approval_required", "tool.response_required", "mcp.auth_required")
    ]

    # usage: one row per merged message with usage, in order, breakdown flattened
    with_usage = [m for m in merged if m.get("usage")]
    assert [u["message_id"] for u in view["usage"]] == [m["id"] for m in with_usage]
    for row, m in zip(view["usage"], with_usage, strict=True):
        assert row["input_tokens"] == m["usage"]["input_tokens"]
        assert row["output_tokens"] == m["usage"]["output_tokens"]
        for k, v in (m["usage"].get("input_tokens_breakdown") or {}).items():
            assert row[k] == v
    metrics = done.get("metrics")
    if metrics:
        assert view["totals"]["sources"]["input_tokens"] == "metrics"
        assert view["totals"]["input_tokens"] == metrics["total_input_tokens"]
        assert view["totals"]["cost_usd"] == metrics.get("total_cost_in_usd")
    else:
        assert view["totals"]["input_tokens"] == sum(m["usage"]["input_tokens"] for m in with_usage)

    # input
    created_ev = next(e for e in raw if e["type"] == "turn.created")
    assert [i.get("text") for i in view["input"]] == [_text(i.get("content")) for i in created_ev["input"]]
    # no deltas anywhere in the snapshot
    assert "model.message.delta" not in json.dumps(view)


@pytest.mark.parametrize("flush_every", [1, 3, 7, [1, 5, 2, 9, 1, 4]])
def test_patches_in_order_reproduce_the_snapshot(name, flush_every):
    items = load(FIXTURES / f"{name}.sse")
    state = TurnState()
    first, patches, tracker = _stream(state, items, flush_every)
    view = copy.deepcopy(first)
    for p in patches:
        json.dumps(p)
        assert apply_patch(view, p)
    assert view == build_view(state, rev=tracker.rev)
    assert view == tracker.snapshot()
    revs = [p["rev"] for p in patches]
    assert revs == sorted(set(revs))


def test_patches_are_idempotent_and_stale_ones_ignored():
    items = load(FIXTURES / "sub_agents.sse")
    state = TurnState()
    first, patches, tracker = _stream(state, items, 2)
    view = copy.deepcopy(first)
    for p in patches:
        apply_patch(view, p)
        assert not apply_patch(view, p)  # same rev: ignored
        # applying the text fields again by hand changes nothing ([offset, text] semantics)
        for mid, fields in (p.get("messages") or {}).items():
            for f in ("content", "reasoning", "refusal"):
                if f in fields:
                    offset, text = fields[f]
                    assert view["messages"][mid][f][offset:] == text
    assert view == build_view(state, rev=tracker.rev)


def test_text_is_sent_as_appends():
    events = [
        {
            "type": "turn.created",
            "id": "t0",
            "turn_id": "turn-1",
            "input": [],
            "state": {"status": "running"},
        },
        {"type": "model.message", "id": "m1", "thread_id": "main", "created_at": "2026-01-01T00:00:00Z"},
    ]
    state = TurnState()
    tracker = ViewTracker()
    tracker.snapshot(state)
    state.take_changes()
    for i, ev in enumerate(events, 1):
        state.apply(_item(i, ev))
    tracker.update(state, state.take_changes())
    sent = []
    for i, word in enumerate(["Hello", " wor", "ld"], 3):
        state.apply(
            _item(i, {"type": "model.message.delta", "id": "m1", "thread_id": "main", "content": word})
        )
        sent.append(tracker.update(state, state.take_changes())["messages"]["m1"]["content"])
    assert sent == [[0, "Hello"], [5, " wor"], [9, "ld"]]


def test_tool_call_id_arriving_late_replaces_the_provisional_entry():
    events = [
        {"type": "turn.created", "id": "t0", "turn_id": "turn-1", "input": [], "state": {"status": "running"}},
        {"type": "model.message", "id": "m1", "thread_id": "main"},
        {"type": "model.message.delta", "id": "m1", "thread_id": "main",
         "tool_calls": [{"index": 0, "function": {"name": "search", "arguments": "{\"q\":"}}]},
        {"type": "model.message.delta", "id": "m1", "thread_id": "main",
         "tool_calls": [{"index": 0, "id": "call_9", "function": {"arguments": "\"x\"}"}}],
         "finish_reason": "tool_calls"},
        {"type": "tool.response", "id": "r1", "thread_id": "main", "tool_call_id": "call_9", "content": "ok"},
    ]  # fmt: skip
    state = TurnState()
    first, patches, tracker = _stream(state, [_item(i, e) for i, e in enumerate(events, 1)], 1)
    view = copy.deepcopy(first)
    for p in patches:
        apply_patch(view, p)
    final = build_view(state, rev=tracker.rev)
    assert view == final
    assert list(final["tools"]) == ["call_9"]
    assert final["tools"]["call_9"]["arguments"] == '{"q":"x"}'
    assert final["messages"]["m1"]["tool_call_ids"] == ["call_9"]


def test_long_turn_snapshot_has_no_deltas_and_stays_small():
    words = [f"w{i} " for i in range(10_000)]
    events = [
        {
            "type": "turn.created",
            "id": "t0",
            "turn_id": "turn-long",
            "input": [],
            "state": {"status": "running"},
        },
        {"type": "model.message", "id": "m1", "thread_id": "main"},
        *({"type": "model.message.delta", "id": "m1", "thread_id": "main", "content": w} for w in words),
        {"type": "model.message.delta", "id": "m1", "thread_id": "main", "finish_reason": "stop"},
        {"type": "turn.done", "id": "t1", "state": {"status": "done"}},
    ]
    state = TurnState.from_items(_item(i, e) for i, e in enumerate(events, 1))
    view = build_view(state)
    text = "".join(words)
    assert view["messages"]["m1"]["content"] == text
    size = len(json.dumps(view))
    assert size < len(text) + 4_000, size  # the text once plus a small, constant overhead


def test_random_flush_points_property():
    rng = random.Random(7)
    for name in NAMES:
        items = load(FIXTURES / f"{name}.sse")
        sizes = [rng.randint(1, 6) for _ in range(len(items))]
        state = TurnState()
        first, patches, tracker = _stream(state, items, sizes)
        view = copy.deepcopy(first)
        for p in patches:
            apply_patch(view, p)
        assert view == build_view(state, rev=tracker.rev), name


def test_status_override_and_gap_detection():
    state = TurnState.from_items(load(FIXTURES / "plain_answer.sse")[:4])
    assert build_view(state)["status"] == "streaming"
    assert build_view(state, status="reconnecting")["status"] == "reconnecting"
    assert build_view(TurnState())["status"] == "connecting"
    v = build_view(state, status="error", detail="boom")
    assert (v["status"], v["status_detail"]) == ("error", "boom")
    assert all(not m["streaming"] for m in v["messages"].values())
    view = {"rev": 1, "messages": {"m": {"id": "m", "content": "ab"}}}
    with pytest.raises(ValueError, match="gap"):
        apply_patch(view, {"type": "patch", "rev": 2, "messages": {"m": {"content": [5, "x"]}}})


def test_spans_and_usage_travel_as_their_changed_rows() -> None:
    """A turn of many model calls, flushed after each: a patch carries the spans and usage rows that changed
    or were added (the turn's and thread's roll-ups, the new call), not the whole lists again; the patches
    still rebuild the snapshot exactly."""
    events: list[dict] = [
        {"type": "turn.created", "id": "tc", "turn_id": "t", "thread_id": None, "input": [],
         "state": {"status": "running"}},
    ]  # fmt: skip
    for m in range(12):
        events.append({"type": "model.message", "id": f"m{m}", "thread_id": "main"})
        events += [{"type": "model.message.delta", "id": f"m{m}", "thread_id": "main", "content": f"w{j} "}
                   for j in range(5)]  # fmt: skip
        events.append({"type": "model.message.delta", "id": f"m{m}", "thread_id": "main", "finish_reason": "stop",
                       "usage": {"input_tokens": 100 + m, "output_tokens": 5}})  # fmt: skip
    events.append({"type": "turn.done", "id": "td", "thread_id": None, "state": {"status": "done"}})
    state = TurnState()
    tracker = ViewTracker()
    view = tracker.snapshot(state)
    state.take_changes()
    patches = []
    for i, e in enumerate(events, 1):
        state.apply(_item(i, e))
        if e["type"] != "model.message.delta" or "finish_reason" in e:
            patch = tracker.update(state, state.take_changes())
            if patch is not None:
                patches.append(patch)
                apply_patch(view, patch)
    assert view == build_view(state, rev=tracker.rev)
    late = patches[len(patches) // 2 :]
    spans_rows = [p["rows"]["spans"] for p in late if "spans" in p.get("rows", {})]
    usage_rows = [p["rows"]["usage"] for p in late if "usage" in p.get("rows", {})]
    assert spans_rows and usage_rows
    assert not any("spans" in p.get("set", {}) or "usage" in p.get("set", {}) for p in late)
    for n, changed in spans_rows:
        assert len(changed) <= 4 < n  # turn, thread and the calls that changed, of many spans
    for n, changed in usage_rows:
        assert len(changed) == 1 and changed[0][0] == n - 1  # the new call's row, appended
