"""The Timeline tab in a real browser: JupyterLab 4 + headless chromium, fed by the simulated gateway.

A sub-agent turn streams from a simulator inside the kernel; the test opens the Timeline tab while it
runs, as a person would, and checks that bars grow while streaming, that sub-agent lanes nest under the
tool call that spawned them, that hover text carries the numbers, and that a click on a bar brings its
card into view in the transcript.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from .conftest import DARK_THEME, Lab

pytestmark = pytest.mark.browser


def _cells(speed: float) -> list[str]:
    return [
        "import tfwidget, tfwidget.sim",
        f"sim = tfwidget.sim.Simulator('sub_agents', speed={speed!r}).start()\n"
        "w = tfwidget.watch(sim.session_id, sim.turn_id, base_url=sim.base_url, api_key=sim.api_key)\n"
        "w",
    ]


def _root(lab: Lab) -> Any:
    return lab.page.locator(lab.out(".tfw-root")).first


def _threads() -> dict[str, str]:
    """Sub-agent thread id -> the tool call id that spawned it, from the scenario itself."""
    from tfwidget.sim import Scenario

    out = {}
    for ev in Scenario.load("sub_agents").events:
        if ev.get("type") == "thread.created":
            out[ev["thread_id"]] = (ev.get("parent") or {}).get("tool_call_id")
    return out


OPEN_BARS_JS = """el => [...el.querySelectorAll('.tfw-tl-bar.tfw-tl-open')].map(b => [b.dataset.id, +b.dataset.widthMs])"""


def test_timeline_grows_live_nests_sub_agents_and_jumps_to_cards(lab: Lab) -> None:
    spawned_by = _threads()
    assert spawned_by, "the scenario has no sub-agents"
    lab.run_notebook(_cells(speed=0.3), "timeline_live")
    lab.wait_output(".tfw-root")
    widget = _root(lab)
    widget.locator('.tfw-tab[data-tab="timeline"]').click()
    assert widget.locator(".tfw-timeline").is_visible()
    assert not widget.locator(".tfw-scroll").is_visible()

    # while the turn streams, an open bar (a call or tool still running) gets longer
    grew = False
    seen: dict[str, int] = {}
    statuses: set[str] = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = widget.evaluate("el => ({status: el.dataset.status, open: (" + OPEN_BARS_JS + ")(el)})")
        statuses.add(state["status"])
        if state["status"] == "done":
            break
        for bar_id, width in state["open"]:
            if bar_id in seen and width > seen[bar_id]:
                grew = True
            seen[bar_id] = width
        time.sleep(0.15)
    assert "done" in statuses, f"the turn never finished: {statuses}"
    assert grew, f"no open bar grew while streaming (open bars seen: {seen}, statuses: {statuses})"
    lab.screenshot("timeline-light", selector=".tfw-root")

    # lanes: main first, each sub-agent lane right after (indented under) the tool call that spawned it
    lanes = widget.locator(".tfw-tl-lane").evaluate_all(
        "els => els.map(e => [e.dataset.thread, +e.dataset.depth, e.dataset.via])"
    )
    assert lanes, "no lanes on the Timeline tab once the turn ended"
    assert lanes[0] == ["main", 0, ""]
    for thread_id, call_id in spawned_by.items():
        assert [thread_id, 1, call_id] in lanes, lanes
    # the spawning tool calls are bars of the main lane
    for call_id in spawned_by.values():
        bar = widget.locator(f'.tfw-tl-lane[data-thread="main"] .tfw-tl-bar[data-id="{call_id}"]')
        assert bar.count() == 1
    # model calls: one bar each, with the time to first token shaded and the numbers on hover
    calls = widget.locator('.tfw-tl-bar[data-kind="model_call"]')
    n_calls = calls.count()
    assert n_calls == len(lab.page.locator(lab.out(".tfw-msg")).all()) and n_calls >= 4
    title = calls.first.get_attribute("title") or ""
    assert "time to first token" in title and "took" in title and "tokens in" in title, title
    assert widget.locator(".tfw-tl-open").count() == 0  # nothing left open once the turn is done

    # a click on the last sub-agent's tool call bar: back to the transcript, its card in view and flashed
    call_id = list(spawned_by.values())[-1]
    widget.locator(f'.tfw-tl-bar[data-id="{call_id}"]').click()
    assert widget.locator(".tfw-scroll").is_visible()
    card = widget.locator(f'.tfw-tool[data-id="{call_id}"]')
    in_view = card.evaluate(
        """card => {
            const box = card.closest('.tfw-scroll').getBoundingClientRect();
            const r = card.getBoundingClientRect();
            return r.top >= box.top - 1 && r.top < box.bottom;
        }"""
    )
    assert in_view, "the clicked tool call's card is not in view"
    assert "tfw-flash" in (card.get_attribute("class") or "")

    # and a model call bar jumps to its message
    widget.locator('.tfw-tab[data-tab="timeline"]').click()
    last = widget.locator('.tfw-tl-bar[data-kind="model_call"]').last
    msg_id = last.get_attribute("data-id")
    last.click()
    msg = widget.locator(f'.tfw-msg[data-id="{msg_id}"]')
    assert msg.evaluate(
        """m => {
            const box = m.closest('.tfw-scroll').getBoundingClientRect();
            const r = m.getBoundingClientRect();
            return r.top >= box.top - 1 && r.top < box.bottom;
        }"""
    )
    # usage chips show each call's cost and time to first token
    chips = widget.locator(".tfw-usage-chip > summary").all_text_contents()
    assert chips and all("TTFT" in c for c in chips), chips
    assert any("$" in c for c in chips), chips
    assert not any("cache " in c and "/" in c for c in chips), chips  # "cache read N", not "cache N/M"

    # the usage chart: a cumulative cost axis and the context window; the header's cost per thread on hover
    legend = widget.locator(".tfw-usage .tfw-legend").inner_text()
    assert "cumulative cost" in legend and "context window" in legend, legend
    assert widget.locator(".tfw-usage .tfw-cost-line").count() == 1
    cost_title = widget.locator(".tfw-header .tfw-cost").get_attribute("title") or ""
    assert "main: $" in cost_title and all(
        f"{name}: $" in cost_title for name in ("qdrant-research", "milvus-research")
    ), cost_title

    lab.save()
    lab.set_theme(DARK_THEME)
    lab.wait_output(".tfw-root")
    widget = _root(lab)
    widget.locator('.tfw-tab[data-tab="timeline"]').click()
    assert widget.locator(".tfw-tl-lane").count() == len(lanes)
    lab.screenshot("timeline-dark", selector=".tfw-root")
    lab.assert_no_errors()


BAD_BREAKDOWN_CELL = """
import json, tfwidget
from tfwidget.sse import StreamItem
usage = {"input_tokens": 1000, "output_tokens": 10,
         "input_tokens_breakdown": {"harness": 300, "skills": 0, "instructions": 50, "tool_definitions": 100,
                                    "messages": 400}}
