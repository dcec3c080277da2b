"""A broken or hostile gateway, over loopback HTTP: memory and time stay bounded, errors are clear, nothing
valid is lost, and the key never leaks."""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import threading
import time
import traceback
import zlib
from typing import Any

import httpx
import pytest

from tfwidget import load, replay
from tfwidget.client import AsyncGatewayClient, GatewayClient, StreamLimits
from tfwidget.errors import (
    ConfigurationError,
    ProtocolError,
    ReconnectError,
    ServerError,
    StreamIdleError,
    StreamLimitError,
)
from tfwidget.events import ToolResponseEvent
from tfwidget.sim.scripted import Exchange, ScriptedGateway, frames, sse_answer
from tfwidget.sse import MalformedFrameWarning
from tfwidget.state import TurnState

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.filterwarnings("ignore::tfwidget.sse.MalformedFrameWarning"),
]

MIB = 1024 * 1024
CREATED = {"type": "turn.created", "id": "tc", "thread_id": None, "turn_id": "t1", "input": [],
           "state": {"status": "running"}}  # fmt: skip
BASE = {"type": "model.message", "id": "m1", "thread_id": "main"}
DONE = {"type": "turn.done", "id": "td", "thread_id": None, "state": {"status": "done"}}


def delta(i: int, **kw: Any) -> dict[str, Any]:
    return {"type": "model.message.delta", "id": "m1", "thread_id": "main", "content": f"t{i} ", **kw}


def turn_events(n: int) -> list[dict[str, Any]]:
    """A turn of ``n`` events: turn.created, one message (its base, deltas, the last one finishing it),
    turn.done."""
    return [CREATED, BASE, *(delta(i) for i in range(3, n - 1)), delta(n - 1, finish_reason="stop"), DONE]


def resuming(events: list[dict[str, Any]], first: bytes | None = None, **headers: str):  # type: ignore[no-untyped-def]
    """An answer that streams ``events`` after the request's cursor (``first``: raw bytes of the first answer)."""

    def answer(ex: Exchange) -> None:
        if ex.index == 0 and first is not None:
            sse_answer(first, headers=headers)(ex)
            return
        after = (ex.body or {}).get("after_sequence_number") or 0
        sse_answer(frames(events[after:], start=after + 1))(ex)

    return answer


def endless(head: bytes, piece: bytes, *, total: int, status: int = 200, ctype: str = "text/event-stream"):  # type: ignore[no-untyped-def]
    def answer(ex: Exchange) -> None:
        ex.start(status, {"Content-Type": ctype})
        if not ex.write(head):
            return
        while ex.sent < total and ex.write(piece):
            pass

    return answer


def client(gw: ScriptedGateway, **kw: Any) -> GatewayClient:
    return GatewayClient(gw.base_url, gw.api_key, **kw)


def seqs(items: list[Any]) -> list[int | None]:
    return [it.sequence_number for it in items]


# ---------------------------------------------------------------------- sizes


def test_an_endless_line_ends_in_a_limit_error_and_keeps_the_events_before() -> None:
    events = turn_events(10)
    answer = endless(frames(events[:3]) + b"data: ", b"x" * MIB, total=48 * MIB)
    with ScriptedGateway(subscribe=answer) as gw, client(gw) as c:
        got: list[Any] = []
        with pytest.raises(StreamLimitError) as info:
            for item in c.subscribe("s1", "t1"):
                got.append(item)
    assert seqs(got) == [1, 2, 3]
    assert info.value.limit == "max_event_bytes" and "StreamLimits(max_event_bytes=" in str(info.value)
    assert gw.count("subscribe") == 1 and max(gw.bytes_sent) < 44 * MIB  # stopped reading at the cap


def test_an_endless_error_body_is_read_as_a_prefix_then_closed() -> None:
    answer = endless(b'{"error": {"message": "down"}}', b" " * MIB, total=256 * MIB, status=500,
                     ctype="application/json")  # fmt: skip
    with (
        ScriptedGateway(subscribe=answer, turn=answer) as gw,
        client(gw, max_reconnects=1, backoff=0.01) as c,
    ):
        with pytest.raises(ReconnectError) as info:
            list(c.subscribe("s1", "t1"))
        assert isinstance(info.value.cause, ServerError) and "down" in str(info.value.cause)
        with pytest.raises(ServerError):
            c.get_turn("s1", "t1")  # a JSON call reads only a prefix of an error answer too
    assert gw.bytes_sent and max(gw.bytes_sent) < 32 * MIB, gw.bytes_sent


