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
        {"implementation": "GatewayClient.subscribe + TurnState fold of each item", "items_per_s": tp["client_fold"],
         "items": tp["items"]},
    ]  # fmt: skip
    checks = [
        check("items/s, subscribe vs bare httpx-sse", tp["client"], tp["bare"], target=0.8, unit="items/s",
              note="the client also validates every event into a typed model and tracks the cursor",
              miss="per item, beyond the bare loop's json.loads, the client builds a typed StreamItem and keeps "
                   "its resume bookkeeping (cursor, per-message sizes for an exact rebuild after a 412): about "
                   "1 us more per item in pure Python; the simulator serving the turn shares the process"),
        check("items/s, live subscribe + fold vs bare httpx-sse (no fold)", tp["client_fold"], tp["bare"],
              target=0.9, unit="items/s",
              note="what a live view does: every item typed, tracked for resumes and folded as it arrives",
              miss="per item the client validates a typed event, keeps resume bookkeeping and folds it, "
                   "where the bare loop only decodes and json.loads; the fold keeps every item (the garbage "
                   "collector's passes grow with them); the simulator serving the turn shares the process"),
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
        n_drop = 2_000 if quick else 10_000
        dv = bc.drops_vs_clean(deltas=n_drop, every=20)
        bare = bc.bare_drops(deltas=n_drop, every=20)
        for name in ("clean", "drops"):
            rows.append({"implementation": f"follow a running {n_drop:,}-delta turn, "
                         + ("no drops" if name == "clean" else "a drop every 20 frames"),
                         "seconds": dv[name], "items": dv[f"{name}_items"],
                         "reconnects": dv[f"{name}_reconnects"]})  # fmt: skip
        rows.append({"implementation": f"bare httpx-sse resume loop, {n_drop:,}-delta turn, a drop every 20 frames",
                     "seconds": bare["seconds"], "items": bare["items"],
                     "reconnects": bare["reconnects"]})  # fmt: skip
        checks.append(check("turn time, a drop every 20 frames vs no drops", dv["drops"], dv["clean"], target=None,
                            higher_is_better=False, unit="s",
                            note="informational: each drop costs a get-turn and a subscribe round trip, more than "
                                 "the 20 frames it follows take to arrive from a backlog"))  # fmt: skip
        checks.append(check("turn time, a drop every 20 frames: subscribe vs a bare httpx-sse resume loop",
                            dv["drops"], bare["seconds"], target=0.8, higher_is_better=False, unit="s",
                            target_text="<= 1.25x the time",
                            note="the same resumes (get turn, subscribe after the last id); a drop after progress "
                                 "resumes at once, only attempts without progress back off",
                            miss="each resume also reads the turn's status and builds a fresh decoder with its limits, "
                                 "which the bare loop skips"))  # fmt: skip
    if hasattr(bc, "live_drops"):
        n_live, every, rate = (1_000, 100, 1_000.0) if quick else (10_000, 100, 1_000.0)
        ld = bc.live_drops(deltas=n_live, every=every, rate=rate)
        for name in ("clean", "drops"):
            rows.append({"implementation": f"live {n_live:,}-delta turn at {rate:,.0f} events/s, "
                         + ("no drops" if name == "clean" else f"a drop every {every} events"),
                         "seconds": ld[name], "deltas_live": ld[f"{name}_live"],
                         "reconnects": ld[f"{name}_reconnects"], "text_exact": ld[f"{name}_text_ok"]})  # fmt: skip
        checks.append(check(f"live turn time, a drop every {every} events vs no drops", ld["drops"], ld["clean"],
                            target=1 / 1.1, higher_is_better=False, unit="s", target_text="<= 1.1x the time",
                            note="a drop after progress resumes at once (get turn, subscribe after the cursor); "
                                 "only attempts without progress back off",
                            miss="each resume is a get-turn and a subscribe round trip"))  # fmt: skip
        checks.append(check(f"deltas shown live, a drop every {every} events (% of the turn's)",
                            100.0 * ld["drops_live"] / n_live, 100.0, target=1.0, unit="%", target_text="100 %",
                            note="every delta missed during a reconnect is replayed from the cursor",
                            miss="the turn ended during a reconnect: its last message came merged from the "
                                 "listed events"))  # fmt: skip
    return result(
        "network",
        TITLE,
        params={"deltas": deltas, "items": tp["items"], "runs": runs},
        rows=rows,
        checks=checks,
        notes=["Drops: the same running turn served from its backlog by a scripted gateway in a child process, "
               "followed once without drops and once with the connection dropped after every 20 frames (each "
               "resume is a get-turn and a subscribe after the cursor); default backoff. Baseline: a bare "
               "httpx + httpx-sse loop doing the same resumes by hand (json.loads per frame, no typed events).",
               "Live drops: the same turn served by the scripted gateway in a child process, its frames "
               "appearing at the given rate from the first subscribe (a running turn), followed and folded "
               "once without drops and once with the connection dropped after every N frames; deltas shown live "
               "are the delta events delivered one by one (not merged into a rebuilt message).",
               "Throughput: replaying a finished turn at full speed from the simulated gateway on 127.0.0.1, "
               "median of interleaved runs. Resume: milliseconds from the last item before a drop to the "
               "first item after the resume (includes the configured backoff)."],
    )  # fmt: skip
