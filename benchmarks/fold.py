"""Fold: the per-delta cost of streamed tool-call arguments and of the widget's ``feed``.

- One turn with a text message of N content deltas and a tool call whose arguments stream in N deltas:
  bytes -> folded ``TurnState`` for each half, per delta (the arguments must fold in linear time, like text).
- ``TurnView.feed`` per delta (the fold plus the view's patches, sent through a recording comm and JSON-encoded
  as a kernel would) against ``TurnState.apply`` per delta, on the same items of a large turn.
"""

from __future__ import annotations

import gc
import json
import statistics
import time
from typing import Any

from benchmarks._common import check, recording_comms, result
from benchmarks._streams import chunks, large_turn_events, to_sse

TITLE = "Fold: streamed tool-call arguments and TurnView.feed, per delta"


def args_turn(n: int) -> tuple[bytes, bytes, str]:
    """SSE bytes of two turns of the same shape: a message of ``n`` text deltas, and a message whose one tool
    call streams its arguments in ``n`` deltas; and the arguments' expected text."""
    events: list[dict[str, Any]] = [
        {"type": "turn.created", "id": "tc", "turn_id": "t", "thread_id": None, "input": [],
         "state": {"status": "running"}},
        {"type": "model.message", "id": "mt", "thread_id": "main"},
    ]  # fmt: skip
    events += [{"type": "model.message.delta", "id": "mt", "thread_id": "main", "content": f"w{i} "}
               for i in range(n)]  # fmt: skip
    text = events
    tool: list[dict[str, Any]] = [
        {"type": "turn.created", "id": "tc", "turn_id": "t", "thread_id": None, "input": [],
         "state": {"status": "running"}},
        {"type": "model.message", "id": "ma", "thread_id": "main"},
        {"type": "model.message.delta", "id": "ma", "thread_id": "main", "tool_calls": [
            {"index": 0, "id": "c1", "type": "function", "function": {"name": "write", "arguments": '{"text": "'}}]},
    ]  # fmt: skip
    tool += [{"type": "model.message.delta", "id": "ma", "thread_id": "main",
              "tool_calls": [{"index": 0, "function": {"arguments": f"w{i} "}}]} for i in range(n)]  # fmt: skip
    a = "".join(f"id: {i}\ndata: {json.dumps(e)}\n\n" for i, e in enumerate(text, 1)).encode()
    b = "".join(f"id: {i}\ndata: {json.dumps(e)}\n\n" for i, e in enumerate(tool, 1)).encode()
    return a, b, '{"text": "' + "".join(f"w{i} " for i in range(n))


def time_args(n: int, repeat: int) -> dict[str, float]:
    """Median seconds to fold each part (bytes -> fold, then read the merged text), each into a fresh state,
    the two alternating (so neither pays for the other's objects when the garbage collector runs)."""
    from tfwidget import TurnState, iter_sse

    a, b, expected = args_turn(n)
    pa, pb = chunks(a), chunks(b)
    times: dict[str, list[float]] = {"text": [], "tool": []}
    for _ in range(repeat):
        for name, parts in (("text", pa), ("tool", pb)):
            gc.collect()
            st = TurnState()
            apply = st.apply
            t0 = time.perf_counter()
            for item in iter_sse(parts):
                apply(item)
            got = st.message_text("mt")[0] if name == "text" else st.tool_calls["c1"].arguments
            times[name].append(time.perf_counter() - t0)
            want = expected if name == "tool" else "".join(f"w{i} " for i in range(n))
            if got != want:
                raise AssertionError(f"the folded {name} differs from the streamed one")
            del st
    return {k: statistics.median(v) for k, v in times.items()}


