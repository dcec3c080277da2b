"""Network: items/s through ``GatewayClient.subscribe`` from the simulated gateway vs a bare httpx-sse loop,
and the time to resume after a dropped connection.

The measuring functions live in :mod:`benchmarks.bench_client`; this module runs them for the suite.
"""

from __future__ import annotations

import importlib
import statistics
from typing import Any

from benchmarks._common import check, not_run, result

TITLE = "Network: GatewayClient.subscribe over loopback vs a bare httpx-sse loop"


def bench(quick: bool = False) -> dict[str, Any]:
    """Benchmark 2 as a suite record; a "not run" record when ``bench_client`` is unavailable."""
    try:
        bc = importlib.import_module("benchmarks.bench_client")
    except ModuleNotFoundError as exc:
        if exc.name != "benchmarks.bench_client":
            raise
        return not_run("network", TITLE, "not run: bench_client.py missing")
    missing = [f for f in ("throughput", "resume_latency") if not hasattr(bc, f)]
    if missing:
        return not_run("network", TITLE, f"not run: bench_client.py has no {', '.join(missing)}()")

    deltas, runs = (3_000, 2) if quick else (100_000, 3)
    tp = bc.throughput(deltas, runs)
    rows: list[dict[str, Any]] = [
        {"implementation": "bare httpx + httpx-sse + json.loads", "items_per_s": tp["bare"], "items": tp["items"]},
        {"implementation": "GatewayClient.subscribe (typed StreamItems)", "items_per_s": tp["client"],
         "items": tp["items"]},
    ]  # fmt: skip
    checks = [
        check("items/s, subscribe vs bare httpx-sse", tp["client"], tp["bare"], target=0.8, unit="items/s",
              note="the client also validates every event into a typed model and tracks the cursor",
              miss="per item, beyond the bare loop's json.loads, the client builds a typed StreamItem and keeps "
                   "its resume bookkeeping (cursor, per-message sizes for an exact rebuild after a 412): about "
                   "1 us more per item in pure Python; the simulator serving the turn shares the process"),
    ]  # fmt: skip

    # a running turn plays for about 9 s whatever the drop count: --quick measures only the rebuild case
    cases = [(False, 0.0)] if quick else [(True, 0.5), (True, 0.0), (False, 0.5), (False, 0.0)]
    for running, backoff in cases:
        if running:
            gaps = bc.resume_latency(backoff=backoff, running=True, drops=3 if quick else 8)
        else:  # a rebuild ends the stream: one drop per run
            gaps = [g for _ in range(1 if quick else 5)
                    for g in bc.resume_latency(backoff=backoff, running=False, drops=1)]  # fmt: skip
        case = "running turn, re-subscribe" if running else "finished turn, rebuild from listed events"
        rows.append({"implementation": f"resume: {case}, backoff={backoff:g}s", "resume_ms_median":
                     statistics.median(gaps), "resume_ms_min": min(gaps), "resume_ms_max": max(gaps),
                     "drops": len(gaps)})  # fmt: skip
    if hasattr(bc, "drops_vs_clean"):
        dv = bc.drops_vs_clean(deltas=2_000 if quick else 10_000, every=20)
        for name in ("clean", "drops"):
            rows.append({"implementation": f"follow a running {2_000 if quick else 10_000:,}-delta turn, "
                         + ("no drops" if name == "clean" else "a drop every 20 frames"),
                         "seconds": dv[name], "items": dv[f"{name}_items"],
                         "reconnects": dv[f"{name}_reconnects"]})  # fmt: skip
        checks.append(check("turn time, a drop every 20 frames vs no drops", dv["drops"], dv["clean"], target=0.5,
                            higher_is_better=False, unit="s", target_text="within 2x",
                            note="a drop after progress resumes at once; only attempts without progress back off",
                            miss="each resume is a get-turn and a subscribe request; at this drop rate their "
                                 "round trips outweigh the turn's own pace"))  # fmt: skip
    return result(
        "network",
        TITLE,
        params={"deltas": deltas, "items": tp["items"], "runs": runs},
        rows=rows,
        checks=checks,
        notes=["Drops: the same running turn served from its backlog by a scripted gateway in a child process, "
               "followed once without drops and once with the connection dropped after every 20 frames (each "
               "resume is a get-turn and a subscribe after the cursor); default backoff.",
               "Throughput: replaying a finished turn at full speed from the simulated gateway on 127.0.0.1, "
               "median of interleaved runs. Resume: milliseconds from the last item before a drop to the "
               "first item after the resume (includes the configured backoff)."],
    )  # fmt: skip
