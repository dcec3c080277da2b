"""GatewayClient against the simulated gateway over real loopback HTTP (sync and async paths)."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import threading
import time
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import psutil
import pytest
from pydantic import ValidationError
from truefoundry_gateway_sdk.agents import merge_event_delta
from truefoundry_gateway_sdk.types import ModelMessageDeltaEvent as SdkDelta
from truefoundry_gateway_sdk.types import ModelMessageEvent as SdkMessage

from tfwidget.client import GatewayClient, ReconnectInfo, SessionEvent, Subscription
from tfwidget.errors import (
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    GatewayConnectionError,
    GatewayError,
    NotAnEventStreamError,
    NotFoundError,
    ReconnectError,
    error_from_response,
)
from tfwidget.events import parse_event
from tfwidget.sim import SCENARIO_NAMES, Faults, Scenario, Simulator, serve
from tfwidget.sse import MalformedFrameWarning, StreamItem
from tfwidget.state import TurnState

from .conftest import drop_none

pytestmark = pytest.mark.timeout(60)

SCENARIO_OPTIONS: dict[str, dict[str, Any]] = {"large": {"deltas": 600}}


# ---------------------------------------------------------------------- helpers


def _open_sockets() -> int:
    proc = psutil.Process()
    conns = proc.net_connections(kind="inet") if hasattr(proc, "net_connections") else proc.connections()
    return len(conns)


@pytest.fixture(autouse=True)
def no_leaks() -> Iterator[None]:
    """Every test must leave no extra thread and no open socket behind."""
    threads, sockets = threading.active_count(), _open_sockets()
    yield
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        if threading.active_count() <= threads and _open_sockets() <= sockets:
            break
        time.sleep(0.02)
    assert threading.active_count() <= threads, [t.name for t in threading.enumerate()]
    assert _open_sockets() <= sockets, psutil.Process().net_connections(kind="inet")


def make_client(sim: Simulator, **kw: Any) -> GatewayClient:
    kw.setdefault("backoff", 0.01)
    kw.setdefault("max_backoff", 0.05)
    return GatewayClient(sim.base_url, sim.api_key, **kw)


def full_log_items(
    sim: Simulator, turn_id: str | None = None, session_id: str | None = None
) -> list[StreamItem]:
    log = sim.turn(turn_id, session_id).snapshot()
    return [StreamItem(i + 1, parse_event(e)) for i, e in enumerate(log)]


def summary(st: TurnState) -> dict[str, Any]:
    """What a turn's fold amounts to: comparable across live, resumed and rebuilt streams."""
    return {
        "status": st.status,
        "reason": st.status_reason,
        "messages": drop_none([m.model_dump(mode="json") for m in st.messages]),
        "tools": {
            k: (v.name, v.arguments, v.response, v.status, v.child_thread_id)
            for k, v in st.tool_calls.items()
        },
        "threads": {k: (v.status, v.title, v.parent_thread_id) for k, v in st.threads.items()},
        "pauses": [drop_none(e.model_dump(mode="json")) for e in st.required_actions],
        "metrics": st.metrics.model_dump(mode="json") if st.metrics else None,
    }


def official_merge(items: list[StreamItem]) -> list[dict[str, Any]]:
    """Merged model messages computed by the official client's ``merge_event_delta`` from the raw frames.

    The official types know only text and refusal content parts: a message with ``image_url`` parts does
    not validate there, so it is taken as received (such a message must then get no deltas).
    """
    bases: dict[str, Any] = {}
    for it in items:
        e = json.loads(it.to_json())
        if e["type"] == "model.message":
            try:
                bases[e["id"]] = SdkMessage.model_validate(e)
            except ValidationError:
                bases[e["id"]] = e
        elif e["type"] == "model.message.delta":
            assert not isinstance(bases[e["id"]], dict), (
                "a delta for a message the official client cannot parse"
            )
            merge_event_delta(bases[e["id"]], SdkDelta.model_validate(e))
    return drop_none([b if isinstance(b, dict) else json.loads(b.model_dump_json()) for b in bases.values()])


def assert_complete(
    items: list[StreamItem], sim: Simulator, turn_id: str | None = None, session_id: str | None = None
) -> None:
    """Items are exactly the turn's log 1..N, and fold to what the full log folds to."""
    log = full_log_items(sim, turn_id, session_id)
    seqs = [it.sequence_number for it in items]
    assert seqs == list(range(1, len(log) + 1))
    assert [it.event.id for it in items] == [it.event.id for it in log]
    assert items[-1].type == "turn.done" and not items[-1].synthesized
    ours = TurnState.from_items(items)
    assert summary(ours) == summary(TurnState.from_items(log))
    assert drop_none([m.model_dump(mode="json") for m in ours.messages]) == official_merge(items)


