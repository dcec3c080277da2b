"""A running turn served from its backlog, the connection dropped every N frames (or never).

Run as a child process so that the client being measured does not share a GIL with the server:
``python -m benchmarks._drop_server DELTAS EVERY`` (EVERY ``0``: no drops) prints ``<base_url> <api_key>``
on its first line and serves until its stdin closes. The turn stays ``running`` for ``get turn``; every
subscribe answers the frames after the request's cursor, up to ``EVERY`` of them, then closes the
connection (the last answer ends with ``turn.done``).
"""

from __future__ import annotations

import json
import sys

from tfwidget.sim.scripted import Exchange, ScriptedGateway, sse_answer


def turn_frames(deltas: int) -> list[bytes]:
    """SSE frames of a turn: turn.created, one message with ``deltas`` deltas, turn.done."""
    created = {"type": "turn.created", "id": "tc", "thread_id": None, "turn_id": "t1", "input": [],
               "state": {"status": "running"}}  # fmt: skip
    events = [created, {"type": "model.message", "id": "m1", "thread_id": "main"}]
    events += [{"type": "model.message.delta", "id": "m1", "thread_id": "main", "content": f"t{i} "}
               for i in range(deltas)]  # fmt: skip
    events.append({"type": "turn.done", "id": "td", "thread_id": None, "state": {"status": "done"}})
    return [f"id: {i}\ndata: {json.dumps(e)}\n\n".encode() for i, e in enumerate(events, 1)]


def main() -> None:
    deltas, every = int(sys.argv[1]), int(sys.argv[2])
    frames = turn_frames(deltas)

    def answer(ex: Exchange) -> None:
        after = (ex.body or {}).get("after_sequence_number") or 0
        end = len(frames) if every <= 0 else after + every
        sse_answer(b"".join(frames[after:end]))(ex)

    with ScriptedGateway(subscribe=answer) as gw:
        print(gw.base_url, gw.api_key, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
