"""A patch with a gap in a real page (JupyterLab 4 + headless chromium): the view applies none of it (it never
shows a wrong transcript, not even for a frame), asks Python for a snapshot and shows the right one."""

from __future__ import annotations

import pytest

from .conftest import Lab

pytestmark = pytest.mark.browser

# A finished turn; when the page says "go", the kernel sends a patch whose timeline starts past the end of
# the page's timeline (a missed patch), carrying a wrong status and a message that is not in the turn.
GAP_CELL = """
import threading, time
import tfwidget, tfwidget.sim
from tfwidget.sim.scenarios import _Builder

b = _Builder([{"type": "user.message", "content": "hi"}], seed=3)
b.message("main", content="The right transcript.")
b.done()
sc = b.scenario("gap", "a patch with a gap")
sc.delays = [0.0] * len(sc.events)
sim_g = tfwidget.sim.Simulator(sc, speed=0).start()
g = tfwidget.watch(sim_g.session_id, sim_g.turn_id, base_url=sim_g.base_url, api_key=sim_g.api_key)
def _inject():
    g.wait(30)
    rev = g._tracker.rev + 1
    start = len(g.snapshot()["timeline"]) + 2
    g.send({"type": "patch", "rev": rev, "set": {"status": "error", "status_detail": "WRONG STATUS"},
            "timeline": [[start, [{"kind": "message", "id": "bogus", "thread_id": "main"}]]],
            "messages": {"bogus": {"id": "bogus", "thread_id": "main", "content": [0, "WRONG TEXT"]}}})

def _on(_w, content, _buffers):
    if isinstance(content, dict) and content.get("type") == "go":
        threading.Thread(target=_inject, daemon=True).start()

g.on_msg(_on)
g
"""

WATCH = """(sel) => {
  const root = document.querySelector(sel);
  window.__tfwSeen = { wrong: false, error: false };
  const check = () => {
    if (root.innerText.includes("WRONG")) window.__tfwSeen.wrong = true;
    if (root.dataset.status === "error") window.__tfwSeen.error = true;
  };
  new MutationObserver(check).observe(root, { subtree: true, childList: true, characterData: true, attributes: true });
  root.parentElement.__tfw.fetcher.model.send({ type: "go" });
}"""


def test_a_patch_with_a_gap_is_never_shown_and_the_snapshot_repairs_the_view(lab: Lab) -> None:
    lab.run_notebook([GAP_CELL], "patch_gap")
    lab.wait_output(".tfw-root")
    sel = lab.out(".tfw-root")
    lab.page.wait_for_function(
        "(sel) => document.querySelector(sel)?.dataset.status === 'done'", arg=sel, timeout=60_000
    )
    assert "The right transcript." in lab.text(".tfw-root")
    lab.page.evaluate(WATCH, sel)
    # the patch arrives, and the page asks for a snapshot ...
    waited = 0
    while not lab.seen_on_the_wire('"reason":"gap"') and waited < 30_000:
        lab.page.wait_for_timeout(100)
        waited += 100
    assert lab.seen_on_the_wire("WRONG TEXT"), "the gap patch never reached the page"
    assert lab.seen_on_the_wire('"reason":"gap"'), "the page did not ask for a snapshot"
    # ... and gets it: no gap left, the right transcript, and nothing wrong was ever rendered
    lab.page.wait_for_function(
        "(sel) => { const s = document.querySelector(sel).parentElement.__tfw.store; return !s.gap; }",
        arg=sel,
        timeout=30_000,
    )
    seen = lab.page.evaluate("() => window.__tfwSeen")
    assert seen == {"wrong": False, "error": False}, seen
    text = lab.text(".tfw-root")
    assert "The right transcript." in text and "WRONG" not in text
    assert lab.page.locator(sel).get_attribute("data-status") == "done"
    lab.assert_no_errors()
