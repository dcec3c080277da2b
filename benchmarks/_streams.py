"""Synthetic turn streams for benchmarks (deterministic, realistic shapes)."""

from __future__ import annotations

import json
import random


def large_turn_events(n_deltas: int, *, seed: int = 0, per_message: int = 2_000) -> list[dict]:
    """A turn with ``n_deltas`` token-sized deltas spread over messages of ``per_message`` deltas each,
    a tool call with streamed arguments every few messages, and usage on each message's last delta."""
    rng = random.Random(seed)
    words = "the agent reads the order and checks the refund policy before it answers with a table".split()
    ev: list[dict] = [
        {"type": "turn.created", "id": "tc", "turn_id": "bench", "previous_turn_id": None, "thread_id": None,
         "input": [{"type": "user.message", "content": "benchmark"}], "state": {"status": "running"},
         "created_by": {"subject_id": "u-1", "subject_type": "user", "subject_slug": "bench@example.com"},
         "created_at": "2026-08-01T10:00:00.000Z"},
    ]  # fmt: skip
    done = 0
    m = 0
    while done < n_deltas:
        mid = f"m{m:06d}"
        ev.append(
            {
                "type": "model.message",
                "id": mid,
                "thread_id": "main",
                "created_at": "2026-08-01T10:00:01.000Z",
            }
        )
        k = min(per_message, n_deltas - done)
        for j in range(k):
            d: dict = {"type": "model.message.delta", "id": mid, "thread_id": "main"}
            if m % 3 == 2 and j >= k - 20:
                d["tool_calls"] = [{"index": 0, "function": {"arguments": f'"{rng.choice(words)}",'}}]
                if j == k - 20:
                    d["tool_calls"][0].update(
                        id=f"call_{m}", type="function", function={"name": "search", "arguments": "{"}
                    )
            else:
                d["content"] = " " + rng.choice(words)
            if j == k - 1:
                d["finish_reason"] = "tool_calls" if m % 3 == 2 else "stop"
                d["usage"] = {"input_tokens": 9000 + m, "output_tokens": k, "cache_read_tokens": 4000,
                              "input_tokens_breakdown": {"harness": 7000, "skills": 0, "instructions": 500,
                                                         "tool_definitions": 1000, "messages": 500 + m}}  # fmt: skip
            ev.append(d)
        done += k
        if m % 3 == 2:
            ev.append({"type": "tool.response", "id": f"r{m}", "thread_id": "main", "tool_call_id": f"call_{m}",
                       "content": '{"hits": 3}', "created_at": "2026-08-01T10:00:02.000Z"})  # fmt: skip
        m += 1
    ev.append({"type": "turn.done", "id": "td", "thread_id": None, "created_at": "2026-08-01T10:09:00.000Z",
               "state": {"status": "done", "output": None, "required_actions": [], "completed_at": "2026-08-01T10:09:00.000Z",
                         "metrics": {"total_input_tokens": 1, "total_output_tokens": 1, "total_tokens": 2}}})  # fmt: skip
    return ev


def to_sse(events: list[dict]) -> bytes:
    return "".join(f"id: {i}\ndata: {json.dumps(e)}\n\n" for i, e in enumerate(events, 1)).encode()


def chunks(data: bytes, size: int = 16_384) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def capture_sse(frames: int = 8_404) -> bytes:
    """A turn as the simulator puts it on the wire (its ``large`` story: reasoning, then markdown text in
    token-sized deltas; ``json.dumps(ensure_ascii=False)`` with the server's separators), ``frames`` frames."""
    from tfwidget.sim.scenarios import Scenario

    events = Scenario.large(max(1, frames - 12)).events
    out = []
    for i, e in enumerate(events, 1):
        text = json.dumps(e, ensure_ascii=False, separators=(", ", ": "))
        out.append(b"id: %d\ndata: %s\n\n" % (i, text.encode("utf-8")))
    return b"".join(out)
