"""The naive anywidget baseline: every event appended to a synced List trait, re-rendered whole."""

from __future__ import annotations

import anywidget
import traitlets

NAIVE_ESM = """
function render({ model, el }) {
  const draw = () => {
    const root = document.createElement("div");
    root.className = "naive-root";
    for (const ev of model.get("events")) {
      const row = document.createElement("div");
      row.className = "naive-ev";
      const text = ev.content ?? (ev.tool_calls ? JSON.stringify(ev.tool_calls) : "");
      row.textContent = `${ev.type} ${typeof text === "string" ? text : JSON.stringify(text)}`;
      root.appendChild(row);
    }
    el.replaceChildren(root);
  };
  draw();
  model.on("change:events", draw);
  return () => model.off("change:events", draw);
}
export default { render };
"""


class NaiveEventsWidget(anywidget.AnyWidget):
    """What a first anywidget for a stream usually looks like: ``self.events = [*self.events, ev]`` per
    event, and a front end that rebuilds the whole list on every change."""

    _esm = NAIVE_ESM
    events = traitlets.List().tag(sync=True)

    def append(self, event: dict) -> None:
        """Add one event the only way traitlets syncs a list: reassign it."""
        self.events = [*self.events, event]
