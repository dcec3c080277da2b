"""tfwidget.otel: turns from the fixtures and from the simulated gateway (loopback HTTP) as OpenTelemetry
spans, written as OTLP/JSON and read back with the OpenTelemetry protobuf schema."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from google.protobuf.json_format import ParseDict
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.trace import StatusCode

import tfwidget
from tfwidget import otel
from tfwidget.client import GatewayClient
from tfwidget.session import chat
from tfwidget.sim import SCENARIO_NAMES, serve
from tfwidget.sse import StreamItem
from tfwidget.state import TurnState

from .conftest import FIXTURE_NAMES, FIXTURES


def fixture_state(name: str) -> TurnState:
    return TurnState.from_items(tfwidget.load(FIXTURES / f"{name}.sse"))


def by_name(spans: list[Any]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for s in spans:
        out.setdefault(s.name, []).append(s)
    return out


def iso_ns(value: str) -> int:
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1e9)


def expected_tree(state: TurnState) -> dict[str, Any]:
    """What the trace of a turn must hold, worked out from the fold alone (no tfwidget.otel code)."""
    return {
        "chats": {m.id: m for m in state.messages},
        "tools": dict(state.tool_calls),
        "threads": {tid: th for tid, th in state.threads.items() if tid != "main"},
    }


def resumed_calls(state: TurnState) -> set[str]:
    """Tool calls of a paused turn that this (resumed) turn ran: responses for calls it did not make."""
    return {
        ev.tool_call_id
        for ev in state.events_by_id.values()
        if ev.type == "tool.response" and ev.tool_call_id not in state.tool_calls
    }


def check_tree(state: TurnState, spans: list[Any]) -> None:
    """The span tree of ``spans`` is the turn's: one root, a chat span per model call under its thread, a
    tool span per tool call under its thread, each sub-agent under the create_sub_agent call that spawned it."""
    exp = expected_tree(state)
    ids = {s.context.span_id: s for s in spans}
    resumed = resumed_calls(state)
    assert (
        len(ids)
        == len(spans)
        == 1 + len(exp["chats"]) + len(exp["tools"]) + len(exp["threads"]) + len(resumed)
    )
    assert len({s.context.trace_id for s in spans}) == 1
    roots = [s for s in spans if s.parent is None]
    assert len(roots) == 1
    root = roots[0]
    assert root.attributes["gen_ai.operation.name"] == "invoke_agent"
    thread_span = {"main": root}
    for s in spans:
        if s.attributes["gen_ai.operation.name"] == "invoke_agent" and s is not root:
            thread_span[s.attributes["truefoundry.thread.id"]] = s
    assert set(thread_span) == {"main", *exp["threads"]}
    tool_span = {s.attributes["gen_ai.tool.call.id"]: s for s in spans if s.name.startswith("execute_tool")}
    assert set(tool_span) == set(exp["tools"]) | set(resumed)
    for cid in resumed:
        assert tool_span[cid].status.status_code is StatusCode.OK
        assert tool_span[cid].attributes["truefoundry.tool.resumed"] is True
    for cid, info in exp["tools"].items():
        s = tool_span[cid]
        assert s.name == f"execute_tool {info.name}"
        assert s.attributes["gen_ai.tool.name"] == info.name
        assert s.parent.span_id == thread_span[info.thread_id or "main"].context.span_id
        assert s.status.status_code == (
            StatusCode.OK if info.status == "completed" else StatusCode.UNSET
        ) or (
            state.threads.get(info.child_thread_id or "") is not None
            and state.threads[info.child_thread_id].status == "error"
        )
    for tid, th in exp["threads"].items():
        s = thread_span[tid]
        assert s.parent.span_id == tool_span[th.parent_tool_call_id].context.span_id
        assert s.attributes["gen_ai.agent.name"] == th.agent_name
    chat_span = {s.attributes["truefoundry.message.id"]: s for s in spans if s.name.startswith("chat")}
    assert set(chat_span) == set(exp["chats"])
    for mid, m in exp["chats"].items():
        s = chat_span[mid]
        assert s.parent.span_id == thread_span[m.thread_id or "main"].context.span_id
        if m.usage is not None:
            assert s.attributes["gen_ai.usage.input_tokens"] == m.usage.input_tokens
            assert s.attributes["gen_ai.usage.output_tokens"] == m.usage.output_tokens
            assert s.attributes["llm.token_count.prompt"] == m.usage.input_tokens
            assert s.attributes["llm.token_count.completion"] == m.usage.output_tokens
        else:
            assert "gen_ai.usage.input_tokens" not in s.attributes
        if m.finish_reason:
            assert list(s.attributes["gen_ai.response.finish_reasons"]) == [m.finish_reason]
    # every child inside its parent's time window
    for s in spans:
        assert s.start_time <= s.end_time
        if s.parent is not None:
            p = ids[s.parent.span_id]
            assert p.start_time <= s.start_time and s.end_time <= p.end_time, (s.name, p.name)
    expected_status = {"done": StatusCode.OK, "paused": StatusCode.OK, "error": StatusCode.ERROR,
                       "cancelled": StatusCode.UNSET, "running": StatusCode.UNSET}[state.status]  # fmt: skip
    assert root.status.status_code == expected_status
    assert root.attributes["truefoundry.turn.status"] == state.status
    t = state.totals()
    assert root.attributes["gen_ai.usage.input_tokens"] == t["input_tokens"]
    assert root.attributes["gen_ai.usage.output_tokens"] == t["output_tokens"]


# ------------------------------------------------------------------------------------------ span tree


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_fixture_span_tree(name: str) -> None:
    state = fixture_state(name)
    spans = otel.to_spans(state, session_id="sess-1", agent_name="support")
    check_tree(state, spans)
    root = next(s for s in spans if s.parent is None)
    assert root.name == "invoke_agent support"
    assert root.attributes["gen_ai.conversation.id"] == "sess-1"
    assert root.attributes["session.id"] == "sess-1"
    assert root.attributes["openinference.span.kind"] == "AGENT"
    assert root.attributes["truefoundry.turn.id"] == state.turn_id


def test_sub_agents_tree_names_and_times() -> None:
    state = fixture_state("sub_agents")
    spans = by_name(otel.to_spans(state))
    assert sorted(spans) == [
        "chat", "chat openai-main/gpt-5-mini", "execute_tool create_sub_agent", "invoke_agent",
        "invoke_agent milvus-research", "invoke_agent qdrant-research",
    ]  # fmt: skip
    sub = spans["invoke_agent qdrant-research"][0]
    parent = next(
        s for s in spans["execute_tool create_sub_agent"] if s.context.span_id == sub.parent.span_id
    )
    assert parent.attributes["gen_ai.tool.call.id"] == "call_sub_q"
    assert sub.attributes["openinference.span.kind"] == "AGENT"
    assert sub.attributes["gen_ai.request.model"] == "openai-main/gpt-5-mini"
    # times come from the recording (a .sse capture: created_at): the turn's own clock
    root = spans["invoke_agent"][0]
    events = [json.loads(line[6:]) for line in (FIXTURES / "sub_agents.sse").read_text().splitlines()
              if line.startswith("data: ")]  # fmt: skip
    assert root.start_time == iso_ns(events[0]["created_at"])
    assert root.end_time == iso_ns(events[-1]["created_at"])
    created = next(e for e in events if e["type"] == "thread.created" and e["thread_id"] == "th-qdrant-01")
    done = next(e for e in events if e["type"] == "thread.done" and e["thread_id"] == "th-qdrant-01")
    assert (sub.start_time, sub.end_time) == (iso_ns(created["created_at"]), iso_ns(done["created_at"]))
    chat = spans["chat"][0]
    assert chat.attributes["gen_ai.response.time_to_first_chunk"] == pytest.approx(0.1)
    assert chat.attributes["truefoundry.usage.input_tokens_breakdown.harness"] == 7824
    # the sandbox is an event on the root span
    assert [e.name for e in root.events] == ["sandbox.created"]
    assert root.events[0].attributes["truefoundry.sandbox.id"] == "sbx-42f1"
    # a turn that continues another links to that turn's root span
    prev = state.created.previous_turn_id
    assert [(lk.context.trace_id, lk.context.span_id) for lk in root.links] == [
        (otel.trace_id(prev), otel.span_id(prev, "turn"))
    ]


def test_pauses_errors_and_cancel() -> None:
    paused = otel.to_spans(fixture_state("approval_pause"))
    root = next(s for s in paused if s.parent is None)
    assert [e.name for e in root.events] == ["mcp.initialize", "tool.approval_required", "turn.paused"]
    assert list(root.events[1].attributes["truefoundry.tool_call.ids"]) == ["call_refund_1"]
    waiting = next(s for s in paused if s.name == "execute_tool process_refund")
    assert waiting.attributes["truefoundry.tool.status"] == "awaiting_approval"
    assert waiting.attributes["truefoundry.mcp.server.name"] == "orders-api"
    assert waiting.attributes["gen_ai.tool.type"] == "extension"

    err_state = fixture_state("error_mcp_auth")
    (err,) = otel.to_spans(err_state)
    assert err.status.status_code is StatusCode.ERROR
    assert err.status.description == err_state.status_reason
    assert "mcp.auth_required" in [e.name for e in err.events]
    assert "auth_url" not in json.dumps([dict(e.attributes) for e in err.events])

    cancelled = otel.to_spans(fixture_state("cancelled"))
    root = next(s for s in cancelled if s.parent is None)
    assert root.attributes["truefoundry.turn.status"] == "cancelled"
    assert root.attributes["truefoundry.turn.cancel_reason"] == fixture_state("cancelled").status_reason


def test_ids_are_deterministic() -> None:
    a = otel.to_spans(fixture_state("sub_agents"))
    b = otel.to_spans(TurnState.from_items(tfwidget.load(FIXTURES / "sub_agents.sse")))
    assert [(s.context.trace_id, s.context.span_id) for s in a] == [
        (s.context.trace_id, s.context.span_id) for s in b
    ]
    other = otel.to_spans(fixture_state("plain_answer"))
    assert {s.context.span_id for s in a}.isdisjoint({s.context.span_id for s in other})
    assert a[0].context.trace_id == otel.trace_id(fixture_state("sub_agents").turn_id)


# ------------------------------------------------------------------------------------------ content


def all_strings(spans: list[Any]) -> str:
    return json.dumps([otel.to_otlp_json(spans)], ensure_ascii=False)


def test_content_is_opt_in_and_redacted() -> None:
    state = fixture_state("approval_pause")
    answer = state.message_text(state.message_ids()[-1])[0]
    args = next(iter(state.tool_calls.values())).arguments
    assert answer or args
    plain = all_strings(otel.to_spans(state))
    for text in (answer, args):
        if text:
            assert text not in plain
    full = otel.to_spans(state, include_content=True)
    chat = [s for s in full if s.name.startswith("chat")]
    assert any(s.attributes.get("gen_ai.output.messages") for s in chat)
    tool = next(s for s in full if s.name == "execute_tool get_order")
    assert (
        tool.attributes["gen_ai.tool.call.arguments"]
        == state.tool_calls[tool.attributes["gen_ai.tool.call.id"]].arguments
    )
    assert (
        tool.attributes["gen_ai.tool.call.result"]
        == state.tool_calls[tool.attributes["gen_ai.tool.call.id"]].response
    )

    seen: list[str] = []

    def redact(text: str) -> str:
        seen.append(text)
        return "[redacted]"

    red = otel.to_spans(state, include_content=True, redact=redact)
    assert seen
    dumped = all_strings(red)
    for text in seen:
        if len(text) > 3:
            assert json.dumps(text, ensure_ascii=False)[1:-1] not in dumped
    assert "[redacted]" in dumped

    err = otel.to_spans(fixture_state("error_mcp_auth"), redact=lambda t: "hidden")
    assert err[0].status.description == "hidden"
    with pytest.raises(TypeError, match="redact"):
        otel.to_spans(state, include_content=True, redact=lambda t: None)  # type: ignore[arg-type,return-value]


# ------------------------------------------------------------------------------------------ OTLP/JSON


def load_otlp_json(path: Path) -> list[ExportTraceServiceRequest]:
    """Parse an OTLP/JSON file strictly with the protobuf schema (ids: OTLP's hex -> protobuf's base64)."""

    def b64(obj: Any) -> Any:
        if isinstance(obj, dict):
            return {k: (base64.b64encode(bytes.fromhex(v)).decode() if k in ("traceId", "spanId", "parentSpanId")
                        else b64(v)) for k, v in obj.items()}  # fmt: skip
        if isinstance(obj, list):
            return [b64(v) for v in obj]
        return obj

    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        raw = json.loads(line)
        for rs in raw["resourceSpans"]:
            for ss in rs["scopeSpans"]:
                for sp in ss["spans"]:
                    assert len(sp["traceId"]) == 32 and len(sp["spanId"]) == 16
                    assert isinstance(sp["kind"], int)
        out.append(ParseDict(b64(raw), ExportTraceServiceRequest()))
    return out


def test_otlp_json_file_loads_with_the_protobuf_schema(tmp_path: Path) -> None:
    turns = tfwidget.concat(FIXTURES)
    result = otel.export(turns, path=tmp_path / "turns.otlp.jsonl", session_id="s-9")
    assert result.path == tmp_path / "turns.otlp.jsonl" and result.endpoint is None
    requests = load_otlp_json(result.path)
    assert len(requests) == len(FIXTURE_NAMES) == len(result.trace_ids)
    total = 0
    for req, (key, state) in zip(requests, turns.states.items(), strict=True):
        expected = otel.to_spans(state, session_id="s-9")
        (rs,) = req.resource_spans
        assert {a.key: a.value.string_value for a in rs.resource.attributes}["service.name"] == "tfwidget"
        (ss,) = rs.scope_spans
        assert ss.scope.name == "tfwidget.otel"
        got = {sp.span_id.hex(): sp for sp in ss.spans}
        assert len(got) == len(expected)
        for e in expected:
            sp = got[format(e.context.span_id, "016x")]
            assert sp.name == e.name
            assert sp.trace_id.hex() == result.trace_ids[key] == format(e.context.trace_id, "032x")
            assert sp.parent_span_id.hex() == (format(e.parent.span_id, "016x") if e.parent else "")
            assert (sp.start_time_unix_nano, sp.end_time_unix_nano) == (e.start_time, e.end_time)
            assert sp.status.code == e.status.status_code.value
            attrs = {a.key: a.value for a in sp.attributes}
            for k in ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens"):
                if k in e.attributes:
                    assert attrs[k].int_value == e.attributes[k]
        total += len(got)
    assert total == result.spans


def test_export_needs_a_destination_and_a_valid_endpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(ValueError, match=r"endpoint= .* or path=.*OTEL_EXPORTER_OTLP_ENDPOINT"):
        otel.export(FIXTURES / "plain_answer.sse")
    with pytest.raises(ValueError, match="http"):
        otel.export(FIXTURES / "plain_answer.sse", endpoint="127.0.0.1:4318")
    with pytest.raises(ValueError, match="key=value"):
        otel.export(FIXTURES / "plain_answer.sse", path=tmp_path / "x.jsonl", headers="novalue")
    with pytest.raises(ValueError, match="one turn"):
        otel.to_spans(tfwidget.concat(FIXTURES))
    with pytest.raises(TypeError, match="expected a TurnState"):
        otel.to_spans(42)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_endpoint_is_a_clear_error() -> None:
    port = free_port()  # nothing listens there
    with pytest.raises(otel.OtelExportError, match=rf"127.0.0.1:{port}/v1/traces.*[Cc]onnection refused"):
        otel.export(FIXTURES / "plain_answer.sse", endpoint=f"http://127.0.0.1:{port}", timeout=2)


class _Refuses(BaseHTTPRequestHandler):
    """An OTLP/HTTP endpoint that turns every request away, as one with wrong credentials does."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        body = b'{"message": "invalid credentials"}'
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_a_refusing_endpoint_is_a_clear_error_with_its_status() -> None:
    server = HTTPServer(("127.0.0.1", 0), _Refuses)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with pytest.raises(otel.OtelExportError, match="401"):
            otel.export(
                FIXTURES / "plain_answer.sse", endpoint=f"http://127.0.0.1:{server.server_address[1]}"
            )
    finally:
        server.shutdown()
        server.server_close()


