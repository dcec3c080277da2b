"""TurnView: feeding, coalesced flushes, snapshots, exports, watch() and replay().

No kernel runs here: the messages the widget sends (``send``) are captured by wrapping it, standing in for
the browser (the browser suite under tests/browser/ checks the real page).
"""

from __future__ import annotations

import asyncio
import copy
import html
import json
import re
import threading
import time
from pathlib import Path

import pytest

from tfwidget import widget as widget_mod
from tfwidget.events import parse_event
from tfwidget.player import replay
from tfwidget.recording import load
from tfwidget.sse import StreamItem
from tfwidget.state import TurnState
from tfwidget.view import apply_patch, build_view
from tfwidget.widget import TurnView, watch

FIXTURES = Path(__file__).resolve().parent / "fixtures"
NAMES = sorted(p.stem for p in FIXTURES.glob("*.sse"))
CONNECTION_KEYS = {"rev", "notices", "status_detail", "started_ms", "session_id"}


@pytest.fixture
def sent(monkeypatch):
    """Every custom message any TurnView sends, with the thread it was sent from."""
    log: list[tuple[int, dict]] = []
    lock = threading.Lock()

    def send(self, content, buffers=None):
        with lock:
            log.append((id(self), copy.deepcopy(content), threading.get_ident()))

    orig_init = TurnView.__init__

    def init(self, *args, **kwargs):
        orig_init(self, *args, **kwargs)
        self._first_snapshot = copy.deepcopy(self._view)  # what a browser opened at creation would get

    monkeypatch.setattr(TurnView, "send", send)
    monkeypatch.setattr(TurnView, "__init__", init)
    return log


def _item(seq, event, t=0.0) -> StreamItem:
    return StreamItem(seq, parse_event(json.dumps(event)), t, json.dumps(event))


def _long_turn(n: int, word: str = "tok ") -> list[StreamItem]:
    events = [
        {"type": "turn.created", "id": "t0", "turn_id": "turn-long", "input": [
            {"type": "user.message", "content": "write a lot"}], "state": {"status": "running"},
         "created_at": "2026-01-01T00:00:00Z"},
        {"type": "model.message", "id": "m1", "thread_id": "main", "created_at": "2026-01-01T00:00:01Z"},
        *({"type": "model.message.delta", "id": "m1", "thread_id": "main", "content": word} for _ in range(n)),
        {"type": "model.message.delta", "id": "m1", "thread_id": "main", "finish_reason": "stop",
         "usage": {"input_tokens": 10, "output_tokens": n}},
        {"type": "turn.done", "id": "t1", "state": {"status": "done", "completed_at": "2026-01-01T00:01:00Z"},
         "created_at": "2026-01-01T00:01:00Z"},
    ]  # fmt: skip
    return [_item(i, e) for i, e in enumerate(events, 1)]


def _replayed(view: TurnView, log) -> dict:
    """Apply the patches `view` sent, in order, to its first snapshot (as the browser does)."""
    state = copy.deepcopy(view._first_snapshot)
    for wid, msg, _ in log:
        if wid == id(view) and msg.get("type") == "patch":
            apply_patch(state, msg)
    return state


def _view_with_tap(**kwargs) -> TurnView:
    v = TurnView(**kwargs)
    v._trait_assignments = 0

    def count(_change):
        v._trait_assignments += 1

    v.observe(count, names="_view")
    return v


# ------------------------------------------------------------------ fixtures through the widget


@pytest.mark.parametrize("name", NAMES)
def test_fixture_through_widget(name, sent):
    items = load(FIXTURES / f"{name}.sse")
    v = _view_with_tap()
    for it in items:
        v.feed(it)
    v.flush()
    expected = build_view(TurnState.from_items(items))
    final = v._view
    for key in expected:
        if key not in CONNECTION_KEYS:
            assert final[key] == expected[key], key
    assert _replayed(v, sent) == final
    assert v.status == expected["status"]
    assert len(v.events) == len(items)
    r = repr(v)
    assert expected["turn_id"] in r and f"status={expected['status']}" in r
    assert "0x" not in r and " at " not in r


def test_ten_thousand_deltas_give_few_patches_and_trait_updates(sent):
    items = _long_turn(10_000)
    v = _view_with_tap(flush_interval=0.05)
    t0 = time.monotonic()
    for it in items:
        v.feed(it)
    duration = time.monotonic() - t0
    v.flush()
    patches = [m for wid, m, _ in sent if wid == id(v) and m["type"] == "patch"]
    # one patch per flush window, plus the settle points (created, message finished, turn done) and a few
    assert len(patches) <= duration / 0.05 + 6, (len(patches), duration)
    assert len(patches) < 200
    assert v._trait_assignments <= duration / 1.0 + 6, (v._trait_assignments, duration)
    assert _replayed(v, sent) == v._view
    assert v._view["messages"]["m1"]["content"] == "tok " * 10_000
    assert len(json.dumps(v._view)) < len("tok " * 10_000) + 4_000
    print(f"10,000 deltas fed in {duration:.2f}s: {len(patches)} patches, {v._trait_assignments} snapshots")


