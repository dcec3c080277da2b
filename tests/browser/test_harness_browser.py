"""Self-test of the browser harness with a tiny anywidget defined inline in a notebook cell.

It proves the pieces the widget tests rely on: JupyterLab starts, the kernel imports from the
checkout, Run All executes, the anywidget front end renders, ``model.send`` from JavaScript reaches
``on_msg`` in Python (a click increments a counter, which syncs back), and trait updates made from a
background thread in the kernel reach the page while it is open.
"""

from __future__ import annotations

import os
import time

import pytest

from .conftest import REPO_ROOT, Lab

COUNTER_CELL = r'''
import threading, time
import anywidget, traitlets

class Counter(anywidget.AnyWidget):
    _esm = """
    function render({ model, el }) {
      const root = document.createElement("div");
      root.className = "hs-root";
      const button = document.createElement("button");
      button.className = "hs-button";
      button.textContent = "click";
      const count = document.createElement("span");
      count.className = "hs-count";
      const ticks = document.createElement("span");
      ticks.className = "hs-ticks";
      const update = () => {
        count.textContent = String(model.get("count"));
        ticks.textContent = String(model.get("ticks"));
      };
      model.on("change:count", update);
      model.on("change:ticks", update);
      update();
      button.addEventListener("click", () => model.send({ type: "click", n: 1 }));
      root.append(button, " count=", count, " ticks=", ticks);
      el.appendChild(root);
    }
    export default { render };
    """
    count = traitlets.Int(0).tag(sync=True)
    ticks = traitlets.Int(0).tag(sync=True)

    def __init__(self, **kw):
        super().__init__(**kw)
        self.received = []
        self.on_msg(self._handle)

    def _handle(self, _widget, content, _buffers):
        self.received.append(content)
        if content.get("type") == "click":
            self.count = self.count + int(content.get("n", 0))

w = Counter()

def _tick():
    for i in range(1, 41):
        time.sleep(0.15)
        w.ticks = i

threading.Thread(target=_tick, daemon=True).start()
w
'''

IMPORT_CELL = "import tfwidget, os\nprint('tfwidget-from:', os.path.dirname(tfwidget.__file__))"


@pytest.mark.browser
def test_harness_inline_anywidget(lab: Lab) -> None:
    """Inline counter: JS -> Python custom message round-trip and live background-thread updates."""
    lab.run_notebook([IMPORT_CELL, COUNTER_CELL], "harness_selftest")
    lab.wait_output(".hs-root")
    lab.wait_cells_done()

    # The kernel imports tfwidget from the repository checkout (PYTHONPATH).
    printed = lab.text("pre")
    assert f"tfwidget-from: {REPO_ROOT / 'tfwidget'}" in printed, printed

    # Background thread updates arrive live: the tick counter grows while we watch.
    first = int(lab.text(".hs-ticks") or 0)
    deadline = time.monotonic() + 10
    seen = {first}
    while time.monotonic() < deadline and len(seen) < 3:
        time.sleep(0.3)
        seen.add(int(lab.text(".hs-ticks")))
    assert len(seen) >= 3 and max(seen) > first, f"ticks did not advance live: {sorted(seen)}"

    # model.send from JS reaches Python, whose handler changes a trait that syncs back.
    assert lab.text(".hs-count") == "0"
    lab.page.locator(lab.out(".hs-button")).first.click()
    lab.page.wait_for_function(
        "(sel) => document.querySelector(sel)?.textContent === '1'", arg=lab.out(".hs-count")
    )
    lab.page.locator(lab.out(".hs-button")).first.click()
    lab.page.wait_for_function(
        "(sel) => document.querySelector(sel)?.textContent === '2'", arg=lab.out(".hs-count")
    )
    lab.screenshot()
    if os.environ.get("TFW_BROWSER_DEBUG"):
        print(*lab.console_log, sep="\n")
    lab.assert_no_errors()
