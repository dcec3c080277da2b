"""A running turn served from its backlog, the connection dropped every N frames (or never).

Run as a child process so that the client being measured does not share a GIL with the server:
``python -m benchmarks._drop_server DELTAS EVERY [RATE]`` (EVERY ``0``: no drops) prints
``<base_url> <api_key>`` on its first line and serves until its stdin closes. The turn stays ``running`` for
``get turn``; every subscribe answers the frames after the request's cursor, up to ``EVERY`` of them, then
closes the connection (the last answer ends with ``turn.done``).

With ``RATE`` (events per second) the turn is live: frame ``i`` exists only ``i / RATE`` seconds after the
first subscribe, as on a gateway whose model is still generating; a subscribe streams what exists after its
cursor, then each frame as it comes. Without it the whole turn exists from the start.
"""

from __future__ import annotations

import json
import sys
import time

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


def live_answer(frames: list[bytes], every: int, rate: float, gw: ScriptedGateway) -> object:
    """A subscribe answer for a turn whose frames appear at ``rate`` per second from the first request."""
    t0: list[float] = []

    def answer(ex: Exchange) -> None:
        if not t0:
            t0.append(time.monotonic())
        after = (ex.body or {}).get("after_sequence_number") or 0
        end = len(frames) if every <= 0 else min(len(frames), after + every)
        ex.start(200, {"Content-Type": "text/event-stream"})
        pos = after
        while pos < end and not gw.stopping.is_set():
            ready = min(end, int((time.monotonic() - t0[0]) * rate) + 1)
            if ready > pos:
                if not ex.write(b"".join(frames[pos:ready])):
                    return
                pos = ready
            else:  # the next frame exists at t0 + pos / rate
                time.sleep(max(0.0, t0[0] + pos / rate - time.monotonic()))

    return answer


def main() -> None:
    deltas, every = int(sys.argv[1]), int(sys.argv[2])
    rate = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    frames = turn_frames(deltas)

    def answer(ex: Exchange) -> None:
        after = (ex.body or {}).get("after_sequence_number") or 0
        end = len(frames) if every <= 0 else after + every
        sse_answer(b"".join(frames[after:end]))(ex)

    chosen: list[object] = [answer]
    with ScriptedGateway(subscribe=lambda ex: chosen[0](ex)) as gw:  # type: ignore[operator]
        if rate > 0:
            chosen[0] = live_answer(frames, every, rate, gw)
        print(gw.base_url, gw.api_key, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
