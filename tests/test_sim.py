"""The simulated gateway over real loopback HTTP, driven with plain httpx."""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tfwidget.sim import SCENARIO_NAMES, Faults, Scenario, Simulator, serve
from tfwidget.sim.scenarios import merge_turn_events

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------- helpers


def parse_frames(text: str) -> list[dict[str, Any]]:
    """Split SSE text into frames: {"id", "data", "retry", "comments"} (no SSE library involved)."""
    frames: list[dict[str, Any]] = []
    cur: dict[str, Any] = {"id": None, "data": [], "retry": None, "comments": []}
    for line in text.split("\n"):
        if line == "":
            if cur["data"] or cur["id"] is not None or cur["retry"] is not None or cur["comments"]:
                frames.append({**cur, "data": "\n".join(cur["data"]) if cur["data"] else None})
            cur = {"id": None, "data": [], "retry": None, "comments": []}
            continue
        if line.startswith(":"):
            cur["comments"].append(line[1:].strip())
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "id":
            cur["id"] = value
        elif name == "data":
            cur["data"].append(value)
        elif name == "retry":
            cur["retry"] = value
        else:
            raise AssertionError(f"unexpected SSE field {name!r}")
    return frames


def events_of(text: str) -> list[tuple[int, dict[str, Any]]]:
    """The (sequence number, event) pairs of well-formed frames."""
    out = []
    for f in parse_frames(text):
        if f["data"] is None:
            continue
        out.append((int(f["id"]), json.loads(f["data"])))
    return out


def client(sim: Simulator, key: str | None = None, **kw: Any) -> httpx.Client:
    return httpx.Client(
        base_url=sim.base_url + "/",
        headers={"Authorization": f"Bearer {key if key is not None else sim.api_key}"},
        timeout=kw.pop("timeout", 20),
        **kw,
    )


def turn_path(sim: Simulator, turn_id: str | None = None) -> str:
    return f"v1/agents/sessions/{sim.session_id}/turns/{turn_id or sim.turn_id}"


def subscribe(c: httpx.Client, sim: Simulator, turn_id: str | None = None, **body: Any) -> httpx.Response:
    r = c.post(turn_path(sim, turn_id) + "/subscribe", json=body)
    return r


def assert_dense(pairs: list[tuple[int, dict[str, Any]]], start: int = 1) -> None:
    seqs = [s for s, _ in pairs]
    assert seqs == list(range(start, start + len(seqs)))
    types = [e["type"] for _, e in pairs]
    assert types.count("turn.done") == 1 and types[-1] == "turn.done"