# ---------------------------------------------------------------------- streaming


@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_subscribe_every_scenario_matches_the_full_log(name: str) -> None:
    with serve(name, speed=0, **SCENARIO_OPTIONS.get(name, {})) as sim, make_client(sim) as client:
        sub = client.subscribe(sim.session_id, sim.turn_id)
        assert isinstance(sub, Subscription)
        items = list(sub)
        assert_complete(items, sim)
        assert sub.reconnects == [] and sub.malformed == 0
        assert sub.last_sequence_number == len(items) and sub.done


@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_asubscribe_every_scenario_matches_the_full_log(name: str) -> None:
    async def run(sim: Simulator) -> list[StreamItem]:
        async with make_client(sim) as client:
            return [it async for it in client.asubscribe(sim.session_id, sim.turn_id)]

    with serve(name, speed=0, **SCENARIO_OPTIONS.get(name, {})) as sim:
        assert_complete(asyncio.run(run(sim)), sim)


def test_follows_a_running_turn_live() -> None:
    with serve("sub_agents", speed=8) as sim, make_client(sim) as client:
        first_at = None
        items = []
        for it in client.subscribe(sim.session_id, sim.turn_id):
            if first_at is None:
                first_at = time.monotonic()
                assert not sim.turn().finished  # really live, not a replay of a finished log
            items.append(it)
        assert_complete(items, sim)
        # how long the rest took depends on the machine's load: the live part is asserted above


@pytest.mark.parametrize("cursor", [0, 1, 7, 20])
def test_cursor_subscribe_yields_exactly_what_follows(cursor: int) -> None:
    with serve("sub_agents", speed=0) as sim, make_client(sim) as client:
        sim.wait(timeout=10)
        items = list(client.subscribe(sim.session_id, sim.turn_id, after_sequence_number=cursor))
        n = len(sim.events())
        assert [it.sequence_number for it in items] == list(range(cursor + 1, n + 1))
        # prefix from the log + suffix from the stream folds to the full turn
        prefix = full_log_items(sim)[:cursor]
        assert summary(TurnState.from_items(prefix + items)) == summary(
            TurnState.from_items(full_log_items(sim))
        )


def test_stream_stops_at_turn_done_and_close_mid_stream_releases_the_connection() -> None:
    with serve("large", speed=5, deltas=400) as sim, make_client(sim) as client:
        with client.subscribe(sim.session_id, sim.turn_id) as sub:
            for it in sub:
                if it.sequence_number == 5:
                    break
        assert sub.last_sequence_number == 5 and not sub.done
        with pytest.raises(RuntimeError, match="only once"):
            iter(sub)


def test_close_from_another_thread_ends_iteration() -> None:
    with serve("large", speed=1, deltas=400) as sim, make_client(sim) as client:
        sub = client.subscribe(sim.session_id, sim.turn_id)
        timer = threading.Timer(0.3, sub.close)
        timer.start()
        t0 = time.monotonic()
        items = list(sub)
        timer.join()
        assert time.monotonic() - t0 < 3 and 0 < len(items) < len(Scenario.large(400).events)
        assert sub.closed and not sub.done


def test_malformed_frames_are_reported_and_skipped() -> None:
    faults = Faults(malformed_every=4, comment_every=3, retry_ms=50)
    with serve("sub_agents", speed=0, faults=faults) as sim, make_client(sim) as client:
        sub = client.subscribe(sim.session_id, sim.turn_id)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            items = list(sub)
        assert_complete(items, sim)
        injected = sim.fault_stats["malformed"]
        assert injected > 0 and sub.malformed == injected == len(sub.errors)
        assert sum(issubclass(w.category, MalformedFrameWarning) for w in caught) == injected
        # one SSE rule for live and recorded streams: a frame without its own id line carries the last id
        reasons = [e.reason for e in sub.errors]
        assert any(r.startswith("not valid JSON") for r in reasons)
        assert any("is not an integer sequence number" in r for r in reasons)
        assert sub.reconnects == []


