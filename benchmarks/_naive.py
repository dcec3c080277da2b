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


def plain_transcript_view() -> object:
    """A ``TurnView`` whose saved transcript is only the turn's text, one plain paragraph per message (the
    after-turn baseline of the browser benchmark: the least any output that keeps the turn's text costs the
    host). It is displayed and hidden the same way as the real one."""
    import html

    from tfwidget import TurnView
    from tfwidget.static_html import STATIC_CLASS, static_output_html

    class PlainTranscriptTurnView(TurnView):
        def _static_bundle(self) -> dict[str, str]:
            messages = self.snapshot()["messages"].values()
            body = "".join(f"<p>{html.escape(m.get('content') or '', quote=False)}</p>" for m in messages)
            return {"text/html": static_output_html(f'<div class="{STATIC_CLASS}">{body}</div>')}

    return PlainTranscriptTurnView()