def assert_error(r: httpx.Response, status: int, *needles: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error"}
    err = body["error"]
    assert isinstance(err["message"], str) and err["message"]
    assert isinstance(err["type"], str) and isinstance(err["code"], str)
    for needle in needles:
        assert needle in err["message"], err["message"]
    return err


def list_all(c: httpx.Client, path: str, **params: Any) -> list[Any]:
    items: list[Any] = []
    token = None
    pages = 0
    while True:
        q = dict(params)
        if token:
            q["page_token"] = token
        r = c.get(path, params=q)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["pagination"]["limit"] == params.get("limit", body["pagination"]["limit"])
        items.extend(body["data"])
        pages += 1
        token = body["pagination"].get("next_page_token")
        if not token:
            return items
        assert pages < 10_000


def user(text: str) -> dict[str, Any]:
    return {"type": "user.message", "content": text}


def create_turn(c: httpx.Client, sim: Simulator, items: list[dict[str, Any]], **kw: Any) -> httpx.Response:
    return c.post(f"v1/agents/sessions/{sim.session_id}/turns", json={"input": items, **kw})


# ---------------------------------------------------------------------- scenarios


@pytest.mark.parametrize("name", [n for n in SCENARIO_NAMES if n != "large"])
def test_every_scenario_streams_dense_sequence_numbers(name: str) -> None:
    with serve(name, speed=0) as sim, client(sim) as c:
        r = subscribe(c, sim)
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        assert "event:" not in r.text
        pairs = events_of(r.text)
        assert_dense(pairs)
        first = pairs[0][1]
        assert first["type"] == "turn.created" and first["turn_id"] == sim.turn_id
        assert first["previous_turn_id"] is None
        # frames are exactly `id: N` / `data: {json}` / blank line
        for f in parse_frames(r.text):
            assert f["retry"] is None and not f["comments"]
        assert pairs == list(enumerate(sim.events(), start=1))
        assert len(pairs) == len(Scenario.load(name).events)


def test_large_scenario_has_the_requested_number_of_deltas() -> None:
    with serve("large", speed=0, deltas=3000) as sim, client(sim) as c:
        pairs = events_of(subscribe(c, sim).text)
        assert_dense(pairs)
        deltas = [e for _, e in pairs if e["type"] == "model.message.delta" and "content" in e]
        assert len(deltas) == 3000
    assert len(Scenario.large(deltas=50_000).events) > 50_000


def test_generated_deltas_are_token_sized_and_merge_back() -> None:
    scenario = Scenario.long_markdown()
    pieces = [
        e["content"] for e in scenario.events if e.get("type") == "model.message.delta" and "content" in e
    ]
    assert len(pieces) > 300
    assert all(len(p.strip()) <= 6 for p in pieces)
    text = "".join(pieces)
    assert text.count("```") >= 8 and "| Concern" in text and "\n## " in text and "\n- " in text
    merged = merge_turn_events(scenario.events)
    assert merged[0]["content"] == text


def test_xss_scenario_carries_payloads() -> None:
    with serve("xss", speed=0) as sim, client(sim) as c:
        raw = subscribe(c, sim).text
        sim.wait(timeout=5)
        merged = c.get(turn_path(sim) + "/events").json()["data"]
    content = " ".join(str(e.get("content")) for e in merged)
    for payload in ("<img src=x onerror=alert(1)>", "<script>", "javascript:alert(1)"):
        assert payload in content
    assert any(e["type"] == "tool.response" and "<script>" in e["content"] for e in merged)
    assert "onerror" in raw


def test_fixture_timing_and_live_following() -> None:
    # plain_answer lasts about 0.8 s at speed 1; at speed 4 about 0.2 s.
    scenario = Scenario.load("plain_answer")
    assert 0.5 < scenario.duration < 2.0
    deltas = [
        d for d, e in zip(scenario.delays, scenario.events, strict=True) if e["type"] == "model.message.delta"
    ]
    assert all(0.02 <= d <= 0.04 for d in deltas)
    t0 = time.monotonic()  # before the turn starts: the last event cannot come sooner than its schedule
    with serve("plain_answer", speed=4) as sim, client(sim) as c:
        arrivals: list[float] = []
        with c.stream("POST", turn_path(sim) + "/subscribe", json={}) as r:
            for line in r.iter_lines():
                if line.startswith("id:"):
                    arrivals.append(time.monotonic() - t0)
        assert len(arrivals) == len(scenario.events)
        assert arrivals[-1] >= 0.6 * scenario.duration / 4
        assert arrivals[-1] < 15


def test_speed_adjustable_and_producer_independent_of_subscribers() -> None:
    with serve("long_markdown", speed=1000) as sim:
        assert sim.wait(timeout=10)
        n = len(sim.events())
        assert sim.events()[-1]["type"] == "turn.done"
        with client(sim) as c:
            assert_dense(events_of(subscribe(c, sim).text))
            assert len(events_of(subscribe(c, sim).text)) == n
        sim.speed = 0
        assert math.isinf(sim.speed)


@pytest.mark.parametrize("suffix", [".sse", ".jsonl"])
def test_recording_paths_are_scenarios(tmp_path: Path, suffix: str) -> None:
    src = Scenario.load("approval_pause")
    path = tmp_path / f"rec{suffix}"
    if suffix == ".sse":
        path.write_text("".join(f"id: {i}\ndata: {json.dumps(e)}\n\n" for i, e in enumerate(src.events, 1)))
    else:
        t = 1_700_000_000.0
        rows = [{"seq": i, "t": t + 0.01 * i, "event": e} for i, e in enumerate(src.events, 1)]
        rows.insert(3, rows[2])  # a duplicate from a resumed recording is skipped
        path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    with serve(path, speed=0) as sim, serve(path, speed=0) as other, client(sim) as c, client(other) as c2:
        pairs = events_of(subscribe(c, sim).text)
        assert_dense(pairs)
        assert [e["type"] for _, e in pairs] == [e["type"] for e in src.events]
        assert pairs[0][1]["turn_id"] == sim.turn_id != src.events[0]["turn_id"]
        ids = {e["id"] for _, e in pairs}
        ids2 = {e["id"] for _, e in events_of(subscribe(c2, other).text)}
        assert not ids & ids2  # fresh event ids per served turn
        done = pairs[-1][1]
        approval = [e for _, e in pairs if e["type"] == "tool.approval_required"][0]
        assert done["state"]["required_actions"][0]["id"] == approval["id"]
        base_ids = {e["id"] for _, e in pairs if e["type"] == "model.message"}
        assert approval["tool_calls"][0]["source_event_id"] in base_ids


def test_unknown_scenario_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown scenario"):
        Simulator("no-such-story")
    with pytest.raises(TypeError):
        Simulator("plain_answer", deltas=5)


# ---------------------------------------------------------------------- subscribe cursors


def test_cursor_replays_exactly_what_follows() -> None:
    with serve("sub_agents", speed=0) as sim, client(sim) as c:
        full = events_of(subscribe(c, sim).text)
        n = len(full)
        for cursor in (0, 1, 5, 17, n - 1, n):
            got = events_of(subscribe(c, sim, after_sequence_number=cursor).text)
            assert got == full[cursor:]
        hdr = c.post(turn_path(sim) + "/subscribe", json={}, headers={"Last-Event-Id": "30"})
        assert events_of(hdr.text) == full[30:]
        # an explicit body cursor wins over the header
        both = c.post(
            turn_path(sim) + "/subscribe", json={"after_sequence_number": 33}, headers={"Last-Event-Id": "3"}
        )
        assert events_of(both.text) == full[33:]


def test_subscribe_while_running_replays_then_follows() -> None:
    with serve("long_markdown", speed=10) as sim, client(sim) as c:
        time.sleep(0.3)
        assert not sim.turn().finished
        partial = len(sim.events())
        assert partial >= 2
        with c.stream("POST", turn_path(sim) + "/subscribe", json={"after_sequence_number": 1}) as r:
            text = "".join(r.iter_text())
        pairs = events_of(text)
        assert pairs[0][0] == 2
        assert_dense(pairs, start=2)
        assert len(pairs) + 1 == len(sim.events()) > partial


# ---------------------------------------------------------------------- listing


def test_list_turn_events_pages_merged_content() -> None:
    with serve("sub_agents", speed=0) as sim, client(sim) as c:
        streamed = [e for _, e in events_of(subscribe(c, sim).text)]
        expected = merge_turn_events(streamed)
        r = c.get(turn_path(sim) + "/events", params={"limit": 4})
        body = r.json()
        assert len(body["data"]) == 4 and body["pagination"]["next_page_token"]
        asc = list_all(c, turn_path(sim) + "/events", limit=4)
        assert asc == expected
        assert not {e["type"] for e in asc} & {"model.message.delta", "turn.created", "turn.done"}
        desc = list_all(c, turn_path(sim) + "/events", limit=25, order="desc")
        assert desc == expected[::-1]
        final = [e for e in asc if e["type"] == "model.message"][-1]
        assert final["content"] == "Both are **Apache-2.0**. Milvus' managed cloud is proprietary."
        assert final["finish_reason"] == "stop" and final["usage"]["cache_read_tokens"] == 11000


def test_list_turn_events_409_while_running_and_get_turn_states() -> None:
    with serve("sub_agents", speed=1) as sim, client(sim) as c:
        err = assert_error(c.get(turn_path(sim) + "/events"), 409, sim.turn_id)
        assert err["code"] == "turn_running"
        turn = c.get(turn_path(sim)).json()["data"]
        assert turn["state"] == {"status": "running"}
        assert turn["id"] == sim.turn_id and turn["session_id"] == sim.session_id
        assert c.post(f"v1/agents/sessions/{sim.session_id}/cancel", json={}).json() == {}
        turn = c.get(turn_path(sim)).json()["data"]
        assert turn["state"]["status"] == "cancelled"
        assert c.get(turn_path(sim) + "/events").status_code == 200


def test_session_events_and_turns_newest_first() -> None:
    with serve("plain_answer", speed=0) as sim, client(sim) as c:
        assert sim.wait(timeout=5)
        r = create_turn(c, sim, [user("hello there")], stream=True)
        second = events_of(r.text)[0][1]["turn_id"]
        items = list_all(c, f"v1/agents/sessions/{sim.session_id}/events", limit=7)
        assert items[0] == {"turn_id": second, "event": items[0]["event"]}
        assert items[0]["event"]["type"] == "turn.done" and items[-1]["event"]["type"] == "turn.created"
        assert [i["turn_id"] for i in items if i["event"]["type"] == "turn.created"] == [second, sim.turn_id]
        assert all(i["event"]["type"] != "model.message.delta" for i in items)
        turns = c.get(f"v1/agents/sessions/{sim.session_id}/turns").json()["data"]
        assert [t["id"] for t in turns] == [second, sim.turn_id]
        assert turns[0]["previous_turn_id"] == sim.turn_id
        sess = c.get(f"v1/agents/sessions/{sim.session_id}").json()["data"]
        assert sess["id"] == sim.session_id and sess["agent_name"] == "sim-agent"


# ---------------------------------------------------------------------- auth and errors


def test_authorization_is_required_everywhere() -> None:
    with serve("plain_answer", speed=0) as sim, serve("plain_answer", speed=0) as other:
        assert sim.api_key != other.api_key
        assert sim.api_key not in repr(sim)
        paths = [
            ("POST", turn_path(sim) + "/subscribe"),
            ("GET", turn_path(sim)),
            ("GET", turn_path(sim) + "/events"),
            ("POST", f"v1/agents/sessions/{sim.session_id}/cancel"),
            ("POST", "v1/agents/sessions"),
            ("GET", "v1/agents/sessions/nope"),
        ]
        for key in (other.api_key, sim.api_key + "x", "nope"):
            with client(sim, key=key) as c:
                for method, path in paths:
                    r = c.request(method, path, json={})
                    assert_error(r, 401)
                    assert sim.api_key not in r.text and key not in r.text
        with httpx.Client(base_url=sim.base_url + "/") as bare:
            assert_error(bare.get(turn_path(sim)), 401)
            assert_error(bare.get(turn_path(sim), headers={"Authorization": f"Basic {sim.api_key}"}), 401)


def test_error_shapes() -> None:
    with serve("plain_answer", speed=0) as sim, client(sim) as c:
        sid = sim.session_id
        assert_error(c.get("v1/agents/sessions/sess-missing/turns/x"), 404, "sess-missing")
        assert_error(
            c.post(f"v1/agents/sessions/{sid}/turns/turn-missing/subscribe", json={}), 404, "turn-missing"
        )
        assert_error(c.get(f"v1/agents/sessions/{sid}/turns/turn-missing/events"), 404, "turn-missing")
        assert_error(c.post("v1/agents/sessions/nope/cancel", json={}), 404, "nope")
        assert_error(subscribe(c, sim, after_sequence_number=-1), 400, "after_sequence_number")
        assert_error(subscribe(c, sim, after_sequence_number="x"), 400)
        assert_error(subscribe(c, sim, after_sequence_number=True), 400)
        assert_error(c.post(turn_path(sim) + "/subscribe", json={}, headers={"Last-Event-Id": "abc"}), 400)
        sim.wait(timeout=5)
        assert_error(c.get(turn_path(sim) + "/events", params={"limit": 26}), 400, "limit")
        assert_error(c.get(turn_path(sim) + "/events", params={"limit": 0}), 400, "limit")
        assert_error(c.get(turn_path(sim) + "/events", params={"order": "sideways"}), 400, "order")
        assert_error(c.get(turn_path(sim) + "/events", params={"page_token": "garbage"}), 400, "page_token")
        assert_error(create_turn(c, sim, [{"type": "user.telepathy"}]), 400, "user.telepathy")
        assert_error(create_turn(c, sim, [{"type": "user.message", "content": 5}]), 400)
        assert_error(create_turn(c, sim, []), 400)
        assert_error(
            c.post(
                f"v1/agents/sessions/{sid}/turns",
                content=b"{not json",
                headers={"content-type": "application/json"},
            ),
            400,
            "JSON",
        )
        err = assert_error(c.post("v1/agents/sessions", json={}), 422, "agent_name")
        assert err["code"] == "validation_error"
        assert_error(c.get("v1/agents/unknown"), 404)
        assert_error(c.delete(turn_path(sim)), 405)
        ok = c.post("v1/agents/sessions", json={"agent_name": "other"})
        assert ok.status_code == 200 and ok.json()["data"]["agent_name"] == "other"


# ---------------------------------------------------------------------- cancel and create turn


def test_cancel_ends_the_stream_and_is_idempotent() -> None:
    with serve("long_markdown", speed=2) as sim, client(sim) as c:
        seen: list[tuple[int, dict[str, Any]]] = []
        with c.stream("POST", turn_path(sim) + "/subscribe", json={}) as r:
            buf = ""
            cancelled = False
            for chunk in r.iter_text():
                buf += chunk
                seen = events_of(buf[: buf.rfind("\n\n") + 2])
                if len(seen) >= 3 and not cancelled:
                    assert c.post(f"v1/agents/sessions/{sim.session_id}/cancel", json={}).status_code == 200
                    cancelled = True
            seen = events_of(buf)
        assert_dense(seen)
        done = seen[-1][1]["state"]
        assert done["status"] == "cancelled" and done["reason"] == "client-cancelled"
        assert len(seen) < len(Scenario.long_markdown().events)
        assert c.post(f"v1/agents/sessions/{sim.session_id}/cancel", json={}).json() == {}
        assert len(sim.events()) == len(seen)


def test_new_message_cancels_a_running_turn_for_the_next_one() -> None:
    with serve("long_markdown", speed=1) as sim, client(sim) as c:
        r = create_turn(c, sim, [user("what is 2+2?")])
        assert r.status_code == 200
        new = r.json()["data"]
        assert new["state"]["status"] == "running" and new["previous_turn_id"] == sim.turn_id
        old = c.get(turn_path(sim)).json()["data"]["state"]
        assert old["status"] == "cancelled" and old["reason"] == "cancelled-for-next-turn"
        pairs = events_of(subscribe(c, sim, new["id"]).text)
        assert_dense(pairs)
        assert "what is 2+2?" in merge_turn_events([e for _, e in pairs])[0]["content"]


def _paused(c: httpx.Client, sim: Simulator, text: str) -> tuple[str, dict[str, Any]]:
    r = create_turn(c, sim, [user(text)], stream=True, previous_turn_id="none")
    assert r.status_code == 200, r.text
    pairs = events_of(r.text)
    assert_dense(pairs)
    done = pairs[-1][1]
    assert done["state"]["status"] == "done" and done["state"]["required_actions"]
    return pairs[0][1]["turn_id"], done


def test_approval_pause_allow_and_deny() -> None:
    with serve("plain_answer", speed=0) as sim, client(sim) as c:
        for status, expect in (("allow", "processed"), ("deny", "did not run")):
            turn_id, done = _paused(c, sim, "Please refund my order")
            call = done["state"]["required_actions"][0]["tool_calls"][0]["id"]
            assert_error(create_turn(c, sim, [user("hello?")]), 409, call)
            mixed = [
                user("x"),
                {
                    "type": "user.tool_approval",
                    "thread_id": "main",
                    "tool_call_id": call,
                    "approval": {"status": "allow"},
                },
            ]
            assert_error(create_turn(c, sim, mixed), 400, "mix")
            assert_error(create_turn(c, sim, []), 400, call)
            approval: dict[str, Any] = {"status": status}
            if status == "deny":
                approval["reason"] = "too expensive"
            item = {
                "type": "user.tool_approval",
                "thread_id": "main",
                "tool_call_id": call,
                "approval": approval,
            }
            r = create_turn(c, sim, [item], stream=True)
            pairs = events_of(r.text)
            assert_dense(pairs)
            assert pairs[0][1]["previous_turn_id"] == turn_id and pairs[0][1]["input"] == [item]
            merged = merge_turn_events([e for _, e in pairs])
            response = [e for e in merged if e["type"] == "tool.response"][0]
            assert response["tool_call_id"] == call
            assert expect in merged[-1]["content"]
            if status == "deny":
                assert "too expensive" in response["content"]
            assert pairs[-1][1]["state"] == {
                **pairs[-1][1]["state"],
                "status": "done",
                "required_actions": [],
            }
            # the paused turn cannot be resumed twice
            again = create_turn(c, sim, [item], previous_turn_id=turn_id)
            assert_error(again, 409, "already resumed")


def test_question_pause() -> None:
    with serve("plain_answer", speed=0) as sim, client(sim) as c:
        _, done = _paused(c, sim, "Ask me a question first")
        action = done["state"]["required_actions"][0]
        assert action["type"] == "tool.response_required"
        call = action["tool_calls"][0]["id"]
        wrong = {
            "type": "user.tool_approval",
            "thread_id": "main",
            "tool_call_id": call,
            "approval": {"status": "allow"},
        }
        assert_error(create_turn(c, sim, [wrong]), 400, "user.tool_response")
        answer = {
            "type": "user.tool_response",
            "thread_id": "main",
            "tool_call_id": call,
            "content": "Sakura",
        }
        r = create_turn(c, sim, [answer])
        assert r.status_code == 200 and r.json()["data"]["state"]["status"] in ("running", "done")
        new_id = r.json()["data"]["id"]
        assert sim.wait(new_id, timeout=5)
        merged = c.get(turn_path(sim, new_id) + "/events").json()["data"]
        assert [e["content"] for e in merged if e["type"] == "tool.response"] == ["Sakura"]
        assert "Sakura" in merged[-1]["content"]


def test_partial_resume_across_threads_is_rejected() -> None:
    with serve("plain_answer", speed=0) as sim, client(sim) as c:
        _, done = _paused(c, sim, "Handle several things at once")
        actions = done["state"]["required_actions"]
        assert {a["thread_id"] for a in actions} == {"main", "th-finance-01"}
        approve = {
            "type": "user.tool_approval",
            "thread_id": "main",
            "tool_call_id": "call_multi_refund",
            "approval": {"status": "allow"},
        }
        answer = {
            "type": "user.tool_response",
            "thread_id": "th-finance-01",
            "tool_call_id": "call_multi_ask",
            "content": "card",
        }
        err = assert_error(create_turn(c, sim, [approve]), 400, "call_multi_ask", "th-finance-01")
        assert err["code"] == "incomplete_resume"
        assert_error(create_turn(c, sim, [answer]), 400, "call_multi_refund")
        assert_error(create_turn(c, sim, [approve, {**answer, "thread_id": "main"}]), 400, "thread")
        assert_error(create_turn(c, sim, [approve, approve]), 400)
        bogus = {**answer, "tool_call_id": "call_nope"}
        assert_error(create_turn(c, sim, [approve, answer, bogus]), 400, "call_nope")
        r = create_turn(c, sim, [answer, approve], stream=True)
        pairs = events_of(r.text)
        assert_dense(pairs)
        types = [e["type"] for _, e in pairs]
        assert "thread.done" in types and pairs[-1][1]["state"]["required_actions"] == []
        responses = {e["tool_call_id"] for _, e in pairs if e["type"] == "tool.response"}
        assert responses == {"call_multi_refund", "call_multi_ask", "call_multi_sub"}


def test_mcp_auth_pause_resumes_with_empty_input() -> None:
    with serve("plain_answer", speed=0) as sim, client(sim) as c:
        _, done = _paused(c, sim, "Sign in to GitHub and list my repos")
        action = done["state"]["required_actions"][0]
        assert action["type"] == "mcp.auth_required" and action["mcp_servers"][0]["auth_url"]
        assert_error(create_turn(c, sim, [user("done")]), 409, "github")
        r = create_turn(c, sim, [], stream=True)
        pairs = events_of(r.text)
        assert_dense(pairs)
        assert any(e["type"] == "mcp.initialize" for _, e in pairs)
        assert pairs[-1][1]["state"]["status"] == "done"


def test_tool_results_without_a_pause_are_rejected() -> None:
    with serve("plain_answer", speed=0) as sim, client(sim) as c:
        sim.wait(timeout=5)
        item = {"type": "user.tool_response", "thread_id": "main", "tool_call_id": "c1", "content": "x"}
        assert_error(create_turn(c, sim, [item]), 409)


# ---------------------------------------------------------------------- faults


def _read_until_error(c: httpx.Client, sim: Simulator, **body: Any) -> tuple[str, Exception | None]:
    buf = ""
    try:
        with c.stream("POST", turn_path(sim) + "/subscribe", json=body) as r:
            assert r.status_code == 200
            for chunk in r.iter_text():
                buf += chunk
    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.ReadTimeout) as exc:
        return buf, exc
    return buf, None


