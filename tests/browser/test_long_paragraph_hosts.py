"""A long streaming paragraph in JupyterLab 4 and Notebook 7 (the ``host`` fixture) and in marimo: its markdown render is
deferred while it streams (the new words are appended as raw text, ``js/src/markdown.js``), and once the
message is final the page shows the full render.

The kernel feeds a TurnView from a thread: one paragraph of 4,000 words (about 24,000 characters, far over
``DEFER_MIN_CHARS``), every tenth word in bold, one word per item. A ``MutationObserver`` installed before
the notebook runs records whether raw ``**`` ever showed inside a message (deferred words, not yet rendered)
and the longest the page went without a mutation while the view was streaming.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .conftest import REPO_ROOT, SCREENSHOT_DIR, Lab

pytestmark = pytest.mark.browser

N_WORDS = 4_000

CELL = f"""
import json, threading, time
import tfwidget
from tfwidget.sse import StreamItem

words = [("**w%d**" % i) if i % 10 == 0 else ("w%d" % i) for i in range({N_WORDS})]
events = [{{"type": "turn.created", "id": "tc", "turn_id": "long-paragraph", "state": {{"status": "running"}},
            "input": [{{"type": "user.message", "content": "one long paragraph"}}]}},
          {{"type": "model.message", "id": "m1", "thread_id": "main"}}]
events += [{{"type": "model.message.delta", "id": "m1", "thread_id": "main", "content": ("" if i == 0 else " ") + w}}
           for i, w in enumerate(words)]
events += [{{"type": "model.message.delta", "id": "m1", "thread_id": "main", "finish_reason": "stop"}},
           {{"type": "turn.done", "id": "td", "state": {{"status": "done"}}}}]
view = tfwidget.TurnView()

def feed():
    for seq, ev in enumerate(events, 1):
        view.feed(StreamItem(seq, None, time.time(), json.dumps(ev)))
        if seq % 8 == 0:
            time.sleep(0.004)  # about 2,000 words a second: a few seconds of streaming

