"""Hostile turns for the embedded gateway: content a broken or malicious gateway could send."""

from __future__ import annotations

import json
from typing import Any

from tfwidget.sim import Scenario
from tfwidget.sim.scenarios import _Builder

ASK = {"type": "truefoundry-system", "name": "ask_user_question"}


def deep_json(depth: int) -> str:
    """Valid JSON nested ``depth`` levels deep (past Python's recursion limit for depths over ~1000)."""
    return '{"a":' * depth + "1" + "}" * depth


def _user(text: str) -> dict[str, Any]:
    return {"type": "user.message", "content": text}


def bad_index_turn(indexes: list[int]) -> Scenario:
    """A message whose tool call deltas carry the given (absurd) indexes, then a normal call, text after it,
    a second message and ``turn.done``."""
    b = _Builder([_user("hi")], seed=1)
    base = b.event({"type": "model.message", "thread_id": "main"}, delay=0.0)
    for i in indexes:
        b.delta(base["id"], "main", tool_calls=[{"index": i, "id": f"bad{i}", "function": {"name": "x"}}])
    b.delta(
        base["id"],
        "main",
        tool_calls=[{"index": 0, "id": "call_ok", "type": "function", "function": {"name": "lookup"}}],
    )
    b.delta(base["id"], "main", tool_calls=[{"index": 0, "function": {"arguments": '{"q": 1}'}}])
    b.delta(base["id"], "main", content="text after the bad chunks", finish_reason="tool_calls")
    b.tool_response("main", "call_ok", "found it")
    b.message("main", content="The final answer.")
    b.done()
    sc = b.scenario("bad_index", "absurd tool call indexes")
    sc.delays = [0.0] * len(sc.events)
    return sc


def deep_arguments_turn(depth: int, *, question: bool = True, hold: float = 0.0) -> Scenario:
    """Deep JSON in a tool's arguments and in a tool's response, a later message, and (``question``) an
    ``ask_user_question`` with deep arguments that the turn pauses on."""
    deep = deep_json(depth)
    b = _Builder([_user("go")], seed=2)
    b.message(
        "main",
        content="Calling a tool with odd arguments.",
        tool_calls=[{"id": "call_deep", "name": "lookup", "arguments": deep}],
    )
    b.tool_response("main", "call_deep", deep)
    later = b.message("main", content="Text after the deep tool call.")
    actions = []
    if question:
        msg = b.message("main", tool_calls=[{"id": "call_ask", "name": "ask_user_question",
                                             "tool_info": ASK, "arguments": deep}])  # fmt: skip
        actions.append(
            b.event(
                {
                    "type": "tool.response_required",
                    "thread_id": "main",
                    "tool_calls": [{"id": "call_ask", "source_event_id": msg["id"]}],
                }
            )
        )
    b.last_message = later
    b.done(required_actions=actions)
    sc = b.scenario("deep_arguments", "deep JSON in tool arguments and responses")
    # ``hold``: seconds before the first event, so the turn is still running when a client arrives
    sc.delays = [0.0] * len(sc.events)
    sc.delays[1] = hold
    return sc


def as_sse(sc: Scenario) -> str:
    """The scenario as a raw ``.sse`` capture (sequence numbers from 1)."""
    return "".join(f"id: {i}\ndata: {json.dumps(e)}\n\n" for i, e in enumerate(sc.events, 1))