def test_slow_stream_is_coalesced_by_time(sent):
    items = _long_turn(60)
    v = _view_with_tap(flush_interval=0.05)
    t0 = time.monotonic()
    for it in items:
        v.feed(it)
        time.sleep(0.005)
    duration = time.monotonic() - t0
    time.sleep(0.1)  # let a trailing flush run
    patches = [m for wid, m, _ in sent if wid == id(v) and m["type"] == "patch"]
    assert len(patches) <= duration / 0.05 + 6
    assert len(patches) >= 3  # it did stream in between, not only at the end
    assert _replayed(v, sent) == v._view


def test_feeding_from_a_thread_sends_only_on_the_loop(sent):
    items = load(FIXTURES / "sub_agents.sse")

    async def main():
        v = _view_with_tap(flush_interval=0.02)
        loop_thread = threading.get_ident()

        def feeder():
            for it in items:
                v.feed(it)
                time.sleep(0.002)

        t = threading.Thread(target=feeder)
        t.start()
        await v.wait(timeout=10)
        t.join()
        return v, loop_thread

    v, loop_thread = asyncio.run(main())
    threads = {tid for wid, _, tid in sent if wid == id(v)}
    assert threads == {loop_thread}
    assert v._view["status"] == "done"
    assert _replayed(v, sent) == v._view
    assert v._view == {**build_view(v.state), **{k: v._view[k] for k in CONNECTION_KEYS}}


def test_hello_resyncs_the_trait(sent):
    v = _view_with_tap(flush_interval=10.0, snapshot_interval=100.0)
    items = _long_turn(50)
    for it in items[:20]:
        v.feed(it)
    rev_before = v._view["rev"]
    v._on_custom_msg(v, {"type": "hello"}, [])
    assert v._view["rev"] >= rev_before
    assert v._view == v._tracker.snapshot()
    assert v._view["messages"]["m1"]["content"] == "tok " * 18
    v._on_custom_msg(v, {"type": "hello", "reason": "gap", "rev": 3}, [])
    snaps = [m for wid, m, _ in sent if wid == id(v) and m["type"] == "snapshot"]
    assert snaps and snaps[-1]["view"] == v._view


def test_replay_speed_none_and_speed(sent):
    path = FIXTURES / "sub_agents.sse"
    v1 = replay(path)
    assert v1.status == "done"
    assert v1._view["status"] == "done"
    items = load(path)
    span = items[-1].received_at - items[0].received_at
    t0 = time.monotonic()
    v2 = replay(path, speed=span / 0.3)  # the whole turn in about 0.3 s
    assert v2.status in ("connecting", "streaming")
    asyncio.run(v2.wait(timeout=10))
    elapsed = time.monotonic() - t0
    assert 0.2 < elapsed < 5
    assert v2._view["messages"] == v1._view["messages"]
    assert v2._view["tools"] == v1._view["tools"]
    with pytest.raises(ValueError):
        replay(path, speed=0)
    with pytest.raises(ValueError, match="one recording"):
        replay(FIXTURES)


def test_replay_list_and_truncated_recording(sent):
    items = load(FIXTURES / "plain_answer.sse")
    assert replay(items).status == "done"
    v = replay(items[:-1])
    assert v.status == "error"
    assert "before turn.done" in v._view["status_detail"]


def test_stop_ends_a_replay(sent):
    items = load(FIXTURES / "sub_agents.sse")
    v = replay(items, speed=0.001)  # would take hours
    time.sleep(0.05)
    v.stop()
    asyncio.run(v.wait(timeout=5))
    assert v.status == "cancelled"
    v._thread.join(timeout=5)
    assert not v._thread.is_alive()


def test_several_views_at_once(sent):
    paths = [FIXTURES / f"{n}.sse" for n in NAMES]
    spans = [load(p) for p in paths]
    views = [
        replay(p, speed=max(1.0, (s[-1].received_at - s[0].received_at) / 0.2))
        for p, s in zip(paths, spans, strict=True)
    ]

    async def all_done():
        await asyncio.gather(*(v.wait(timeout=10) for v in views))

    asyncio.run(all_done())
    for v, items in zip(views, spans, strict=True):
        expected = build_view(TurnState.from_items(items))
        assert v._view["messages"] == expected["messages"]
        assert v._view["status"] == expected["status"]
        assert _replayed(v, sent) == v._view


# ------------------------------------------------------------------ exports and safety


XSS = [
    '<script>alert("c")</script><img src=x onerror="alert(1)"> [x](javascript:alert(2))',
    '</script><script>alert("args")</script>',
    "<svg onload=alert(3)>\u2028</script>",
]