def test_fault_drop_after_n_events_then_resume() -> None:
    with (
        serve("sub_agents", speed=0, faults=Faults(drop_after_events=5, max_drops=1)) as sim,
        client(sim) as c,
    ):
        text, exc = _read_until_error(c, sim)
        assert isinstance(exc, httpx.RemoteProtocolError)
        first = events_of(text)
        assert [s for s, _ in first] == [1, 2, 3, 4, 5]
        rest_text, exc = _read_until_error(c, sim, after_sequence_number=5)
        assert exc is None
        assert_dense(first + events_of(rest_text))
        assert sim.fault_stats["drops"] == 1


def test_fault_random_drops_are_seeded_and_resumable() -> None:
    def run() -> list[int]:
        with (
            serve("sub_agents", speed=0, faults=Faults(seed=7, drop_probability=0.15)) as sim,
            client(sim) as c,
        ):
            got: list[tuple[int, dict[str, Any]]] = []
            sizes = []
            while not got or got[-1][1]["type"] != "turn.done":
                text, _ = _read_until_error(c, sim, after_sequence_number=got[-1][0] if got else 0)
                new = events_of(text)
                sizes.append(len(new))
                got += new
            assert_dense(got)
            assert sim.fault_stats["drops"] >= 2
            return sizes

    assert run() == run()


