"""TurnView in a real browser: JupyterLab 4 + headless chromium, fed by the simulated gateway.

Each notebook starts a :class:`tfwidget.sim.Simulator` inside the kernel (real HTTP on 127.0.0.1)
and follows its turn with :func:`tfwidget.watch`, so the whole path runs: simulator -> SSE ->
client -> fold -> widget trait and patches -> comm -> front end -> DOM. Expected values are
derived from the same scenario objects in the test process, never typed in by hand.

Every test saves a screenshot to ``artifacts/screenshots/``; the streaming test also writes
``artifacts/screenshots/turnview.png`` (the README image, see :func:`take_readme_screenshot`).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from .conftest import DARK_THEME, REPO_ROOT, SCREENSHOT_DIR, Lab

pytestmark = pytest.mark.browser

README_SCREENSHOT = SCREENSHOT_DIR / "turnview.png"


@pytest.fixture(scope="module", autouse=True)
def _bundle_built() -> None:
    """The widget tests need the front-end bundle; say how to build it instead of timing out."""
    static = REPO_ROOT / "tfwidget" / "static"
    missing = [n for n in ("widget.js", "widget.css") if not (static / n).is_file()]
    if missing:
        pytest.fail(f"tfwidget/static/{', '.join(missing)} missing: run `cd js && npm ci && npm run build`")


# ------------------------------------------------------------------------------------------ helpers


def watch_cells(scenario_expr: str, speed: float, var: str = "w") -> list[str]:
    """Notebook cells that start a simulator playing ``scenario_expr`` and display a watched TurnView."""
    return [
        "import tfwidget, tfwidget.sim",
        f"sim_{var} = tfwidget.sim.Simulator({scenario_expr}, speed={speed!r}).start()\n"
        f"{var} = tfwidget.watch(sim_{var}.session_id, sim_{var}.turn_id, "
        f"base_url=sim_{var}.base_url, api_key=sim_{var}.api_key)\n"
        f"{var}",
    ]


def scenario_events(name: str) -> list[dict[str, Any]]:
    """The events a built-in simulator scenario plays."""
    from tfwidget.sim import Scenario

    return Scenario.load(name).events


def expected_structure(events: list[dict[str, Any]]) -> dict[str, Any]:
    """What a correct view of ``events`` shows: message texts, tool calls, threads, usage records."""
    content: dict[str, str] = {}
    tool_ids: list[str] = []
    threads: dict[str, dict[str, Any]] = {}
    usage = 0
    metrics = None
    for ev in events:
        etype = ev.get("type")
        if etype == "model.message.delta":
            if isinstance(ev.get("content"), str):
                content[ev["id"]] = content.get(ev["id"], "") + ev["content"]
            for call in ev.get("tool_calls") or []:
                if call.get("id") and call["id"] not in tool_ids:
                    tool_ids.append(call["id"])
            if ev.get("usage"):
                usage += 1
        elif etype == "model.message" and isinstance(ev.get("content"), str):
            content[ev["id"]] = ev["content"] + content.get(ev["id"], "")
        elif etype == "thread.created":
            threads[ev["thread_id"]] = {
                "title": ev.get("title"),
                "parent_tool_call_id": (ev.get("parent") or {}).get("tool_call_id"),
            }
        elif etype == "turn.done":
            metrics = (ev.get("state") or {}).get("metrics")
    return {"content": content, "tool_ids": tool_ids, "threads": threads, "usage": usage, "metrics": metrics}


def words(text: str) -> list[str]:
    """Alphanumeric words of 4+ characters (what survives markdown rendering unchanged)."""
    return re.findall(r"[A-Za-z0-9]{4,}", text)


def root(lab: Lab, index: int = 0) -> Any:
    """Locator of the ``index``-th TurnView root in the active notebook's outputs."""
    return lab.page.locator(lab.out(".tfw-root")).nth(index)