def _xss_items() -> list[StreamItem]:
    events = [
        {"type": "turn.created", "id": "t0", "turn_id": "turn-<b>x</b>", "input": [
            {"type": "user.message", "content": XSS[2]}], "state": {"status": "running"}},
        {"type": "model.message", "id": "m1", "thread_id": "main"},
        {"type": "model.message.delta", "id": "m1", "thread_id": "main", "content": XSS[0],
         "reasoning_content": XSS[1],
         "tool_calls": [{"index": 0, "id": "c1", "type": "function",
                         "function": {"name": "run<script>", "arguments": json.dumps({"a": XSS[1]})}}],
         "finish_reason": "tool_calls"},
        {"type": "tool.response", "id": "r1", "thread_id": "main", "tool_call_id": "c1", "content": XSS[1]},
        {"type": "mcp.auth_required", "id": "a1", "thread_id": None,
         "mcp_servers": [{"id": "s", "name": "<i>gh</i>", "auth_url": "javascript:alert(4)"}]},
        {"type": "turn.done", "id": "t1", "state": {"status": "error", "message": XSS[1]}},
    ]  # fmt: skip
    return [_item(i, e) for i, e in enumerate(events, 1)]


def test_to_html_has_no_payload_execution_path(tmp_path, sent):
    v = replay(_xss_items())
    page = v.to_html()
    # exactly our three script elements: two JSON data blocks and the fixed loader
    scripts = re.findall(r"<script\b[^>]*>", page, flags=re.I)
    assert scripts == [
        '<script type="application/json" id="tfw-view">',
        '<script type="application/json" id="tfw-esm">',
        '<script type="module">',
    ]
    assert page.count("</script>") == 3
    assert "alert(" in page  # the payloads are there, as data...
    assert "<img src=x" not in page and "<svg onload" not in page  # ...never as markup
    assert "onerror=" not in page.replace("onerror=\\", "").replace("onerror=&quot;", "")
    view_json = re.search(r'id="tfw-view">(.*?)</script>', page, flags=re.S).group(1)
    assert json.loads(view_json)["messages"]["m1"]["content"] == XSS[0]
    out = tmp_path / "turn.html"
    assert v.to_html(out) == page
    assert out.read_text(encoding="utf-8") == page


def test_static_fallback_is_escaped_and_scriptless(sent):
    v = replay(_xss_items())
    bundle, metadata = v._repr_mimebundle_()
    assert metadata == {}  # outside Colab anywidget adds no display metadata
    fallback = bundle["text/html"]
    assert "<script" not in fallback.lower()
    assert "<img" not in fallback and "<svg onload" not in fallback.lower() and "<i>gh" not in fallback
    assert not re.search(r"<[^>]*\son\w+\s*=", fallback), "no element keeps an event handler"
    assert not re.search(r"""(href|src)\s*=\s*["']?\s*(javascript|data|vbscript):""", fallback, flags=re.I)
    # the only svgs are the timeline's (tfwidget.timeline), the usage chart's and its legend's swatches,
    # their texts escaped
    swatch = '<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9" aria-hidden="true"><rect '
    assert fallback.count("<svg") == fallback.count('<svg class="tfw-tls"') + fallback.count(
        '<svg class="tfws-chart"'
    ) + fallback.count(swatch)
    assert html.escape(XSS[1], quote=False) in fallback
    for href in re.findall(r'href="([^"]*)"', fallback):  # links survive only with a safe target
        assert re.match(r"^(https?:|mailto:|#)", href), href
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == v.model_id
    assert bundle["text/plain"] == repr(v)


def test_display_fallback_is_updated_at_turn_end(sent):
    class Handle:
        def __init__(self):
            self.updates = []

        def update(self, obj, **kwargs):
            self.updates.append((obj, kwargs))

    v = TurnView()
    handle = Handle()
    v._display_handles.append(handle)
    items = load(FIXTURES / "plain_answer.sse")
    for it in items[:-1]:
        v.feed(it)
    v.flush()
    assert handle.updates == []
    v.feed(items[-1])
    assert len(handle.updates) == 1
    data, kwargs = handle.updates[0]
    assert kwargs == {"raw": True}
    assert "done" in data["text/html"]
    final = TurnState.from_items(items).messages[-1].content
    assert "**Paris**" in final
    assert "<strong>Paris</strong>" in data["text/html"], "the static transcript renders the markdown"
    assert "tfws-static" in data["text/html"]


def test_missing_bundle_gives_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(widget_mod, "_ESM_PATH", tmp_path / "widget.js")
    with pytest.raises(FileNotFoundError, match="npm run build"):
        TurnView()
    with pytest.raises(FileNotFoundError, match="npm run build"):
        widget_mod.standalone_html({})


