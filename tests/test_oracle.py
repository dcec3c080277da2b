"""Property test: tfwidget's fold agrees with the official client's merge on generated streams.

Random messages with random deltas (content, reasoning, refusal, tool-call chunks, finish reasons, usage),
interleaved across threads, serialized as SSE, cut into random byte chunks, with random replayed prefixes (as a
reconnect that re-reads from an earlier cursor would produce). The official ``truefoundry-gateway-sdk``'s
``merge_event_delta`` is the oracle.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from truefoundry_gateway_sdk.agents import merge_event_delta
from truefoundry_gateway_sdk.types import ModelMessageDeltaEvent as SdkDelta
from truefoundry_gateway_sdk.types import ModelMessageEvent as SdkMessage

from tfwidget import TurnState, iter_sse

from .conftest import drop_none

text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
maybe_text = st.one_of(st.none(), st.just(""), text)
tool_info = st.one_of(
    st.none(),
    st.builds(
        lambda n: {"type": "truefoundry-system", "name": n},
        st.sampled_from(["create_sub_agent", "ask_user_question"]),
    ),
    st.builds(
        lambda n, s: {"type": "mcp", "server_id": f"id-{s}", "server_name": s, "name": n},
        st.sampled_from(["get_order", "search"]),
        st.sampled_from(["orders-api", "web"]),
    ),
)
usage = st.builds(
    lambda i, o, c, b: {
        "input_tokens": i,
        "output_tokens": o,
        **({"cache_read_tokens": c} if c is not None else {}),
        "input_tokens_breakdown": {
            "harness": b,
            "skills": 0,
            "instructions": 0,
            "tool_definitions": 0,
            "messages": i - b,
        },
    },
    st.integers(100, 5000),
    st.integers(0, 500),
    st.one_of(st.none(), st.integers(0, 100)),
    st.integers(0, 100),
)


@st.composite
def tool_chunk(draw: Any) -> dict[str, Any]:
    c: dict[str, Any] = {"index": draw(st.integers(0, 2))}
    if draw(st.booleans()):
        c["id"] = draw(st.sampled_from(["", "call_a", "call_b", "call_c"]))
    if draw(st.booleans()):
        c["type"] = "function"
    fn: dict[str, Any] = {}
    if draw(st.booleans()):
        fn["name"] = draw(st.sampled_from(["", "f", "get_order"]))
    if draw(st.booleans()):
        fn["arguments"] = draw(text)
    if fn or draw(st.booleans()):
        c["function"] = fn
    ti = draw(tool_info)
    if ti is not None:
        c["tool_info"] = ti
    if draw(st.integers(0, 5)) == 0:
        c["provider_specific_fields"] = {draw(st.sampled_from(["k1", "k2"])): draw(st.integers(0, 9))}
    return c


@st.composite
def delta(draw: Any, mid: str, thread: str) -> dict[str, Any]:
    d: dict[str, Any] = {"type": "model.message.delta", "id": mid, "thread_id": thread}
    for key in ("content", "reasoning_content", "refusal"):
        v = draw(maybe_text)
        if v is not None:
            d[key] = v
    if draw(st.integers(0, 3)) == 0:
        d["tool_calls"] = draw(st.lists(tool_chunk(), min_size=1, max_size=3))
    if draw(st.integers(0, 4)) == 0:
        d["finish_reason"] = draw(st.sampled_from(["stop", "tool_calls", "length"]))
    if draw(st.integers(0, 4)) == 0:
        d["usage"] = draw(usage)
    return d


@st.composite
def turn(draw: Any) -> list[dict[str, Any]]:
    n_msgs = draw(st.integers(1, 4))
    per_msg = []
    for i in range(n_msgs):
        mid, thread = f"msg{i}", draw(st.sampled_from(["main", "th-1", "th-2"]))
        base: dict[str, Any] = {
            "type": "model.message",
            "id": mid,
            "thread_id": thread,
            "created_at": f"2026-08-01T10:00:0{i}.000Z",
        }
        if draw(st.integers(0, 3)) == 0:
            base["content"] = draw(
                st.one_of(
                    text,
                    st.just([]),
                    st.lists(st.builds(lambda t: {"type": "text", "text": t}, text), max_size=2),
                )
            )
        per_msg.append([base, *draw(st.lists(delta(mid, thread), max_size=25))])
    events = [
        {
            "type": "turn.created",
            "id": "tc",
            "turn_id": "t1",
            "thread_id": None,
            "input": [],
            "state": {"status": "running"},
        }
    ]
    # interleave the messages' event lists, keeping each one's own order
    queues = [list(q) for q in per_msg]
    while any(queues):
        q = draw(st.sampled_from([q for q in queues if q]))
        events.append(q.pop(0))
    events.append(
        {
            "type": "turn.done",
            "id": "td",
            "thread_id": None,
            "state": {"status": "done", "required_actions": [], "completed_at": "2026-08-01T10:01:00Z"},
        }
    )
    return events


def oracle(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    bases: dict[str, SdkMessage] = {}
    for e in events:
        if e["type"] == "model.message":
            bases[e["id"]] = SdkMessage.model_validate(e)
        elif e["type"] == "model.message.delta":
            merge_event_delta(bases[e["id"]], SdkDelta.model_validate(e))
    return drop_none([json.loads(b.model_dump_json()) for b in bases.values()])


def ours(state: TurnState) -> list[dict[str, Any]]:
    return drop_none([m.model_dump(mode="json") for m in state.messages])


def sse_bytes(events: list[dict[str, Any]], seqs: list[int]) -> bytes:
    return "".join(
        f"id: {s}\r\ndata: {json.dumps(e, ensure_ascii=False)}\r\n\r\n"
        for s, e in zip(seqs, events, strict=True)
    ).encode()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=turn(), data=st.data())
def test_fold_matches_official_merge_under_chunking_and_replays(
    events: list[dict[str, Any]], data: Any
) -> None:
    expected = oracle(events)
    seqs = list(range(1, len(events) + 1))
    # a reconnect: the first connection got `first` events, the second replays from an earlier cursor
    first = data.draw(st.integers(0, len(events)), label="first")
    restart = data.draw(st.integers(0, first), label="restart")
    wire = sse_bytes(events[:first], seqs[:first]) + sse_bytes(events[restart:], seqs[restart:])
    cuts = sorted(set(data.draw(st.lists(st.integers(1, max(1, len(wire) - 1)), max_size=40), label="cuts")))
    chunks = [wire[a:b] for a, b in zip([0, *cuts], [*cuts, len(wire)], strict=True)]

    state = TurnState.from_items(iter_sse(chunks))
    assert ours(state) == expected
    assert [it.sequence_number for it in state.items] == seqs
    assert state.status == "done"
