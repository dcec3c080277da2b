"""Ingest: bytes of a large turn -> folded state, and the memory it keeps.

Compares, on the same bytes and in the same process:
- baseline: a plain split of the bytes into frames (``bytes.split(b"\\n\\n")``) and ``json.loads`` of each
  frame's data: no SSE rules, no typed events, no fold;
- httpx-sse's own line and frame decoders + ``json.loads`` per frame (for reference);
- official: httpx-sse + the official client's typed parse + ``merge_event_delta`` (for reference);
- tfwidget: ``TurnState.from_items(iter_sse(data))``: typed events and the full fold.
On two inputs: a generated turn of 100k deltas (messages, tool calls, usage) and a capture of the
simulator's ``large`` story (8,404 frames). Memory (tracemalloc, separate runs, 1M deltas): what the folded
state keeps after ingest, and the peak of ``load()`` of the ``.sse`` file, both against the raw bytes.
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks._common import check, result
from benchmarks._streams import capture_sse, chunks, large_turn_events, to_sse


def _httpx_sse_frames(parts: list[bytes]):
    from httpx_sse._decoders import SSEDecoder, SSELineDecoder

    lines = SSELineDecoder()
    dec = SSEDecoder()
    for part in parts:
        for line in lines.decode(part.decode("utf-8")):
            sse = dec.decode(line)
            if sse is not None:
                yield sse
    for line in lines.flush():
        sse = dec.decode(line)
        if sse is not None:
            yield sse


def split_json(data: bytes) -> int:
    """The baseline: split into frames, ``json.loads`` of each frame's data line."""
    n = 0
    loads = json.loads
    for frame in data.split(b"\n\n"):
        i = frame.find(b"data: ")
        if i >= 0:
            loads(frame[i + 6 :])
            n += 1
    return n


def httpx_sse_json(data: bytes) -> int:
    n = 0
    for sse in _httpx_sse_frames(chunks(data)):
        json.loads(sse.data)
        int(sse.id)
        n += 1
    return n


def official(data: bytes) -> int:
    from pydantic import TypeAdapter
    from truefoundry_gateway_sdk.agents import is_event_delta, merge_event_delta
    from truefoundry_gateway_sdk.types import TurnStreamingEvent

    adapter: TypeAdapter[Any] = TypeAdapter(TurnStreamingEvent)
    bases: dict[str, Any] = {}
    n = 0
    for sse in _httpx_sse_frames(chunks(data)):
        ev = adapter.validate_json(sse.data)
        int(sse.id)
        if is_event_delta(ev):
            merge_event_delta(bases[ev.id], ev)
        elif ev.type == "model.message":
            bases[ev.id] = ev
        n += 1
    return n


def ingest(data: bytes) -> Any:
    from tfwidget import TurnState, iter_sse

    return TurnState.from_items(iter_sse(data))


def tfw(data: bytes) -> int:
    st = ingest(data)
    for mid in st.message_ids():  # the merged text, as a reader would take it
        st.message_text(mid)
    return len(st.items)


IMPLS: dict[str, Callable[[bytes], int]] = {
    "split + json.loads (baseline)": split_json,
    "httpx-sse + json.loads": httpx_sse_json,
    "official client parse + merge": official,
    "tfwidget TurnState.from_items(iter_sse)": tfw,
}
BASE = "split + json.loads (baseline)"
OURS = "tfwidget TurnState.from_items(iter_sse)"


def _time(fn: Callable[[bytes], int], data: bytes, repeat: int) -> tuple[float, int]:
    times = []
    n = 0
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        n = fn(data)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), n


def speed(data: bytes, frames: int, repeat: int) -> dict[str, dict[str, float]]:
    warm = capture_sse(300)
    rows: dict[str, dict[str, float]] = {}
    for _ in range(repeat):  # interleaved: a busy moment of the machine hits every implementation alike
        for name, fn in IMPLS.items():
            fn(warm)  # imports, schemas and caches are built outside the timing
            secs, n = _time(fn, data, 1)
            assert n == frames, (name, n, frames)
            rows.setdefault(name, {"times": []})["times"].append(secs)  # type: ignore[arg-type]
    out = {}
    for name, r in rows.items():
        secs = statistics.median(r["times"])  # type: ignore[arg-type]
        out[name] = {"seconds": secs, "events_per_s": frames / secs}
    return out