def test_save_and_dataframes(tmp_path, sent):
    v = replay(FIXTURES / "approval_pause.sse")
    out = v.save(tmp_path / "turn.jsonl")
    assert [i.event for i in load(out)] == [i.event for i in v.events]
    assert len(v.df) == len(v.events)
    assert list(v.tool_calls_df["tool_call_id"]) == list(v.state.tool_calls)
    assert len(v.messages_df) == len(v.state.message_ids())
    assert len(v.usage_df) == len(v._view["usage"])


# ------------------------------------------------------------------ watch() against the simulator


def _fold_of_log(sim) -> dict:
    events = sim.events()
    state = TurnState.from_items(_item(i, e) for i, e in enumerate(events, 1))
    return build_view(state)


_RECEIVE_TIMES = {"start_ms", "first_ms", "end_ms", "time_source"}


def _same_turn(a: dict, b: dict) -> None:
    for key in a:
        if key == "spans":  # the same tree; the times are each fold's own receive times
            strip = [{k: v for k, v in s.items() if k not in _RECEIVE_TIMES} for s in a[key]]
            assert strip == [{k: v for k, v in s.items() if k not in _RECEIVE_TIMES} for s in b[key]]
        elif key not in CONNECTION_KEYS | {"timeline", "events", "clock"}:
            assert a[key] == b[key], key


@pytest.mark.parametrize("scenario", ["sub_agents", "approval_pause"])
def test_watch_matches_the_fold_of_the_full_log(scenario, sent):
    sim_mod = pytest.importorskip("tfwidget.sim")
    with sim_mod.serve(scenario, speed=0) as sim:
        v = watch(sim.session_id, sim.turn_id, base_url=sim.base_url, api_key=sim.api_key)
        asyncio.run(v.wait(timeout=30))
        expected = _fold_of_log(sim)
        _same_turn(expected, v._view)
        assert v._view["timeline"] == expected["timeline"]
        assert _replayed(v, sent) == v._view
        key = sim.api_key
        assert key not in json.dumps(v._view)
        assert key not in repr(v)
        assert key not in v.to_html()
        assert key not in json.dumps([m for _, m, _ in sent])
        assert key not in json.dumps({k: getattr(v, k) for k in v.keys if k != "_view"}, default=str)


def test_watch_through_dropped_connections(sent):
    sim_mod = pytest.importorskip("tfwidget.sim")
    faults = sim_mod.Faults(drop_after_events=5, max_drops=3)
    with sim_mod.serve("long_markdown", speed=0, faults=faults) as sim:
        from tfwidget.client import GatewayClient

        client = GatewayClient(sim.base_url, sim.api_key, backoff=0.01)
        statuses = []
        v = watch(sim.session_id, sim.turn_id, client=client)
        v.observe(
            lambda ch: statuses.append((ch["new"]["status"], ch["new"]["status_detail"])), names="_view"
        )
        asyncio.run(v.wait(timeout=30))
        expected = _fold_of_log(sim)
        _same_turn(expected, v._view)
        assert sim.fault_stats["drops"] >= 1
        notices = [n["text"] for n in v._view["notices"]]
        assert any(t.startswith("reconnect #1") for t in notices), notices
        # a reconnect is a live status: it travels in a patch, the whole view is not re-sent for it
        patched = [m["set"]["status"] for wid, m, _ in sent if wid == id(v) and "status" in m.get("set", {})]
        assert "reconnecting" in patched, patched
        assert all(s not in ("reconnecting", "streaming") for s, _ in statuses), statuses
        client.close()


def test_watch_error_ends_the_view(sent):
    sim_mod = pytest.importorskip("tfwidget.sim")
    with sim_mod.serve("plain_answer", speed=0) as sim:
        v = watch(sim.session_id, sim.turn_id, base_url=sim.base_url, api_key="wrong-key")
        asyncio.run(v.wait(timeout=30))
        assert v.status == "error"
        assert v._view["status"] == "error"
        assert v._view["status_detail"]
        assert "wrong-key" not in json.dumps(v._view)
        assert "wrong-key" not in repr(v) and "wrong-key" not in v.to_html()


def test_stop_ends_a_watch_mid_stream(sent):
    sim_mod = pytest.importorskip("tfwidget.sim")
    with sim_mod.serve("long_markdown", speed=0.2) as sim:
        v = watch(sim.session_id, sim.turn_id, base_url=sim.base_url, api_key=sim.api_key)
        deadline = time.monotonic() + 10
        while not v.events and time.monotonic() < deadline:
            time.sleep(0.02)
        assert v.events, "nothing arrived"
        v.stop()
        v._thread.join(timeout=5)
        assert not v._thread.is_alive()
        asyncio.run(v.wait(timeout=5))
        assert v.status == "cancelled"
        assert "not cancelled" in v._view["status_detail"]
        assert v.state.done is None


# ------------------------------------------------------------------ snapshots only at settle points


