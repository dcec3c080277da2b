"""The static transcript (tfwidget.static_html): markdown, nesting, chart, sessions, notebook outputs.

Structure is checked by parsing the HTML (html.parser), not by string matching. The browser checks (JavaScript
off, every fixture and scenario) are in tests/browser/test_static_browser.py.
"""

from __future__ import annotations

import copy
import os
import re
import threading
from html import unescape
from html.parser import HTMLParser
from typing import Any, ClassVar

import pytest

from tfwidget import replay
from tfwidget.durable import session_static_html
from tfwidget.session import chat
from tfwidget.sim import serve
from tfwidget.static_html import markdown_html, render_session_html, render_turn_html, static_output_html
from tfwidget.widget import TurnView

from .conftest import FIXTURE_NAMES, FIXTURES


class Tree(HTMLParser):
    """A tiny DOM: (tag, attrs, parent index) per element, to ask ancestry questions."""

    VOID: ClassVar[set[str]] = {"br", "hr", "img", "wbr", "col", "input", "meta", "link", "line", "rect"}

    def __init__(self, text: str) -> None:
        super().__init__()
        self.nodes: list[tuple[str, dict[str, str], int]] = []
        self.stack: list[int] = [-1]
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.nodes.append((tag, {k: v or "" for k, v in attrs}, self.stack[-1]))
        if tag not in self.VOID:
            self.stack.append(len(self.nodes) - 1)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.nodes.append((tag, {k: v or "" for k, v in attrs}, self.stack[-1]))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, 0, -1):
            if self.nodes[self.stack[i]][0] == tag:
                del self.stack[i:]
                break

    def find(self, tag: str | None = None, **attrs: str) -> list[int]:
        return [
            i
            for i, (t, a, _) in enumerate(self.nodes)
            if (tag is None or t == tag) and all(a.get(k.replace("_", "-")) == v for k, v in attrs.items())
        ]

    def ancestors(self, i: int) -> list[int]:
        out = []
        p = self.nodes[i][2]
        while p >= 0:
            out.append(p)
            p = self.nodes[p][2]
        return out


def test_markdown_is_rendered_and_sanitized() -> None:
    out = markdown_html(
        "Both are **Apache-2.0**.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n- x\n- y\n\n"
        '<img src=x onerror="alert(1)"> <script>alert(2)</script> [js](javascript:alert(3)) '
        '<a href="data:text/html,x">d</a> [ok](https://example.com) ![pic](https://example.com/p.png)'
    )
    tree = Tree(out)
    assert tree.find("strong") and tree.find("table") and len(tree.find("li")) == 2
    assert not tree.find("img") and not tree.find("script")
    hrefs = [a.get("href") for t, a, _ in tree.nodes if t == "a"]
    assert hrefs == [None, "https://example.com", "https://example.com/p.png"]  # data: dropped; image -> link
    for t, a, _ in tree.nodes:
        assert not any(k.startswith("on") for k in a), (t, a)
        if t == "a":
            assert a["target"] == "_blank" and a["rel"] == "noopener noreferrer"
    assert "alert(2)" not in out  # script content removed with the element


def test_sub_agent_threads_sit_under_their_tool_cards() -> None:
    view = replay(FIXTURES / "sub_agents.sse").snapshot()
    html = render_turn_html(view)
    tree = Tree(html)
    threads = [t for t in view["threads"] if t["id"] != "main"]
    assert threads and all(t.get("parent_tool_call_id") for t in threads)
    for th in threads:
        [node] = tree.find("details", data_thread=th["id"])
        [card] = tree.find("div", data_id=th["parent_tool_call_id"])
        assert card in tree.ancestors(node), f"thread {th['id']} is not inside its tool card"
        # the name is shown once: title == agent name gives no second chip
        assert html.count(f">{th['title']}<") == 1
    assert "<strong>Apache-2.0</strong>" in html
    assert len(tree.find("g", **{"class": "tfws-bar"})) == len(view["usage"]) > 0


def test_notebook_output_carries_the_swap_rules() -> None:
    out = static_output_html(render_turn_html(replay(FIXTURES / "plain_answer.sse").snapshot()))
    assert out.startswith("<style>") and "model not found" not in out
    assert ":not(:has(*))" in out and ".tfw-root" in out and "<script" not in out


def _styled(html: str) -> list[str]:
    tree = Tree(html)
    return [tag for tag, attrs, _ in tree.nodes if "style" in attrs]


