"""tfwidget.otel against a real Arize Phoenix server on loopback.

Phoenix (the ``arize-phoenix`` package, about 850 MB) lives in its own virtual environment, made by
``make phoenix`` (``.venv-phoenix``); ``TFW_PHOENIX_PYTHON`` names another one. Without it this module is
skipped, unless ``TFW_REQUIRE_PHOENIX=1`` (as ``make test`` sets), which turns the skip into a failure.

Every fixture and every simulator scenario is exported to Phoenix's OTLP/HTTP endpoint, then read back with
Phoenix's own client: the span tree (parents, sub-agents under their tool calls), names, token counts and
statuses must be the turn's, and exporting everything a second time must not add a span.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import tfwidget
from tfwidget import otel
from tfwidget.sim import SCENARIO_NAMES, serve
from tfwidget.state import TurnState

from .conftest import FIXTURES, ROOT

HERE = Path(__file__).resolve().parent / "phoenix"
STARTUP_DEADLINE = 240.0  # s: Phoenix starts in ~20 s on an idle machine, much slower on a loaded one
INGEST_DEADLINE = 180.0
SIM_AGENT = "sim-agent"


def phoenix_python() -> Path | None:
    given = os.environ.get("TFW_PHOENIX_PYTHON")
    path = Path(given) if given else ROOT / ".venv-phoenix" / "bin" / "python"
    # absolute: Phoenix runs in its own working directory; not resolved: a venv's python is a symlink
    return path.absolute() if path.exists() else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def phoenix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    python = phoenix_python()
    if python is None:
        msg = "no Phoenix environment: run `make phoenix` (or set TFW_PHOENIX_PYTHON)"
        if os.environ.get("TFW_REQUIRE_PHOENIX") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    work = tmp_path_factory.mktemp("phoenix")
    port, grpc_port = free_port(), free_port()
    env = {
        **os.environ,
        "PHOENIX_WORKING_DIR": str(work),
        "HOME": str(work),
        "PHOENIX_HOST": "127.0.0.1",
        "PHOENIX_PORT": str(port),
        "PHOENIX_GRPC_PORT": str(grpc_port),
        "PHOENIX_TELEMETRY_ENABLED": "false",
    }
    env.pop("PYTHONPATH", None)
    log = (work / "phoenix.log").open("wb")
    proc = subprocess.Popen([str(python), str(HERE / "serve.py")], env=env, stdout=log, stderr=subprocess.STDOUT,
                            cwd=work)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_DEADLINE
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    f"Phoenix exited ({proc.returncode}):\n{(work / 'phoenix.log').read_text()[-3000:]}"
                )
            try:
                if httpx.get(base + "/", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"Phoenix not up after {STARTUP_DEADLINE} s:\n{(work / 'phoenix.log').read_text()[-3000:]}"
                )
            time.sleep(0.5)
        yield {"base": base, "python": python, "log": work / "phoenix.log"}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
        log.close()


def read_spans(phoenix: dict[str, Any], project: str = "default") -> list[dict[str, Any]]:
    out = subprocess.run(
        [str(phoenix["python"]), str(HERE / "read_spans.py"), phoenix["base"], project],
        capture_output=True, text=True, timeout=300,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout)


def wait_for(
    phoenix: dict[str, Any], trace_ids: set[str], counts: dict[str, int], project: str = "default"
) -> list[dict[str, Any]]:
    """Poll Phoenix until every trace in ``trace_ids`` holds at least its expected number of spans."""
    deadline = time.monotonic() + INGEST_DEADLINE
    while True:
        try:
            spans = read_spans(phoenix, project)
        except AssertionError:  # a project Phoenix has not created yet
            if time.monotonic() > deadline:
                raise
            time.sleep(1.0)
            continue
        have: dict[str, int] = {}
        for s in spans:
            have[s["trace_id"]] = have.get(s["trace_id"], 0) + 1
        if all(have.get(t, 0) >= counts[t] for t in trace_ids):
            return spans
        if time.monotonic() > deadline:
            missing = {t: (have.get(t, 0), counts[t]) for t in trace_ids if have.get(t, 0) < counts[t]}
            pytest.fail(f"Phoenix did not show all spans within {INGEST_DEADLINE} s: {missing}")
        time.sleep(1.0)


def sim_turns() -> tuple[dict[str, Any], set[str]]:
    """Every simulator scenario streamed over loopback into a TurnView; also the API keys used."""
    views: dict[str, Any] = {}
    keys = set()
    for name in SCENARIO_NAMES:
        options = {"deltas": 2000} if name == "large" else {}
        with serve(name, speed=0, agent_name=SIM_AGENT, **options) as sim:
            view = tfwidget.watch(sim.session_id, sim.turn_id, base_url=sim.base_url, api_key=sim.api_key)
            asyncio.run(view.wait(timeout=180))
            keys.add(sim.api_key)
            views[f"sim-{name}"] = view
    return views, keys


def strings(obj: Any) -> list[str]:
    """Every string inside a JSON-like value."""
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, dict):
        return [s for k, v in obj.items() for s in (*strings(k), *strings(v))]
    if isinstance(obj, list):
        return [s for v in obj for s in strings(v)]
    return []


def expected_status(state: TurnState) -> str:
    return {"done": "OK", "paused": "OK", "error": "ERROR", "cancelled": "UNSET", "running": "UNSET"}[
        state.status
    ]


def check_trace(state: TurnState, spans: list[dict[str, Any]], agent: str) -> None:
    """The spans Phoenix holds for one trace match the turn, worked out from the fold alone."""
    threads = {tid: th for tid, th in state.threads.items() if tid != "main"}
    messages = state.messages
    resumed = {e.tool_call_id for e in state.events_by_id.values()
               if e.type == "tool.response" and e.tool_call_id not in state.tool_calls}  # fmt: skip
    assert len(spans) == 1 + len(messages) + len(state.tool_calls) + len(threads) + len(resumed)
    assert len({s["span_id"] for s in spans}) == len(spans), "duplicate spans"
    (root,) = [s for s in spans if not s["parent_id"]]
    assert root["name"] == f"invoke_agent {agent}"
    assert root["status_code"] == expected_status(state)
    if state.status == "error":
        assert root["status_message"] == state.status_reason
    a = root["attributes"]
    assert a["openinference.span.kind"] == root["span_kind"] == "AGENT"  # Phoenix reads the kind natively
    assert a["truefoundry.turn.id"] == state.turn_id
    assert a["truefoundry.turn.status"] == state.status
    totals = state.totals()
    assert a["gen_ai.usage.input_tokens"] == totals["input_tokens"]
    assert a["gen_ai.usage.output_tokens"] == totals["output_tokens"]

    thread_span = {"main": root}
    for s in spans:
        if s is not root and s["attributes"].get("gen_ai.operation.name") == "invoke_agent":
            thread_span[s["attributes"]["truefoundry.thread.id"]] = s
    assert set(thread_span) == {"main", *threads}
    tool_span = {
        s["attributes"]["gen_ai.tool.call.id"]: s for s in spans if s["name"].startswith("execute_tool")
    }
    assert set(tool_span) == set(state.tool_calls) | resumed
    for cid, info in state.tool_calls.items():
        s = tool_span[cid]
        assert s["name"] == f"execute_tool {info.name}"
        assert s["parent_id"] == thread_span[info.thread_id or "main"]["span_id"]
        assert s["attributes"]["openinference.span.kind"] == s["span_kind"] == "TOOL"
        child = threads.get(info.child_thread_id or "")
        want = "ERROR" if child is not None and child.status == "error" else (
            "OK" if info.status == "completed" else "UNSET")  # fmt: skip
        assert s["status_code"] == want, (cid, info.status)
    for tid, th in threads.items():
        s = thread_span[tid]
        # a sub-agent sits under the create_sub_agent call that spawned it
        assert s["parent_id"] == tool_span[th.parent_tool_call_id]["span_id"]
        assert tool_span[th.parent_tool_call_id]["name"] == "execute_tool create_sub_agent"
        assert s["name"] == f"invoke_agent {th.agent_name}"
        assert s["status_code"] == {"done": "OK", "error": "ERROR"}.get(th.status, "UNSET")
    chat_span = {s["attributes"]["truefoundry.message.id"]: s for s in spans if s["name"].startswith("chat")}
    assert set(chat_span) == {m.id for m in messages}
    for m in messages:
        s = chat_span[m.id]
        th = state.threads.get(m.thread_id or "main")
        assert s["name"] == (f"chat {th.model}" if th is not None and th.model else "chat")
        assert s["parent_id"] == thread_span[m.thread_id or "main"]["span_id"]
        assert s["attributes"]["openinference.span.kind"] == s["span_kind"] == "LLM"
        if m.usage is not None:
            assert s["attributes"]["llm.token_count.prompt"] == m.usage.input_tokens
            assert s["attributes"]["llm.token_count.completion"] == m.usage.output_tokens
            assert s["attributes"]["gen_ai.usage.input_tokens"] == m.usage.input_tokens
        else:
            assert "llm.token_count.prompt" not in s["attributes"]
        assert s["status_code"] == ("OK" if m.finish_reason else "UNSET")


@pytest.mark.timeout(1200)  # Phoenix's start-up counts here, and it is slow on a loaded machine
def test_every_fixture_and_scenario_in_phoenix(phoenix: dict[str, Any], tmp_path: Path) -> None:
    fixtures = tfwidget.concat(FIXTURES)
    views, keys = sim_turns()
    first = otel.export(
        fixtures, endpoint=phoenix["base"], agent_name="support", session_id="fixture-session"
    )
    second = otel.export(views, endpoint=phoenix["base"] + "/v1/traces", agent_name=SIM_AGENT)
    states: dict[str, tuple[TurnState, str]] = {}
    for key, state in fixtures.states.items():
        states[first.trace_ids[key]] = (state, "support")
    for key, view in views.items():
        states[second.trace_ids[key]] = (view.state, SIM_AGENT)
    assert len(states) == len(fixtures) + len(SCENARIO_NAMES)  # one trace per turn
    counts = {tid: len(otel.to_spans(st)) for tid, (st, _) in states.items()}
    assert sum(counts.values()) == first.spans + second.spans

    spans = wait_for(phoenix, set(states), counts)
    by_trace: dict[str, list[dict[str, Any]]] = {}
    for s in spans:
        by_trace.setdefault(s["trace_id"], []).append(s)
    for tid, (state, agent) in states.items():
        check_trace(state, by_trace[tid], agent)
    # the sim turns' sessions are on their spans; the gateway's API key is nowhere
    for key, view in views.items():
        root = next(s for s in by_trace[second.trace_ids[key]] if not s["parent_id"])
        assert root["attributes"]["session.id"] == view._tracker.session_id
    assert not [k for k in keys for v in strings(spans) if k in v]
    # without include_content, no message text reached Phoenix
    texts = [
        t
        for st, _ in states.values()
        for mid in st.message_ids()
        for t in st.message_text(mid)
        if len(t) > 20
    ]
    values = "\n".join(strings(spans))
    assert texts and not [t for t in texts if t in values]

    # the same turns again: no new span; a fresh turn sent after them shows Phoenix has taken them in
    again = otel.export(
        fixtures, endpoint=phoenix["base"], agent_name="support", session_id="fixture-session"
    )
    again2 = otel.export(views, endpoint=phoenix["base"], agent_name=SIM_AGENT)
    assert again.trace_ids == first.trace_ids and again2.trace_ids == second.trace_ids
    with serve("echo", speed=0, agent_name=SIM_AGENT) as sim:
        marker_view = tfwidget.watch(sim.session_id, sim.turn_id, base_url=sim.base_url, api_key=sim.api_key)
        asyncio.run(marker_view.wait(timeout=120))
    marker = otel.export(marker_view, endpoint=phoenix["base"], agent_name=SIM_AGENT)
    (marker_trace,) = marker.trace_ids.values()
    assert marker_trace not in states
    spans2 = wait_for(phoenix, {marker_trace}, {marker_trace: marker.spans})
    assert len(spans2) == len(spans) + marker.spans
    time.sleep(3.0)  # and nothing more arrives later
    spans2 = read_spans(phoenix)
    assert len(spans2) == len(spans) + marker.spans
    assert len({s["span_id"] for s in spans2}) == len(spans2)
    print(f"phoenix: {len(states)} turns, {len(spans)} spans; re-export added none", file=sys.stderr)

    # content on request, through the redact hook, as Phoenix shows it (its own project; a turn not sent yet:
    # Phoenix keeps the first copy of a span id, whatever project a later copy names)
    with serve("approval_pause", speed=0, agent_name=SIM_AGENT) as sim:
        content_view = tfwidget.watch(sim.session_id, sim.turn_id, base_url=sim.base_url, api_key=sim.api_key)
        asyncio.run(content_view.wait(timeout=120))
    state = content_view.state
    seen: list[str] = []

    def redact(text: str) -> str:
        seen.append(text)
        return f"[{len(text)} chars]"

    shown = otel.export(state, endpoint=phoenix["base"], include_content=True, redact=redact,
                        resource_attributes={"openinference.project.name": "content"})  # fmt: skip
    (tid,) = shown.trace_ids.values()
    content = wait_for(phoenix, {tid}, {tid: shown.spans}, project="content")
    assert len(content) == shown.spans
    tools = {
        s["attributes"]["gen_ai.tool.call.id"]: s for s in content if s["name"].startswith("execute_tool")
    }
    for cid, info in state.tool_calls.items():
        assert tools[cid]["attributes"]["input.value"] == f"[{len(info.arguments)} chars]"
    outputs = [s["attributes"].get("output.value") for s in content if s["name"].startswith("chat")]
    assert any(o and o.startswith("[") and o.endswith(" chars]") for o in outputs)
    values = "\n".join(strings(content))
    assert seen and not [t for t in seen if len(t) > 12 and t in values]
