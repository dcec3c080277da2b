"""Keys typed into tfwidget's inputs stay there, in JupyterLab 4 and in Notebook 7.

Both hosts act on keydown events that bubble out of a cell's output: Shift+Enter runs the cell (a new
chat session, the conversation lost), letters in command mode edit the notebook (``d d`` deletes a cell,
``a`` / ``b`` insert one, ``i i`` interrupts, ``0 0`` restarts the kernel). A person types with the
keyboard here (playwright's ``type`` / ``press``), and the tests check that the notebook did not react:
no new session, the cell not re-run, no cell added or deleted, the focus still in the box. Enter sends,
Shift+Enter adds a line; Enter in the Deny reason box denies.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tfwidget.sim import Simulator

from .conftest import Lab
from .test_session_browser import CONTROLS, TURN, chat_session, last_turn, open_chat, shot, wait_turn_status

pytestmark = pytest.mark.browser

BOX = f"{CONTROLS} .tfw-composer-input"
# command-mode shortcuts of both hosts: each would edit the notebook or the kernel if it escaped
SHORTCUT_LETTERS = "ddaabbxii00mzy"


@pytest.fixture
def sims() -> Any:
    started: list[Simulator] = []

    def make(speed: float = 0.0) -> Simulator:
        sim = Simulator("plain_answer", speed=speed).start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        sim.stop()


def notebook_state(host: Lab) -> dict[str, Any]:
    """What the notebook's shortcuts would change: its cells, their prompts, the kernel's sessions."""
    cells = host.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell")
    prompts = host.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputArea-prompt")
    with host.server.api() as api:
        kernels = [
            (s["kernel"]["id"], s["kernel"].get("execution_state")) for s in api.get("/api/sessions").json()
        ]
    return {
        "cells": cells.count(),
        "prompts": prompts.all_text_contents(),
        "kernels": [k for k, _ in kernels],
    }


def focused_class(host: Lab) -> str:
    return host.page.evaluate("() => (document.activeElement && document.activeElement.className) || ''")


def test_shift_enter_and_letters_in_the_chat_box_stay_in_the_box(host: Lab, sims: Any) -> None:
    sim = sims(speed=0.0)
    open_chat(host, sim, f"keys_box_{host.server.app}")
    before = notebook_state(host)
    box = host.page.locator(host.out(BOX)).first
    box.click()
    box.type("first line")
    host.page.keyboard.press("Shift+Enter")
    box.type(f"second line {SHORTCUT_LETTERS}")
    time.sleep(1.0)  # give an escaped shortcut time to act
    expected = f"first line\nsecond line {SHORTCUT_LETTERS}"
    assert box.input_value() == expected
    assert "tfw-composer-input" in focused_class(host)
    assert notebook_state(host) == before  # no cell re-run, added, deleted; the same kernel
    assert len(chat_session(sim).turns) == 0  # nothing sent, and chat_session: still one session
    # Enter sends what was typed, lines included; the focus stays in the box
    host.page.keyboard.press("Enter")
    wait_turn_status(host, 1, "done")
    [turn] = chat_session(sim).turns
    assert turn.input[0]["content"] == expected
    assert box.input_value() == ""
    assert "tfw-composer-input" in focused_class(host)
    assert notebook_state(host) == before
    host.assert_no_errors()


def test_enter_in_the_deny_reason_box_denies(host: Lab, sims: Any) -> None:
    sim = sims(speed=0.0)
    open_chat(host, sim, f"keys_deny_{host.server.app}")
    box = host.page.locator(host.out(BOX)).first
    box.click()
    box.type("Please refund order 42")
    host.page.keyboard.press("Enter")
    wait_turn_status(host, 1, "paused")
    before = notebook_state(host)
    reason = last_turn(host).locator(".tfw-reason")
    reason.wait_for()
    reason.click()
    reason.type("amount too high")
    time.sleep(0.5)
    assert notebook_state(host) == before
    assert len(chat_session(sim).turns) == 1
    host.page.keyboard.press("Enter")
    try:
        wait_turn_status(host, 2, "done")
    except Exception:
        statuses = host.page.locator(host.out(TURN)).evaluate_all("els => els.map(e => e.dataset.status)")
        raise AssertionError(
            f"statuses {statuses}; gateway turns {[t.input for t in chat_session(sim).turns]}; "
            f"focus {focused_class(host)!r}; notebook {notebook_state(host)}; "
            f"errors {host.cell_errors()} {host.page_errors} {host.console_errors}"
        ) from None
    turns = chat_session(sim).turns
    assert len(turns) == 2
    assert turns[1].input[0]["approval"] == {"status": "deny", "reason": "amount too high"}
    assert notebook_state(host) == before
    # the paused turn reads as denied, with the reason; the resume turn's bubble says what was done
    first = host.page.locator(host.out(TURN)).first
    card = first.locator(".tfw-pause-resolved[data-decision='denied']")
    try:
        card.wait_for(state="attached")
    except Exception:
        raise AssertionError(
            f"no resolved card; first turn: {first.evaluate('e => e.outerHTML')[:3000]}"
        ) from None
    assert "amount too high" in card.inner_text()
    bubble = last_turn(host).locator(".tfw-input .tfw-user-text").all_text_contents()
    assert bubble == ["Denied process_refund: amount too high"]
    shot(host, "denied")
    host.assert_no_errors()


def test_after_send_the_box_keeps_focus_and_the_new_turn_stays_in_view(host: Lab, sims: Any) -> None:
    sim = sims(speed=1.0)
    open_chat(host, sim, f"keys_follow_{host.server.app}")
    box = host.page.locator(host.out(BOX)).first
    box.click()
    box.type("Write a long markdown guide to SSE")
    host.page.keyboard.press("Enter")
    wait_turn_status(host, 1, "streaming")
    samples = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        sample = host.page.evaluate(
            """([turnSel, boxSel]) => {
                const turns = document.querySelectorAll(turnSel);
                const turn = turns[turns.length - 1];
                const box = document.querySelector(boxSel);
                const r = turn.getBoundingClientRect();
                const b = box.getBoundingClientRect();
                return {status: turn.dataset.status, top: r.top, bottom: r.bottom, boxTop: b.top,
                        boxBottom: b.bottom, h: innerHeight,
                        focus: document.activeElement === box,
                        text: (turn.querySelector('.tfw-md') || {textContent: ''}).textContent.length};
            }""",
            [host.out(TURN), host.out(BOX)],
        )
        samples.append(sample)
        if sample["status"] != "streaming" and len(samples) > 3:
            break
        time.sleep(0.5)
    streaming = [s for s in samples if s["status"] == "streaming" and s["text"] > 0]
    assert len(streaming) >= 3, samples
    for s in streaming:
        assert s["focus"], s  # the box kept the focus the whole time
        assert s["boxBottom"] <= s["h"] + 1 and s["boxTop"] >= 0, s  # the box is in view
        assert s["bottom"] > 0 and s["top"] < s["h"], s  # the newest turn is (at least partly) in view
    host.assert_no_errors()