def _scenario_view(name: str, **options: Any) -> dict[str, Any]:
    import json

    from tfwidget import iter_sse
    from tfwidget.sim import Scenario

    events = Scenario.load(name, **options).events
    sse = "".join(f"id: {i}\ndata: {json.dumps(e)}\n\n" for i, e in enumerate(events, 1)).encode()
    return replay(iter_sse(sse)).snapshot()


@pytest.mark.parametrize("name", [*FIXTURE_NAMES, "artifacts", "multi_pause", "long_markdown", "xss"])
def test_only_the_root_box_and_images_carry_a_style_attribute(name: str) -> None:
    """Hosts that sanitize an output run a CSS parser over every style attribute (JupyterLab's table of
    contents does it when a turn's end refreshes the saved transcript): the rest is one style sheet and
    class names, whatever the turn holds (tools, threads, pauses, media, tables, notices)."""
    view = replay(FIXTURES / f"{name}.sse").snapshot() if name in FIXTURE_NAMES else _scenario_view(name)
    view["notices"] = [{"level": "warning", "text": "a notice"}]
    html = render_turn_html(view)
    assert _styled(html)[0] == "div" and set(_styled(html)[1:]) <= {"img"}, _styled(html)
    assert html.count("<style>.tfws-static") == 1  # one sheet per transcript


def test_style_attributes_do_not_grow_with_the_turn() -> None:
    counts = [len(_styled(render_turn_html(_scenario_view("large", deltas=n)))) for n in (50, 2_000)]
    assert counts == [1, 1]
    views = [replay(FIXTURES / f"{n}.sse").snapshot() for n in FIXTURE_NAMES]
    session = render_session_html(views, notices=[{"level": "info", "text": "n"}])
    assert _styled(session) == ["div"] and session.count("<style>.tfws-static") == 1  # one per session


HOSTILE = 'x" onmouseover="alert(1)" zzq=\'<b>&'


def _poison(value: Any) -> Any:
    if isinstance(value, str):
        return value + HOSTILE
    if isinstance(value, dict):
        return {k: _poison(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_poison(v) for v in value]
    return value


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_no_value_breaks_out_of_an_attribute(name: str) -> None:
    """Every string of the view (ids, statuses, titles, text) ends in a quote and a would-be handler: the
    parsed transcript has no handler and no injected attribute, and the values read back whole."""
    view = _poison(replay(FIXTURES / f"{name}.sse").snapshot())
    html = render_session_html([view], session_id="s" + HOSTILE, notices=[{"level": "x", "text": HOSTILE}])
    tree = Tree(html)
    for tag, attrs, _ in tree.nodes:
        assert not [a for a in attrs if a.startswith("on") or a == "zzq"], (tag, attrs)
    poisoned = [v for _, attrs, _ in tree.nodes for v in attrs.values() if v.endswith(HOSTILE)]
    assert poisoned  # values did land in attributes, whole


def test_text_is_escaped_without_quote_entities() -> None:
    """Quotes in text stay quotes (each entity costs a sanitizing host's parser a decode); in attribute
    values they are escaped."""
    view = replay(FIXTURES / "approval_pause.sse").snapshot()
    call_id = next(iter(view["tools"]))
    view["tools"][call_id]["arguments"] = '{"order_id": "ORD-1", "note": "it\'s <b>"}'
    view["messages"] = {k: {**m, "id": 'm"1'} for k, m in view["messages"].items()}
    html = render_turn_html(view)
    assert '"order_id": "ORD-1"' in html and "it's &lt;b&gt;" in html
    assert "&quot;" not in html.replace('data-id="m&quot;1"', "")
    assert 'data-id="m&quot;1"' in html
    tree = Tree(html)
    assert [a["data-id"] for _, a, _ in tree.nodes if a.get("class") == "tfws-msg"][0] == 'm"1'


def test_bad_input_is_a_clear_type_error() -> None:
    with pytest.raises(TypeError, match="view snapshot"):
        render_turn_html(["not", "a", "view"])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="view snapshots"):
        render_session_html([None])  # type: ignore[list-item]


@pytest.fixture
def quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    lock = threading.Lock()
    log: list[Any] = []

    def send(self: Any, content: Any, buffers: Any = None) -> None:
        with lock:
            log.append(copy.deepcopy(content))

    monkeypatch.setattr(TurnView, "send", send)


