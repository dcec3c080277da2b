"""Hostile content through the fold, the view model and TurnView: bounded, kept, never a dead view.

Every turn here is served over loopback HTTP by the embedded gateway and followed with ``watch()``."""

from __future__ import annotations

import asyncio
import json
import time
import tracemalloc

import pytest

from tfwidget.events import parse_event
from tfwidget.player import replay
from tfwidget.sim import serve
from tfwidget.sse import StreamItem
from tfwidget.state import MAX_TOOL_CALL_INDEX, TurnState
from tfwidget.widget import watch

from .hostile import ASK, bad_index_turn, deep_arguments_turn, deep_json

pytestmark = pytest.mark.timeout(120)

BAD_INDEXES = [-1, MAX_TOOL_CALL_INDEX + 1, 10**8, 2 * 10**9]


def _watch(sim):
    return watch(sim.session_id, sim.turn_id, base_url=sim.base_url, api_key=sim.api_key)


def test_absurd_tool_call_indexes_are_anomalies_and_the_turn_finishes() -> None:
    with serve(bad_index_turn(BAD_INDEXES), speed=0) as sim:
        v = _watch(sim)
        asyncio.run(v.wait(timeout=60))
    assert v.status == "done", v._view.get("status_detail")
    st = v.state
    bad = [a for a in st.anomalies if a.kind == "invalid_tool_call_index"]
    assert [a.message.split()[5] for a in bad] == [str(i) for i in BAD_INDEXES]
    # the event is kept, the rest of the delta and everything after it applied
    assert len(st.items) == len(sim.events())
    (first, second) = st.message_ids()
    assert st.message_text(first)[0] == "text after the bad chunks"
    assert st.message_text(second)[0] == "The final answer."
    assert list(st.tool_calls) == ["call_ok"] and st.tool_calls["call_ok"].status == "completed"
    assert st.tool_calls["call_ok"].arguments == '{"q": 1}'
    assert v.tool_calls_df["tool_call_id"].tolist() == ["call_ok"]
    assert "index -1 skipped (allowed: 0..4095) (and 3 more" in json.dumps(v._view["notices"])


