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
_CODE_KEYS = ("_esm", "_css", "_anywidget_id")


def _output(widget: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The display bundle and metadata IPython would store for ``widget`` (``_repr_mimebundle_``)."""
    got = widget._repr_mimebundle_()
    if isinstance(got, tuple):
        data, metadata = got
        return data, metadata or {}
    return got, {}


def _notebook(widget: Any, source: str) -> tuple[str, dict[str, Any], int]:
    import nbformat
    from ipywidgets.embed import dependency_state

    state = dependency_state([widget], drop_defaults=False)
    nb = nbformat.v4.new_notebook()
    nb.metadata["widgets"] = {
        "application/vnd.jupyter.widget-state+json": {"version_major": 2, "version_minor": 0, "state": state}
    }
    cell = nbformat.v4.new_code_cell(source, execution_count=1)
    data, metadata = _output(widget)
    output = nbformat.v4.new_output("display_data", data=data, metadata=metadata)
    cell.outputs = [output]
    nb.cells.append(cell)
    return nbformat.writes(nb), state, len(json.dumps(output).encode())


def _sizes(text: str, state: dict[str, Any]) -> dict[str, int]:
    data_only = {
        mid: {**m, "state": {k: v for k, v in m["state"].items() if k not in _CODE_KEYS}}
        for mid, m in state.items()
    }
    return {
        "ipynb_bytes": len(text.encode()),
        "widget_state_bytes": len(json.dumps(state).encode()),
        "widget_state_without_code_bytes": len(json.dumps(data_only).encode()),
    }


def measure(n_deltas: int) -> dict[str, dict[str, int]]:
    """Both notebooks for a turn of ``n_deltas`` deltas; sizes in bytes."""
    from benchmarks._naive import NaiveEventsWidget
    from tfwidget import TurnView, iter_sse

    events = large_turn_events(n_deltas)
    items = list(iter_sse(to_sse(events)))
    out: dict[str, dict[str, int]] = {}
    with recording_comms():
        view = TurnView(items)
        text, state, output_bytes = _notebook(view, "view = tfwidget.replay(...)\nview")
        out["tfwidget TurnView"] = {**_sizes(text, state), "output_bundle_bytes": output_bytes}
        view.close()

        naive = NaiveEventsWidget()
        for ev in events:  # the final state of per-event reassignment, without paying for the streaming
            naive.events.append(ev)
        naive.events = list(naive.events)
        text, state, output_bytes = _notebook(naive, "w = NaiveEventsWidget()\nw")
        out["naive anywidget (List trait)"] = {**_sizes(text, state), "output_bundle_bytes": output_bytes}
        naive.close()
    return out


def bench(quick: bool = False) -> dict[str, Any]:
    """Benchmark 6 as a suite record."""
    n_deltas = 500 if quick else 10_000
    sizes = measure(n_deltas)
    rows = [{"implementation": k, **v} for k, v in sizes.items()]
    ours, naive = sizes["tfwidget TurnView"], sizes["naive anywidget (List trait)"]
    checks = [
        check(".ipynb bytes vs naive", ours["ipynb_bytes"], naive["ipynb_bytes"], target=10,
              higher_is_better=False, unit="bytes",
              note="TurnView's saved state carries its front-end bundle (_esm, _css) once per widget",
              miss=(f"fixed costs, not the turn: the front-end bundle saved in the widget state "
                    f"({ours['widget_state_bytes'] - ours['widget_state_without_code_bytes']:,} B of _esm/_css) "
                    f"and the static HTML transcript in the output ({ours['output_bundle_bytes']:,} B); "
                    "the turn's data alone is the next row")),
        check("widget state without front-end code vs naive", ours["widget_state_without_code_bytes"],
              naive["widget_state_without_code_bytes"], target=None, higher_is_better=False, unit="bytes"),
    ]  # fmt: skip
    return result("notebook_size", TITLE,
                  params={"deltas": n_deltas, "events": n_deltas and len(large_turn_events(n_deltas))},
                  rows=rows, checks=checks,
                  notes=["TurnView's output bundle also holds a static HTML transcript (what renders "
                         "without a widget manager, e.g. on GitHub); the naive widget has none."])  # fmt: skip
