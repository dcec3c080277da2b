"""Hostile model and tool output in a real page (JupyterLab 4 + headless chromium, simulated gateway).

Remote media must not be fetched without consent, and a message that cannot be rendered as markdown must
not stop the rest of the view. Every request the page makes is recorded with ``page.on("request")``."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlsplit

import pytest

from .conftest import Lab

pytestmark = pytest.mark.browser

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
DATA_PNG = "data:image/png;base64," + base64.b64encode(PNG).decode()

MEDIA_MESSAGE = (
    "Here is a chart: ![pixel](https://img.tracker.example/p.png?who=me)\n\n"
    '<img srcset="https://srcset.tracker.example/a.png 1x, https://srcset.tracker.example/b.png 2x">\n\n'
    '<video poster="https://poster.tracker.example/p.jpg" src="https://video.tracker.example/v.mp4"></video>\n\n'
    '<audio src="https://audio.tracker.example/a.mp3" autoplay></audio>\n\n'
    '<img src="/files/relative.png"> local: ![dot](' + DATA_PNG + ") end of media"
)

# Builds a turn in the kernel: a message full of remote media, a tool whose output embeds an image, then a
# second view of the same turn (per-view consent).
MEDIA_CELL = f"""
import tfwidget, tfwidget.sim
from tfwidget.sim import Scenario
from tfwidget.sim.scenarios import _Builder

b = _Builder([{{"type": "user.message", "content": "show me"}}], seed=5)
b.message("main", content_tokens=[{MEDIA_MESSAGE!r}],
          tool_calls=[{{"id": "call_img", "name": "fetch_page", "arguments": "{{}}"}}])
b.tool_response("main", "call_img", "![t](https://tool.tracker.example/t.png) <img src=https://tool.tracker.example/u.png>")
b.message("main", content="All done after the media.")
b.done()
sc = b.scenario("media", "remote media")
sc.delays = [0.0] * len(sc.events)
sim_m = tfwidget.sim.Simulator(sc, speed=0).start()
m1 = tfwidget.watch(sim_m.session_id, sim_m.turn_id, base_url=sim_m.base_url, api_key=sim_m.api_key)
m1
"""
SECOND_VIEW_CELL = """
m2 = tfwidget.watch(sim_m.session_id, sim_m.turn_id, base_url=sim_m.base_url, api_key=sim_m.api_key)
m2
"""


def _root(lab: Lab, i: int) -> Any:
    return lab.page.locator(lab.out(".tfw-root")).nth(i)


def _wait_done(lab: Lab, count: int, timeout: float = 60_000) -> None:
    lab.page.wait_for_function(
        """([sel, n]) => { const r = document.querySelectorAll(sel);
            return r.length >= n && [...r].slice(0, n).every(e => e.dataset.status === 'done'); }""",
        arg=[lab.out(".tfw-root"), count],
        timeout=timeout,
    )


def test_remote_media_waits_for_consent_per_view(lab: Lab) -> None:
    requests: list[str] = []
    lab.page.on("request", lambda r: requests.append(r.url))
    lab.page.route(
        "**/*.tracker.example/**", lambda route: route.fulfill(status=200, content_type="image/png", body=PNG)
    )
    # outputs: m1, m2 (another view of the same turn), m1 displayed a second time
    lab.run_notebook([MEDIA_CELL, SECOND_VIEW_CELL, "m1"], "media")
    lab.wait_output(".tfw-root")
    _wait_done(lab, 3)
    lab.page.wait_for_timeout(1500)  # time for any fetch to start
    tracked = lambda: sorted({urlsplit(u).hostname for u in requests if "tracker.example" in u})  # noqa: E731
    assert tracked() == [], requests
    assert not [u for u in requests if u.endswith("/files/relative.png")]

    first = _root(lab, 0)
    text = first.inner_text()
    assert "All done after the media." in text
    for host in ("img.tracker.example", "srcset.tracker.example", "poster.tracker.example",
                 "audio.tracker.example"):  # fmt: skip
        assert host in text, f"no placeholder naming {host}"
    assert first.locator(".tfw-media-blocked").count() >= 4
    # the data: image renders; nothing autoplays
    assert first.locator('img[src^="data:image/png"]').count() == 1
    assert first.locator("[autoplay]").count() == 0
    # tool output is text: its image markup is shown, not fetched
    assert "https://tool.tracker.example/t.png" in text

    lab.screenshot("blocked", scroll_to=".tfw-root")
    # consent in the first view loads its media, and only there
    first.locator("button.tfw-media-load").first.click()
    lab.page.wait_for_function(
        "(u) => performance.getEntriesByType('resource').some(e => e.name.startsWith(u))",
        arg="https://img.tracker.example/",
        timeout=30_000,
    )
    assert first.locator(".tfw-media-blocked").count() == 0
    assert {"img.tracker.example", "poster.tracker.example"} <= set(tracked()), tracked()
    assert "tool.tracker.example" not in tracked()
    second = _root(lab, 1)
    assert second.locator(".tfw-media-blocked").count() >= 4
    assert second.locator('img[src^="https://"]').count() == 0
    # the choice is the view's: the same view displayed again follows it, through its synced trait
    lab.page.wait_for_function(
        "(sel) => { const r = document.querySelectorAll(sel)[2];"
        " return !!r && !r.querySelector('.tfw-media-blocked') && !!r.querySelector('img[src^=\"https://img.\"]'); }",
        arg=lab.out(".tfw-root"),
        timeout=30_000,
    )
    assert lab.seen_on_the_wire('"remote_media":true') or lab.seen_on_the_wire('"remote_media": true')
    lab.screenshot(scroll_to=".tfw-root")
    lab.assert_no_errors()


# Messages marked cannot render (deep nesting), each followed by normal content and a tool card.
DEEP_CELL = """
import tfwidget, tfwidget.sim
from tfwidget.sim.scenarios import _Builder