def _multi_message_turn(messages: int, deltas: int) -> list[StreamItem]:
    events: list[dict] = [
        {"type": "turn.created", "id": "t0", "turn_id": "turn-multi", "input": [
            {"type": "user.message", "content": "go"}], "state": {"status": "running"},
         "created_at": "2026-01-01T00:00:00Z"},
    ]  # fmt: skip
    for m in range(messages):
        mid = f"m{m}"
        events.append(
            {"type": "model.message", "id": mid, "thread_id": "main", "created_at": "2026-01-01T00:00:01Z"}
        )
        events += [{"type": "model.message.delta", "id": mid, "thread_id": "main", "content": f"w{j} "}
                   for j in range(deltas)]  # fmt: skip
        events.append({"type": "model.message.delta", "id": mid, "thread_id": "main", "finish_reason": "stop",
                       "usage": {"input_tokens": 10, "output_tokens": deltas}})  # fmt: skip
    events.append({"type": "turn.done", "id": "t1", "created_at": "2026-01-01T00:01:00Z",
                   "state": {"status": "done", "completed_at": "2026-01-01T00:01:00Z"}})  # fmt: skip
    return [_item(i, e) for i, e in enumerate(events, 1)]


def test_whole_view_is_sent_only_at_settle_points(sent):
    """Many flushes and many finished messages: the view trait is re-sent at the turn's end only (the bytes of
    whole views stay below the patches' bytes instead of growing with the square of the turn)."""
    v = _view_with_tap(flush_interval=10.0, snapshot_interval=0.0)
    assignments_at_start = v._trait_assignments
    snapshot_bytes = []
    v.observe(lambda ch: snapshot_bytes.append(len(json.dumps(ch["new"]))), names="_view")
    items = _multi_message_turn(messages=8, deltas=300)
    for i, it in enumerate(items):
        v.feed(it)
        if i % 40 == 0:
            v._flush()  # what the flush timer does, once per window
    v.flush()
    patches = [m for wid, m, _ in sent if wid == id(v) and m["type"] == "patch"]
    assert len(patches) > 50
    assert v._trait_assignments - assignments_at_start <= 2, v._trait_assignments  # the turn's end
    patch_bytes = sum(len(json.dumps(m)) for m in patches)
    assert sum(snapshot_bytes) < patch_bytes, (snapshot_bytes, patch_bytes)
    assert _replayed(v, sent) == v._view
    assert v._view["status"] == "done"


def test_state_requested_mid_turn_is_current(sent):
    """A front end that connects (or reloads) mid-turn asks for the state: it gets the view as of the last
    patch, although the trait itself was not re-sent since the start."""
    v = _view_with_tap(flush_interval=10.0)
    items = _multi_message_turn(messages=3, deltas=200)
    half = len(items) // 2
    for i, it in enumerate(items[:half]):
        v.feed(it)
        if i % 25 == 0:
            v._flush()
    v._flush()
    state = v.get_state()
    assert state["_view"]["rev"] == v._tracker.rev
    assert state["_view"] == build_view(v.state, rev=v._tracker.rev, **v._ctx())
    joined = copy.deepcopy(state["_view"])  # a late front end: this state, then the patches after it
    seen = len(sent)
    for it in items[half:]:
        v.feed(it)
    v.flush()
    for wid, m, _ in sent[seen:]:
        if wid == id(v) and m["type"] == "patch":
            apply_patch(joined, m)
    assert joined == v._view
    assert joined["messages"]["m2"]["content"] == "".join(f"w{j} " for j in range(200))


def _raw_item(seq, event, t=0.0) -> StreamItem:
    """An item as the stream decoder hands it over: raw JSON text, parsed on first access."""
    return StreamItem(seq, None, t, json.dumps(event))


def test_feed_parses_each_delta_once_and_keeps_it_released(monkeypatch, sent):
    from tfwidget import sse as sse_mod

    items = [_raw_item(it.sequence_number, json.loads(it.raw)) for it in _long_turn(500)]
    parses = []
    real = sse_mod.parse_event

    def counting(data):
        parses.append(data)
        return real(data)

    monkeypatch.setattr(sse_mod, "parse_event", counting)
    v = TurnView()
    for it in items:
        v.feed(it)
    v.flush()
    assert len(parses) == len(items)  # not once more to decide whether to flush now
    deltas = [it for it in items if it.raw and '"model.message.delta"' in it.raw]
    assert deltas and all(it._event is None for it in deltas)  # the fold released them; nothing re-parsed
    assert v._view["messages"]["m1"]["content"] == "tok " * 500


def test_replay_at_speed_parses_each_delta_once(monkeypatch, sent):
    from tfwidget import sse as sse_mod

    items = [_raw_item(it.sequence_number, json.loads(it.raw)) for it in _long_turn(200)]
    count = [0]
    real = sse_mod.parse_event

    def counting(data):
        count[0] += 1
        return real(data)

    monkeypatch.setattr(sse_mod, "parse_event", counting)
    v = TurnView()
    v._start(lambda: v._follow(iter(items)), "test-follow")
    assert v._finished.wait(30)
    v.flush()
    assert count[0] == len(items)  # the follower reads each event before the fold releases it, not after
    assert v._view["messages"]["m1"]["content"] == "tok " * 200


