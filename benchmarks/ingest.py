"""Ingest: bytes of a large turn -> folded state.

Compares, on the same bytes and in the same process:
- baseline (a): httpx-sse's own line and frame decoders + ``json.loads`` per frame, no models, no merge;
- official (b): the same decoding + the official client's typed parse + ``merge_event_delta``;
- tfwidget: ``iter_sse`` (typed events) + ``TurnState.apply`` (the full fold).
Reports events/s (median of several runs) and peak memory (tracemalloc, separate run).
"""

from __future__ import annotations

import gc
import json
import statistics
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from benchmarks._common import check, result
from benchmarks._streams import chunks, large_turn_events, to_sse


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


def baseline(parts: list[bytes]) -> int:
    n = 0
    for sse in _httpx_sse_frames(parts):
        json.loads(sse.data)
        int(sse.id)
        n += 1
    return n


def official(parts: list[bytes]) -> int:
    from pydantic import TypeAdapter
    from truefoundry_gateway_sdk.agents import is_event_delta, merge_event_delta
    from truefoundry_gateway_sdk.types import TurnStreamingEvent

    adapter: TypeAdapter[Any] = TypeAdapter(TurnStreamingEvent)
    bases: dict[str, Any] = {}
    n = 0
    for sse in _httpx_sse_frames(parts):
        ev = adapter.validate_json(sse.data)
        int(sse.id)
        if is_event_delta(ev):
            merge_event_delta(bases[ev.id], ev)
        elif ev.type == "model.message":
            bases[ev.id] = ev
        n += 1
    return n


def tfw(parts: list[bytes]) -> int:
    from tfwidget import TurnState, iter_sse

    st = TurnState()
    apply = st.apply
    for item in iter_sse(parts):
        apply(item)
    st.merged_messages()  # materialize the merged text, as a reader would
    return len(st.items)


def _time(fn: Callable[[list[bytes]], int], parts: list[bytes], repeat: int) -> tuple[float, int]:
    times = []
    n = 0
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        n = fn(parts)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), n


def _peak(fn: Callable[[list[bytes]], int], parts: list[bytes]) -> float:
    gc.collect()
    tracemalloc.start()
    fn(parts)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def run(n_deltas: int = 100_000, repeat: int = 5, memory: bool = True) -> dict[str, Any]:
    events = large_turn_events(n_deltas)
    data = to_sse(events)
    parts = chunks(data)
    warm = chunks(to_sse(large_turn_events(200)))
    rows = {}
    for name, fn in (
        ("httpx-sse + json.loads (baseline a)", baseline),
        ("official client parse + merge (b)", official),
        ("tfwidget iter_sse + TurnState", tfw),
    ):
        fn(warm)  # imports, schemas and caches are built outside the timing
        secs, n = _time(fn, parts, repeat)
        assert n == len(events), (name, n, len(events))
        rows[name] = {
            "seconds": secs,
            "events_per_s": n / secs,
            "peak_mib": _peak(fn, parts) if memory else None,
        }
    base = rows["httpx-sse + json.loads (baseline a)"]["events_per_s"]
    for r in rows.values():
        r["ratio_vs_baseline"] = r["events_per_s"] / base
    return {"events": len(events), "bytes": len(data), "rows": rows}


def report(res: dict[str, Any]) -> str:
    out = [f"ingest: {res['events']:,} events ({res['bytes'] / 2**20:.1f} MiB of SSE), median of runs", ""]
    out.append(f"{'':40} {'events/s':>12} {'ratio':>7} {'peak MiB':>9}")
    for name, r in res["rows"].items():
        pk = f"{r['peak_mib']:.1f}" if r["peak_mib"] is not None else "-"
        out.append(f"{name:40} {r['events_per_s']:12,.0f} {r['ratio_vs_baseline']:7.2f} {pk:>9}")
    return "\n".join(out)


BASE = "httpx-sse + json.loads (baseline a)"
OFFICIAL = "official client parse + merge (b)"
OURS = "tfwidget iter_sse + TurnState"


def bench(quick: bool = False) -> dict[str, Any]:
    """Benchmark 1 as a suite record (see :mod:`benchmarks.__main__`)."""
    n_deltas, repeat = (5_000, 1) if quick else (100_000, 3)
    res = run(n_deltas, repeat=repeat)
    rows = [
        {"implementation": name, "events_per_s": r["events_per_s"], "seconds": r["seconds"],
         "peak_mib": r["peak_mib"]}
        for name, r in res["rows"].items()
    ]  # fmt: skip
    ours = res["rows"][OURS]["events_per_s"]
    checks = [
        check("events/s vs httpx-sse + json.loads (a)", ours, res["rows"][BASE]["events_per_s"],
              target=0.5, unit="events/s",
              note="(a) only decodes JSON: no typed events, no merge",
              miss="tfwidget validates every event into a typed model and folds it; (a) only runs json.loads"),
        check("events/s vs official parse + merge_event_delta (b)", ours,
              res["rows"][OFFICIAL]["events_per_s"], target=1.0, strict=True, unit="events/s",
              miss="both validate every event into typed models; the fold also tracks tools, threads and pauses"),
        check("peak MiB vs official (b)", res["rows"][OURS]["peak_mib"], res["rows"][OFFICIAL]["peak_mib"],
              target=None, higher_is_better=False, unit="MiB",
              note="tfwidget keeps every item (raw JSON) for the DataFrames and recordings"),
    ]  # fmt: skip
    return result(
        "ingest",
        "Ingest: SSE bytes of a large turn -> folded state",
        params={"deltas": n_deltas, "events": res["events"], "sse_bytes": res["bytes"], "runs": repeat,
                "chunk_bytes": 16_384},
        rows=rows,
        checks=checks,
        notes=["Same bytes, same process; time is the median of the runs, peak memory (tracemalloc) is "
               "measured in a separate run."],
    )  # fmt: skip


if __name__ == "__main__":
    print(report(run()))