_BOMB: bytes | None = None


def _bomb() -> bytes:
    global _BOMB
    if _BOMB is None:
        z = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        parts = [z.compress(frames(turn_events(10)[:3]))]
        comments = b": \n" * (MIB // 3)
        parts += [z.compress(comments) for _ in range(400)]
        _BOMB = b"".join(parts) + z.flush()
    return _BOMB


def test_a_gzip_bomb_ends_in_a_limit_error_and_keeps_the_events_before() -> None:
    bomb = _bomb()
    assert len(bomb) < 3 * MIB  # about 400 MiB once inflated
    with (
        ScriptedGateway(subscribe=sse_answer(bomb, headers={"Content-Encoding": "gzip"})) as gw,
        client(gw) as c,
    ):
        got: list[Any] = []
        t0 = time.monotonic()
        with pytest.raises(StreamLimitError) as info:
            for item in c.subscribe("s1", "t1"):
                got.append(item)
    assert seqs(got) == [1, 2, 3] and info.value.limit == "max_decompression_ratio"
    assert time.monotonic() - t0 < 30


def test_corrupt_gzip_mid_stream_is_a_drop_that_resumes() -> None:
    events = turn_events(300)
    good = gzip.compress(frames(events[:200]))
    broken = good[: len(good) // 2] + b"\x00\xffnot gzip at all" * 64
    answer = resuming(events, first=broken, **{"Content-Encoding": "gzip"})
    with ScriptedGateway(subscribe=answer) as gw, client(gw) as c:
        sub = c.subscribe("s1", "t1")
        items = list(sub)
    assert seqs(items) == list(range(1, 301))
    assert sub.reconnects[0].reason == "corrupt compressed stream" and sub.reconnects[0].ok


@pytest.mark.parametrize(("charset", "codec"), [("utf-16", "utf-16"), ("latin-1", "latin-1")])
def test_a_stream_not_in_utf8_is_a_clear_protocol_error(charset: str, codec: str) -> None:
    body = frames([CREATED, delta(2, content="café")]).decode().encode(codec)
    answer = sse_answer(body, headers={"Content-Type": f"text/event-stream; charset={charset}"})
    with ScriptedGateway(subscribe=answer) as gw, client(gw) as c:
        with pytest.raises(ProtocolError, match="UTF-8"):
            list(c.subscribe("s1", "t1"))


# ---------------------------------------------------------------------- server-requested waits


def test_retry_field_and_retry_after_are_clamped() -> None:
    events = turn_events(8)
    first = b"retry: 999999999\n\n" + frames(events[:2])
    fail = sse_answer(b'{"error": {"message": "busy"}}', status=503,
                      headers={"Content-Type": "application/json", "Retry-After": "999999"})  # fmt: skip
    answers = [resuming(events, first=first), fail, resuming(events)]
    limits = StreamLimits(max_server_delay=0.3)
    with ScriptedGateway(subscribe=answers) as gw, client(gw, limits=limits, backoff=0.01) as c:
        sub = c.subscribe("s1", "t1")
        t0 = time.monotonic()
        items = list(sub)
    assert seqs(items) == list(range(1, 9)) and time.monotonic() - t0 < 20
    assert [r.ok for r in sub.reconnects] == [False, True]
    assert all(r.delay <= 0.3 for r in sub.reconnects), sub.reconnects


def test_a_negative_retry_does_not_disable_the_backoff() -> None:
    first = b"retry: -100000\n\n" + frames(turn_events(8)[:2])
    fail = sse_answer(
        b'{"error": {"message": "busy"}}', status=503, headers={"Content-Type": "application/json"}
    )
    with ScriptedGateway(subscribe=[sse_answer(first), fail]) as gw, client(gw) as c:
        sub = c.subscribe("s1", "t1")
        errors: list[BaseException] = []

        def run() -> None:
            try:
                list(sub)
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=run)
        thread.start()
        time.sleep(1.5)
        sub.close()
        thread.join(10)
    # default backoff 0.5 s, doubling: at most the first request and 3 retries fit in 1.5 s
    assert errors == [] and gw.count("subscribe") <= 4, gw.count("subscribe")


# ---------------------------------------------------------------------- idle streams


def test_comments_without_events_end_at_the_idle_deadline_and_show_as_idle() -> None:
    def answer(ex: Exchange) -> None:
        sse_answer(frames(turn_events(8)[:2]))(ex)
        while ex.write(b": keep-alive\n\n") and not gw.stopping.wait(0.05):
            pass

    limits = StreamLimits(idle_timeout=1.5, idle_after=0.3)
    with ScriptedGateway(subscribe=answer) as gw, client(gw, limits=limits) as c:
        sub = c.subscribe("s1", "t1")
        states: list[str] = []
        got: list[Any] = []

        def watch_state() -> None:
            while not sub.closed and len(states) < 1000:
                states.append(sub.state)
                time.sleep(0.02)

        watcher = threading.Thread(target=watch_state)
        with pytest.raises(StreamIdleError, match="idle_timeout") as info:
            for item in sub:
                got.append(item)
                if not watcher.is_alive():
                    watcher.start()
        sub.close()
        watcher.join(5)
    assert seqs(got) == [1, 2] and "idle" in states and info.value.last_event_at is not None
    assert sub.last_event_at == info.value.last_event_at


def test_a_server_that_never_answers_ends_at_the_idle_deadline() -> None:
    def answer(ex: Exchange) -> None:
        gw.stopping.wait(60)

    with ScriptedGateway(subscribe=answer) as gw, client(gw, limits=StreamLimits(idle_timeout=1.0)) as c:
        t0 = time.monotonic()
        with pytest.raises(StreamIdleError):
            list(c.subscribe("s1", "t1"))
        assert time.monotonic() - t0 < 30


# ---------------------------------------------------------------------- ids and depth


def test_an_id_that_jumps_is_an_anomaly_and_nothing_after_it_is_lost() -> None:
    events = turn_events(12)
    body = (
        frames(events[:4])
        + f"id: {10**20}\ndata: {json.dumps(delta(99))}\n\n".encode()
        + frames(events[4:], 5)
    )

    async def arun(gw: ScriptedGateway) -> list[Any]:
        async with AsyncGatewayClient(gw.base_url, gw.api_key) as ac:
            return [it async for it in ac.asubscribe("s1", "t1")]

    with ScriptedGateway(subscribe=sse_answer(body)) as gw, client(gw) as c:
        sub = c.subscribe("s1", "t1")
        items = list(sub)
        aitems = asyncio.run(arun(gw))
    for got in (items, aitems):
        assert seqs(got) == [1, 2, 3, 4, None, *range(5, 13)] and got[-1].type == "turn.done"
    assert len(sub.anomalies) == 1 and str(10**20) in sub.anomalies[0] and sub.reconnects == []
    assert "t99" in TurnState.from_items(items).messages[0].content


def _deep(levels: int) -> Any:
    value: Any = "leaf"
    for _ in range(levels):
        value = [value]
    return value


def _deep_response(i: int, levels: int) -> str:
    # built as text: json.dumps itself cannot write 100k levels
    head = json.dumps({"type": "tool.response", "id": f"r{i}", "thread_id": "main", "tool_call_id": f"c{i}"})
    return head[:-1] + ', "content": ' + "[" * levels + '"leaf"' + "]" * levels + "}"


DEEP_LEVELS = (300, 2500, 100_000)


def _deep_stream() -> tuple[bytes, int]:
    events = turn_events(12)
    parts = [frames(events[:3])]
    seq = 4
    for i, levels in enumerate(DEEP_LEVELS):
        parts.append(f"id: {seq}\ndata: {_deep_response(i, levels)}\n\n".encode())
        seq += 1
    parts.append(frames(events[3:], seq))
    return b"".join(parts), seq + len(events) - 4


def test_deep_json_frames_are_kept_or_reported_and_nothing_after_them_is_lost(tmp_path) -> None:
    body, last = _deep_stream()

    async def arun(gw: ScriptedGateway) -> tuple[list[Any], Any]:
        async with AsyncGatewayClient(gw.base_url, gw.api_key) as ac:
            sub = ac.asubscribe("s1", "t1")
            return [it async for it in sub], sub

    with ScriptedGateway(subscribe=sse_answer(body)) as gw, client(gw) as c:
        sub = c.subscribe("s1", "t1")
        items = list(sub)
        aitems, asub = asyncio.run(arun(gw))
    for got, s in ((items, sub), (aitems, asub)):
        assert seqs(got) == [1, 2, 3, 4, *range(7, last + 1)] and got[-1].type == "turn.done"
        assert isinstance(got[3].event, ToolResponseEvent)  # 300 levels: parsed, not downgraded
        assert len(s.errors) == 2 and all("deep" in e.reason for e in s.errors)  # 2500 and 100k: reported
    path = tmp_path / "deep.sse"
    path.write_bytes(body)
    with pytest.warns(MalformedFrameWarning):
        loaded = load(path)
    assert seqs(loaded) == seqs(items)  # type: ignore[arg-type]
    jsonl = tmp_path / "deep.jsonl"
    jsonl.write_text(
        "".join(json.dumps({"seq": i, "t": 0, "event": e}) + "\n" for i, e in enumerate(turn_events(6), 1))
        + f'{{"seq": 6, "t": 0, "event": {_deep_response(9, 5000)}}}\n',
        encoding="utf-8",
    )
    with pytest.warns(MalformedFrameWarning):
        assert len(load(jsonl)) == 6  # type: ignore[arg-type]
    view = replay(path)
    assert view.state.done is not None


def test_a_deep_turn_object_does_not_break_the_resume() -> None:
    events = turn_events(20)
    turn_text = (
        '{"data": {"id": "t1", "state": {"status": "running"}, "input": [' + "[" * 5000 + "]" * 5000 + "]}}"
    )

    def turn(ex: Exchange) -> None:
        data = turn_text.encode()
        ex.start(200, {"Content-Type": "application/json", "Content-Length": str(len(data))})
        ex.write(data)

    with (
        ScriptedGateway(subscribe=resuming(events, first=frames(events[:5])), turn=turn) as gw,
        client(gw) as c,
    ):
        sub = c.subscribe("s1", "t1")
        items = list(sub)
        assert c.get_turn("s1", "t1")["state"]["status"] == "running"
    assert seqs(items) == list(range(1, 21)) and sub.reconnects[0].ok


# ---------------------------------------------------------------------- progress and backoff


def test_a_drop_after_progress_resumes_at_once() -> None:
    events = turn_events(400)

    def answer(ex: Exchange) -> None:
        after = (ex.body or {}).get("after_sequence_number") or 0
        sse_answer(frames(events[after : after + 20], start=after + 1))(ex)  # 20 frames, then the drop

    with ScriptedGateway(subscribe=answer) as gw, client(gw) as c:  # the default backoff (0.5 s)
        sub = c.subscribe("s1", "t1")
        items = list(sub)
    assert seqs(items) == list(range(1, 401))
    assert len(sub.reconnects) == 19 and all(r.delay == 0.0 and r.ok for r in sub.reconnects)


# ---------------------------------------------------------------------- the key


def test_a_key_with_surrounding_whitespace_is_stripped_and_works() -> None:
    with ScriptedGateway(subscribe=sse_answer(frames(turn_events(5)))) as gw:
        with GatewayClient(gw.base_url, f"  {gw.api_key}\n") as c:
            assert len(list(c.subscribe("s1", "t1"))) == 5
        assert gw.requests[0][3]["Authorization"] == f"Bearer {gw.api_key}"


@pytest.mark.parametrize("bad", ["abc\ndef-secret-part", "abc\rdef-secret-part", "abc\x00def-secret-part"])
def test_a_key_with_a_control_character_is_refused_without_echoing_it(bad: str, monkeypatch) -> None:
    for make in (GatewayClient, AsyncGatewayClient):
        with pytest.raises(ConfigurationError) as info:
            make("http://127.0.0.1:9", bad)
        assert "secret-part" not in str(info.value) and "control character" in str(info.value)
    from tfwidget import chat

    with pytest.raises(ConfigurationError) as info:  # was a bare httpx.LocalProtocolError echoing the key
        chat("agent", base_url="http://127.0.0.1:9", api_key=bad)
    assert "secret-part" not in str(info.value)
    if "\x00" in bad:
        return  # an environment variable cannot hold a NUL
    monkeypatch.setenv("TFY_API_KEY", bad)
    monkeypatch.setenv("TFY_GATEWAY_URL", "http://127.0.0.1:9")
    from tfwidget import watch

    with pytest.raises(ConfigurationError) as info:
        watch("s1", "t1")
    assert "secret-part" not in str(info.value)


def test_the_key_stays_out_of_logs_and_of_the_locals_of_tracebacks(caplog) -> None:
    def never(ex: Exchange) -> None:
        gw.stopping.wait(60)

    caplog.set_level(logging.DEBUG)
    with ScriptedGateway(subscribe=sse_answer(frames(turn_events(5))), turn=never) as gw:
        with client(gw, timeout=httpx.Timeout(5, read=0.3)) as c:
            assert len(list(c.subscribe("s1", "t1"))) == 5
            with pytest.raises(httpx.ReadTimeout) as info:
                c.get_turn("s1", "t1")
    text = "".join(
        traceback.TracebackException(
            type(info.value), info.value, info.value.__traceback__, capture_locals=True
        ).format()
    )
    assert "get_turn" in text and ScriptedGateway.api_key not in text
    assert all(
        ScriptedGateway.api_key not in r.getMessage() and ScriptedGateway.api_key not in str(r.args)
        for r in caplog.records
    )
    assert any(r.name.startswith("httpcore") for r in caplog.records)


def test_a_watched_view_shows_a_silent_stream_instead_of_a_frozen_streaming() -> None:
    from tfwidget import watch

    def answer(ex: Exchange) -> None:
        sse_answer(frames(turn_events(8)[:2]))(ex)
        while ex.write(b": keep-alive\n\n") and not gw.stopping.wait(0.05):
            pass

    limits = StreamLimits(idle_timeout=120, idle_after=0.5)
    with ScriptedGateway(subscribe=answer) as gw, client(gw, limits=limits) as c:
        view = watch("s1", "t1", client=c)
        try:
            deadline = time.monotonic() + 30
            # what the page shows: the patches since the last whole view applied (a live status is a patch)
            while "no events for" not in (view._current_view().get("status_detail") or ""):
                assert time.monotonic() < deadline, view._current_view().get("status_detail")
                time.sleep(0.05)
            now = view._current_view()
            detail = now["status_detail"]
            assert "still connected; last event" in detail and now["status"] not in (
                "error",
                "cancelled",
            )
        finally:
            view.stop()


def test_a_pasted_key_with_a_line_break_works_and_reaches_no_view_or_page() -> None:
    from tfwidget import watch

    with ScriptedGateway(subscribe=sse_answer(frames(turn_events(6)))) as gw:
        view = watch("s1", "t1", base_url=gw.base_url, api_key=gw.api_key + "\n")
        assert view._finished.wait(30)
        page = json.dumps(view._view) + view.to_html() + json.dumps(view._repr_mimebundle_()[0], default=str)
        assert view._view["status"] not in ("error",) and gw.api_key not in page


def test_a_watched_view_shows_a_long_wait_before_a_reconnect() -> None:
    from tfwidget import watch

    events = turn_events(8)
    first = b"retry: 6000\n\n" + frames(events[:3])  # the server asks for 6 s before a reconnect
    with ScriptedGateway(subscribe=resuming(events, first=first)) as gw, client(gw) as c:
        view = watch("s1", "t1", client=c)
        try:
            seen: set[str] = set()
            deadline = time.monotonic() + 30
            while not view._finished.is_set():
                assert time.monotonic() < deadline
                seen.add(str(view._current_view().get("status_detail")))
                time.sleep(0.05)
        finally:
            view.stop()
    assert any(d.startswith("connection lost; reconnecting in ") for d in seen), seen
    assert view.state.done is not None