threading.Thread(target=feed, daemon=True).start()
view
"""

OBSERVE = """() => {
    window.__tfwLong = {rawSeen: false, renderedBoldWhileStreaming: 0};
    new MutationObserver((records) => {
        for (const r of records) {
            const el = r.target.nodeType === 1 ? r.target : r.target.parentElement;
            const md = el && el.closest && el.closest('.tfw-md');
            if (!md) continue;
            const root = md.closest('.tfw-root');
            if (!root || root.dataset.status !== 'streaming') continue;
            if (md.textContent.includes('**')) window.__tfwLong.rawSeen = true;
            window.__tfwLong.renderedBoldWhileStreaming = md.querySelectorAll('strong').length;
        }
    }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


@pytest.fixture(scope="module", autouse=True)
def _bundle_built() -> None:
    static = REPO_ROOT / "tfwidget" / "static"
    if not all((static / n).is_file() for n in ("widget.js", "widget.css")):
        pytest.fail("tfwidget/static/ missing: run `cd js && npm ci && npm run build`")


def test_a_long_streaming_paragraph_defers_its_markdown_then_renders_it_whole(host: Lab) -> None:
    name = host.write_notebook([CELL], "long_paragraph")
    host.open_notebook(name)
    host.page.evaluate(OBSERVE)
    host.run_all()
    host.wait_output(".tfw-root")
    host.page.wait_for_function(
        "(sel) => { const el = document.querySelector(sel); return !!el && el.dataset.status === 'done'; }",
        arg=host.out(".tfw-root"),
        timeout=180_000,
    )
    host.page.wait_for_timeout(500)  # the final snapshot and render
    seen = host.page.evaluate("() => window.__tfwLong")
    final = host.page.locator(host.out(".tfw-root .tfw-md")).last.evaluate(
        """md => ({text: md.textContent.replace(/\\s+/g, ' ').trim(), bold: md.querySelectorAll('strong').length,
                   raw: md.textContent.includes('**'), paragraphs: md.querySelectorAll('p').length,
                   pending: [...md.querySelectorAll('p')].some(p => [...p.childNodes].some(
                       n => n.nodeType === 3 && n.data.includes('**')))})"""
    )
    want_text = " ".join(f"w{i}" for i in range(N_WORDS))
    # while it streamed, words were appended unrendered (the literal ** of a bold word showed for a while),
    # and the paragraph was still rendered as markdown now and then (bold words while streaming)
    assert seen["rawSeen"], "the long paragraph was re-rendered for every delta: no deferred raw words seen"
    assert seen["renderedBoldWhileStreaming"] > 0, "the streaming paragraph was never rendered as markdown"
    # final: exactly the full render of the text
    assert final["text"] == want_text
    assert final["bold"] == N_WORDS // 10
    assert not final["raw"] and not final["pending"]
    assert final["paragraphs"] == 1
    host.screenshot(scroll_to=".tfw-root")
    host.assert_no_errors()


MARIMO_CELLS = """

@app.cell
def _(mo, tfwidget):
    import json as _json
    import time as _time

    from tfwidget.sse import StreamItem as _Item

    _words = [("**w%d**" % i) if i % 10 == 0 else ("w%d" % i) for i in range(N_WORDS)]
    _events = [{"type": "turn.created", "id": "tc", "turn_id": "long-paragraph", "state": {"status": "running"},
                "input": [{"type": "user.message", "content": "one long paragraph"}]},
               {"type": "model.message", "id": "m1", "thread_id": "main"}]
    _events += [{"type": "model.message.delta", "id": "m1", "thread_id": "main",
                 "content": ("" if i == 0 else " ") + w} for i, w in enumerate(_words)]
    _events += [{"type": "model.message.delta", "id": "m1", "thread_id": "main", "finish_reason": "stop"},
                {"type": "turn.done", "id": "td", "state": {"status": "done"}}]
    view = tfwidget.TurnView()

    def _feed():
        for _seq, _ev in enumerate(_events, 1):
            view.feed(_Item(_seq, None, _time.time(), _json.dumps(_ev)))
            if _seq % 4 == 0:
                _time.sleep(0.004)  # about 1,000 words a second: the page has time to start watching

    mo.Thread(target=_feed, daemon=True).start()  # marimo's thread: its updates reach the page
    return (view,)


@app.cell
def _(mo, view):
    mo.ui.anywidget(view)
    return
""".replace("N_WORDS", str(N_WORDS))


OBSERVE_ROOT = OBSERVE.replace("() => {", "(scope) => {", 1).replace("observe(document.body", "observe(scope")


def test_a_long_streaming_paragraph_in_marimo(browser: Any, tmp_path: Path) -> None:
    """The same in ``marimo run`` (``mo.ui.anywidget``; the view lives in a shadow root, so the observer
    watches the view's own root, installed as soon as it shows)."""
    import time

    from .test_marimo import BENIGN, marimo_server, write_app

    write_app(tmp_path, MARIMO_CELLS, "", {})
    with marimo_server(tmp_path, "run") as url:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        try:
            page = context.new_page()
            page.on("pageerror", lambda err: errors.append(str(err)))
            page.on(
                "console",
                lambda m: (
                    errors.append(m.text)
                    if m.type == "error" and not any(b in m.text for b in BENIGN)
                    else None
                ),
            )
            page.goto(url, wait_until="domcontentloaded")
            root = page.locator(".tfw-root").first
            root.wait_for(state="attached", timeout=120_000)
            root.evaluate(OBSERVE_ROOT)
            statuses = []
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                statuses.append(root.get_attribute("data-status"))
                if statuses[-1] not in ("connecting", "streaming", None):
                    break
                time.sleep(0.2)
            assert statuses[-1] == "done", statuses[-5:]
            page.wait_for_timeout(500)
            seen = page.evaluate("() => window.__tfwLong")
            final = page.locator(".tfw-root .tfw-md").last.evaluate(
                "md => ({text: md.textContent.replace(/\\s+/g, ' ').trim(), bold: md.querySelectorAll('strong').length,"
                " raw: md.textContent.includes('**')})"
            )
            assert "streaming" in statuses, statuses[:5]  # the observer was in place while it streamed
            assert seen["rawSeen"], (
                "the long paragraph was re-rendered for every delta: no deferred raw words seen"
            )
            assert seen["renderedBoldWhileStreaming"] > 0
            assert final["text"] == " ".join(f"w{i}" for i in range(N_WORDS))
            assert final["bold"] == N_WORDS // 10 and not final["raw"]
            SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT_DIR / "marimo-long-paragraph.png"), full_page=True)
            assert not errors, errors
        finally:
            context.close()