def test_streamed_arguments_reach_the_page_as_appended_text_only(sent):
    events = [
        {"type": "turn.created", "id": "t0", "turn_id": "turn-args", "input": [], "state": {"status": "running"}},
        {"type": "model.message", "id": "m1", "thread_id": "main"},
        {"type": "model.message.delta", "id": "m1", "thread_id": "main",
         "tool_calls": [{"index": 0, "id": "c1", "type": "function", "function": {"name": "f", "arguments": "{"}}]},
        *({"type": "model.message.delta", "id": "m1", "thread_id": "main",
           "tool_calls": [{"index": 0, "function": {"arguments": f'"k{i}": {i}, '}}]} for i in range(300)),
    ]  # fmt: skip
    v = TurnView()
    for n, e in enumerate(events, 1):
        v.feed(_item(n, e))
        if n % 40 == 0:
            v.flush()
    v.flush()
    final = v._view["tools"]["c1"]["arguments"]
    assert final == "{" + "".join(f'"k{i}": {i}, ' for i in range(300))
    pieces = [m["tools"]["c1"]["arguments"] for wid, m, _ in sent
              if wid == id(v) and m.get("type") == "patch" and "c1" in (m.get("tools") or {})]  # fmt: skip
    assert len(pieces) >= 5
    have = 0
    for offset, text in pieces:  # every patch continues where the previous one ended
        assert offset == have
        have += len(text)
    assert have == len(final)
    assert _replayed(v, sent) == v._view


# ------------------------------------------------------------------ the front end, once per notebook


def test_saved_state_holds_the_front_end_once():
    """Three views: each carries a small loader and a reference to one bundle model; the widget state of all
    three (as a notebook saves it) holds the bundle's code once."""
    import base64
    import gzip

    from ipywidgets.embed import dependency_state

    from tfwidget._bundle import ESM_PATH, LOADER_ESM

    code = ESM_PATH.read_text(encoding="utf-8")
    views = [TurnView(_long_turn(50, word=f"v{i} ")) for i in range(3)]
    try:
        state = dependency_state(views, drop_defaults=False)
        text = json.dumps(state)
        holders = [m for m in state.values() if "code" in m["state"]]
        assert len(holders) == 1, "the bundle is stored more than once (or not at all)"
        assert gzip.decompress(base64.b64decode(holders[0]["state"]["code"])).decode() == code
        assert json.dumps(code)[1:200] not in text  # not also inline somewhere
        refs = {state[v.model_id]["state"]["_bundle"] for v in views}
        assert len(refs) == 1
        (ref,) = refs
        assert ref.startswith("IPY_MODEL_") and state[ref[len("IPY_MODEL_") :]] is holders[0]
        for v in views:
            own = state[v.model_id]["state"]
            assert own["_esm"] == LOADER_ESM and len(own["_esm"]) < 3_000
            assert own["_css"] == ""
        assert len(text) < len(code) // 2 + 3 * 40_000
    finally:
        for v in views:
            v.close()


def test_inline_bundle_where_there_is_no_widget_manager(monkeypatch):
    from tfwidget._bundle import ESM_PATH

    monkeypatch.setenv("TFWIDGET_INLINE_BUNDLE", "1")
    v = TurnView()
    try:
        assert v._esm == ESM_PATH.read_text(encoding="utf-8")
        assert v._bundle is None
    finally:
        v.close()


def test_long_views_travel_compressed(sent):
    """A long view goes over the wire (and into saved widget state) as zlib-compressed JSON in a binary buffer,
    with rev, turn_id and status beside it; a short one as plain JSON."""
    import zlib

    from ipywidgets.widgets.widget import _remove_buffers

    short = TurnView(_long_turn(10))
    assert "zlib" not in short.get_state()["_view"]
    v = TurnView(_long_turn(20_000))
    try:
        state, paths, buffers = _remove_buffers(v.get_state())
        assert ["_view", "zlib"] in paths
        packed = state["_view"]
        assert {k: packed[k] for k in ("rev", "turn_id", "status")} == {
            "rev": v._view["rev"], "turn_id": "turn-long", "status": "done"}  # fmt: skip
        raw = bytes(buffers[paths.index(["_view", "zlib"])])
        assert json.loads(zlib.decompress(raw)) == v._view
        assert len(raw) < len(json.dumps(v._view)) / 10  # "tok " repeated compresses well
    finally:
        short.close()
        v.close()


# ------------------------------------------------------------------ flush scheduling (a fake clock and timers)