events = [
    {"type": "turn.created", "id": "t0", "turn_id": "t-bad"},
    {"type": "model.message", "id": "m1", "thread_id": "main"},
    {"type": "model.message.delta", "id": "m1", "thread_id": "main", "content": "hello"},
    {"type": "model.message.delta", "id": "m1", "thread_id": "main", "finish_reason": "stop", "usage": usage},
    {"type": "turn.done", "id": "d", "state": {"status": "done"}},
]
items = [StreamItem(i, tfwidget.parse_event(e), 1000.0 + i, json.dumps(e)) for i, e in enumerate(events, 1)]
tfwidget.replay(items)
"""


def test_a_breakdown_that_does_not_add_up_is_flagged_in_the_view(lab: Lab) -> None:
    lab.run_notebook([BAD_BREAKDOWN_CELL], "bad_breakdown")
    lab.wait_output(".tfw-root")
    widget = _root(lab)
    widget.locator(".tfw-usage-chip > summary").first.click()
    gap = widget.locator(".tfw-usage-chip .tfw-breakdown-gap")
    assert gap.count() == 1
    assert gap.inner_text().split()[-1] == "150"  # 1000 input - 850 in the breakdown
    assert widget.locator(".tfw-usage rect.tfw-seg-unexplained").count() == 1
    assert "not in the breakdown" in widget.locator(".tfw-usage .tfw-legend").inner_text()
    title = widget.locator(".tfw-usage .tfw-bar title").first.text_content() or ""
    assert "breakdown does not add up: 150 input tokens not in it" in title
    lab.assert_no_errors()