def test_fault_stall_triggers_client_read_timeout() -> None:
    faults = Faults(stall_seconds=1.5, stall_after_events=2, max_stalls=1)
    with (
        serve("plain_answer", speed=0, faults=faults) as sim,
        client(sim, timeout=httpx.Timeout(5, read=0.4)) as c,
    ):
        text, exc = _read_until_error(c, sim)
        assert isinstance(exc, httpx.ReadTimeout)
        assert [s for s, _ in events_of(text)] == [1, 2]
    with serve("plain_answer", speed=0, faults=faults) as sim, client(sim) as c:
        t0 = time.monotonic()
        text, exc = _read_until_error(c, sim)
        assert exc is None and time.monotonic() - t0 >= 1.4
        assert_dense(events_of(text))


@pytest.mark.parametrize("status", [500, 502, 503, 504, 412])
def test_fault_status_for_next_k_subscribes(status: int) -> None:
    with serve(
        "plain_answer", speed=0, faults=Faults(fail_status=status, fail_count=2, retry_after=1)
    ) as sim:
        with client(sim) as c:
            for _ in range(2):
                r = subscribe(c, sim)
                assert_error(r, status)
                assert r.headers["retry-after"] == "1"
            assert_dense(events_of(subscribe(c, sim).text))
        assert sim.fault_stats["failures"] == 2