deep = {
    "indented": "\\n".join(" " * (2 * i) + "- item" for i in range(2000)),
    "dashes": "- " * 10000 + "x",
    "quotes": "> " * 10000 + "x",
}
b = _Builder([{"type": "user.message", "content": "go"}], seed=6)
for name, text in deep.items():
    b.message("main", content_tokens=[text[i:i + 4000] for i in range(0, len(text), 4000)])
    b.message("main", content=f"after {name}: **still rendered**",
              tool_calls=[{"id": f"call_{name}", "name": f"tool_{name}", "arguments": "{}"}])
    b.tool_response("main", f"call_{name}", f"response for {name}")
b.message("main", content="The last message.")
b.done()
sc = b.scenario("deep_markdown", "markdown nested too deeply")
sc.delays = [0.0] * len(sc.events)
sim_d = tfwidget.sim.Simulator(sc, speed=0).start()
d = tfwidget.watch(sim_d.session_id, sim_d.turn_id, base_url=sim_d.base_url, api_key=sim_d.api_key)
d
"""


def test_markdown_nested_too_deeply_falls_back_to_text(lab: Lab) -> None:
    lab.run_notebook([DEEP_CELL], "deep_markdown")
    lab.wait_output(".tfw-root")
    _wait_done(lab, 1, timeout=120_000)
    root = _root(lab, 0)
    lab.page.wait_for_function(
        "(sel) => (document.querySelector(sel)?.innerText || '').includes('The last message.')",
        arg=lab.out(".tfw-root"),
        timeout=60_000,
    )
    text = root.inner_text()
    for name in ("indented", "dashes", "quotes"):
        assert f"after {name}: still rendered" in text, name
        assert root.locator(f".tfw-tool:has-text('tool_{name}')").count() == 1, name
    assert root.locator("strong", has_text="still rendered").count() == 3  # markdown still works after
    assert root.locator(".tfw-md-plain").count() == 3
    plain = root.locator(".tfw-md-plain").all_inner_texts()
    assert any(t.rstrip().endswith("> > x") for t in plain)
    lab.screenshot(scroll_to=".tfw-root")
    lab.assert_no_errors()


def test_exported_page_blocks_remote_media_until_asked(offline_page: Any, tmp_path: Any) -> None:
    """``to_html()``: the same consent without a kernel (every network request is recorded, then aborted)."""
    import time

    from tfwidget.sim import serve
    from tfwidget.sim.scenarios import _Builder
    from tfwidget.widget import watch

    b = _Builder([{"type": "user.message", "content": "show me"}], seed=5)
    b.message("main", content_tokens=[MEDIA_MESSAGE])
    b.message("main", content="All done after the media.")
    b.done()
    sc = b.scenario("media", "remote media")
    sc.delays = [0.0] * len(sc.events)
    with serve(sc, speed=0) as sim:
        view = watch(sim.session_id, sim.turn_id, base_url=sim.base_url, api_key=sim.api_key)
        deadline = time.monotonic() + 60  # (playwright's loop runs in this thread: no asyncio.run here)
        while view.status != "done" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert view.status == "done"
    page_path = tmp_path / "media.html"
    view.to_html(page_path)

    page = offline_page
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(page_path.as_uri())
    page.wait_for_function("() => document.querySelector('#tfw-app .tfw-root')?.dataset.status === 'done'")
    page.wait_for_timeout(1000)
    assert [u for u in requests if not u.startswith(("file:", "blob:", "data:"))] == []
    app = page.locator("#tfw-app .tfw-root")
    assert "All done after the media." in app.inner_text()
    assert app.locator(".tfw-media-blocked").count() >= 4
    app.locator("button.tfw-media-load").first.click()
    page.wait_for_function("() => !document.querySelector('#tfw-app .tfw-media-blocked')")
    page.wait_for_timeout(500)
    assert any("img.tracker.example" in u for u in requests), requests


# A stage of the view model that fails on one piece of content (stands for any content a later stage
# cannot handle): the page must end in "error" with the reason instead of staying "streaming".
BROKEN_CELL = """
import tfwidget, tfwidget.sim, tfwidget.view as view_mod
from tfwidget.sim.scenarios import _Builder

