"""Notebook size: bytes of the saved .ipynb after one streamed turn, TurnView vs the naive widget.

Each notebook is built the way Jupyter saves it: one code cell whose output is the widget's display
bundle, and the widget state (``ipywidgets.embed.dependency_state``, full state as JupyterLab's
widget manager saves it) under ``metadata.widgets["application/vnd.jupyter.widget-state+json"]``.
"""

from __future__ import annotations

import json
from typing import Any

from benchmarks._common import check, recording_comms, result
from benchmarks._streams import large_turn_events, to_sse

TITLE = "Notebook size: saved .ipynb after one turn"
_CODE_KEYS = (
    "_esm",
    "_css",
    "_anywidget_id",
    "code",
    "css",
    "digest",
)  # per view, or the shared bundle model


def _output(widget: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The display bundle and metadata IPython would store for ``widget`` (``_repr_mimebundle_``)."""
    got = widget._repr_mimebundle_()
    if isinstance(got, tuple):
        data, metadata = got
        return data, metadata or {}
    return got, {}


def _notebook(widgets: list[Any], source: str) -> tuple[str, dict[str, Any], int]:
    """One cell per widget, each output its display bundle; the widget state of all of them (each model
    once, as the widget manager saves it)."""
    import nbformat
    from ipywidgets.embed import dependency_state

    state = dependency_state(widgets, drop_defaults=False)
    nb = nbformat.v4.new_notebook()
    nb.metadata["widgets"] = {
        "application/vnd.jupyter.widget-state+json": {"version_major": 2, "version_minor": 0, "state": state}
    }
    output_bytes = 0
    for i, widget in enumerate(widgets, 1):
        cell = nbformat.v4.new_code_cell(source, execution_count=i)
        data, metadata = _output(widget)
        output = nbformat.v4.new_output("display_data", data=data, metadata=metadata)
        cell.outputs = [output]
        nb.cells.append(cell)
        output_bytes += len(json.dumps(output).encode())
    return nbformat.writes(nb), state, output_bytes


def _sizes(text: str, state: dict[str, Any]) -> dict[str, int]:
    data_only = {
        mid: {
            **m,
            "state": {k: v for k, v in m["state"].items() if k not in _CODE_KEYS},
            "buffers": [b for b in m.get("buffers", []) if b["path"][0] not in _CODE_KEYS],
        }
        for mid, m in state.items()
    }
    return {
        "ipynb_bytes": len(text.encode()),
        "widget_state_bytes": len(json.dumps(state).encode()),
        "widget_state_without_code_bytes": len(json.dumps(data_only).encode()),
    }


def measure(n_deltas: int, views: int = 1) -> dict[str, dict[str, int]]:
    """Both notebooks with ``views`` turns of ``n_deltas`` deltas each (one view per turn, each turn its own
    seed); sizes in bytes."""
    from benchmarks._naive import NaiveEventsWidget
    from tfwidget import TurnView, iter_sse

    turns = [large_turn_events(n_deltas, seed=i) for i in range(views)]
    out: dict[str, dict[str, int]] = {}
    with recording_comms():
        ours = [TurnView(list(iter_sse(to_sse(events)))) for events in turns]
        text, state, output_bytes = _notebook(ours, "view = tfwidget.replay(...)\nview")
        out["tfwidget TurnView"] = {**_sizes(text, state), "output_bundle_bytes": output_bytes}
        for view in ours:
            view.close()

        naives = []
        for events in turns:
            naive = NaiveEventsWidget()
            for ev in events:  # the final state of per-event reassignment, without paying for the streaming
                naive.events.append(ev)
            naive.events = list(naive.events)
            naives.append(naive)
        text, state, output_bytes = _notebook(naives, "w = NaiveEventsWidget()\nw")
        out["naive anywidget (List trait)"] = {**_sizes(text, state), "output_bundle_bytes": output_bytes}
        for naive in naives:
            naive.close()
    return out


def bench(quick: bool = False) -> dict[str, Any]:
    """Benchmark 6 as a suite record: one view of one turn, and three views of three turns."""
    n_deltas = 500 if quick else 10_000
    rows: list[dict[str, Any]] = []
    checks: list[dict[str, Any]] = []
    for views in (1, 3):
        sizes = measure(n_deltas, views)
        rows += [{"implementation": k, "views": views, **v} for k, v in sizes.items()]
        ours, naive = sizes["tfwidget TurnView"], sizes["naive anywidget (List trait)"]
        code = ours["widget_state_bytes"] - ours["widget_state_without_code_bytes"]
        checks += [
            check(f".ipynb bytes vs naive, {views} view(s)", ours["ipynb_bytes"], naive["ipynb_bytes"],
                  target=10 if views == 3 else None, higher_is_better=False, unit="bytes",
                  note=(f"the front end is saved once, in a shared bundle model ({code:,} B of code and styles "
                        f"for {views} view(s)); each view's own _esm is a small loader"),
                  miss=(f"fixed costs, not the turn: the front-end bundle ({code:,} B) and the static HTML "
                        f"transcripts in the outputs ({ours['output_bundle_bytes']:,} B); the turns' data "
                        "alone is the next row")),
            check(f"widget state without front-end code vs naive, {views} view(s)",
                  ours["widget_state_without_code_bytes"], naive["widget_state_without_code_bytes"],
                  target=None, higher_is_better=False, unit="bytes"),
        ]  # fmt: skip
    return result("notebook_size", TITLE,
                  params={"deltas": n_deltas, "events": n_deltas and len(large_turn_events(n_deltas))},
                  rows=rows, checks=checks,
                  notes=["Three views are three turns of the same length (different seeds), one view each.",
                         "TurnView's output bundle also holds a static HTML transcript (what renders "
                         "without a widget manager, e.g. on GitHub); the naive widget has none."])  # fmt: skip