def test_fault_malformed_frames_take_no_sequence_number() -> None:
    with serve("sub_agents", speed=0, faults=Faults(malformed_every=4)) as sim, client(sim) as c:
        text = subscribe(c, sim).text
    good, bad_json, bad_id = [], 0, 0
    for f in parse_frames(text):
        try:
            data = json.loads(f["data"])
        except json.JSONDecodeError:
            bad_json += 1
            assert f["id"] is None
            continue
        if not (f["id"] or "").isdigit():
            bad_id += 1
            continue
        good.append((int(f["id"]), data))
    assert_dense(good)
    assert bad_json >= 4 and bad_id >= 4 and bad_json + bad_id == len(good) // 4


def test_fault_retry_and_comment_lines_and_live_adjustment() -> None:
    with serve("plain_answer", speed=0) as sim, client(sim) as c:
        plain = subscribe(c, sim).text
        assert "retry:" not in plain and "\n:" not in plain
        sim.faults = Faults(retry_ms=1500, comment_every=3)
        text = subscribe(c, sim).text
        frames = parse_frames(text)
        assert frames[0]["retry"] == "1500"
        assert sum(1 for f in frames if f["comments"]) == 10 // 3
        assert events_of(text) == events_of(plain)
        sim.faults = None
        assert subscribe(c, sim).text == plain


