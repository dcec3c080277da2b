"""The replay player in a real JupyterLab page (headless chromium): seeks forward and backward show the
turn as it stood at that position, from Python, the scrubber and the keys; the player's keys act only while
the view has focus and never reach the notebook's shortcuts.

Expected texts come from folding the same recording in the test process.
"""

from __future__ import annotations

import re
import shutil
import time

import pytest

from tfwidget import TurnState, load
from tfwidget.player import _markers

from .conftest import ACTIVE_PANEL, REPO_ROOT, Lab

pytestmark = pytest.mark.browser

RECORDING = REPO_ROOT / "notebooks" / "recordings" / "research_baseline.jsonl"
ITEMS = load(RECORDING)
PLAYER_MARKS = _markers(ITEMS)
MAIN_ID = TurnState.from_items(ITEMS).message_ids()[0]


@pytest.fixture(scope="module", autouse=True)
def _bundle_built() -> None:
    static = REPO_ROOT / "tfwidget" / "static"
    if not (static / "widget.js").is_file():
        pytest.fail("tfwidget/static/widget.js missing: run `cd js && npm ci && npm run build`")


def expected_texts(n: int) -> dict[str, str]:
    """Message id -> content of the fold after ``n`` events."""
    st = TurnState.from_items(ITEMS[:n])
    return {mid: st.message_text(mid)[0] for mid in st.message_ids()}


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[*_`#]", "", text).split())


def shown_texts(lab: Lab) -> dict[str, str]:
    return lab.page.evaluate(
        """(panel) => Object.fromEntries([...document.querySelectorAll(panel + ' .tfw-root .tfw-msg')]
              .map(m => [m.dataset.id, (m.querySelector('.tfw-md') || {}).innerText || '']))""",
        ACTIVE_PANEL,
    )


def wait_position(lab: Lab, n: int, timeout: float = 20.0) -> None:
    bar = lab.page.locator(lab.out(".tfw-player")).first
    deadline = time.monotonic() + timeout
    while True:
        pos = bar.get_attribute("data-position")
        if pos == str(n) and bar.get_attribute("data-count") == str(n):
            break
        if time.monotonic() > deadline:
            raise AssertionError(f"player at {pos}, expected {n}; cell errors: {lab.cell_errors()}")
        time.sleep(0.05)


def assert_view_at(lab: Lab, n: int, timeout: float = 20.0) -> None:
    """The transcript shows exactly the messages of the fold at ``n``, each with its text as of ``n``."""
    wait_position(lab, n, timeout)
    want = {k: _norm(v) for k, v in expected_texts(n).items()}
    deadline = time.monotonic() + timeout
    while True:
        got = {k: _norm(v) for k, v in shown_texts(lab).items()}
        if got == want:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"at {n}: shown {got!r}, expected {want!r}")
        time.sleep(0.05)


def active_cell(lab: Lab) -> int:
    return lab.page.evaluate(
        """(panel) => [...document.querySelectorAll(panel + ' .jp-Notebook .jp-Cell')]
              .findIndex(c => c.classList.contains('jp-mod-active'))""",
        ACTIVE_PANEL,
    )


def cell_count(lab: Lab) -> int:
    return lab.page.locator(f"{ACTIVE_PANEL} .jp-Notebook .jp-Cell").count()


def test_player_seeks_and_keys(lab: Lab) -> None:
    shutil.copy(RECORDING, lab.server.root_dir / RECORDING.name)
    cells = [
        f"import tfwidget\nw = tfwidget.replay({RECORDING.name!r}, controls=True)\nw",
        "w.seek(12)",
        "x = 1",
        "y = 2",
    ]
    lab.run_notebook(cells, "player")
    lab.wait_cells_done()
    lab.wait_output(".tfw-player")
    assert_view_at(lab, 12)  # seeked from Python
    assert lab.count(".tfw-player-mark-sub_agent") == 2 and lab.count(".tfw-player-mark-tool") == 2
    assert expected_texts(12)[MAIN_ID] == expected_texts(len(ITEMS))[MAIN_ID]

    # the scrubber: forward then backward
    scrubber = lab.page.locator(lab.out(".tfw-player-scrubber")).first
    scrubber.fill("30")
    assert_view_at(lab, 30)
    assert lab.count(".tfw-msg[data-thread='th-qdrant']") == 1
    scrubber.fill("3")
    assert_view_at(lab, 3)
    assert lab.count(".tfw-msg[data-thread='th-qdrant']") == 0

    # command mode on another cell, then focus the view: its keys move the player, not the notebook
    lab.page.locator(f"{ACTIVE_PANEL} .jp-Cell .jp-InputArea-prompt").nth(2).click()
    lab.page.keyboard.press("Escape")
    lab.page.locator(lab.out(".tfw-root .tfw-scroll")).first.click()  # (a click activates the view's cell)
    before_cells, before_active = cell_count(lab), active_cell(lab)
    assert lab.page.evaluate("() => document.activeElement.classList.contains('tfw-root')")
    for _ in range(3):
        lab.page.keyboard.press("ArrowRight")
    assert_view_at(lab, 6)  # mid-message: the text as far as it had streamed
    assert 0 < len(expected_texts(6)[MAIN_ID]) < len(expected_texts(len(ITEMS))[MAIN_ID])
    lab.page.keyboard.press("ArrowLeft")
    lab.page.keyboard.press("ArrowLeft")
    assert_view_at(lab, 4)
    lab.page.keyboard.press("Shift+ArrowRight")  # the next model message starts (a sub-agent's)
    nxt = min(n for n in PLAYER_MARKS["message"] if n > 4)
    assert_view_at(lab, nxt)
    assert lab.count(".tfw-msg[data-thread='th-qdrant']") == 1
    lab.page.keyboard.press("ArrowDown")
    lab.page.keyboard.press("ArrowUp")
    lab.page.keyboard.press("End")
    assert_view_at(lab, len(ITEMS))
    lab.page.keyboard.press("Home")
    assert_view_at(lab, 0)
    assert cell_count(lab) == before_cells and active_cell(lab) == before_active

    # the jump buttons: next / previous tool call
    lab.page.locator(lab.out(".tfw-player-kind")).first.select_option("tool")
    lab.page.locator(lab.out(".tfw-player-next")).first.click()
    assert_view_at(lab, PLAYER_MARKS["tool"][0])
    lab.page.locator(lab.out(".tfw-player-next")).first.click()
    assert_view_at(lab, PLAYER_MARKS["tool"][1])
    lab.page.locator(lab.out(".tfw-player-prev")).first.click()
    assert_view_at(lab, PLAYER_MARKS["tool"][0])
    lab.page.keyboard.press("Home")
    assert_view_at(lab, 0)
    assert lab.cell_errors() == []

    # space plays (and pauses): the position moves forward by itself
    lab.page.keyboard.press(" ")
    bar = lab.page.locator(lab.out(".tfw-player")).first
    lab.page.wait_for_function(
        "(el) => Number(el.dataset.position) >= 8", arg=bar.element_handle(), timeout=30_000
    )
    lab.page.keyboard.press(" ")
    lab.page.wait_for_function("(el) => el.dataset.playing === 'false'", arg=bar.element_handle())
    pos = int(bar.get_attribute("data-position") or -1)
    assert_view_at(lab, pos)
    assert cell_count(lab) == before_cells and active_cell(lab) == before_active

    # control: the same arrow in the notebook itself (command mode) does move the active cell
    lab.page.locator(f"{ACTIVE_PANEL} .jp-Cell .jp-InputArea-prompt").nth(2).click()
    lab.page.keyboard.press("Escape")
    first = active_cell(lab)
    lab.page.keyboard.press("ArrowDown")
    lab.page.wait_for_function(
        """([panel, first]) => [...document.querySelectorAll(panel + ' .jp-Notebook .jp-Cell')]
              .findIndex(c => c.classList.contains('jp-mod-active')) !== first""",
        arg=[ACTIVE_PANEL, first],
    )
    # and keys typed while the view has no focus do not move the player
    assert int(bar.get_attribute("data-position") or -1) == pos
    lab.screenshot(selector=".tfw-root")
    lab.assert_no_errors()


def test_seeks_on_a_10k_event_recording_show_at_once(lab: Lab) -> None:
    """A 10,000-delta answer: every scrubber seek (backward too) shows the text as of that event quickly."""
    from tfwidget.sim.scenarios import Scenario

    events = Scenario.large(deltas=10_000).events
    cells = [
        "import json, tfwidget\n"
        "from tfwidget import StreamItem, parse_event\n"
        "from tfwidget.sim.scenarios import Scenario\n"
        "events = Scenario.large(deltas=10_000).events\n"
        "items = [StreamItem(s, parse_event(json.dumps(e)), 1000.0 + s * 0.01, json.dumps(e))\n"
        "         for s, e in enumerate(events, 1)]\n"
        "w = tfwidget.replay(items, controls=True)\n"
        "w",
    ]
    lab.run_notebook(cells, "player_10k")
    lab.wait_cells_done(timeout=120_000)
    lab.wait_output(".tfw-player")
    wait_position(lab, len(events), timeout=60)
    scrubber = lab.page.locator(lab.out(".tfw-player-scrubber")).first
    took = []
    for n in (9_000, 120, 5_001, 4_000, 9_990, 30):
        want = "".join(e.get("content") or "" for e in events[:n] if e["type"] == "model.message.delta")
        tail = want.split()[-1]
        t0 = time.monotonic()
        scrubber.fill(str(n))
        wait_position(lab, n, timeout=30)
        lab.page.wait_for_function(
            """([panel, tail, n]) => {
                const md = document.querySelector(panel + ' .tfw-root .tfw-msg .tfw-md');
                const text = md ? md.innerText.trim() : '';
                return text.endsWith(tail);
            }""",
            arg=[ACTIVE_PANEL, tail, n],
            timeout=30_000,
        )
        took.append(time.monotonic() - t0)
    print(f"10k-event seeks, scrubber to text shown (s): {[round(t, 2) for t in took]}")
    assert max(took) < 10, took  # instant on a quiet machine; generous for a heavily shared one
    lab.assert_no_errors()