def test_session_renders_every_turn_with_its_decisions(quiet: None) -> None:
    """A paused turn and its resume (approved over loopback HTTP): both turns and the decision show."""
    with serve("plain_answer", speed=0) as sim:
        view = chat("sim-agent", base_url=sim.base_url, api_key=sim.api_key)
        try:
            paused = view.send("Please refund order 42")
            view.wait(20)
            [p] = view.pending
            resumed = view.approve(p.tool_call_id)
            assert resumed is not None
            view.wait(20)
            html = session_static_html(view)
        finally:
            view.close()
    tree = Tree(html)
    assert len(tree.find("div", data_turns="2")) == 1
    turns = tree.find("div", **{"class": "tfws-turn"})
    assert len(turns) == 2
    assert [tree.nodes[i][1]["data-turn"] for i in turns] == [paused.turn_id, resumed.turn_id]
    assert "Please refund order 42" in html
    assert "approved" in html  # the decision on the paused turn's card
    assert re.search(
        r'class="tfws-decision-input"[^>]*><span[^>]*>decision</span> Approved', html
    )  # resume input
    text = unescape(re.sub(r"<[^>]+>", " ", html))
    words = [
        w for m in resumed.snapshot()["messages"].values() for w in re.findall(r"\w{4,}", m["content"] or "")
    ]
    assert words and all(w in text for w in words), "the resume turn's answer is in the transcript"


def test_saved_notebooks_keep_a_static_transcript_before_each_view() -> None:
    """The repository's notebooks, as saved: each TurnView output follows its static transcript."""
    import nbformat

    from .conftest import ROOT

    seen = 0
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            outputs = cell.get("outputs", [])
            for i, out in enumerate(outputs):
                data = out.get("data", {})
                if "application/vnd.jupyter.widget-view+json" not in data:
                    continue
                if not str(data.get("text/plain", "")).startswith(
                    ("<TurnView", "<SessionView", "<PlayerView")
                ):
                    continue
                seen += 1
                assert i > 0, f"{path.name}: a view without its static transcript"
                before = "".join(outputs[i - 1].get("data", {}).get("text/html", ""))
                assert "tfws-static" in before and "<script" not in before, path.name
    assert seen >= 3


def test_views_inside_containers_get_their_static_transcript_first(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a kernel (nbclient): an HBox / Tab holding views is displayed after one static output with every
    view's transcript, refreshed when a view finishes; a container without views is displayed as before."""
    import shutil

    import nbformat
    from nbclient import NotebookClient

    shutil.copy(FIXTURES / "sub_agents.sse", tmp_path / "sub_agents.sse")
    cells = [
        # a paced replay: when the container is displayed the turn has not ended yet
        "import ipywidgets, tfwidget\n"
        "turn = tfwidget.replay('sub_agents.sse', speed=2)\n"
        "ipywidgets.HBox([turn, ipywidgets.Label('next to it')])",
        "await turn.wait(60)\nother = tfwidget.replay('sub_agents.sse')\n"
        "display(ipywidgets.Tab([ipywidgets.VBox([other]), ipywidgets.HTML('x'), ipywidgets.VBox([turn])]))",
        "ipywidgets.VBox([ipywidgets.Label('no view here')])",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    from .conftest import ROOT

    # the kernel imports tfwidget from this checkout
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    )
    NotebookClient(nb, timeout=120, resources={"metadata": {"path": str(tmp_path)}}).execute()
    box, tab, plain = (c.outputs for c in nb.cells)

    def html(out: Any) -> str:
        return "".join(out.get("data", {}).get("text/html", ""))

    widget = "application/vnd.jupyter.widget-view+json"
    # the HBox: its static output first (refreshed at turn end: the whole answer), then the box
    assert [widget in o.get("data", {}) for o in box] == [False, True], box
    assert html(box[0]).count('class="tfws-static') == 1
    assert "Apache-2.0" in html(box[0]) and "<script" not in html(box[0])
    assert "tfws-static" not in html(box[1]) and box[1]["data"]["text/plain"].startswith("HBox(")
    # the Tab: both views' transcripts, in order, in one output before it
    assert [widget in o.get("data", {}) for o in tab] == [False, True], tab
    assert html(tab[0]).count('class="tfws-static') == 2
    # without a view: one output, as ipywidgets displays it
    assert len(plain) == 1 and widget in plain[0]["data"] and "text/html" not in plain[0]["data"]