def test_faults_can_apply_to_create_turn_streams() -> None:
    with serve("plain_answer", speed=0) as sim, client(sim) as c:
        sim.wait(timeout=5)
        sim.faults = Faults(drop_after_events=2)
        r = create_turn(c, sim, [user("hi")], stream=True)
        assert_dense(events_of(r.text))  # not applied by default
        sim.faults = Faults(drop_after_events=2, apply_to_create=True)
        with pytest.raises(httpx.RemoteProtocolError):
            create_turn(c, sim, [user("hi again")], stream=True)


def test_keepalive_comments_while_idle() -> None:
    scenario = Scenario.echo("hi")
    scenario.delays = [0.0] * len(scenario.events)
    scenario.delays[2] = 0.6  # a silent gap before the first delta
    with serve(scenario, speed=1, keepalive=0.2) as sim, client(sim) as c:
        text = subscribe(c, sim).text
    frames = parse_frames(text)
    assert any("keep-alive" in f["comments"] for f in frames)
    assert_dense(events_of(text))


# ---------------------------------------------------------------------- lifecycle


def test_client_drop_mid_stream_does_not_hurt_the_server() -> None:
    with serve("long_markdown", speed=5) as sim:
        for _ in range(5):
            with client(sim) as c, c.stream("POST", turn_path(sim) + "/subscribe", json={}) as r:
                next(r.iter_bytes())
        with client(sim) as c:
            assert c.get(turn_path(sim)).status_code == 200


