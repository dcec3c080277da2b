"""Every fixture and simulator scenario rendered statically, read back in chromium with JavaScript off.

What must be true of each page: the markdown of every message is rendered (a ``**bold**`` source gives a
``<strong>``, a table a ``<table>``, a list items), sub-agent threads sit inside the tool card that started
them, the usage chart has one bar per model call, and nothing is active: no script, frame, handler or
unsafe URL, and no request leaves the page. Expectations come from the view the page was rendered from.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tfwidget.player import replay
from tfwidget.sim import Scenario
from tfwidget.static_html import render_turn_html, static_page

from ..conftest import FIXTURE_NAMES, FIXTURES

pytestmark = pytest.mark.browser

SCENARIOS = [n for n in Scenario.names() if n not in FIXTURE_NAMES]
OPTIONS: dict[str, dict[str, Any]] = {"large": {"deltas": 400}}


def _view(source: str, kind: str, tmp_path: Path) -> dict[str, Any]:
    if kind == "fixture":
        return replay(FIXTURES / f"{source}.sse").snapshot()
    events = Scenario.load(source, **OPTIONS.get(source, {})).events
    path = tmp_path / f"{source}.sse"
    path.write_text("".join(f"id: {i}\ndata: {json.dumps(e)}\n\n" for i, e in enumerate(events, 1)), "utf-8")
    return replay(path).snapshot()


@pytest.fixture(scope="module")
def no_js(browser: Any) -> Any:
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1100, "height": 900})
    yield context
    context.close()


INERT_JS = """() => {
    const all = [...document.querySelectorAll('*')];
    return {
        scripts: document.querySelectorAll('script').length,
        frames: document.querySelectorAll('iframe, object, embed, frame, form, input, button').length,
        handlers: all.flatMap(n => [...n.attributes].filter(a => /^on/i.test(a.name)).map(a => n.tagName + ' ' + a.name)),
        urls: all.flatMap(n => [...n.attributes]
            .filter(a => ['href', 'src', 'action', 'formaction', 'xlink:href'].includes(a.name))
            // data: images of raster types are content the static transcript shows inline
            .filter(a => !/^(https?:|mailto:|#|data:image[/](png|jpeg|gif|webp);base64,)/i.test(a.value.trim()))
            .map(a => n.tagName + ' ' + a.name + '=' + a.value)),
        styles: document.querySelectorAll('.tfws-md style, .tfws-md [style]:not(table, th, td)').length,
    };
}"""


@pytest.mark.parametrize(
    ("source", "kind"),
    [*((n, "fixture") for n in FIXTURE_NAMES), *((n, "scenario") for n in SCENARIOS)],
    ids=[*(f"fixture-{n}" for n in FIXTURE_NAMES), *(f"scenario-{n}" for n in SCENARIOS)],
)
def test_static_page_without_javascript(no_js: Any, tmp_path: Path, source: str, kind: str) -> None:
    view = _view(source, kind, tmp_path)
    page_path = tmp_path / "page.html"
    page_path.write_text(static_page(render_turn_html(view), title=source), encoding="utf-8")
    page = no_js.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    try:
        page.goto(page_path.as_uri())
        root = page.locator(".tfws-static")
        assert root.count() == 1 and root.is_visible()

        # every message's markdown rendered
        messages = [m for m in view["messages"].values() if m.get("content")]
        for m in messages:
            md = page.locator(f'.tfws-msg[data-id="{m["id"]}"] > .tfws-md')
            assert md.count() == 1, f"message {m['id']} not shown"
            src = m["content"]
            if re.search(r"\*\*[^*\n]+\*\*", src):
                assert md.locator("strong").count() >= 1, f"{m['id']}: bold not rendered"
                assert "**" not in md.inner_text() or "**" in re.sub(r"\*\*[^*\n]+\*\*", "", src)
            if re.search(r"^\s*\|.*\|\s*$\n^\s*\|?\s*:?-{3,}", src, flags=re.M):
                assert md.locator("table td").count() >= 1, f"{m['id']}: table not rendered"
            if re.search(r"^(\s*[-*] |\s*\d+\. )\S", src, flags=re.M):
                assert md.locator("li").count() >= 1, f"{m['id']}: list not rendered"
        if source == "long_markdown":
            for tag in ("strong", "table", "li", "pre code", "h2, h3"):
                assert page.locator(f".tfws-md {tag}").count() >= 1, tag

        # threads nested under the card that started them
        for th in view["threads"]:
            if th["id"] == "main":
                continue
            node = page.locator(f'.tfws-thread[data-thread="{th["id"]}"]')
            assert node.count() == 1, f"thread {th['id']} shown {node.count()} times"
            call = th.get("parent_tool_call_id")
            if call and call in view["tools"]:
                inside = page.locator(f'.tfws-tool[data-id="{call}"] .tfws-thread[data-thread="{th["id"]}"]')
                assert inside.count() == 1, f"thread {th['id']} not inside tool card {call}"
        for call_id in view["tools"]:
            assert page.locator(f'.tfws-tool[data-id="{call_id}"]').count() == 1

        # styled by the transcript's one style sheet (no style attribute but the root's and images')
        assert page.locator(".tfws-static [style]:not(img)").count() == 0
        label = page.locator(".tfws-label").first
        assert label.evaluate("(n) => getComputedStyle(n).fontSize") == "11px"
        if view["tools"]:
            card = page.locator(".tfws-tool").first
            assert card.evaluate("(n) => getComputedStyle(n).borderTopWidth") == "1px"

        # the chart
        bars = page.locator("svg.tfws-chart g.tfws-bar")
        assert bars.count() == len(view["usage"])
        if view["usage"]:
            assert page.locator("svg.tfws-chart").bounding_box()["height"] > 50
    finally:
        page.close()
    assert [u for u in requests if not u.startswith("file:")] == [], requests
    _check_inert(no_js.browser, page_path)


def _check_inert(browser: Any, page_path: Path) -> None:
    """The same page with JavaScript on (to read its DOM): nothing runs, nothing loads, nothing is active."""
    context = browser.new_context()
    context.add_init_script(
        "window.__pwned = null; window.alert = (m) => { window.__pwned = 'alert:' + m; };"
    )
    requests: list[str] = []
    dialogs: list[str] = []
    try:
        page = context.new_page()
        page.on("request", lambda r: requests.append(r.url))
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(page_path.as_uri())
        page.wait_for_timeout(200)
        found = page.evaluate(INERT_JS)
        assert page.evaluate("() => window.__pwned") is None
    finally:
        context.close()
    assert found == {"scripts": 0, "frames": 0, "handlers": [], "urls": [], "styles": 0}, found
    assert not dialogs
    assert [u for u in requests if not u.startswith("file:")] == [], requests