def retained_mib(data: bytes) -> float:
    """What the folded state keeps after ingest (tracemalloc, the input bytes not counted)."""
    gc.collect()
    tracemalloc.start()
    st = ingest(data)
    gc.collect()
    current, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del st
    return current / 2**20


def load_peak_mib(data: bytes) -> float:
    """Peak memory of ``load()`` of the stream saved as a ``.sse`` file (the file's bytes are read inside)."""
    from tfwidget import load

    with tempfile.TemporaryDirectory(prefix="tfw-ingest-") as tmp:
        path = Path(tmp, "turn.sse")
        path.write_bytes(data)
        gc.collect()
        tracemalloc.start()
        items = load(path)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert len(items) == data.count(b"\n\n")
        del items
    return peak / 2**20


def bench(quick: bool = False) -> dict[str, Any]:
    """Benchmark 1 as a suite record (see :mod:`benchmarks.__main__`)."""
    n_deltas, repeat, mem_deltas = (5_000, 1, 20_000) if quick else (100_000, 5, 1_000_000)
    gen = to_sse(large_turn_events(n_deltas))
    cap = capture_sse(8_404)
    inputs = {"generated": gen, "capture": cap}
    rows: list[dict[str, Any]] = []
    checks = []
    for label, data in inputs.items():
        frames = data.count(b"\n\n")
        res = speed(data, frames, repeat)
        for name, r in res.items():
            rows.append(
                {
                    "implementation": f"{name} [{label}]",
                    "events_per_s": r["events_per_s"],
                    "seconds": r["seconds"],
                    "peak_mib": None,
                }
            )
        checks.append(
            check(
                f"ingest events/s, {label} ({frames:,} frames) vs split + json.loads",
                res[OURS]["events_per_s"],
                res[BASE]["events_per_s"],
                target=1.5,
                unit="events/s",
                note="the baseline only splits frames and decodes JSON: no SSE rules, no typed events, no fold",
                miss="tfwidget decodes SSE by the standard's rules, types every event and folds it",
            )
        )
        if label == "generated":
            checks.append(
                check(
                    "ingest events/s, generated vs official parse + merge_event_delta",
                    res[OURS]["events_per_s"],
                    res["official client parse + merge"]["events_per_s"],
                    target=None,
                    unit="events/s",
                )
            )
    big = to_sse(large_turn_events(mem_deltas))
    raw_mib = len(big) / 2**20
    kept = retained_mib(big)
    peak = load_peak_mib(big)
    rows.append(
        {
            "implementation": f"retained after ingest [{mem_deltas:,} deltas]",
            "events_per_s": None,
            "seconds": None,
            "peak_mib": kept,
        }
    )
    rows.append(
        {
            "implementation": f"load() of the .sse [{mem_deltas:,} deltas]",
            "events_per_s": None,
            "seconds": None,
            "peak_mib": peak,
        }
    )
    checks.append(
        check(
            f"retained MiB after ingest ({mem_deltas:,} deltas) vs raw bytes",
            kept,
            raw_mib,
            target=1 / 1.2,
            higher_is_better=False,
            unit="MiB",
            target_text="<= 1.2x raw",
            miss="every item is kept (raw JSON) for the DataFrames and recordings",
        )
    )
    checks.append(
        check(
            f"peak MiB of load() ({mem_deltas:,} deltas) vs raw bytes",
            peak,
            raw_mib,
            target=1 / 2,
            higher_is_better=False,
            unit="MiB",
            target_text="<= 2x raw",
            miss="load() holds the file's bytes and the parsed items",
        )
    )
    return result(
        "ingest",
        "Ingest: SSE bytes of a large turn -> folded state",
        params={
            "deltas": n_deltas,
            "events": gen.count(b"\n\n"),
            "sse_bytes": len(gen),
            "capture_frames": cap.count(b"\n\n"),
            "capture_bytes": len(cap),
            "runs": repeat,
            "memory_deltas": mem_deltas,
            "memory_sse_bytes": len(big),
        },
        rows=rows,
        checks=checks,
        notes=[
            "Same bytes, same process; the implementations run interleaved, time is the median of the runs. "
            "Memory (tracemalloc) is measured in separate runs: retained = what the state holds after the "
            "fold (input bytes excluded); load() peak includes reading the file."
        ],
    )


if __name__ == "__main__":
    import pprint

    pprint.pprint(bench(quick=bool(os.environ.get("QUICK"))))