real_question = view_mod._question
def question(arguments):
    if "UNRENDERABLE" in arguments:
        raise RuntimeError("cannot render this question")
    return real_question(arguments)
view_mod._question = question

b = _Builder([{"type": "user.message", "content": "go"}], seed=3)
b.message("main", content="Some text before the question.")
msg = b.message("main", tool_calls=[{"id": "call_ask", "name": "ask_user_question",
    "tool_info": {"type": "truefoundry-system", "name": "ask_user_question"},
    "arguments": '{"question": "UNRENDERABLE"}'}])
pause = b.event({"type": "tool.response_required", "thread_id": "main",
                 "tool_calls": [{"id": "call_ask", "source_event_id": msg["id"]}]})
b.done(required_actions=[pause])
sc = b.scenario("broken", "a question the view cannot render")
sim_b = tfwidget.sim.Simulator(sc, speed=20).start()
x = tfwidget.watch(sim_b.session_id, sim_b.turn_id, base_url=sim_b.base_url, api_key=sim_b.api_key)
x
"""


def test_a_view_that_cannot_be_updated_says_error_in_the_page(lab: Lab) -> None:
    lab.run_notebook([BROKEN_CELL], "broken")
    lab.wait_output(".tfw-root")
    lab.page.wait_for_function(
        "(sel) => document.querySelector(sel)?.dataset.status === 'error'",
        arg=lab.out(".tfw-root"),
        timeout=60_000,
    )
    header = _root(lab, 0).locator(".tfw-header").inner_text()
    assert "cannot render this question" in header, header
    assert "Some text before the question." in _root(lab, 0).inner_text()
    lab.screenshot(scroll_to=".tfw-root")
    lab.assert_no_errors()
