"""Incremental rendering in a real page (headless chromium, no kernel): a patch rewrites only what it touched.

The page mounts the real bundle on a stand-in model whose custom messages the test sends itself (patches made
by :class:`tfwidget.view.ViewTracker` from a folded stream, as the widget sends them). A ``MutationObserver``
records every DOM write of one render, so the tests see exactly which parts of the view a patch rewrote:

- a text delta of the streaming message writes inside that message only (the others are not re-rendered);
- new spans (the Timeline's and the usage chips' numbers) render no message again: they rewrite usage chips
  (never a message's markdown), and the usage chart is redrawn in its details;
- a long streaming message is not re-rendered as markdown for every delta (its new words are appended as
  text in between; ``js/src/markdown.js``), and once it is final it shows exactly what a fresh render shows;
- a busy frame (one message finished, the next begun) leaves the header's numbers and the usage chart to the
  next frame, once, and that frame comes on its own.

The page's clock (``performance.now``) is frozen while patches are sent, so how often the markdown of a long
message is re-rendered does not depend on how fast the machine is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tfwidget import iter_sse
from tfwidget.state import TurnState
from tfwidget.view import ViewTracker
from tfwidget.widget import _CSS_PATH, _ESM_PATH

pytestmark = pytest.mark.browser

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><style>{css}</style></head>
<body>
<div id="app" style="width: 900px"></div>
<script type="application/json" id="tfw-view">{view}</script>
<script type="application/json" id="tfw-esm">{esm}</script>
<script type="module">
const read = (id) => JSON.parse(document.getElementById(id).textContent);
const url = URL.createObjectURL(new Blob([read("tfw-esm")], {{ type: "text/javascript" }}));
const widget = (await import(url)).default;
const view = read("tfw-view");
const handlers = {{}};
const model = {{
  get: (key) => (key === "_view" ? view : undefined),
  on: (name, f) => {{ handlers[name] = f; }},
  set() {{}}, off() {{}}, send() {{}}, save_changes() {{}},
}};
const el = document.getElementById("app");
widget.render({{ model, el }});
// Send one patch and render it at once (not on the next animation frame); returns the DOM writes it made.
window.tfwSend = (patch) => {{
  const writes = [];
  const obs = new MutationObserver((records) => {{
    for (const r of records) writes.push(r.target.nodeType === 1 ? r.target : r.target.parentElement);
  }});
  obs.observe(el, {{ subtree: true, childList: true, characterData: true, attributes: true }});
  const renderer = el.__tfw.renderer;
  const rendered = [];
  renderer.renderMessage = (id) => {{
    rendered.push(id);
    Object.getPrototypeOf(renderer).renderMessage.call(renderer, id);
  }};
  handlers["msg:custom"](patch, []);
  renderer.render();
  delete renderer.renderMessage;
  for (const r of obs.takeRecords()) writes.push(r.target.nodeType === 1 ? r.target : r.target.parentElement);
  obs.disconnect();
  // where each write landed: the id of its message (or "" outside any), and whether it was in markdown;
  // and which messages were rendered (renderMessage calls)
  return {{ rendered, writes: writes.map((w) => {{
    const msg = w && w.closest(".tfw-msg");
    return {{ message: msg ? msg.dataset.id : "", markdown: !!(w && w.closest(".tfw-md")),
             chip: !!(w && w.closest(".tfw-usage-slot")) }};
  }}) }};
}};
window.tfwHandlers = handlers;
window.tfwReady = true;
</script>
</body></html>
"""

WORDS = "the agent reads the **order** and checks the refund policy before it answers with a table".split()


