"""The resume core with scripted inputs: no sockets, no threads, a fake clock."""

from __future__ import annotations

import gzip
import json
import random
import warnings
from typing import Any

import httpx
import pytest

from tfwidget._resume import (
    DONE,
    Emit,
    Fetch,
    Open,
    Read,
    ResumeCore,
    Sleep,
    StreamLimits,
)
from tfwidget.errors import (
    ProtocolError,
    ReconnectError,
    ServerError,
    StreamIdleError,
    StreamLimitError,
)
from tfwidget.sse import MalformedFrameWarning, StreamItem

SSE = {"content-type": "text/event-stream"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def delta(i: int, **kw: Any) -> str:
    return json.dumps(
        {"type": "model.message.delta", "id": "m1", "thread_id": "main", "content": f"t{i}", **kw}
    )


def frames(*seqs: Any) -> bytes:
    return "".join(f"id: {s}\ndata: {delta(i)}\n\n" for i, s in enumerate(seqs)).encode()


DONE_FRAME = 'data: {"type": "turn.done", "id": "d", "thread_id": null, "state": {"status": "completed"}}\n\n'


def make(**kw: Any) -> tuple[ResumeCore, Clock]:
    clock = Clock()
    kw.setdefault("backoff", 0.5)
    kw.setdefault("max_backoff", 8.0)
    core = ResumeCore("s1", "t1", clock=clock, rng=random.Random(0), **kw)
    return core, clock


def feed(core: ResumeCore, chunk: bytes) -> list[StreamItem]:
    """Feed one chunk as a driver does: every returned item is delivered."""
    out = core.data(chunk)
    for item in out:
        core.deliver(item)
    return out


def open_ok(core: ResumeCore, headers: dict[str, str] = SSE) -> Open:
    act = core.next_action()
    assert isinstance(act, Open)
    core.response(200, headers)
    assert isinstance(core.next_action(), Read)
    return act


def test_drop_after_progress_resumes_at_once_then_backs_off_exponentially() -> None:
    core, _ = make()
    first = open_ok(core)
    assert first.path.endswith("/turns/t1/subscribe") and first.body == {}
    assert [it.sequence_number for it in feed(core, frames(1, 2, 3))] == [1, 2, 3]
    core.eof()  # the body ended before turn.done
    act = core.next_action()
    assert act == Sleep(0.0)  # the connection delivered events: no wait
    core.slept()
    act = core.next_action()
    assert isinstance(act, Fetch) and act.call.path.endswith("/turns/t1")
    core.fetched({"data": {"id": "t1", "state": {"status": "running"}}})
    act = core.next_action()
    assert isinstance(act, Open) and act.body == {"after_sequence_number": 3}
    assert act.headers["Last-Event-Id"] == "3"
    delays = []
    for _ in range(5):  # attempts that make no progress: 0.5, 1, 2, 4, 8 (with jitter in [d/2, d])
        core.error(httpx.ConnectError("refused"))  # the gateway was reached before: a drop, not a wrong URL
        act = core.next_action()
        assert isinstance(act, Sleep)
        delays.append(act.seconds)
        core.slept()
        assert isinstance(core.next_action(), Fetch)
        core.fetched({"data": {"state": {"status": "running"}}})
        assert isinstance(core.next_action(), Open)
    for d, full in zip(delays, [0.5, 1, 2, 4, 8], strict=True):
        assert full / 2 <= d <= full
    assert [r.ok for r in core.reconnects] == [False] * 5 and core.reconnects[0].delay == 0.0


def test_error_answer_is_read_as_a_prefix_and_classified() -> None:
    core, _ = make(limits=StreamLimits(max_error_body_bytes=100))
    assert isinstance(core.next_action(), Open)
    core.response(503, {"content-type": "application/json", "retry-after": "99999"})
    assert isinstance(core.next_action(), Read)
    assert core.data(b'{"error": {"message": "busy"}}' + b" " * 500) == []
    assert core.stop_reading  # enough read: the driver closes the response
    with pytest.raises(ServerError) as info:
        core.eof()
    core.error(info.value)
    act = core.next_action()
    assert isinstance(act, Sleep) and act.seconds == 60.0  # Retry-After clamped to max_server_delay


def test_retry_field_is_clamped() -> None:
    core, _ = make(limits=StreamLimits(max_server_delay=5.0))
    open_ok(core)
    feed(core, b"retry: 999999999\n" + frames(1))
    core.eof()
    act = core.next_action()
    assert isinstance(act, Sleep) and 2.5 <= act.seconds <= 5.0


def test_412_rebuilds_from_every_page_of_listed_events() -> None:
    core, _ = make()
    open_ok(core)
    feed(core, frames(1, 2))
    core.eof()
    assert core.next_action() == Sleep(0.0)
    core.slept()
    core.next_action()
    core.fetched({"data": {"state": {"status": "running"}}})
    assert isinstance(core.next_action(), Open)
    core.response(412, {"content-type": "application/json"})
    core.next_action()
    try:
        core.eof()
    except Exception as exc:  # the ConflictError goes to error(), which turns it into a rebuild
        core.error(exc)
    act = core.next_action()
    assert isinstance(act, Fetch) and act.call.path.endswith("/turns/t1")
    core.fetched({"data": {"id": "t1", "state": {"status": "completed"}}})
    page1 = core.next_action()
    assert isinstance(page1, Fetch) and page1.call.path.endswith("/events")
    msg = {
        "type": "model.message",
        "id": "m1",
        "thread_id": "main",
        "content": "t0t1t2",
        "finish_reason": "stop",
    }
    core.fetched({"data": [msg], "pagination": {"next_page_token": "p2"}})
    page2 = core.next_action()
    assert (
        isinstance(page2, Fetch) and page2.call.params is not None and page2.call.params["page_token"] == "p2"
    )
    tool = {"type": "tool.response", "id": "r1", "thread_id": "main", "tool_call_id": "c", "content": "ok"}
    core.fetched({"data": [tool], "pagination": {}})
    act = core.next_action()
    assert isinstance(act, Emit)
    # turn.created never came on the stream: it is synthesized too
    assert [it.event.type for it in act.items] == [
        "turn.created",
        "model.message",
        "tool.response",
        "turn.done",
    ]
    assert act.items[0].synthesized and act.items[-1].synthesized
    assert core.next_action() is DONE
    assert core.reconnects[-1].mode == "rebuild" and core.reconnects[-1].replayed == 4


def test_an_id_that_jumps_is_kept_without_a_number_and_nothing_later_is_lost() -> None:
    core, _ = make()
    open_ok(core)
    items = feed(core, frames(1, 2, 10**20, 3, 4))
    assert [it.sequence_number for it in items] == [1, 2, None, 3, 4]
    assert len(core.anomalies) == 1 and "jumped" in core.anomalies[0]
    assert core.delivery.last_seq == 4


def test_a_real_gap_is_confirmed_by_the_next_frame() -> None:
    core, _ = make()
    open_ok(core)
    assert [it.sequence_number for it in feed(core, frames(1, 2, 7, 8))] == [1, 2, 7, 8]
    assert core.anomalies == [] and core.delivery.gaps == 1


def test_an_endless_line_stops_with_a_limit_error_after_the_valid_events() -> None:
    core, _ = make(limits=StreamLimits(max_event_bytes=10_000))
    open_ok(core)
    got = feed(core, frames(1, 2) + b"data: " + b"x" * 4000)
    got += feed(core, b"x" * 4000)
    got += feed(core, b"x" * 4000)
    assert [it.sequence_number for it in got] == [1, 2]
    assert core.stop_reading
    with pytest.raises(StreamLimitError) as info:
        core.next_action()
    assert info.value.limit == "max_event_bytes" and "max_event_bytes" in str(info.value)


def test_a_gzip_bomb_is_stopped_by_the_ratio_cap() -> None:
    core, _ = make()
    open_ok(core, {**SSE, "content-encoding": "gzip"})
    bomb = gzip.compress(frames(1) + b": " + b"a" * (50 * 1024 * 1024) + b"\n")
    assert len(bomb) < 200_000
    assert [it.sequence_number for it in feed(core, bomb)] == [1]  # what came before the cap is kept
    assert core.stop_reading
    with pytest.raises(StreamLimitError) as info:
        core.next_action()
    assert info.value.limit == "max_decompression_ratio"


def test_corrupt_gzip_is_a_drop() -> None:
    core, _ = make()
    open_ok(core, {**SSE, "content-encoding": "gzip"})
    good = gzip.compress(frames(*range(1, 200)))
    with pytest.raises(ProtocolError, match="corrupt") as info:
        feed(core, good[: len(good) // 2] + b"\x00garbage" * 50)
    core.error(info.value)
    assert isinstance(core.next_action(), Sleep) and core.failures[-1] is info.value


@pytest.mark.parametrize("charset", ["utf-16", "latin-1", "ISO-8859-1"])
def test_a_charset_other_than_utf8_is_a_clear_protocol_error(charset: str) -> None:
    core, _ = make()
    assert isinstance(core.next_action(), Open)
    with pytest.raises(ProtocolError, match="UTF-8") as info:
        core.response(200, {"content-type": f"text/event-stream; charset={charset}"})
    with pytest.raises(ProtocolError):
        core.error(info.value)


def test_comments_without_events_end_at_the_idle_deadline() -> None:
    core, clock = make(limits=StreamLimits(idle_timeout=60, idle_after=10))
    act = open_ok(core)
    assert act.read_timeout is not None and act.read_timeout <= 60
    feed(core, frames(1))
    assert core.state == "streaming"
    clock.now += 15
    feed(core, b": keep-alive\n\n")
    assert core.state == "idle" and core.idle_seconds() == 15
    clock.now += 50
    assert feed(core, b": keep-alive\n\n") == []
    assert core.stop_reading
    core.eof()
    with pytest.raises(StreamIdleError, match="idle_timeout") as info:
        core.next_action()
    assert info.value.last_event_at is not None


def test_a_deep_json_frame_is_reported_and_the_stream_goes_on() -> None:
    core, _ = make()
    open_ok(core)
    deep = '{"type": "tool.response", "id": "r", "x": ' + "[" * 5000 + "]" * 5000 + "}"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = feed(core, frames(1) + f"id: 2\ndata: {deep}\n\n".encode() + frames(3, 4)[0:0] + b"")
        got += feed(
            core,
            f"id: 3\ndata: {delta(3)}\n\n{DONE_FRAME.replace('data:', 'id: 4' + chr(10) + 'data:')}".encode(),
        )
    assert [it.sequence_number for it in got] == [1, 3, 4]
    assert len(core.errors) == 1 and "deep" in core.errors[0].reason
    assert any(issubclass(w.category, MalformedFrameWarning) for w in caught)
    assert core.next_action() is DONE


def test_giving_up_after_the_budget() -> None:
    core, _ = make(max_reconnects=2)
    open_ok(core)
    core.eof()  # failure 1 (no event came)
    with pytest.raises(ReconnectError, match="max_reconnects") as info:
        for _ in range(3):  # failures 2 and 3: the budget of 2 is spent
            assert isinstance(core.next_action(), Sleep)
            core.slept()
            core.next_action()
            core.fetched({"data": {"state": {"status": "running"}}})
            core.next_action()
            core.error(httpx.ReadTimeout("slow"))
    assert isinstance(info.value.cause, httpx.ReadTimeout) and len(core.failures) == 3


def test_a_last_frame_cut_before_its_blank_line_is_still_delivered() -> None:
    core, _ = make()
    open_ok(core)
    done = DONE_FRAME.replace("data:", "id: 3\ndata:").rstrip("\n")  # the connection closes right after it
    assert [it.sequence_number for it in feed(core, frames(1, 2) + done.encode())] == [1, 2]
    core.eof()
    act = core.next_action()
    assert isinstance(act, Emit) and [it.type for it in act.items] == ["turn.done"]
    assert core.next_action() is DONE and core.reconnects == []


def test_a_turn_done_after_a_gap_ends_the_turn() -> None:
    core, _ = make()
    open_ok(core)
    feed(core, frames(1, 2) + DONE_FRAME.replace("data:", "id: 9\ndata:").encode())
    core.eof()
    act = core.next_action()
    assert isinstance(act, Emit) and [(it.sequence_number, it.type) for it in act.items] == [(9, "turn.done")]
    assert core.next_action() is DONE


def test_the_idle_deadline_counts_from_the_start_of_iteration() -> None:
    core, clock = make(limits=StreamLimits(idle_timeout=60))
    clock.now += 3600  # created an hour before it is iterated
    assert isinstance(core.next_action(), Open)