class _FakeTimers:
    """``time`` and ``Deferred`` for tfwidget.widget: the clock moves only when the test moves it, and
    armed calls run only when the test runs the due ones (as the deferred thread would, in due order)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.timers: list[list] = []  # [due, fn, cancelled, fired]

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return 1.7e9 + self.now

    def Deferred(self, name: str):  # stands for the class
        fake = self

        class Deferred:
            """Like ``_threads.Deferred``: arming replaces what was armed, cancel drops it."""

            entry: list | None = None

            def arm(self, delay, fn) -> None:
                self.cancel()
                self.entry = [fake.now + delay, fn, False, False]
                fake.timers.append(self.entry)

            def cancel(self) -> None:
                if self.entry is not None:
                    self.entry[2] = True

        return Deferred()

    def live(self) -> int:
        return sum(1 for t in self.timers if not t[2] and not t[3])

    def run_due(self) -> None:
        while True:
            due = sorted((t for t in self.timers if not t[2] and not t[3] and t[0] <= self.now),
                         key=lambda t: t[0])  # fmt: skip
            if not due:
                return
            due[0][3] = True
            due[0][1]()


@pytest.fixture
def fake_timers(monkeypatch):
    import types

    fake = _FakeTimers()
    monkeypatch.setattr(widget_mod, "time", types.SimpleNamespace(monotonic=fake.monotonic, time=fake.time))
    monkeypatch.setattr(widget_mod, "Deferred", fake.Deferred)
    return fake


def test_one_flush_per_window_across_settle_points(sent, fake_timers):
    """Items every 5 ms for two seconds, with messages finishing (settle points, flushed at once) on the way:
    one patch per 50 ms window plus one per settle point. A settle point's flush must void the timer that was
    pending, or that timer fires anyway and starts a second, out-of-step chain of flushes (about three
    patches per window once a few messages have ended)."""
    clock = fake_timers
    items = _multi_message_turn(messages=4, deltas=100)
    settles = 1 + 4 + 1  # turn.created, each message's finishing delta, turn.done
    v = TurnView(flush_interval=0.05)
    start = clock.now
    for it in items:
        clock.run_due()
        v.feed(it)
        assert clock.live() <= 1  # never more than one pending flush
        clock.now += 0.005
    clock.now += 0.1
    clock.run_due()
    duration = clock.now - start
    patches = [m for wid, m, _ in sent if wid == id(v) and m["type"] == "patch"]
    assert len(patches) <= duration / 0.05 + settles + 1, (len(patches), duration)
    assert len(patches) >= duration / 0.05 - 2  # it streamed, one patch per window
    assert _replayed(v, sent) == v._view
    assert v._view["status"] == "done"


def test_items_fed_with_no_time_passing_arm_one_timer(sent, fake_timers):
    """A burst of items inside one flush window: one timer, one patch when it fires, none before."""
    clock = fake_timers
    items = _long_turn(1_000)
    v = TurnView(flush_interval=0.05)
    v.feed(items[0])  # turn.created: a settle point, flushed at once
    before = len([m for wid, m, _ in sent if wid == id(v)])
    for it in items[1:-2]:
        v.feed(it)
    assert len(clock.timers) == 1 and clock.live() == 1
    assert len([m for wid, m, _ in sent if wid == id(v)]) == before
    clock.now += 0.05
    clock.run_due()
    assert len([m for wid, m, _ in sent if wid == id(v)]) == before + 1
    assert _replayed(v, sent)["messages"]["m1"]["content"] == "tok " * 1_000


def test_a_burst_of_finishing_messages_is_shown_in_one_flush_per_frame(sent, fake_timers):
    """Messages that finish faster than a frame (a fast replay, a catch-up after a reconnect): the first is
    shown at once, the rest together one frame later, not one flush (and patch) per message; the turn's
    end is still shown at once."""
    clock = fake_timers
    items = _multi_message_turn(messages=20, deltas=3)
    v = TurnView(flush_interval=0.05)
    for it in items[:-1]:  # no time passes: every message finishes in the same instant
        v.feed(it)
    patches = [m for wid, m, _ in sent if wid == id(v) and m["type"] == "patch"]
    assert len(patches) <= 2, len(patches)  # turn.created and the first finishing message
    assert clock.live() == 1
    clock.now += widget_mod._SETTLE_GAP  # one frame: not the whole flush window
    clock.run_due()
    shown = _replayed(v, sent)
    assert all(shown["messages"][f"m{k}"]["finish_reason"] == "stop" for k in range(20))
    assert len([m for wid, m, _ in sent if wid == id(v) and m["type"] == "patch"]) == len(patches) + 1
    v.feed(items[-1])  # turn.done: at once, no time passing
    assert v._view["status"] == "done" and v._finished.is_set()
    assert _replayed(v, sent) == v._view


def test_a_settle_point_builds_the_whole_view_once(monkeypatch, sent):
    """The whole view is copied and encoded once when it is sent at a settle point (not a second time by
    get_state, which ipywidgets calls while the trait is being assigned)."""
    from tfwidget.view import ViewTracker

    calls = []
    real = ViewTracker.snapshot

    def counting(self, state=None, **ctx):
        calls.append(state is None)
        return real(self, state, **ctx)

    v = TurnView()
    items = _long_turn(50)
    for it in items[:-1]:
        v.feed(it)
    v._flush()
    monkeypatch.setattr(ViewTracker, "snapshot", counting)
    v.feed(items[-1])  # turn.done: a settle point, the whole view is sent
    assert v._view["status"] == "done"
    assert calls == [True], calls
    assert _replayed(v, sent) == v._view


def _decoded(items: list[StreamItem]) -> list[StreamItem]:
    """The same items as the stream decoder hands them over (text deltas checked by its strict schema)."""
    from tfwidget import iter_sse

    data = "".join(f"id: {it.sequence_number}\ndata: {it.raw}\n\n" for it in items).encode()
    return list(iter_sse(data))


def test_feed_folds_text_deltas_in_batches_not_one_by_one(monkeypatch, sent):
    """Text deltas are queued by ``feed`` and folded together (``TurnState.extend``) by the next flush or read:
    the per-item ``apply`` runs only for the items that settle something (created, finishing deltas, done)."""
    items = _decoded(_multi_message_turn(messages=3, deltas=2_000))
    calls = [0]
    real = TurnState.apply

    def counting(self, item):
        calls[0] += 1
        return real(self, item)

    monkeypatch.setattr(TurnState, "apply", counting)
    v = TurnView()
    for it in items:
        assert v.feed(it)
    v.flush()
    assert calls[0] <= 20, calls[0]  # one per item before: 6,008
    monkeypatch.undo()
    want = TurnState.from_items(_decoded(_multi_message_turn(messages=3, deltas=2_000)))
    assert [v._state.message_text(m) for m in want.message_ids()] == [
        want.message_text(m) for m in want.message_ids()]  # fmt: skip
    assert _replayed(v, sent) == v._view and v._view["status"] == "done"


def test_a_fed_delta_is_read_at_once_and_replays_still_say_so(sent):
    """What ``feed`` queued is folded before anything reads the fold: ``state``, the frames, ``feed`` of an
    item that is not queued. A replay of a queued item is still refused (``False``)."""
    items = _decoded(_long_turn(10))
    v = TurnView(flush_interval=60.0)
    for it in items[:6]:
        assert v.feed(it)
    assert v._queue  # text deltas wait for the flush
    assert v.state.message_text("m1")[0] == "tok " * 4
    assert not v._queue
    v.feed(items[6])
    assert len(v.df) == 7
    again = _decoded(_long_turn(10))
    assert v.feed(again[5]) is False  # a replay of a delta fed (and queued) before
    assert v.feed(again[6]) is False
    assert v.state.message_text("m1")[0] == "tok " * 5
    for it in items[7:]:
        v.feed(it)
    assert v._view["status"] == "done"
    assert v._view["messages"]["m1"]["content"] == "tok " * 10


def test_the_queue_stays_bounded_when_no_flush_can_run(sent, fake_timers):
    """A feeder faster than the flushes (a loop that cannot turn between the items): ``feed`` folds the queue
    itself at its bound, so it never holds more than that many items."""
    items = _decoded(_long_turn(3 * widget_mod._QUEUE_MAX))
    v = TurnView(flush_interval=0.05)
    longest = 0
    for it in items[:-2]:
        v.feed(it)
        longest = max(longest, len(v._queue))
    assert 0 < longest <= widget_mod._QUEUE_MAX
    assert len(v._fold.items) >= len(items) - 2 - widget_mod._QUEUE_MAX  # folded on the way, not at the end


def test_a_delta_fed_while_a_flush_runs_is_shown_without_another_feed(sent):
    """A feeder thread and flushes on another thread, with no ``turn.done`` at the end: every delta reaches the
    page by the flushes alone (one fed while a flush folded the queue asks for a flush of its own)."""
    for attempt in range(5):
        items = _decoded(_long_turn(3_000))[
            :-2
        ]  # no finishing delta, no turn.done: nothing urgent at the end
        v = TurnView(flush_interval=0.002)
        stop = threading.Event()

        def flusher(v=v, stop=stop):
            while not stop.is_set():
                v._flush(token=None)

        th = threading.Thread(target=flusher)
        th.start()
        try:
            for it in items:
                v.feed(it)
        finally:
            stop.set()
            th.join()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # the timers alone: no read, no flush() from here
            if v._tracker.view["messages"].get("m1", {}).get("content") == "tok " * 3_000:
                break
            time.sleep(0.01)
        assert v._tracker.view["messages"]["m1"]["content"] == "tok " * 3_000, attempt
        assert _replayed(v, sent)["messages"]["m1"]["content"] == "tok " * 3_000
        v.close()
