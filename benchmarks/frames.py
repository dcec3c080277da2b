"""DataFrames: ``state.df``, ``messages_df`` and ``usage_df`` of a 1,000,000-item turn vs
``pandas.json_normalize`` on the same events as dicts.

The state is folded once, outside the timings (ingest is benchmark 1); the dicts are already parsed. Each
frame is built from scratch per run (the properties do not cache). Time is the median of the runs;
memory is the tracemalloc peak of a separate run (the frame is alive at the peak).
"""

from __future__ import annotations

import gc
from typing import Any

from benchmarks._common import check, median_time, result, traced_peak_mib
from benchmarks._streams import chunks, large_turn_events, to_sse

TITLE = "DataFrames: a 1,000,000-item turn to pandas"


def bench(quick: bool = False) -> dict[str, Any]:
    """Benchmark 5 as a suite record."""
    import pandas as pd

    from tfwidget import TurnState, iter_sse

    n_items, repeat = (20_000, 1) if quick else (1_000_000, 3)
    events = large_turn_events(n_items - 2)  # + turn.created and turn.done; a few model.message/tool.response
    events = events[:n_items]
    state = TurnState()
    for item in iter_sse(chunks(to_sse(events))):
        state.apply(item)
    assert len(state.items) == len(events)

    cases = {
        "pandas.json_normalize(event dicts)": lambda: pd.json_normalize(events),
        "tfwidget state.df": lambda: state.df,
        "tfwidget state.messages_df": lambda: state.messages_df,
        "tfwidget state.usage_df": lambda: state.usage_df,
    }
    rows: list[dict[str, Any]] = []
    res: dict[str, dict[str, Any]] = {}
    for name, fn in cases.items():
        secs, frame = median_time(fn, repeat)
        shape = tuple(frame.shape)
        del frame
        gc.collect()
        peak = traced_peak_mib(fn)
        res[name] = {"seconds": secs, "peak_mib": peak, "rows": shape[0], "columns": shape[1]}
        rows.append({"implementation": name, **res[name]})
    base = res["pandas.json_normalize(event dicts)"]
    checks = []
    for name in ("tfwidget state.df", "tfwidget state.messages_df", "tfwidget state.usage_df"):
        target = 3.0 if name == "tfwidget state.df" else None
        checks.append(check(f"seconds, {name.split()[-1]} vs json_normalize", res[name]["seconds"],
                            base["seconds"], target=target, higher_is_better=False, unit="s",
                            miss="one Python string per row and column still has to be built"))  # fmt: skip
        checks.append(check(f"peak MiB, {name.split()[-1]} vs json_normalize", res[name]["peak_mib"],
                            base["peak_mib"], target=None, higher_is_better=False, unit="MiB"))  # fmt: skip
    notes = [
        "json_normalize gives one row per raw event (no merge: delta text stays in pieces); state.df is "
        "also one row per event, with typed columns and the raw JSON payload; messages_df and usage_df "
        "are built from the merged messages.",
    ]
    return result("frames", TITLE, params={"items": len(events), "runs": repeat}, rows=rows, checks=checks,
                  notes=notes)  # fmt: skip