def test_stop_closes_everything_and_leaves_no_threads() -> None:
    before = set(threading.enumerate())
    sim = Simulator("long_markdown", speed=1)
    assert "stopped" in repr(sim)
    sim.start()
    port = sim.port
    assert sim.api_key not in repr(sim) and sim.base_url in repr(sim)
    results: dict[str, Any] = {}
    streaming = threading.Event()

    def reader() -> None:
        try:
            with client(sim) as c, c.stream("POST", turn_path(sim) + "/subscribe", json={}) as r:
                for _ in r.iter_bytes():
                    streaming.set()
            results["ended"] = "clean"
        except httpx.HTTPError as exc:
            results["ended"] = type(exc).__name__
        finally:
            streaming.set()

    idle = client(sim)
    assert idle.get(turn_path(sim)).status_code == 200  # a kept-alive idle connection
    t = threading.Thread(target=reader)
    t.start()
    # a subscriber mid-stream (however long the machine took to get it there)
    assert streaming.wait(60) and "ended" not in results, results
    assert any(th not in before for th in threading.enumerate() if th is not t)
    sim.stop()
    # stop interrupted the turn: it did not wait for the scripted timeline to run out
    assert not any(e.get("type") == "turn.done" for e in sim.events())
    t.join(60)
    assert not t.is_alive()
    idle.close()
    assert results["ended"] != "clean"
    leftover = [th.name for th in threading.enumerate() if th not in before and th.is_alive()]
    assert leftover == []
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    sim.stop()  # idempotent