def _events(finished: int, deltas: int) -> list[dict[str, Any]]:
    """A turn with ``finished`` short finished messages, then one message streaming ``deltas`` deltas."""
    ev: list[dict[str, Any]] = [
        {"type": "turn.created", "id": "tc", "turn_id": "t-inc", "previous_turn_id": None, "thread_id": None,
         "input": [{"type": "user.message", "content": "go"}], "state": {"status": "running"},
         "created_by": {"subject_id": "u-1", "subject_type": "user", "subject_slug": "u@example.com"},
         "created_at": "2026-08-01T10:00:00.000Z"},
    ]  # fmt: skip
    for m in range(finished + 1):
        mid = f"m{m}"
        ev.append(
            {
                "type": "model.message",
                "id": mid,
                "thread_id": "main",
                "created_at": "2026-08-01T10:00:01.000Z",
            }
        )
        n = 6 if m < finished else deltas
        for j in range(n):
            d: dict[str, Any] = {"type": "model.message.delta", "id": mid, "thread_id": "main"}
            d["content"] = f"Message *{m}* starts.\n\n" if j == 0 else " " + WORDS[(j * 7 + m) % len(WORDS)]
            if m < finished and j == n - 1:
                d["finish_reason"] = "stop"
                d["usage"] = {"input_tokens": 100 + m, "output_tokens": n}
            ev.append(d)
    return ev


def _finish(mid: str) -> list[dict[str, Any]]:
    return [
        {
            "type": "model.message.delta",
            "id": mid,
            "thread_id": "main",
            "content": " The **end**.",
            "finish_reason": "stop",
            "usage": {"input_tokens": 200, "output_tokens": 9},
        },
    ]


def _sse(events: list[dict[str, Any]], first_id: int = 1) -> bytes:
    return "".join(f"id: {i}\ndata: {json.dumps(e)}\n\n" for i, e in enumerate(events, first_id)).encode()