@pytest.mark.parametrize("index", [10**8, 2 * 10**9, -1])
def test_one_absurd_index_costs_no_memory(index: int) -> None:
    st = TurnState()
    st.apply(StreamItem(1, parse_event({"type": "model.message", "id": "m", "thread_id": "main"})))
    delta = {"type": "model.message.delta", "id": "m", "thread_id": "main",
             "tool_calls": [{"index": index, "id": "x", "function": {"name": "f"}}]}  # fmt: skip
    tracemalloc.start()
    try:
        st.apply(StreamItem(2, parse_event(delta), raw=json.dumps(delta)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000, peak
    assert st.anomalies[-1].kind == "invalid_tool_call_index"
    assert st.messages[0].tool_calls in (None, [])


def test_deep_json_in_arguments_and_responses_is_kept_as_text() -> None:
    depth = 20_000
    with serve(deep_arguments_turn(depth), speed=0) as sim:
        v = _watch(sim)
        asyncio.run(v.wait(timeout=60))
    assert v.status == "paused", v._view.get("status_detail")
    deep = deep_json(depth)
    st = v.state
    assert st.tool_calls["call_deep"].arguments == deep
    assert st.tool_calls["call_deep"].response == deep
    assert st.tool_calls["call_ask"].arguments == deep
    texts = [st.message_text(m)[0] for m in st.message_ids()]
    assert "Text after the deep tool call." in texts
    (pause,) = v._view["pauses"]
    assert pause["kind"] == "question" and pause["pending"] and pause["arguments"] == deep
    page = v.to_html()
    assert "Text after the deep tool call." in page
    bundle, _ = v._repr_mimebundle_()
    assert "Text after the deep tool call." in bundle["text/html"]
    assert v.tool_calls_df.set_index("tool_call_id").loc["call_ask", "arguments"] == deep


def test_deep_json_in_a_recording_replays() -> None:
    sc = deep_arguments_turn(5000, question=False)
    with serve(sc, speed=0) as sim:
        v = _watch(sim)
        asyncio.run(v.wait(timeout=60))
        assert v.status == "done"
        items = v.events
    r = replay(items, speed=1000.0)
    asyncio.run(r.wait(timeout=60))
    assert r.status == "done"
    assert "Text after the deep tool call." in r.to_html()


def test_a_follower_that_cannot_render_ends_the_view_in_error() -> None:
    """A turn whose content makes a later stage fail still ends: wait() returns, the view says error."""
    started = time.monotonic()
    with serve(deep_arguments_turn(20_000), speed=0) as sim:
        v = _watch(sim)
        asyncio.run(v.wait(timeout=60))
    assert time.monotonic() - started < 60
    assert v.status in ("paused", "error")


def test_a_session_follower_fed_deep_json_finishes(sent) -> None:
    from tfwidget.client import GatewayClient
    from tfwidget.session import chat

    with serve(deep_arguments_turn(20_000, hold=1.0), speed=1) as sim:
        client = GatewayClient(sim.base_url, sim.api_key)
        view = chat(session_id=sim.session_id, client=client)
        try:
            turn = view.wait(60)
            assert turn is not None and turn.status == "paused", turn and turn._view.get("status_detail")
            assert [p.tool_call_id for p in view.pending] == ["call_ask"]
        finally:
            view.close()
            client.close()


# ---------------------------------------------------------------- the guard: no follower dies silently


@pytest.fixture
def sent(monkeypatch):
    """Keep custom messages off the (missing) comm: record them."""
    from tfwidget.widget import TurnView

    log: list[dict] = []
    monkeypatch.setattr(TurnView, "send", lambda self, content, buffers=None: log.append(content))
    return log


@pytest.fixture
def unrenderable(monkeypatch):
    """A stage of the view model that fails on one piece of content, the way a parser bug would: questions
    whose arguments carry the marker raise. (Stands for any content a later stage cannot handle.)"""
    from tfwidget import view as view_mod

    real = view_mod._question

    def question(arguments: str):
        if "UNRENDERABLE" in arguments:
            raise RuntimeError("cannot render this question")
        return real(arguments)

    monkeypatch.setattr(view_mod, "_question", question)


def _unrenderable_turn(hold: float = 0.0):
    from .hostile import _Builder, _user

    b = _Builder([_user("go")], seed=3)
    b.event({"type": "sandbox.created", "thread_id": None, "sandbox_id": "s1"}, delay=hold)
    msg = b.message("main", tool_calls=[{"id": "call_ask", "name": "ask_user_question",
                                         "tool_info": ASK, "arguments": '{"question": "UNRENDERABLE"}'}])  # fmt: skip
    pause = b.event({"type": "tool.response_required", "thread_id": "main",
                     "tool_calls": [{"id": "call_ask", "source_event_id": msg["id"]}]})  # fmt: skip
    b.message("main", content="after the question")
    b.done(required_actions=[pause])
    sc = b.scenario("unrenderable", "a question a later stage cannot render")
    sc.delays = [0.0] * len(sc.events)
    sc.delays[1] = hold
    return sc


def test_watch_view_that_cannot_be_rendered_ends_in_error_with_the_reason(sent, unrenderable) -> None:
    with serve(_unrenderable_turn(), speed=0) as sim:
        v = _watch(sim)
        asyncio.run(v.wait(timeout=60))
    assert v.status == "error"
    assert v._view["status"] == "error"
    assert "RuntimeError: cannot render this question" in v._view["status_detail"]
    assert "cannot render this question" in v.to_html()
    # the error snapshot is newer than every patch, so a page that applied them takes it
    assert v._view["rev"] > max(p["rev"] for p in sent if p.get("type") == "patch")
    # the fold went on: everything after the failure reaches the state and the DataFrames
    deadline = time.monotonic() + 30
    while v.state.done is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert v.state.done is not None
    assert "after the question" in v.messages_df["content"].dropna().tolist()


def test_session_follower_that_cannot_render_ends_in_error(sent, unrenderable) -> None:
    from tfwidget.client import GatewayClient
    from tfwidget.session import chat

    with serve(_unrenderable_turn(hold=1.0), speed=1) as sim:
        client = GatewayClient(sim.base_url, sim.api_key)
        view = chat(session_id=sim.session_id, client=client)
        try:
            turn = view.wait(60)
            assert turn is not None and turn.status == "error"
            assert "cannot render this question" in turn._view["status_detail"]
        finally:
            view.close()
            client.close()


def test_remote_media_option() -> None:
    import tfwidget
    from tfwidget.widget import TurnView

    assert TurnView().remote_media is False
    assert TurnView(remote_media=True).remote_media is True
    try:
        tfwidget.allow_remote_media()
        assert TurnView().remote_media is True
        assert TurnView(remote_media=False).remote_media is False
    finally:
        tfwidget.allow_remote_media(False)
    with pytest.raises(TypeError):
        tfwidget.allow_remote_media("yes")  # type: ignore[arg-type]


def test_replay_thread_that_cannot_render_ends_in_error(sent, unrenderable) -> None:
    with serve(_unrenderable_turn(), speed=0) as sim:
        sim.wait(timeout=30)
        from tfwidget.client import GatewayClient

        with GatewayClient(sim.base_url, sim.api_key) as client:
            items = list(client.subscribe(sim.session_id, sim.turn_id))
    r = replay(items, speed=1000.0)
    asyncio.run(r.wait(timeout=60))
    assert r.status == "error" and "cannot render this question" in r._view["status_detail"]