def time_feed(n: int, repeat: int) -> dict[str, Any]:
    """Median seconds: the items of an ``n``-delta turn through ``TurnState.apply`` and through
    ``TurnView.feed`` (then a final flush), fresh items from the same bytes for every run."""
    from tfwidget import TurnState, TurnView, iter_sse

    parts = chunks(to_sse(large_turn_events(n)))
    apply_t, feed_t, flush_t = [], [], []
    patches = 0
    with recording_comms() as rec:
        for _ in range(repeat):
            items = list(iter_sse(parts))
            gc.collect()
            st = TurnState()
            t0 = time.perf_counter()
            for item in items:
                st.apply(item)
            st.merged_messages()
            apply_t.append(time.perf_counter() - t0)

            items = list(iter_sse(parts))
            view = TurnView()
            flushing = [0.0]  # seconds inside the view's flushes (patches, spans, the last snapshot)
            flush_now = view._flush_now

            def timed_flush(*a: Any, _f: Any = flush_now, _acc: list[float] = flushing, **k: Any) -> None:
                t = time.perf_counter()
                try:
                    _f(*a, **k)
                finally:
                    _acc[0] += time.perf_counter() - t

            view._flush_now = timed_flush  # type: ignore[method-assign]
            gc.collect()
            t0 = time.perf_counter()
            for item in items:
                view.feed(item)
            view.flush()
            feed_t.append(time.perf_counter() - t0)
            flush_t.append(flushing[0])
            patches = view.patches_sent
            if view._state.message_ids() != st.message_ids() or view._view["status"] != "done":
                raise AssertionError("the view did not fold the same turn")
            view.close()
            del view, items
        sent = rec.bytes
    return {"apply": statistics.median(apply_t), "feed": statistics.median(feed_t),
            "flushes": statistics.median(flush_t),
            "items": len(list(iter_sse(parts))), "patches": patches, "comm_bytes": sent}  # fmt: skip


def bench(quick: bool = False) -> dict[str, Any]:
    n_args, args_repeat = (10_000, 2) if quick else (300_000, 3)
    n_feed, feed_repeat = (5_000, 2) if quick else (100_000, 5)
    args = time_args(n_args, args_repeat)
    feed = time_feed(n_feed, feed_repeat)
    per = {k: v / n_args * 1e6 for k, v in args.items()}
    per_item = {k: feed[k] / feed["items"] * 1e6 for k in ("apply", "feed", "flushes")}
    rows = [
        {"implementation": f"{n_args:,} text deltas (bytes -> fold)", "seconds": args["text"],
         "us_per_delta": per["text"]},
        {"implementation": f"{n_args:,} argument deltas of one tool call (bytes -> fold)", "seconds": args["tool"],
         "us_per_delta": per["tool"]},
        {"implementation": f"TurnState.apply, {feed['items']:,} items", "seconds": feed["apply"],
         "us_per_delta": per_item["apply"]},
        {"implementation": f"TurnView.feed + flush, {feed['items']:,} items", "seconds": feed["feed"],
         "us_per_delta": per_item["feed"], "patches": feed["patches"]},
        {"implementation": "of which inside the view's flushes (the queued deltas' fold, patches, spans, "
                           "timing, final snapshot)",
         "seconds": feed["flushes"], "us_per_delta": per_item["flushes"]},
    ]  # fmt: skip
    checks = [
        check("us per delta, one tool call's argument deltas vs the same turn's text deltas", per["tool"],
              per["text"], target=1 / 1.5, higher_is_better=False, unit="us", target_text="within 1.5x",
              note="argument chunks are kept in a list and joined once when read (was: re-joined per delta)",
              miss="a tool-call delta is a larger event (three nested models to validate instead of one)"),
        check("us per delta, TurnView.feed vs TurnState.apply", per_item["feed"], per_item["apply"],
              target=1 / 1.5, higher_is_better=False, unit="us", target_text="<= 1.5x",
              note="feed queues text deltas without the lock and folds them in batches at the next flush or "
                   "read (TurnState.extend: the ingest's batch fold, faster than apply per item), parses each "
                   "delta once (the fold releases it), flushes patches per window on one re-armed thread "
                   "(finishing messages coalesce into one flush per frame), sends rows of spans that changed",
              miss="feed's own call and checks (about 0.2 us), the batch fold (about 0.55 us) and the flushes "
                   "(timing, spans, the patch, the final whole-view snapshot; see the flush row)"),
    ]  # fmt: skip
    return result(
        "fold",
        TITLE,
        params={"argument_deltas": n_args, "feed_deltas": n_feed, "argument_runs": args_repeat, "feed_runs": feed_repeat},
        rows=rows,
        checks=checks,
        notes=["Tool-call arguments: a turn whose message streams N text deltas, and the same turn whose message "
               "has one tool call streaming its arguments in N deltas; each decoded from bytes (16 KB chunks) and "
               "folded into a fresh state, the merged text read at the end; alternating, median of runs.",
               "feed: the items of a large generated turn (benchmarks/_streams.py) fed one by one to a TurnView "
               "whose comm records and JSON-encodes every message, then flushed; apply: the same items folded "
               "by a bare TurnState; fresh items each run; median of runs."],
    )  # fmt: skip
