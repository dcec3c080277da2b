"""Images, input files, sandbox artifacts and offloaded tool results, against the embedded gateway."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from truefoundry_gateway_sdk.agents import merge_event_delta
from truefoundry_gateway_sdk.types import ModelMessageDeltaEvent as SdkDelta
from truefoundry_gateway_sdk.types import ModelMessageEvent as SdkMessage

from tfwidget import TurnState
from tfwidget.artifacts import (
    FileTooLargeError,
    SandboxFileNotFoundError,
    SandboxGoneError,
    SandboxUnavailableError,
    check_sandbox_path,
    classify_image_url,
    find_offloaded,
    input_files,
    parse_sandbox_artifacts,
)
from tfwidget.client import GatewayClient
from tfwidget.errors import NotFoundError
from tfwidget.events import parse_event
from tfwidget.sim import Simulator
from tfwidget.sim.artifacts_scenario import ARTIFACT_FILES, OFFLOADED_PATH, SANDBOX_ID
from tfwidget.view import build_view

from .conftest import drop_none

PNG = "data:image/png;base64,iVBORw0KGgo="


@pytest.fixture(scope="module")
def sim() -> Any:
    with Simulator("artifacts", speed=0) as s:
        assert s.wait(timeout=30)
        yield s


@pytest.fixture()
def client(sim: Simulator) -> Any:
    with GatewayClient(sim.base_url, sim.api_key) as c:
        yield c


def _state(sim: Simulator, client: GatewayClient) -> TurnState:
    return TurnState.from_items(client.subscribe(sim.session_id, sim.turn_id))


# ------------------------------------------------------------------------------------- pure parsing


def test_image_urls_are_classified() -> None:
    assert classify_image_url(PNG)["kind"] == "data"
    assert classify_image_url("data:image/webp;base64,AAAA")["kind"] == "data"
    for bad in (
        "data:text/html;base64,PHNjcmlwdD4=",
        "data:image/svg+xml;base64,PHN2Zz4=",
        "javascript:alert(1)",
    ):
        got = classify_image_url(bad)
        assert got["kind"] == "refused" and got["reason"], bad
    huge = classify_image_url("data:image/png;base64," + "A" * (9 * 1024 * 1024))
    assert huge["kind"] == "refused" and "too large to show (6.8 MB)" in huge["reason"]
    remote = classify_image_url("https://img.example.com/a.png")
    assert remote == {"kind": "remote", "host": "img.example.com", "url": "https://img.example.com/a.png"}


def test_sandbox_paths_are_checked() -> None:
    assert check_sandbox_path("/workspace/a b.csv") == "/workspace/a b.csv"
    for bad, why in [
        ("javascript:alert(1)", "not absolute"),
        ("../../etc/passwd", "not absolute"),
        ("/workspace/../etc/passwd", "'..'"),
        ("/a\x00b", "control"),
        ("", "non-empty"),
    ]:
        with pytest.raises(ValueError, match=why):
            check_sandbox_path(bad)


def test_sandbox_artifacts_block_is_parsed() -> None:
    text = (
        "Done.\n\n```sandbox_artifacts\n[Summary](/workspace/out/summary.csv)\n[chart](/workspace/c.png)\n"
        "[evil](javascript:alert(1))\n[up](../secret)\n[Summary again](/workspace/out/summary.csv)\n```\n"
        "and [a link](/not/an/artifact) outside"
    )
    arts = parse_sandbox_artifacts(text, message_id="m1", thread_id="main")
    assert [(a.path, a.label, a.error is None) for a in arts] == [
        ("/workspace/out/summary.csv", "Summary", True),
        ("/workspace/c.png", "chart", True),
        ("javascript:alert(1)", "evil", False),
        ("../secret", "up", False),
    ]
    assert arts[0].name == "summary.csv" and arts[0].message_id == "m1"
    assert parse_sandbox_artifacts("```python\n[x](/a)\n```") == []


def test_offloaded_results_are_detected() -> None:
    found = find_offloaded(
        "Output too large (48,213 bytes) and was saved to /workspace/.r/call_1.txt\n\nPreview:\nab"
    )
    assert found == {"path": "/workspace/.r/call_1.txt", "size": 48213.0, "unit": "bytes"}
    assert find_offloaded({"offloaded": True, "path": "/w/r.json", "size_bytes": 10})["path"] == "/w/r.json"
    assert find_offloaded("the order was saved to the database") is None
    assert find_offloaded("saved to ../../etc/passwd") is None
    assert find_offloaded({"path": "/w/x"}) is None  # a tool result that merely has a path field


def test_input_files() -> None:
    files = input_files(
        [
            {"type": "text", "text": "hi"},
            {"type": "file", "name": "a.csv", "data": "data:text/csv;base64,YSxiCjEsMgo="},
            {"type": "file", "name": "p.png", "data": PNG},
            {"type": "file", "name": "x.svg", "data": "data:image/svg+xml;base64,PHN2Zz4="},
        ]
    )
    assert files[0] == {"name": "a.csv", "mime": "text/csv", "size": 8, "thumbnail": None}
    assert files[1]["thumbnail"] == PNG and files[1]["mime"] == "image/png"
    assert files[2]["thumbnail"] is None  # an SVG is never a thumbnail


# --------------------------------------------------------------------- streamed image blocks (fold)


def _events(content: Any) -> list[dict[str, Any]]:
    base = {"type": "model.message", "id": "m", "thread_id": "t", "created_at": "2026-01-01T00:00:00Z"}
    if content is not None:
        base["content"] = content
    blocks = [
        {"index": 1, "delta": {"type": "image_url", "image_url": {"url": PNG[:20]}}},
    ]
    return [
        base,
        {
            "type": "model.message.delta",
            "id": "m",
            "thread_id": "t",
            "content": "Here",
            "content_blocks": blocks,
        },
        {
            "type": "model.message.delta",
            "id": "m",
            "thread_id": "t",
            "content_blocks": [{"index": 1, "delta": {"type": "image_url", "image_url": {"url": PNG[20:]}}}],
        },
        {"type": "model.message.delta", "id": "m", "thread_id": "t", "content": " it is"},
        {"type": "model.message.delta", "id": "m", "thread_id": "t", "finish_reason": "stop"},
    ]


@pytest.mark.parametrize("content", [None, "", [{"type": "text", "text": "A"}]])
def test_streamed_image_blocks_match_the_official_merge_and_show_when_complete(content: Any) -> None:
    events = _events(content)
    state = TurnState()
    sdk = SdkMessage.model_validate(events[0])
    for i, ev in enumerate(events):
        state.apply(parse_event(json.loads(json.dumps(ev))))
        if i:
            merge_event_delta(sdk, SdkDelta.model_validate(ev))
        images = state.message_images("m")
        if i < 4:  # the block is not complete before the message finishes (no later block either)
            assert images == []
    assert drop_none(state.messages[0].model_dump(mode="json")) == drop_none(sdk.model_dump(mode="json"))
    assert state.message_images("m") == [{"kind": "data", "src": PNG, "mime": "image/png"}]
    assert int(state.messages_df["n_images"].iloc[0]) == 1


def test_a_later_block_completes_an_earlier_one() -> None:
    state = TurnState()
    state.apply(parse_event({"type": "model.message", "id": "m", "thread_id": "t", "created_at": "x"}))
    for index in (0, 1):
        state.apply(
            parse_event(
                {
                    "type": "model.message.delta",
                    "id": "m",
                    "thread_id": "t",
                    "content_blocks": [
                        {"index": index, "delta": {"type": "image_url", "image_url": {"url": PNG}}}
                    ],
                }
            )
        )
    assert len(state.message_images("m")) == 1  # index 0 complete, index 1 still streaming


# ------------------------------------------------------------------------- the scenario, over HTTP


def test_scenario_views_and_frames(sim: Simulator, client: GatewayClient) -> None:
    state = _state(sim, client)
    view = build_view(state)
    final = [m for m in view["messages"].values() if m.get("artifacts")]
    assert len(final) == 1
    assert [a["path"] for a in final[0]["artifacts"]] == [
        "/workspace/out/summary.csv",
        "/workspace/out/chart.png",
        "/workspace/out/notes.txt",
    ]
    assert final[0]["images"][0]["kind"] == "data"
    files = view["input"][0]["files"]
    assert [f["name"] for f in files] == ["revenue.csv", "logo.png"]
    assert files[1]["thumbnail"].startswith("data:image/png;base64,")
    tool = next(iter(view["tools"].values()))
    assert tool["offloaded"]["path"] == OFFLOADED_PATH
    assert state.tool_calls_df["offloaded_path"].tolist() == [OFFLOADED_PATH]
    assert state.messages_df["n_images"].tolist() == [0, 1]


def test_download_sandbox_file_sync_and_async(sim: Simulator, client: GatewayClient, tmp_path: Any) -> None:
    for path, data in ARTIFACT_FILES.items():
        got = client.download_sandbox_file(SANDBOX_ID, path)
        assert got.data == data and got.size == len(data)
    png = client.download_sandbox_file(SANDBOX_ID, "/workspace/out/chart.png")
    assert png.content_type == "image/png" and png.data is not None and png.data.startswith(b"\x89PNG")
    seen: list[tuple[int, int | None]] = []
    saved = client.download_sandbox_file(
        SANDBOX_ID, OFFLOADED_PATH, to=tmp_path, on_progress=lambda n, total: seen.append((n, total))
    )
    assert saved.saved_to == tmp_path / "call_run_1.txt" and saved.data is None
    assert saved.saved_to.read_bytes() == ARTIFACT_FILES[OFFLOADED_PATH]
    assert seen[-1] == (len(ARTIFACT_FILES[OFFLOADED_PATH]), len(ARTIFACT_FILES[OFFLOADED_PATH]))

    async def run() -> bytes | None:
        async with GatewayClient(sim.base_url, sim.api_key) as ac:
            f = await ac.adownload_sandbox_file(SANDBOX_ID, "/workspace/out/summary.csv")
            return f.data

    assert asyncio.run(run()) == ARTIFACT_FILES["/workspace/out/summary.csv"]


def test_download_errors_are_typed_and_clear(sim: Simulator, client: GatewayClient, tmp_path: Any) -> None:
    with pytest.raises(SandboxFileNotFoundError, match="does not exist") as e404:
        client.download_sandbox_file(SANDBOX_ID, "/workspace/nope.txt")
    assert isinstance(e404.value, NotFoundError) and e404.value.status == 404
    with pytest.raises(ValueError, match="not absolute"):
        client.download_sandbox_file(SANDBOX_ID, "../../etc/passwd")
    with pytest.raises(ValueError, match="sandbox_id"):
        client.download_sandbox_file("a/b", "/x")
    sim.sandbox.put("sbx-big", "/big.bin", size=1 << 30)
    with pytest.raises(FileTooLargeError, match=r"1\.0 GB, over the limit of 100\.0 MB"):
        client.download_sandbox_file("sbx-big", "/big.bin")
    sim.sandbox.put("sbx-big", "/mid.bin", size=300_000)
    with pytest.raises(FileTooLargeError, match="over the limit"):
        client.download_sandbox_file("sbx-big", "/mid.bin", max_bytes=100_000, to=tmp_path)
    assert list(tmp_path.iterdir()) == []  # no partial file left behind
    sim.sandbox.put("sbx-big", "/refused.bin", b"x", status=413)
    with pytest.raises(FileTooLargeError, match="HTTP 413") as e413:
        client.download_sandbox_file("sbx-big", "/refused.bin")
    assert e413.value.status == 413
    sim.sandbox.put("sbx-down", "/a.txt", b"a")
    sim.sandbox.failing.add("sbx-down")
    with pytest.raises(SandboxUnavailableError, match="HTTP 424"):
        client.download_sandbox_file("sbx-down", "/a.txt")
    sim.sandbox.put("sbx-gone", "/a.txt", b"a")
    sim.sandbox.gone.add("sbx-gone")
    with pytest.raises(SandboxGoneError, match=r"is gone \(HTTP 410\).*no longer exists") as e410:
        client.download_sandbox_file("sbx-gone", "/a.txt")
    assert sim.api_key not in str(e410.value) and e410.value.status == 410


# ------------------------------------------------------------------------------- the TurnView side


class _Tap:
    """Collects what a TurnView sends to the page (there is no front end in these tests)."""

    def __init__(self) -> None:
        self.sent: list[tuple[dict[str, Any], list[bytes]]] = []

    def __call__(self, content: Any, buffers: Any = None) -> None:
        self.sent.append((content, [bytes(b) for b in buffers or []]))

    def wait_for(self, req: int, timeout: float = 30.0) -> tuple[dict[str, Any], list[bytes]]:
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for content, buffers in self.sent:
                if content.get("req") == req and content["type"] in ("artifact_data", "artifact_error"):
                    return content, buffers
            time.sleep(0.02)
        raise AssertionError(f"no answer to request {req}: {[c for c, _ in self.sent]}")


def test_turnview_artifacts_download_and_page_intents(sim: Simulator, tmp_path: Any) -> None:
    from tfwidget.widget import watch

    w = watch(sim.session_id, sim.turn_id, base_url=sim.base_url, api_key=sim.api_key)
    asyncio.run(w.wait(timeout=30))
    assert [a["path"] for a in w.artifacts] == [
        "/workspace/out/summary.csv",
        "/workspace/out/chart.png",
        "/workspace/out/notes.txt",
    ]
    assert w.artifacts[0]["label"] == "Revenue summary (CSV)" and w.artifacts[0]["thread_id"] == "main"
    df = w.artifacts_df
    assert df["path"].tolist() == [a["path"] for a in w.artifacts] and df["error"].isna().all()
    saved = w.download("/workspace/out/chart.png", to=tmp_path)
    assert saved.saved_to == tmp_path / "chart.png"
    assert saved.saved_to.read_bytes() == ARTIFACT_FILES["/workspace/out/chart.png"]
    assert w.download("/workspace/out/notes.txt").data == ARTIFACT_FILES["/workspace/out/notes.txt"]
    with pytest.raises(ValueError, match="not absolute"):
        w.download("../notes.txt")

    tap = _Tap()
    w.send = tap  # type: ignore[method-assign]
    w._on_custom_msg(w, {"type": "artifact", "action": "fetch", "req": 1, "path": OFFLOADED_PATH}, [])
    content, buffers = tap.wait_for(1)
    assert content["type"] == "artifact_data" and buffers == [ARTIFACT_FILES[OFFLOADED_PATH]]
    assert content["size"] == len(ARTIFACT_FILES[OFFLOADED_PATH]) and content["name"] == "call_run_1.txt"
    # the page may only ask for files the turn lists
    w._on_custom_msg(w, {"type": "artifact", "action": "fetch", "req": 2, "path": "/etc/passwd"}, [])
    content, buffers = tap.wait_for(2)
    assert (
        content["type"] == "artifact_error"
        and "not a file this turn lists" in content["message"]
        and not buffers
    )
    w._on_custom_msg(w, {"type": "artifact", "action": "fetch", "req": 3, "path": "javascript:alert(1)"}, [])
    assert "Refused" in tap.wait_for(3)[0]["message"]
    # over the page's limit: a clear message pointing at view.download
    w.page_max_bytes = 10
    w._on_custom_msg(
        w, {"type": "artifact", "action": "fetch", "req": 4, "path": "/workspace/out/summary.csv"}, []
    )
    content, _ = tap.wait_for(4)
    assert content["type"] == "artifact_error" and "too large to open here" in content["message"]
    assert "view.download('/workspace/out/summary.csv'" in content["message"]
    assert all(sim.api_key not in json.dumps(c) for c, _ in tap.sent)
    w.stop()


def test_static_transcript_shows_images_files_and_artifacts() -> None:
    from tfwidget.sim import Scenario
    from tfwidget.widget import transcript_html

    state = TurnState()
    for ev in Scenario.load("artifacts", hostile=True).events:
        state.apply(parse_event(ev))
    page = transcript_html(build_view(state))
    chart = build_view(state)["messages"][state.message_ids()[-1]]["images"][0]["src"]
    assert f'<img src="{chart}"' in page  # the data-URI image inline
    assert "[image from images.example.com, not loaded]" in page and "https://images.example.com" not in page
    assert "data:text/html" not in page and "[image not shown: not an image data URI (text/html)]" in page
    from tfwidget.sim.artifacts_scenario import INPUT_CSV

    assert f"file <strong>revenue.csv</strong> (text/csv, {len(INPUT_CSV.encode())} bytes)" in page
    assert "sandbox file <strong>Notes</strong> <code>/workspace/out/notes.txt</code>" in page
    assert "<code>javascript:alert(1)</code> (refused:" in page and 'href="javascript' not in page


def test_session_turns_download_from_the_sessions_sandbox() -> None:
    from tfwidget.session import chat

    with Simulator("artifacts", speed=0) as s, GatewayClient(s.base_url, s.api_key) as c:
        assert s.wait(timeout=30)
        view = chat(session_id=s.session_id, client=c)
        first = view.turns[0]
        assert [a["path"] for a in first.artifacts][0] == "/workspace/out/summary.csv"
        later = view.send("thanks, anything else?")
        view.wait(30)
        assert later is not first and later.state.events_by_id  # a new turn, without sandbox.created
        assert all(e.type != "sandbox.created" for e in later.state.events_by_id.values())
        got = later.download("/workspace/out/notes.txt")
        assert got.data == ARTIFACT_FILES["/workspace/out/notes.txt"] and got.sandbox_id == SANDBOX_ID
        view.close()


def test_page_fetch_of_a_large_file_reports_progress() -> None:
    from tfwidget.widget import watch

    with Simulator("artifacts", speed=0, hostile=True) as s:
        assert s.wait(timeout=30)
        size = 8_000_000
        s.sandbox.put(SANDBOX_ID, "/workspace/out/huge.bin", size=size)  # the 1 GiB card, made 8 MB
        w = watch(s.session_id, s.turn_id, base_url=s.base_url, api_key=s.api_key)
        asyncio.run(w.wait(timeout=30))
        tap = _Tap()
        w.send = tap  # type: ignore[method-assign]
        w._on_custom_msg(
            w, {"type": "artifact", "action": "fetch", "req": 7, "path": "/workspace/out/huge.bin"}, []
        )
        content, buffers = tap.wait_for(7)
        assert content["type"] == "artifact_data" and len(buffers[0]) == size
        assert buffers[0] == s.sandbox.data(SANDBOX_ID, "/workspace/out/huge.bin")
        progress = [c for c, _ in tap.sent if c.get("type") == "artifact_progress" and c.get("req") == 7]
        assert progress and all(p["total"] == size and 0 < p["received"] <= size for p in progress)
        assert [p["received"] for p in progress] == sorted(p["received"] for p in progress)
        w.stop()


def test_a_view_without_a_client_says_how_to_download() -> None:
    from tfwidget.sim import Scenario
    from tfwidget.sse import StreamItem
    from tfwidget.widget import TurnView

    events = Scenario.load("artifacts").events
    w = TurnView([StreamItem(i, parse_event(ev), 0.0, json.dumps(ev)) for i, ev in enumerate(events, 1)])
    assert len(w.artifacts) == 3
    with pytest.raises(ValueError, match="no gateway client"):
        w.download("/workspace/out/notes.txt")
    tap = _Tap()
    w.send = tap  # type: ignore[method-assign]
    w._on_custom_msg(
        w, {"type": "artifact", "action": "fetch", "req": 9, "path": "/workspace/out/notes.txt"}, []
    )
    assert "no gateway client" in tap.wait_for(9)[0]["message"]


def test_images_are_classified_once_per_change_not_per_text_delta(monkeypatch: pytest.MonkeyPatch) -> None:
    """A megabyte data URI is not re-scanned on every text delta of its message (it was: O(n^2))."""
    import tfwidget.state as state_mod
    from tfwidget.view import ViewTracker

    calls = []
    real = state_mod.content_images
    monkeypatch.setattr(state_mod, "content_images", lambda c: calls.append(1) or real(c))
    uri = "data:image/png;base64," + "A" * 1_000_000
    st = TurnState()
    tracker = ViewTracker()
    tracker.snapshot(st)
    st.apply(parse_event({**_events([{"type": "image_url", "image_url": {"url": uri}}])[0]}))
    for i in range(300):
        st.apply(parse_event({"type": "model.message.delta", "id": "m", "thread_id": "t", "content": "tok "}))
        if i % 3 == 0:
            tracker.update(st, st.take_changes())
    assert len(calls) == 1
    st.apply(
        parse_event({"type": "model.message.delta", "id": "m", "thread_id": "t", "finish_reason": "stop"})
    )
    assert st.message_images("m")[0]["src"] == uri and len(calls) == 2
    assert int(st.messages_df["n_images"].iloc[0]) == 1


def test_session_view_routes_a_turns_file_request_and_forwards_the_bytes() -> None:
    import time

    from tfwidget.session import chat

    with Simulator("artifacts", speed=0) as s, GatewayClient(s.base_url, s.api_key) as c:
        assert s.wait(timeout=30)
        view = chat(session_id=s.session_id, client=c)
        sent: list[tuple[dict[str, Any], Any]] = []
        view._send_msg = lambda content, buffers=None: sent.append((content, buffers))  # type: ignore[method-assign]
        key = view._state.runs[0].key
        path = "/workspace/out/summary.csv"
        view._on_custom_msg(
            view, {"type": "artifact", "action": "fetch", "req": 1, "path": path, "turn": key}, []
        )
        deadline = time.monotonic() + 30
        got = None
        while got is None and time.monotonic() < deadline:
            got = next(
                (
                    (m, b)
                    for m, b in list(sent)
                    if m.get("type") == "turn"
                    and m.get("key") == key
                    and m["msg"].get("type") == "artifact_data"
                ),
                None,
            )
            time.sleep(0.02)
        assert got is not None, [m for m, _ in sent]
        assert got[0]["msg"]["path"] == path and [bytes(b) for b in got[1]] == [ARTIFACT_FILES[path]]
        view.close()