class _Collector(BaseHTTPRequestHandler):
    """A minimal OTLP/HTTP receiver: keeps every request's path, headers and decoded body."""

    received: ClassVar[list[tuple[str, dict[str, str], ExportTraceServiceRequest]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        req = ExportTraceServiceRequest()
        req.ParseFromString(body)
        type(self).received.append((self.path, dict(self.headers), req))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_sim_turn_to_an_otlp_http_endpoint_never_sends_the_api_key(tmp_path: Path) -> None:
    _Collector.received = []
    server = HTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with serve("sub_agents", speed=0) as sim:
            view = tfwidget.watch(sim.session_id, sim.turn_id, base_url=sim.base_url, api_key=sim.api_key)
            asyncio.run(view.wait(timeout=120))
            url = f"http://127.0.0.1:{server.server_address[1]}"
            result = otel.export(view, endpoint=url, path=tmp_path / "t.jsonl", headers="x-team=ml,authorization=Basic%20abc",
                                 include_content=True)  # fmt: skip
            key = sim.api_key
            session_id = sim.session_id
        assert result.endpoint == url + "/v1/traces"
        ((path, headers, req),) = _Collector.received
        assert path == "/v1/traces"
        assert headers["x-team"] == "ml" and headers["authorization"] == "Basic abc"
        spans = [sp for rs in req.resource_spans for ss in rs.scope_spans for sp in ss.spans]
        assert len(spans) == result.spans
        # the view knows its session: the trace carries it
        root = next(sp for sp in spans if not sp.parent_span_id)
        attrs = {a.key: a.value.string_value for a in root.attributes}
        assert attrs["gen_ai.conversation.id"] == attrs["session.id"] == session_id
        check_tree(view.state, otel.to_spans(view))
        assert key not in req.SerializeToString().decode("latin-1")
        assert key not in (tmp_path / "t.jsonl").read_text()
    finally:
        server.shutdown()
        server.server_close()


def _check_receive_times(items: list[StreamItem]) -> None:
    state = TurnState.from_items(items)
    spans = otel.to_spans(items)
    check_tree(state, spans)
    root = next(s for s in spans if s.parent is None)
    assert root.start_time == round(items[0].received_at * 1e9)
    assert root.end_time == round(items[-1].received_at * 1e9)
    # a model call: from its base message's arrival to its finishing delta's, as received
    first_msg = next(i for i in items if i.event.type == "model.message")
    finish = next(i for i in items if i.event.type == "model.message.delta" and i.event.id == first_msg.event.id
                  and i.event.finish_reason)  # fmt: skip
    # the chat span (its tool call's span names the same message)
    chat = next(s for s in spans if s.attributes.get("truefoundry.message.id") == first_msg.event.id
                and s.attributes.get("gen_ai.operation.name") == "chat")  # fmt: skip
    assert (chat.start_time, chat.end_time) == (
        round(first_msg.received_at * 1e9),
        round(finish.received_at * 1e9),
    )
    # its tool call runs from the call's end to the tool.response's arrival
    response = next(i for i in items if i.event.type == "tool.response")
    tool = next(s for s in spans if s.attributes.get("gen_ai.tool.call.id") == response.event.tool_call_id)
    assert (tool.start_time, tool.end_time) == (chat.end_time, round(response.received_at * 1e9))


def test_live_view_times_are_receive_times() -> None:
    with serve("approval_pause", speed=20) as sim, GatewayClient(sim.base_url, sim.api_key) as client:
        items = list(client.subscribe(sim.session_id, sim.turn_id))
    _check_receive_times(items)


def test_receive_times_when_the_call_and_its_tool_response_arrive_apart() -> None:
    # the model call (base message to finishing delta) in one chunk, the tool.response and the rest in a
    # later one: the call's span and its tool's span start at the same moment and must not be confused
    with serve("approval_pause", speed=0) as sim, GatewayClient(sim.base_url, sim.api_key) as client:
        items = list(client.subscribe(sim.session_id, sim.turn_id))
    t0 = items[0].received_at
    cut = next(k for k, i in enumerate(items) if i.event.type == "tool.response")
    retimed = [StreamItem(i.sequence_number, i.event, t0 + (0.25 if k >= cut else 0.0), i.raw)
               for k, i in enumerate(items)]  # fmt: skip
    _check_receive_times(retimed)


def test_session_view_exports_every_turn_and_links_the_resumed_one(tmp_path: Path) -> None:
    with serve("plain_answer", speed=0) as sim, GatewayClient(sim.base_url, sim.api_key) as client:
        view = chat("sim-agent", client=client)
        paused = view.send("Please refund order 42")
        view.wait(60)
        assert paused.status == "paused"
        (pending,) = view.pending
        resumed = view.approve(pending.tool_call_id)
        view.wait(60)
        assert resumed is not None and resumed.status == "done"
        result = otel.export(view, path=tmp_path / "session.jsonl")
        key = sim.api_key
    assert list(result.trace_ids.values()) == [
        format(otel.trace_id(paused.turn_id), "032x"),
        format(otel.trace_id(resumed.turn_id), "032x"),
    ]
    assert key not in (tmp_path / "session.jsonl").read_text()
    first, second = (
        otel.to_spans(paused, agent_name="sim-agent"),
        otel.to_spans(resumed, agent_name="sim-agent"),
    )
    check_tree(paused.state, first)
    check_tree(resumed.state, second)
    (req1, req2) = load_otlp_json(tmp_path / "session.jsonl")
    for req, view_turn in ((req1, paused), (req2, resumed)):
        (root,) = [sp for sp in req.resource_spans[0].scope_spans[0].spans if not sp.parent_span_id]
        attrs = {a.key: a.value.string_value for a in root.attributes}
        assert root.name == "invoke_agent sim-agent"  # the session's agent
        assert attrs["session.id"] == attrs["gen_ai.conversation.id"] == view.session_id
        assert attrs["truefoundry.turn.id"] == view_turn.turn_id
    # the resumed turn links to the paused one and runs the approved call
    root2 = next(s for s in second if s.parent is None)
    assert [(lk.context.trace_id, lk.context.span_id) for lk in root2.links] == [
        (otel.trace_id(paused.turn_id), otel.span_id(paused.turn_id, "turn"))
    ]
    run = next(s for s in second if s.attributes.get("gen_ai.tool.call.id") == pending.tool_call_id)
    assert run.attributes["truefoundry.tool.decision"] == "approved"
    waiting = next(s for s in first if s.attributes.get("gen_ai.tool.call.id") == pending.tool_call_id)
    assert waiting.attributes["truefoundry.tool.status"] == "awaiting_approval"
    assert waiting.context.trace_id != run.context.trace_id
    # exported together, the paused turn's call says how the wait for a person ended and how long it took
    (req1, _req2) = load_otlp_json(tmp_path / "session.jsonl")
    span = next(sp for sp in req1.resource_spans[0].scope_spans[0].spans if sp.name == waiting.name)
    attrs = {a.key: a.value for a in span.attributes}
    assert attrs["truefoundry.wait.decision"].string_value == "approved"
    waited = attrs["truefoundry.wait.duration_s"].double_value
    assert 0 <= waited <= resumed.state.items[0].received_at - paused.state.items[0].received_at


@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_every_simulator_scenario_span_tree(name: str, tmp_path: Path) -> None:
    options = {"deltas": 2000} if name == "large" else {}
    with serve(name, speed=0, **options) as sim, GatewayClient(sim.base_url, sim.api_key) as client:
        items = list(client.subscribe(sim.session_id, sim.turn_id))
        session_id = sim.session_id
    state = TurnState.from_items(items)
    spans = otel.to_spans(items, session_id=session_id)
    check_tree(state, spans)
    result = otel.export(items, path=tmp_path / "t.jsonl", session_id=session_id, include_content=True)
    (req,) = load_otlp_json(tmp_path / "t.jsonl")
    assert (
        sum(len(ss.spans) for rs in req.resource_spans for ss in rs.scope_spans) == result.spans == len(spans)
    )


def test_a_view_still_streaming_exports_what_it_has() -> None:
    # "large" streams for about five minutes at speed 1: still running when read after its first events
    with serve("large", speed=1) as sim:
        view = tfwidget.watch(sim.session_id, sim.turn_id, base_url=sim.base_url, api_key=sim.api_key)
        deadline = time.monotonic() + 120
        while len(view.events) < 20:
            assert time.monotonic() < deadline, "no events streamed"
            time.sleep(0.05)
        spans = otel.to_spans(view)
        view.stop()
    root = next(s for s in spans if s.parent is None)
    assert root.attributes["truefoundry.turn.status"] == "running"
    assert root.status.status_code is StatusCode.UNSET
    assert root.context.trace_id == otel.trace_id(view.turn_id)
    (chat,) = [s for s in spans if s.name.startswith("chat")]
    assert chat.status.status_code is StatusCode.UNSET  # its finishing delta has not come
    assert "gen_ai.response.finish_reasons" not in chat.attributes
    assert root.start_time <= chat.start_time <= chat.end_time <= root.end_time


def test_model_and_per_call_cost() -> None:
    state = fixture_state("sub_agents")
    spans = otel.to_spans(state, model="openai-main/gpt-5")
    chats = [s for s in spans if s.name.startswith("chat")]
    main = [s for s in chats if s.attributes["truefoundry.thread.id"] == "main"]
    assert main and {s.name for s in main} == {"chat openai-main/gpt-5"}
    assert {s.attributes["gen_ai.request.model"] for s in main} == {"openai-main/gpt-5"}
    subs = [s for s in chats if s.attributes["truefoundry.thread.id"] != "main"]
    assert {s.name for s in subs} == {"chat openai-main/gpt-5-mini"}  # sub-agents keep their own model
    # with the model named, every call is priced from tfwidget.pricing's table
    assert {s.attributes["truefoundry.cost_source"] for s in chats} == {"priced"}
    assert all(s.attributes["llm.cost.total"] == s.attributes["truefoundry.cost_usd"] > 0 for s in chats)
    # without it the main agent's calls take their share of the turn's reported cost: together, that cost
    unnamed = [s for s in otel.to_spans(state) if s.name.startswith("chat")]
    assert {s.attributes["truefoundry.cost_source"] for s in unnamed} == {"priced", "allocated"}
    assert sum(s.attributes["llm.cost.total"] for s in unnamed) == pytest.approx(
        state.metrics.total_cost_in_usd
    )
    root = next(s for s in spans if s.parent is None)
    assert root.attributes["truefoundry.turn.cost_usd"] == state.metrics.total_cost_in_usd
    assert "llm.cost.total" not in root.attributes  # Phoenix sums the calls' costs: no double count


def test_the_standard_environment_variables_name_the_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    _Collector.received = []
    server = HTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", base + "/")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-team=ml")
        result = otel.export(FIXTURES / "sub_agents.sse")
        assert result.endpoint == base + "/v1/traces" and result.path is None
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", base + "/custom/traces")
        otel.export(FIXTURES / "plain_answer.sse")
        assert [(p, h["x-team"]) for p, h, _ in _Collector.received] == [
            ("/v1/traces", "ml"),
            ("/custom/traces", "ml"),
        ]
    finally:
        server.shutdown()
        server.server_close()