def wait_status(lab: Lab, status: str, index: int = 0, timeout: float = 30_000) -> None:
    """Wait until the ``index``-th widget's root reports ``status`` (``data-status``)."""
    lab.page.wait_for_function(
        """([sel, i, status]) => {
            const el = document.querySelectorAll(sel)[i];
            return !!el && el.dataset.status === status;
        }""",
        arg=[lab.out(".tfw-root"), index, status],
        timeout=timeout,
    )


def pill_text(lab: Lab, index: int = 0) -> str:
    return (root(lab, index).locator(".tfw-header .tfw-pill").text_content() or "").strip()


def take_readme_screenshot(lab: Lab, path: Path = README_SCREENSHOT) -> Path:
    """Screenshot of the first TurnView in the active notebook (the README image)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    widget = root(lab)
    widget.scroll_into_view_if_needed()
    scroller = widget.locator(".tfw-scroll")
    if scroller.count():
        scroller.evaluate("el => { el.scrollTop = 0; }")
    widget.screenshot(path=str(path), animations="disabled")
    return path


COLOR_JS = """
(el) => {
  const parse = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  let node = el, bg = null;
  while (node && node.nodeType === 1) {
    const [r, g, b, a = 1] = parse(getComputedStyle(node).backgroundColor);
    if (a > 0.5) { bg = [r, g, b]; break; }
    node = node.parentElement;
  }
  const text = el.querySelector('.tfw-md p, .tfw-md, .tfw-user-text') || el;
  const [r, g, b] = parse(getComputedStyle(text).color);
  return { bg, fg: [r, g, b] };
}
"""


def luminance(rgb: list[float]) -> float:
    """Relative luminance (WCAG) of an sRGB colour given as 0-255 components."""

    def chan(c: float) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (chan(c) for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


# --------------------------------------------------------------------------------------------- tests


def test_watch_streams_incrementally(lab: Lab) -> None:
    """A sub-agent turn streams in: text grows, tool cards and nested threads appear, ends 'done'."""
    expected = expected_structure(scenario_events("sub_agents"))
    lab.run_notebook(watch_cells('"sub_agents"', speed=0.5), "watch_stream")
    lab.wait_output(".tfw-root")

    # Sample the rendered assistant text while the turn runs.
    lengths: list[int] = []
    statuses: set[str] = set()
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        state = root(lab).evaluate(
            """el => ({
                status: el.dataset.status,
                n: [...el.querySelectorAll('.tfw-md')].reduce((s, e) => s + e.textContent.length, 0),
            })"""
        )
        statuses.add(state["status"])
        lengths.append(state["n"])
        if state["status"] == "done":
            break
        time.sleep(0.1)
    assert "done" in statuses, f"turn never finished; statuses seen: {statuses}"
    assert "streaming" in statuses, f"never observed a live turn; statuses seen: {statuses}"
    growth = sorted(set(lengths[:-1]))
    assert len(growth) >= 3 and max(lengths) > min(lengths), f"text did not grow incrementally: {lengths}"

    widget = root(lab)
    assert pill_text(lab) == "done"

    # Every message's text is on the page.
    page_text = widget.inner_text()
    for text in expected["content"].values():
        for word in words(text):
            assert word in page_text, f"{word!r} missing from the rendered transcript"

    # One card per tool call; each sub-agent thread is nested inside the card of the call that spawned it.
    cards = widget.locator(".tfw-tool")
    assert sorted(cards.evaluate_all("els => els.map(e => e.dataset.id)")) == sorted(expected["tool_ids"])
    assert expected["threads"], "scenario has no sub-agent threads"
    for thread_id, info in expected["threads"].items():
        nested = widget.locator(
            f'.tfw-tool[data-id="{info["parent_tool_call_id"]}"] .tfw-thread[data-thread="{thread_id}"]'
        )
        assert nested.count() == 1, f"thread {thread_id} is not nested under {info['parent_tool_call_id']}"
        assert info["title"] in nested.locator(".tfw-thread-title").inner_text()
        assert (nested.locator(".tfw-badge").first.text_content() or "").strip() == "done"
        assert nested.locator(".tfw-msg").count() >= 1

    # A usage chip per model call that reported usage, and the turn totals in the header.
    chips = widget.locator(".tfw-usage-chip")
    assert chips.count() == expected["usage"]
    assert re.search(r"in [\d,]+ · out [\d,]+", chips.first.inner_text())
    metrics = expected["metrics"]
    tokens = widget.locator(".tfw-tokens").inner_text()
    assert (
        f"{metrics['total_input_tokens']:,} in" in tokens
        and f"{metrics['total_output_tokens']:,} out" in tokens
    )

    lab.screenshot(scroll_to=".tfw-root")
    take_readme_screenshot(lab)
    lab.assert_no_errors()


def test_pause_cards(lab: Lab) -> None:
    """approval_pause and ask_user end 'paused' with an approval card and a question card."""
    cells = [
        *watch_cells('"approval_pause"', speed=0, var="a"),
        *watch_cells('"ask_user"', speed=0, var="q")[1:],
    ]
    lab.run_notebook(cells, "pauses")
    lab.wait_output(".tfw-root")
    lab.page.wait_for_function(
        "(sel) => document.querySelectorAll(sel).length >= 2", arg=lab.out(".tfw-root")
    )
    wait_status(lab, "paused", 0)
    wait_status(lab, "paused", 1)

    approval, question = root(lab, 0), root(lab, 1)
    assert pill_text(lab, 0) == "paused" and pill_text(lab, 1) == "paused"

    # The approval card names the tool call the pause refers to.
    approval_ids = [
        c["id"]
        for e in scenario_events("approval_pause")
        if e["type"] == "tool.approval_required"
        for c in e["tool_calls"]
    ]
    card = approval.locator(".tfw-pause-approval")
    card.wait_for()
    assert card.count() == len(approval_ids) == 1
    assert "Approval required" in card.inner_text()
    tool_name = approval.locator(f'.tfw-tool[data-id="{approval_ids[0]}"] .tfw-tool-name').inner_text()
    assert tool_name and tool_name in card.locator("code").inner_text()
    assert approval.locator(f'.tfw-tool[data-id="{approval_ids[0]}"]').get_attribute("data-status") == (
        "awaiting_approval"
    )

    # The question card shows the question the agent asked.
    qcard = question.locator(".tfw-pause-question")
    qcard.wait_for()
    assert qcard.count() == 1
    asked = qcard.locator(".tfw-pause-question-text").inner_text().strip()
    assert asked, "question card has no question text"
    ask_args = "".join(
        c.get("function", {}).get("arguments", "")
        for e in scenario_events("ask_user")
        if e["type"] == "model.message.delta"
        for c in e.get("tool_calls") or []
    )
    assert asked in json.loads(ask_args).values() or asked in ask_args

    lab.screenshot(scroll_to=".tfw-root")
    lab.assert_no_errors()


def test_reload_restores_from_state(lab: Lab) -> None:
    """After the turn finished and the notebook was saved, a reload re-renders the same transcript.

    The gateway key never reaches the browser: not in the DOM, the kernel/comm traffic or the saved
    notebook (which holds the widget state).
    """
    key_file = "reload-key.txt"
    cells = watch_cells('"sub_agents"', speed=0)
    cells.append(f"open({key_file!r}, 'w').write(sim_w.api_key)\nNone")
    lab.run_notebook(cells, "reload")
    lab.wait_output(".tfw-root")
    wait_status(lab, "done")
    lab.wait_cells_done()
    before = root(lab).locator(".tfw-scroll").inner_text()
    messages_before = root(lab).locator(".tfw-msg").count()
    lab.save()
    saved = lab.saved_notebook()
    assert saved["metadata"].get("widgets"), "notebook was saved without widget state"
    key = (lab.server.root_dir / key_file).read_text(encoding="utf-8")
    assert len(key) >= 16
    assert key not in json.dumps(saved), "the API key was saved in the notebook"
    assert key not in lab.page.content(), "the API key is in the page"
    # Positive control: the turn's own text is visible in the captured frames, the key is not.
    turn_words = words(next(iter(expected_structure(scenario_events("sub_agents"))["content"].values())))
    assert lab.seen_on_the_wire(turn_words[0]), "websocket capture saw no widget traffic"
    assert not lab.seen_on_the_wire(key), "the API key went over the kernel websocket"

    # Reload with the kernel still running: the widget comes back from the kernel's model.
    lab.reload()
    lab.wait_output(".tfw-root")
    wait_status(lab, "done")
    assert root(lab).locator(".tfw-msg").count() == messages_before
    assert root(lab).locator(".tfw-scroll").inner_text() == before
    assert pill_text(lab) == "done"
    lab.screenshot("kernel", scroll_to=".tfw-root")

    # No kernel state at all: the saved widget state in the notebook renders the same transcript.
    lab.server.shutdown_kernels()
    lab.page.goto(lab.server.lab_url(lab.notebook or ""), wait_until="domcontentloaded")
    lab.wait_kernel_idle()
    lab.wait_output(".tfw-root")
    wait_status(lab, "done")
    assert root(lab).locator(".tfw-msg").count() == messages_before
    assert root(lab).locator(".tfw-scroll").inner_text() == before
    lab.screenshot("saved", scroll_to=".tfw-root")
    lab.assert_no_errors()


def test_dark_theme(lab: Lab) -> None:
    """Under JupyterLab Dark the widget shows light text on a dark background."""
    lab.run_notebook(watch_cells('"sub_agents"', speed=0), "dark")
    lab.wait_output(".tfw-root")
    wait_status(lab, "done")
    lab.wait_cells_done()
    light = root(lab).evaluate(COLOR_JS)
    lab.save()  # the theme switch reloads the page; outputs come back from the saved notebook

    lab.set_theme(DARK_THEME)
    lab.wait_output(".tfw-root")
    wait_status(lab, "done")
    dark = root(lab).evaluate(COLOR_JS)
    assert dark["bg"] is not None, "no opaque background behind the widget"
    assert luminance(dark["bg"]) < 0.2, f"background not dark: {dark}"
    assert luminance(dark["fg"]) > 0.4, f"text not light: {dark}"
    assert luminance(dark["fg"]) - luminance(dark["bg"]) > 0.3
    assert luminance(light["bg"]) > 0.6 and luminance(light["fg"]) < 0.3, f"light theme colours: {light}"
    lab.screenshot(scroll_to=".tfw-root")
    lab.assert_no_errors()


XSS_CELL = """
import json
import tfwidget, tfwidget.sim
from tfwidget.sim import Scenario