def test_async_malformed_frames_and_drop_resume() -> None:
    # drops at events 7, 14 and 21, well before the turn ends: every resume is a live re-subscribe
    faults = Faults(malformed_every=5, drop_after_events=7, max_drops=3)

    async def run(sim: Simulator) -> tuple[list[StreamItem], Any]:
        async with make_client(sim) as client:
            sub = client.asubscribe(sim.session_id, sim.turn_id)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", MalformedFrameWarning)
                return [it async for it in sub], sub

    with serve("sub_agents", speed=3, faults=faults) as sim:
        items, sub = asyncio.run(run(sim))
        assert_complete(items, sim)
        assert sub.malformed > 0
        assert len(sub.reconnects) == 3 and all(r.mode == "subscribe" and r.ok for r in sub.reconnects)


# ---------------------------------------------------------------------- other endpoints


def many_events_scenario(n: int) -> Scenario:
    events: list[dict[str, Any]] = [
        {"type": "turn.created", "id": "c", "thread_id": None, "input": [], "state": {"status": "running"}}
    ]
    events += [
        {"type": "sandbox.created", "id": f"sb{i}", "thread_id": None, "sandbox_id": f"s{i}"}
        for i in range(n)
    ]
    events.append(
        {"type": "turn.done", "id": "d", "thread_id": None, "state": {"status": "done", "output": None}}
    )
    return Scenario("many", events, [0.0] * len(events))


def test_get_turn_and_list_events_across_pages() -> None:
    with serve(many_events_scenario(130), speed=0) as sim, make_client(sim) as client:
        sim.wait(timeout=10)
        turn = client.get_turn(sim.session_id, sim.turn_id)
        assert turn["id"] == sim.turn_id and turn["state"]["status"] == "done"
        listed = client.list_turn_events(sim.session_id, sim.turn_id)
        assert [e.id for e in listed] == [e["id"] for e in sim.turn().merged()]
        assert len(listed) == 130  # six pages of at most 25
        session_events = client.list_session_events(sim.session_id)
        assert all(isinstance(se, SessionEvent) and se.turn_id == sim.turn_id for se in session_events)
        assert len(session_events) == 132  # two pages of at most 100, turn.* included
        assert session_events[0].event.type == "turn.done" and session_events[-1].event.type == "turn.created"


def test_list_turn_events_while_running_is_a_conflict() -> None:
    with serve("long_markdown", speed=1) as sim, make_client(sim) as client:
        with pytest.raises(ConflictError) as info:
            client.list_turn_events(sim.session_id, sim.turn_id)
        assert info.value.status == 409 and "still running" in str(info.value)


def test_create_session_create_turn_stream_and_not_and_cancel() -> None:
    with serve("plain_answer", speed=0) as sim, make_client(sim) as client:
        session = client.create_session("my-agent")
        sid = session["id"]
        assert sid and session.get("agent_name") == "my-agent"
        # streamed: a str input is one user.message
        sub = client.create_turn(sid, "hello there")
        items = list(sub)
        assert items[0].type == "turn.created" and items[-1].type == "turn.done"
        assert items[0].event.input[0].model_dump()["content"] == "hello there"
        assert sub.turn_id == items[0].event.turn_id
        assert_complete(items, sim, sub.turn_id, sid)
        assert sim.turn(sub.turn_id, sid).previous_turn_id is None
        # not streamed: the Turn object; the list input is sent as is and chains to the previous turn
        sim.speed = 1  # a turn that is still running when it gets cancelled
        turn = client.create_turn(
            sid, [{"type": "user.message", "content": "write a long markdown guide"}], stream=False
        )
        assert turn["session_id"] == sid and turn["previous_turn_id"] == sub.turn_id
        got = []
        for it in client.subscribe(sid, turn["id"]):
            got.append(it)
            if len(got) == 3:
                client.cancel(sid)
        assert got[-1].type == "turn.done" and got[-1].event.state.status == "cancelled"
        assert TurnState.from_items(got).status == "cancelled"
        client.cancel(sid)  # idempotent


def test_async_endpoints() -> None:
    async def run(sim: Simulator) -> None:
        async with make_client(sim) as client:
            sid = (await client.acreate_session("a"))["id"]
            sub = await client.acreate_turn(sid, "hi", previous_turn_id="none")
            items = [it async for it in sub]
            assert_complete(items, sim, sub.turn_id, sid)
            turn = await client.aget_turn(sid, sub.turn_id)
            assert turn["state"]["status"] == "done"
            listed = await client.alist_turn_events(sid, sub.turn_id)
            assert [e.id for e in listed] == [e["id"] for e in sim.turn(sub.turn_id, sid).merged()]
            sevents = await client.alist_session_events(sid)
            assert sevents[0].event.type == "turn.done"
            sim.speed = 1
            t2 = await client.acreate_turn(sid, "a long markdown answer please", stream=False)
            await client.acancel(sid)
            assert (await client.aget_turn(sid, t2["id"]))["state"]["status"] == "cancelled"
            with pytest.raises(NotFoundError, match="no-such-turn"):
                await client.aget_turn(sid, "no-such-turn")

    with serve("plain_answer", speed=0) as sim:
        asyncio.run(run(sim))