class Feed:
    """Folds events and makes the patches the widget would send for them (one patch per ``step`` events)."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.state = TurnState()
        self.tracker = ViewTracker()
        for item in iter_sse(_sse(events)):
            self.state.apply(item)
        self.snapshot = self.tracker.snapshot(self.state)
        self.next_id = len(events) + 1

    def patches(self, events: list[dict[str, Any]], step: int = 1) -> list[dict[str, Any]]:
        out = []
        items = list(iter_sse(_sse(events, self.next_id)))
        self.next_id += len(events)
        for i in range(0, len(items), step):
            for item in items[i : i + step]:
                self.state.apply(item)
            patch = self.tracker.update(self.state, self.state.take_changes())
            if patch is not None:
                out.append(dict(patch))
        return out


def _page(page: Any, tmp_path: Path, view: dict[str, Any], name: str) -> Any:
    def script_json(value: Any) -> str:
        return json.dumps(value).replace("</", "<\\/")

    path = tmp_path / f"{name}.html"
    path.write_text(
        PAGE.format(
            css=_CSS_PATH.read_text(encoding="utf-8").replace("</", "<\\/"),
            view=script_json(view),
            esm=script_json(_ESM_PATH.read_text(encoding="utf-8")),
        ),
        encoding="utf-8",
    )
    page.goto(path.as_uri())
    page.wait_for_function("() => window.tfwReady === true")
    return page


@pytest.fixture
def page(offline_page: Any) -> Iterator[Any]:
    errors: list[str] = []
    offline_page.on("pageerror", lambda e: errors.append(str(e)))
    yield offline_page
    assert errors == []


# The page's clock stands still and its timers wait until the test runs them (`tfwRunTimers`): how often the
# markdown of a long message is rendered then does not depend on how fast the machine is.
FREEZE_TIME = """() => {
  const now = performance.now();
  performance.now = () => now;
  const timers = new Map();
  let next = 1;
  window.setTimeout = (f) => { timers.set(next, f); return next++; };
  window.clearTimeout = (id) => { timers.delete(id); };
  window.tfwRunTimers = () => {
    const due = [...timers.values()];
    timers.clear();
    for (const f of due) f();
    return due.length;
  };
}"""


def _send(page: Any, patch: dict[str, Any]) -> list[dict[str, Any]]:
    """Send and render one patch; the DOM writes it made (see ``tfwSend``)."""
    return _send_rendered(page, patch)[1]


def _send_rendered(page: Any, patch: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """Send and render one patch; the messages it rendered, and the DOM writes it made."""
    out = page.evaluate("(p) => window.tfwSend(p)", patch)
    return list(out["rendered"]), list(out["writes"])


def test_a_text_delta_rewrites_only_its_own_message(page: Any, tmp_path: Path) -> None:
    feed = Feed(_events(finished=4, deltas=30))
    _page(page, tmp_path, feed.snapshot, "text")
    delta = [{"type": "model.message.delta", "id": "m4", "thread_id": "main", "content": " and more words"}]
    [patch] = feed.patches(delta)
    assert set(patch["messages"]) == {"m4"} and set(patch.get("set", {})) <= {"clock"}, patch  # a text patch
    rendered, writes = _send_rendered(page, patch)
    assert rendered == ["m4"]
    assert writes, "the patch changed nothing on the page"
    assert {w["message"] for w in writes} - {""} == {"m4"}, writes  # "": the header, the root's status
    assert "and more words" in page.inner_text('.tfw-msg[data-id="m4"] .tfw-md')


def test_new_spans_rewrite_usage_chips_and_no_markdown(page: Any, tmp_path: Path) -> None:
    feed = Feed(_events(finished=4, deltas=30))
    view = feed.snapshot
    _page(page, tmp_path, view, "spans")
    # the same spans with a price on every model call: the chips show a cost now
    spans = [
        dict(s, cost_usd=0.25, cost_source="priced") if s["kind"] == "model_call" else s
        for s in view["spans"]
    ]
    page.evaluate("() => { window.tfwDetails = document.querySelector('.tfw-usage details'); }")
    rendered, writes = _send_rendered(
        page, {"type": "patch", "rev": view["rev"] + 1, "set": {"spans": spans}}
    )
    assert rendered == []  # no message is rendered again: only the chips that show the spans' numbers
    assert writes
    assert not [w for w in writes if w["markdown"]], writes
    in_messages = [w for w in writes if w["message"]]
    assert in_messages and all(w["chip"] for w in in_messages), writes
    assert "$0.250" in page.inner_text('.tfw-msg[data-id="m0"] .tfw-usage-slot')
    # the usage chart is redrawn (now with its cumulative cost line) inside the same details
    assert page.evaluate("() => document.querySelector('.tfw-usage details') === window.tfwDetails")
    assert page.locator(".tfw-usage .tfw-cost-line").count() == 1
    assert page.locator(".tfw-usage .tfw-bar").count() == 4


def test_a_long_streaming_message_defers_its_markdown_and_ends_exact(page: Any, tmp_path: Path) -> None:
    feed = Feed(_events(finished=1, deltas=500))  # a tail of over 2,000 characters: its render may wait
    _page(page, tmp_path, feed.snapshot, "long")
    page.evaluate(FREEZE_TIME)
    md = "document.querySelector('#app').__tfw.renderer.messageEls.get('m1').md"
    renders_before = page.evaluate(f"() => {md}.renders")
    words = [" " + WORDS[i % len(WORDS)] for i in range(200)]
    deltas = [{"type": "model.message.delta", "id": "m1", "thread_id": "main", "content": w} for w in words]
    patches = feed.patches(deltas, step=4)
    assert len(patches) == 50
    for patch in patches:
        writes = _send(page, patch)
        assert {w["message"] for w in writes} - {""} == {"m1"}
    shown = page.inner_text('.tfw-msg[data-id="m1"] .tfw-md').replace("**", "")
    assert shown.endswith("".join(words[-10:]).replace("**", "").strip()), shown[-200:]  # every word is shown
    # at most the first patch re-rendered the tail (the clock stands still): the rest were appended as text
    assert page.evaluate(f"() => {md}.renders") - renders_before <= 2
    # the end of the message: rendered in full, exactly as a view built from the final snapshot shows it
    tail_text = "() => document.querySelector('.tfw-msg[data-id=\"m1\"] .tfw-md-tail p').firstChild"
    page.evaluate(f"() => {{ window.tfwText = ({tail_text})(); }}")
    [final] = feed.patches(_finish("m1"))
    _send(page, final)
    # the paragraph was updated in place (its text node kept: no layout of the whole paragraph anew)
    assert page.evaluate(f"() => ({tail_text})() === window.tfwText")
    streamed = page.inner_html('.tfw-msg[data-id="m1"] .tfw-md')
    assert "<strong>end</strong>" in streamed and "<strong>order</strong>" in streamed
    fresh = _page(page, tmp_path, feed.tracker.snapshot(), "fresh")
    assert fresh.inner_html('.tfw-msg[data-id="m1"] .tfw-md') == streamed


def test_a_stream_that_pauses_catches_up_without_a_new_patch(page: Any, tmp_path: Path) -> None:
    feed = Feed(_events(finished=1, deltas=500))
    _page(page, tmp_path, feed.snapshot, "pause")
    page.evaluate(FREEZE_TIME)
    deltas = [
        {"type": "model.message.delta", "id": "m1", "thread_id": "main", "content": " **bold** words"}
    ] * 2
    for patch in feed.patches(deltas):
        _send(page, patch)
    raw = re.sub(r"(\s*</\w+>)+\s*$", "", page.inner_html('.tfw-msg[data-id="m1"] .tfw-md').rstrip())
    assert raw.endswith("**bold** words"), raw[-200:]  # appended as text for now
    # no further patch: the deferred render runs on its own (a timer) and formats the words
    assert page.evaluate("() => window.tfwRunTimers()") == 1
    raw = re.sub(r"(\s*</\w+>)+\s*$", "", page.inner_html('.tfw-msg[data-id="m1"] .tfw-md').rstrip())
    assert raw.endswith("<strong>bold</strong> words <strong>bold</strong> words"), raw[-200:]


RENDERER = "document.querySelector('#app').__tfw.renderer"


def _tokens_text(feed: Feed) -> str:
    """The header's token totals as the view's snapshot states them."""
    t = feed.tracker.snapshot()["totals"]
    return f"{t['input_tokens']:,} in · {t['output_tokens']:,} out"


BARS = "() => document.querySelectorAll('.tfw-usage .tfw-bar').length"
TOKENS = "() => document.querySelector('.tfw-header .tfw-tokens').textContent"


def test_a_busy_frame_leaves_the_usage_for_the_next_frame_once(page: Any, tmp_path: Path) -> None:
    feed = Feed(_events(finished=2, deltas=30))
    _page(page, tmp_path, feed.snapshot, "busy")
    assert page.evaluate(BARS) == 2
    tokens_before = page.evaluate(TOKENS)
    [finish] = feed.patches(_finish("m2"))
    assert {"usage", "totals"} <= set(finish.get("set", {})) | set(finish.get("rows", {})), finish
    # In one task (no animation frame can come in between): every frame counts as busy (the transcript's
    # work always exceeds the share); the patch is rendered, then the next frame's render runs.
    first, second = page.evaluate(
        """(p) => {
          const r = document.querySelector('#app').__tfw.renderer;
          r.frameShareMs = -1;
          const look = () => ({
            bars: document.querySelectorAll('.tfw-usage .tfw-bar').length,
            tokens: document.querySelector('.tfw-header .tfw-tokens').textContent,
            later: [...r.later].sort(),
            md: document.querySelector('.tfw-msg[data-id="m2"] .tfw-md').innerHTML,
          });
          window.tfwSend(p);
          const first = look();
          r.render();
          return [first, look()];
        }""",
        finish,
    )
    # the message is final at once; its usage bar and the header's totals wait for the next frame
    assert "<strong>end</strong>" in first["md"]
    assert first["bars"] == 2 and first["tokens"] == tokens_before
    assert first["later"], first
    # the next frame does them, busy or not: work waits at most one frame
    assert second["bars"] == 3
    assert second["tokens"] == _tokens_text(feed) != tokens_before
    assert second["later"] == []


def test_the_frame_after_a_busy_one_comes_by_itself(page: Any, tmp_path: Path) -> None:
    feed = Feed(_events(finished=2, deltas=30))
    _page(page, tmp_path, feed.snapshot, "later")
    page.evaluate(f"() => {{ {RENDERER}.frameShareMs = -1; }}")
    [finish] = feed.patches(_finish("m2"))
    # as the widget receives it: the patch schedules an animation frame, nothing renders it by hand
    page.evaluate("(p) => window.tfwHandlers['msg:custom'](p, [])", finish)
    page.wait_for_function(f"() => ({BARS})() === 3 && {RENDERER}.later.size === 0", timeout=10_000)
    assert page.evaluate(TOKENS) == _tokens_text(feed)


def test_a_status_change_renders_everything_in_its_frame(page: Any, tmp_path: Path) -> None:
    feed = Feed(_events(finished=2, deltas=30))
    _page(page, tmp_path, feed.snapshot, "status")
    page.evaluate(f"() => {{ {RENDERER}.frameShareMs = -1; }}")
    done = {"type": "turn.done", "id": "td", "thread_id": None, "created_at": "2026-08-01T10:09:00.000Z",
            "state": {"status": "done", "output": None, "required_actions": [],
                      "completed_at": "2026-08-01T10:09:00.000Z"}}  # fmt: skip
    patches = feed.patches([*_finish("m2"), done], step=2)
    assert len(patches) == 1
    # in one task: no animation frame can render what the patch's own render left over
    seen = page.evaluate(
        """(p) => {
          window.tfwSend(p);
          return {
            bars: document.querySelectorAll('.tfw-usage .tfw-bar').length,
            tokens: document.querySelector('.tfw-header .tfw-tokens').textContent,
            later: document.querySelector('#app').__tfw.renderer.later.size,
            status: document.querySelector('.tfw-root').dataset.status,
          };
        }""",
        patches[0],
    )
    assert seen == {"bars": 3, "tokens": _tokens_text(feed), "later": 0, "status": "done"}


# Each bar's drawn height and bottom in pixels (the union of its segments), and the SVG's pixels per unit.
BAR_PIXELS = """() => {
  const svg = document.querySelector('.tfw-usage .tfw-chart-svg');
  const k = svg.getBoundingClientRect().height / svg.viewBox.baseVal.height;
  return [...document.querySelectorAll('.tfw-usage .tfw-bar')].map((g) => {
    const boxes = [...g.querySelectorAll('rect')].map((r) => r.getBoundingClientRect());
    const top = Math.min(...boxes.map((b) => b.top)), bottom = Math.max(...boxes.map((b) => b.bottom));
    return { height: (bottom - top) / k, bottom: (bottom - svg.getBoundingClientRect().top) / k };
  });
}"""


def test_a_new_model_call_adds_one_bar_and_keeps_the_others(page: Any, tmp_path: Path) -> None:
    """The usage chart is not redrawn per call (its work would grow with the turn): a new call appends a bar,
    a call that raises the maximum rescales the drawn bars, and every bar keeps its height in proportion."""
    feed = Feed(_events(finished=6, deltas=30))
    _page(page, tmp_path, feed.snapshot, "bars")

    def check_heights() -> None:
        usage = feed.tracker.snapshot()["usage"]
        totals = [u["input_tokens"] + u["output_tokens"] for u in usage]
        bars = page.evaluate(BAR_PIXELS)
        assert len(bars) == len(totals)
        for bar, total in zip(bars, totals, strict=True):
            assert bar["height"] == pytest.approx(90 * total / max(totals), abs=0.6), (bars, totals)
            assert bar["bottom"] == pytest.approx(6 + 90, abs=0.6), bars  # on the base line

    check_heights()
    page.evaluate("() => { window.tfwBars = [...document.querySelectorAll('.tfw-usage .tfw-bar')]; }")
    [finish] = feed.patches(_finish("m6"))  # a call with about twice the tokens of each before it
    page.evaluate(f"(p) => {{ window.tfwSend(p); {RENDERER}.render(); }}", finish)
    assert page.evaluate(BARS) == 7
    kept = page.evaluate(
        "() => { const now = [...document.querySelectorAll('.tfw-usage .tfw-bar')];"
        " return window.tfwBars.map((g, i) => g.isConnected && now[i] === g); }"
    )
    assert kept == [True] * 6  # the drawn bars stay: the new call added one
    check_heights()  # and the older bars were rescaled to the new maximum
    assert page.inner_text(".tfw-usage summary") == "usage per model call (7)"