base = Scenario.load("xss")
# Whole payloads set a canary instead of calling alert(). Payloads the scenario splits across
# token-sized deltas keep their alert(), which the test page redefines to set the same canary.
events = json.loads(json.dumps(base.events).replace("alert(", "window.__pwned=("))
extra = {"type": "model.message", "id": "msg-canary", "thread_id": "main",
         "content": '<img src=x onerror="window.__pwned=1"> <a href="javascript:window.__pwned=2">js</a> '
                    '<svg><script>window.__pwned=3</script></svg> [ok](https://example.com/docs)'}
events.insert(len(events) - 1, extra)
scenario = Scenario(name="xss-canary", events=events)
sim_x = tfwidget.sim.Simulator(scenario, speed=0).start()
x = tfwidget.watch(sim_x.session_id, sim_x.turn_id, base_url=sim_x.base_url, api_key=sim_x.api_key)
x
"""


def test_xss_payloads_are_inert(lab: Lab) -> None:
    """Script and HTML payloads in content, arguments and tool output never execute or keep handlers."""
    dialogs: list[str] = []
    lab.page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    lab.context.add_init_script("window.alert = (m) => { window.__pwned = 'alert:' + m; };")
    lab.run_notebook([XSS_CELL], "xss")
    lab.wait_output(".tfw-root")
    wait_status(lab, "done")
    lab.page.wait_for_timeout(750)  # give any injected handler (img onerror) time to fire

    widget = root(lab)
    text = widget.inner_text()
    assert "Here is the summary" in text, "the xss scenario's content did not render"
    canary_link = widget.locator('a[href="https://example.com/docs"]')
    assert canary_link.count() == 1, "the canary message did not render"
    assert lab.page.evaluate("() => window.__pwned") is None
    assert not dialogs
    found = widget.evaluate(
        """el => {
            const all = [el, ...el.querySelectorAll('*')];
            return {
                scripts: el.querySelectorAll('script').length,
                frames: el.querySelectorAll('iframe, object, embed').length,
                handlers: all.flatMap(n => [...n.attributes].filter(a => /^on/i.test(a.name))
                                            .map(a => n.tagName + ' ' + a.name)),
                jsUrls: all.flatMap(n => [...n.attributes]
                    .filter(a => /^\\s*(javascript|data:text\\/html|vbscript)/i.test(a.value.replace(/[\\s\\u0000-\\u001f]/g, '')))
                    .map(a => n.tagName + ' ' + a.name + '=' + a.value)),
                links: [...el.querySelectorAll('a[href]')].map(a => ({href: a.getAttribute('href'),
                                                                     target: a.getAttribute('target'),
                                                                     rel: a.getAttribute('rel') || ''})),
            };
        }"""
    )
    assert found["scripts"] == 0, found
    assert found["frames"] == 0, found
    assert found["handlers"] == [], found
    assert found["jsUrls"] == [], found
    assert found["links"], "expected the safe https link to survive sanitizing"
    for a in found["links"]:
        assert a["target"] == "_blank" and "noopener" in a["rel"], a
        assert re.match(r"^(https?:|mailto:|#)", a["href"]), a
    # The literal payload text is shown as text (escaped), not dropped: the code block keeps it.
    assert "<script>" in text
    lab.screenshot(scroll_to=".tfw-root")
    assert lab.page.evaluate("() => window.__pwned") is None
    lab.assert_no_errors()


def test_to_html_offline(offline_page: Any, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """``TurnView.to_html()`` renders the transcript in chromium with every network request blocked."""
    from tfwidget.player import replay
    from tfwidget.sim import Scenario

    events = Scenario.load("sub_agents").events
    sse = "".join(f"id: {i}\ndata: {json.dumps(e)}\n\n" for i, e in enumerate(events, start=1))
    src = tmp_path / "sub_agents.sse"
    src.write_text(sse, encoding="utf-8")
    view = replay(src)
    assert view.status == "done"
    page_path = tmp_path / "turn.html"
    html = view.to_html(page_path)
    assert page_path.read_text(encoding="utf-8") == html

    page = offline_page
    console: list[str] = []
    errors: list[str] = []
    blocked: list[str] = []
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("requestfailed", lambda r: blocked.append(r.url))
    page.goto(page_path.as_uri())
    page.wait_for_selector("#tfw-app .tfw-root")
    page.wait_for_function("() => document.querySelector('#tfw-app .tfw-root').dataset.status === 'done'")

    expected = expected_structure(events)
    text = page.locator("#tfw-app .tfw-root").inner_text()
    for content in expected["content"].values():
        for word in words(content):
            assert word in text, f"{word!r} missing from the exported page"
    assert page.locator("#tfw-app .tfw-tool").count() == len(expected["tool_ids"])
    assert page.locator("#tfw-app .tfw-thread").count() == len(expected["threads"])
    assert page.locator("#tfw-app .tfws-static").count() == 0, (
        "static fallback still shown: the bundle did not run"
    )

    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT_DIR / f"{request.node.name}.png"), full_page=True)
    assert not errors, errors
    assert not console, console
    assert not blocked, f"the exported page tried to load: {blocked}"