# ---------------------------------------------------------------------- errors and secrets


def test_wrong_key_is_an_authentication_error_that_never_shows_the_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    wrong = "tfy-wrong-" + secrets.token_urlsafe(16)
    caplog.set_level(logging.DEBUG)
    with serve("plain_answer", speed=0) as sim:
        with GatewayClient(sim.base_url, wrong) as client:
            assert wrong not in repr(client) and "api_key=***" in repr(client)
            assert sim.base_url in repr(client)
            for call in (
                lambda: list(client.subscribe(sim.session_id, sim.turn_id)),
                lambda: client.get_turn(sim.session_id, sim.turn_id),
                lambda: client.create_session("x"),
            ):
                with pytest.raises(AuthenticationError) as info:
                    call()
                err = info.value
                assert err.status == 401 and "TFY_API_KEY" in str(err)
                for text in (str(err), repr(err), err.body_snippet or ""):
                    assert wrong not in text and sim.api_key not in text
    records = "\n".join(f"{r.name} {r.getMessage()} {r.args!r}" for r in caplog.records)
    assert wrong not in records


def test_the_key_stays_out_of_logs_during_reconnects(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    faults = Faults(drop_after_events=5, max_drops=3, fail_status=503, fail_count=1)
    with serve("sub_agents", speed=4, faults=faults) as sim, make_client(sim) as client:
        sub = client.subscribe(sim.session_id, sim.turn_id)
        items = list(sub)
        assert_complete(items, sim)
        assert sub.reconnects
        assert any(r.name == "tfwidget.client" for r in caplog.records)
        records = "\n".join(f"{r.getMessage()} {r.args!r}" for r in caplog.records)
        assert sim.api_key not in records
        assert all(sim.api_key not in repr(i) for i in sub.reconnects)
        assert all(sim.api_key not in repr(f) and sim.api_key not in str(f) for f in sub.failures)


def test_error_bodies_are_quoted_and_scrubbed() -> None:
    key = "tfy-" + secrets.token_urlsafe(12)
    body = json.dumps({"error": {"message": f"token {key} lacks scope agents:write", "code": "forbidden"}})
    err = error_from_response(403, body, secret=key, what="session 's1'")
    assert isinstance(err, AuthenticationError)
    assert key not in str(err) and key not in (err.body_snippet or "") and key not in repr(err)
    assert "lacks scope agents:write" in str(err) and "permission" in str(err) and "TFY_API_KEY" in str(err)


def test_missing_configuration_names_the_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("TFY_GATEWAY_URL", "GATEWAY_BASE_URL", "TFY_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(ConfigurationError) as info:
        GatewayClient()
    assert "TFY_GATEWAY_URL" in str(info.value) and "TFY_API_KEY" in str(info.value)
    monkeypatch.setenv("TFY_GATEWAY_URL", "http://127.0.0.1:9/x")
    with pytest.raises(ConfigurationError) as info:
        GatewayClient()
    assert "TFY_API_KEY" in str(info.value) and "TFY_GATEWAY_URL" not in str(info.value)
    monkeypatch.delenv("TFY_GATEWAY_URL")
    monkeypatch.setenv("TFY_API_KEY", "k-123456")
    with pytest.raises(ConfigurationError) as info:
        GatewayClient()
    assert "TFY_GATEWAY_URL" in str(info.value) and "k-123456" not in str(info.value)


def test_configuration_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    with serve("plain_answer", speed=0) as sim:
        monkeypatch.delenv("TFY_GATEWAY_URL", raising=False)
        monkeypatch.setenv("GATEWAY_BASE_URL", sim.base_url)
        monkeypatch.setenv("TFY_API_KEY", sim.api_key)
        with GatewayClient(backoff=0.01) as client:
            assert client.get_turn(sim.session_id, sim.turn_id)["id"] == sim.turn_id
            assert sim.api_key not in repr(client)


def test_not_found_names_the_ids() -> None:
    with serve("plain_answer", speed=0) as sim, make_client(sim) as client:
        with pytest.raises(NotFoundError) as info:
            client.get_turn(sim.session_id, "turn-that-is-not-there")
        assert info.value.status == 404 and "turn-that-is-not-there" in str(info.value)
        with pytest.raises(NotFoundError) as info:
            list(client.subscribe("session-that-is-not-there", sim.turn_id))
        assert "session-that-is-not-there" in str(info.value)
        assert "not found" in str(info.value).lower()  # the gateway's own message is quoted


class _HtmlHandler(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        body = b"<!doctype html><html><body>TrueFoundry console sign-in</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def html_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HtmlHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/tenant"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_non_sse_answer_is_not_an_event_stream_error(html_server: str) -> None:
    with GatewayClient(html_server, "k-abcdef") as client:
        with pytest.raises(NotAnEventStreamError) as info:
            list(client.subscribe("s1", "t1"))
        err = info.value
        assert err.status == 200 and "text/html" in str(err) and "console sign-in" in str(err)
        assert isinstance(err, GatewayError)

    async def run() -> None:
        async with GatewayClient(html_server, "k-abcdef") as client:
            with pytest.raises(NotAnEventStreamError):
                async for _ in client.asubscribe("s1", "t1"):
                    pass

    asyncio.run(run())


def test_user_supplied_http_client_is_used_and_left_open() -> None:
    with serve("plain_answer", speed=0) as sim, httpx.Client(timeout=5) as http:
        client = GatewayClient(sim.base_url, sim.api_key, http_client=http)
        items = list(client.subscribe(sim.session_id, sim.turn_id))
        assert_complete(items, sim)
        client.close()
        assert not http.is_closed
        assert (
            http.get(sim.url + "/v1/agents/sessions/x", headers={"Authorization": "Bearer no"}).status_code
            == 401
        )


def test_reconnect_info_is_frozen() -> None:
    info = ReconnectInfo(1, "read timeout", 4, 0.1, "subscribe", None)
    with pytest.raises(AttributeError):
        info.attempt = 2  # type: ignore[misc]


# ---------------------------------------------------------------------- a gateway that cannot be reached


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens there once the socket is closed


def test_unreachable_gateway_fails_at_once_naming_the_setting() -> None:
    url = f"http://127.0.0.1:{_closed_port()}/api/llm"
    with GatewayClient(url, "tfy-not-a-real-key-0123456789abcdef") as client:
        t0 = time.monotonic()
        with pytest.raises(GatewayConnectionError) as err:
            client.get_turn("s1", "t1")
        assert "TFY_GATEWAY_URL" in str(err.value) and url in str(err.value)
        assert "not-a-real-key" not in str(err.value) + repr(err.value)
        with pytest.raises(GatewayConnectionError):
            list(client.subscribe("s1", "t1"))  # no minute of reconnecting to a wrong URL
        assert time.monotonic() - t0 < 5


def test_async_unreachable_gateway_fails_at_once() -> None:
    async def main() -> None:
        async with GatewayClient(f"http://127.0.0.1:{_closed_port()}", "k") as client:
            with pytest.raises(GatewayConnectionError):
                await client.aget_turn("s1", "t1")
            with pytest.raises(GatewayConnectionError):
                async for _ in client.asubscribe("s1", "t1"):
                    pass

    asyncio.run(main())


def test_a_gateway_lost_after_connecting_is_a_drop_resumed_then_given_up() -> None:
    sim = Simulator("long_markdown", speed=5).start()
    with GatewayClient(sim.base_url, sim.api_key, backoff=0.01, max_backoff=0.02, max_reconnects=3) as client:
        sub = client.subscribe(sim.session_id, sim.turn_id)
        got = []
        with pytest.raises(ReconnectError) as err:
            for item in sub:
                got.append(item)
                if len(got) == 5:
                    sim.stop()  # the gateway goes away mid-stream: refused from now on
        assert len(got) >= 5
        assert len(sub.failures) == 4 and all(
            isinstance(f, (httpx.TransportError, GatewayConnectionError)) for f in sub.failures
        )
        assert isinstance(err.value.cause, (httpx.TransportError, GatewayConnectionError))


def test_create_turn_input_of_the_wrong_shape_is_a_clear_type_error() -> None:
    with GatewayClient("http://127.0.0.1:1", "k") as client:  # rejected before any request is made
        with pytest.raises(TypeError, match=r"input must be a message \(str\)"):
            client.create_turn("s", 123, stream=False)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match=r"input\[1\] must be a dict"):
            client.create_turn("s", [{"type": "user.message", "content": "hi"}, "x"], stream=False)  # type: ignore[list-item]
