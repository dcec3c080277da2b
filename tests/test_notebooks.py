"""The notebooks as saved in the repository: small, executed, and readable without a kernel.

(Running them is nbval's job: ``pytest notebooks --nbval-lax --nbval-current-env``.)
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import nbformat
import pytest
from nbconvert import HTMLExporter

from tfwidget import load
from tfwidget.state import TurnState

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
NAMES = [p.stem for p in NOTEBOOKS]
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"

# the turns each notebook displays in a TurnView, by the recording or scenario they come from
DISPLAYED_TURNS = {
    "quickstart": [ROOT / "tfwidget" / "sim" / "data" / "sub_agents.sse"],
    "teaching_demo": [
        ROOT / "notebooks" / "recordings" / "sub_agents.jsonl",
        ROOT / "notebooks" / "recordings" / "approval_pause.jsonl",
    ],
}


def test_the_three_notebooks_are_there() -> None:
    assert {"quickstart", "token_usage", "teaching_demo"} <= set(NAMES)


@pytest.fixture(params=NOTEBOOKS, ids=NAMES)
def notebook(request: pytest.FixtureRequest) -> Path:
    return request.param


def test_small_and_no_large_widget_state(notebook: Path) -> None:
    assert notebook.stat().st_size < 1_000_000
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    state = nb.get("metadata", {}).get("widgets")
    if state is not None:
        assert len(json.dumps(state)) < 200_000
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            blob = out.get("data", {}).get(WIDGET_STATE)
            if blob is not None:
                assert len(json.dumps(blob)) < 200_000


def test_saved_with_outputs_of_a_real_run(notebook: Path) -> None:
    nb = nbformat.read(notebook, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code
    counts = [c.execution_count for c in code]
    assert all(n is not None for n in counts), "every code cell is executed"
    assert counts == sorted(counts), "executed top to bottom"
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors, errors[0].ename if errors else ""
    assert sum(len(c.outputs) for c in code) >= len(code) // 2


def test_no_keys_or_machine_paths(notebook: Path) -> None:
    text = notebook.read_text(encoding="utf-8")
    for bad in ("tfy-sim-", "Bearer ", str(Path.home()) + "/", str(Path(__file__).resolve().parents[1])):
        assert bad not in text, bad
    # no absolute path of a home, scratch or checkout folder of whoever executed the notebook
    assert not re.search(r"(?<![\w.])/(?:home|root|tmp|work|Users)/[\w.-]+", text)


def _page_text(notebook: Path) -> str:
    body, _ = HTMLExporter().from_notebook_node(nbformat.read(notebook, as_version=4))
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


def _answer_fragments(source: Path) -> list[str]:
    state = TurnState.from_items(load(source))
    main = [m for m in state.merged_messages() if m.thread_id in (None, "main")]
    text = state.message_text(main[-1].id)[0]
    return [f.strip() for f in re.split(r"[*_`#\[\]]+", text) if len(f.strip()) >= 10]


@pytest.mark.parametrize("name", sorted(DISPLAYED_TURNS))
def test_html_export_shows_the_transcript(name: str) -> None:
    """Without widget state, nbconvert (and GitHub) fall back to each TurnView's static transcript."""
    path = ROOT / "notebooks" / f"{name}.ipynb"
    nb = nbformat.read(path, as_version=4)
    views = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if WIDGET_VIEW in o.get("data", {})
        and str(o["data"].get("text/plain", "")).startswith(("<TurnView", "<PlayerView"))
    ]
    assert views, "the notebook displays TurnViews"
    assert all("text/html" in o["data"] for o in views), "each TurnView output carries its static transcript"
    page = _page_text(path)
    for source in DISPLAYED_TURNS[name]:
        fragments = _answer_fragments(source)
        assert fragments
        for fragment in fragments:
            assert fragment in page, f"{name}: {fragment!r} not in the HTML export"
