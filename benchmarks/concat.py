"""Collections: ``tfwidget.concat`` of 2,000 recorded turns (``.jsonl``), then ``df`` + ``usage_df``, vs
``pandas.read_json(lines=True)`` of the same files, concatenated.

The recordings are written once, outside the timings, by :func:`tfwidget.save` (the format a user's
``record`` and ``save`` produce). Both sides read every file from disk in every run. ``read_json`` only
parses the lines (one row per line, the event left as a nested object); tfwidget folds every turn and
builds typed frames. Memory is the tracemalloc peak of a separate run: for tfwidget, of ``concat`` alone
(what a collection holds before a frame is asked for) and of one turn folded alone (the bound to meet).
"""

from __future__ import annotations

import gc
import tempfile
from pathlib import Path
from typing import Any

from benchmarks._common import check, median_time, result, traced_peak_mib
from benchmarks._streams import large_turn_events

TITLE = "Collections: concat of 2,000 recorded turns, then df + usage_df"


def write_recordings(folder: Path, n_turns: int, n_deltas: int) -> list[Path]:
    """``n_turns`` recordings of ``n_deltas``-delta turns (varied by seed), as ``.jsonl`` files."""
    from tfwidget import save
    from tfwidget.sse import StreamItem

    paths = []
    for k in range(n_turns):
        events = large_turn_events(n_deltas, seed=k, per_message=max(1, n_deltas // 4))
        items = []
        for i, e in enumerate(events, 1):
            e = dict(e, turn_id=f"t{k:05d}") if e["type"] == "turn.created" else e
            items.append(StreamItem(i, None, 1_785_578_400.0 + k + i / 1000, _dumps(e)))
        paths.append(save(items, folder / f"turn-{k:05d}.jsonl"))
    return paths


def _dumps(e: dict[str, Any]) -> str:
    import json

    return json.dumps(e, separators=(",", ":"))


def bench(quick: bool = False) -> dict[str, Any]:
    """The collection benchmark as a suite record."""
    import pandas as pd

    import tfwidget

    n_turns, n_deltas, repeat = (100, 60, 1) if quick else (2_000, 60, 3)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = write_recordings(folder, n_turns, n_deltas)
        raw_bytes = sum(p.stat().st_size for p in paths)
        n_lines = sum(p.read_bytes().count(b"\n") for p in paths)

        def baseline() -> tuple[pd.DataFrame, ...]:
            return (pd.concat([pd.read_json(p, lines=True) for p in paths], ignore_index=True),)

        def ours() -> tuple[pd.DataFrame, ...]:
            coll = tfwidget.concat(folder)
            return coll.df, coll.usage_df

        t_base, frames = median_time(baseline, repeat)
        base_rows = len(frames[0])
        del frames
        t_ours, frames = median_time(ours, repeat)
        df_rows, usage_rows = len(frames[0]), len(frames[1])
        df_turns = frames[0]["turn_id"].nunique()
        del frames
        gc.collect()
        peak_concat = traced_peak_mib(lambda: tfwidget.concat(folder))
        peak_one = traced_peak_mib(lambda: tfwidget.concat([paths[0]]).states[paths[0].stem])
        peak_ours = traced_peak_mib(ours)
        peak_base = traced_peak_mib(baseline)
    assert df_rows == n_lines == base_rows, (df_rows, n_lines, base_rows)
    assert df_turns == n_turns
    rows = [
        {"implementation": "pandas.read_json(lines=True) per file + pd.concat (baseline)", "seconds": t_base,
         "rows": base_rows, "peak_mib": peak_base},
        {"implementation": "tfwidget.concat(folder) + .df + .usage_df", "seconds": t_ours, "rows": df_rows,
         "usage_rows": usage_rows, "peak_mib": peak_ours},
        {"implementation": "tfwidget.concat(folder) alone", "peak_mib": peak_concat},
        {"implementation": "one turn loaded and folded alone", "peak_mib": peak_one},
    ]  # fmt: skip
    checks = [
        check("seconds, concat + df + usage_df vs read_json", t_ours, t_base, target=2.0,
              higher_is_better=False, unit="s",
              miss="every event is validated into a typed model and folded; read_json only parses"),
        check("peak MiB of concat(folder) vs one turn folded alone", peak_concat, peak_one, target=None,
              higher_is_better=False, unit="MiB",
              note="bounded by about one turn at a time: the ratio stays near 1 whatever the number of turns"),
    ]  # fmt: skip
    notes = [
        f"{n_turns:,} recordings of {n_deltas} deltas each ({n_lines:,} lines, {raw_bytes / 2**20:.1f} MiB).",
        "concat keeps the file paths and folds each turn when a frame is asked for, one turn at a time.",
    ]
    return result("concat", TITLE, params={"turns": n_turns, "deltas_per_turn": n_deltas, "lines": n_lines,
                                           "runs": repeat}, rows=rows, checks=checks, notes=notes)  # fmt: skip