def test_cli_main_prints_connection_details(capsys: pytest.CaptureFixture[str]) -> None:
    from tfwidget.sim import main

    assert main(["--scenario", "plain_answer", "--speed", "0", "--duration", "0.2"]) == 0
    out = capsys.readouterr().out
    assert "export TFY_GATEWAY_URL=http://127.0.0.1:" in out and "export TFY_API_KEY=tfy-sim-" in out
    assert "session id:" in out and "turn id:" in out


def test_cli_module_serves_until_interrupted() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tfwidget.sim", "--scenario", "ask_user", "--speed", "0", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        values: dict[str, str] = {}
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("export "):
                k, _, v = line[len("export ") :].strip().partition("=")
                values[k] = v
            elif ":" in line and not line.startswith(" "):
                k, _, v = line.partition(":")
                values[k.strip()] = v.strip()
            if "TFY_API_KEY" in values:
                break
        url, key = values["TFY_GATEWAY_URL"], values["TFY_API_KEY"]
        with httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=10) as c:
            r = c.post(
                f"{url}/v1/agents/sessions/{values['session id']}/turns/{values['turn id']}/subscribe",
                json={},
            )
            assert_dense(events_of(r.text))
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_stop_does_not_hang_on_a_client_that_stopped_reading() -> None:
    before = threading.active_count()
    sim = Simulator("large", deltas=50_000, speed=0).start()
    assert sim.wait(timeout=30)
    path = f"/api/llm/{turn_path(sim)}/subscribe"
    request = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {sim.api_key}\r\n"
        "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
    )
    with socket.create_connection(("127.0.0.1", sim.port), timeout=5) as s:
        s.sendall(request.encode())
        assert s.recv(15).startswith(b"HTTP/1.1 200")
        time.sleep(0.3)  # the server is now blocked writing megabytes nobody reads
        t0 = time.monotonic()
        sim.stop()
        assert time.monotonic() - t0 < 15
    assert threading.active_count() == before
