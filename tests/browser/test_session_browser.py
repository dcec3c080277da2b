"""SessionView in a real browser: JupyterLab 4 + headless chromium, clicks against the simulated gateway.

The simulator runs in the test process (real HTTP on 127.0.0.1); the notebook's kernel connects to it
with :func:`tfwidget.chat`, reading the URL and the simulator's key from a file next to the notebook, so
the key is not part of the notebook. Clicks go page -> intent (comm) -> Python -> gateway, and the tests
check the simulator's own record of what arrived (how many turns, their input).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tfwidget.sim import Simulator

from .conftest import Lab

pytestmark = pytest.mark.browser

TURN = ".tfw-session .tfw-root:not(.tfw-controls)"
CONTROLS = ".tfw-session .tfw-controls"


@pytest.fixture
def sim_factory() -> Iterator[Any]:
    started: list[Simulator] = []

    def make(speed: float = 0.0) -> Simulator:
        sim = Simulator("plain_answer", speed=speed).start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        sim.stop()


def open_chat(lab: Lab, sim: Simulator, name: str) -> None:
    """Run a notebook that opens a new chat session against ``sim`` and displays it."""
    (lab.server.root_dir / f"{name}.json").write_text(
        json.dumps({"url": sim.base_url, "key": sim.api_key}), encoding="utf-8"
    )
    cells = [
        "import json, tfwidget\n"
        f"cfg = json.load(open({name + '.json'!r}))\n"
        "client = tfwidget.GatewayClient(cfg.pop('url'), cfg.pop('key'))\n"
        "view = tfwidget.chat('browser-agent', client=client)\n"
        "view",
    ]
    lab.run_notebook(cells, name)
    lab.wait_cells_done()
    lab.wait_output(f"{CONTROLS} .tfw-composer-input")


def chat_session(sim: Simulator) -> Any:
    """The session the notebook created (the simulator's own first session is not it)."""
    sessions = [s for s in sim._sessions.values() if s.agent_name == "browser-agent"]
    assert len(sessions) == 1, sessions
    return sessions[0]


def type_and_send(lab: Lab, text: str) -> None:
    box = lab.page.locator(lab.out(f"{CONTROLS} .tfw-composer-input")).first
    box.fill(text)
    send = lab.page.locator(lab.out(f"{CONTROLS} .tfw-send")).first
    send.click()


def turn_statuses(lab: Lab) -> list[str]:
    return lab.page.locator(lab.out(TURN)).evaluate_all("els => els.map(e => e.dataset.status)")


def wait_turn_status(lab: Lab, n: int, status: str, timeout: float = 30_000) -> None:
    """Wait until there are ``n`` turns and the last one reports ``status``."""
    lab.page.wait_for_function(
        """([sel, n, status]) => {
            const els = document.querySelectorAll(sel);
            return els.length === n && els[n - 1].dataset.status === status;
        }""",
        arg=[lab.out(TURN), n, status],
        timeout=timeout,
    )


def last_turn(lab: Lab) -> Any:
    return lab.page.locator(lab.out(TURN)).last


def shot(lab: Lab, suffix: str = "") -> None:
    """Screenshot of the whole session view (a tall viewport, so the notebook does not clip it)."""
    page = lab.page
    size = page.viewport_size
    height = page.locator(lab.out(".tfw-session")).first.evaluate("el => el.scrollHeight")
    page.set_viewport_size({"width": size["width"], "height": min(max(size["height"], height + 300), 4000)})
    try:
        page.locator(lab.out(".tfw-session")).first.scroll_into_view_if_needed()
        lab.screenshot(suffix, selector=".tfw-session")
    finally:
        page.set_viewport_size(size)


def assert_key_not_on_page(lab: Lab, sim: Simulator) -> None:
    assert sim.api_key not in lab.page.content()
    seen = getattr(lab, "seen_on_the_wire", None)
    if seen is not None:
        assert not seen(sim.api_key)


# --------------------------------------------------------------------------------------------- tests


def test_click_approve_finishes_the_turn(host: Lab, sim_factory: Any) -> None:
    lab = host  # JupyterLab 4 and Notebook 7
    sim = sim_factory()
    open_chat(lab, sim, "session_approve")
    type_and_send(lab, "Please refund order 42")
    wait_turn_status(lab, 1, "paused")
    card = last_turn(lab).locator(".tfw-pause-approval")
    approve = card.locator(".tfw-approve")
    approve.wait_for()
    assert card.locator(".tfw-deny").is_enabled()
    # the message box is disabled while the turn waits on a decision
    assert lab.page.locator(lab.out(f"{CONTROLS} .tfw-composer-input")).first.is_disabled()
    shot(lab, "paused")
    approve.click()
    wait_turn_status(lab, 2, "done")
    turns = chat_session(sim).turns
    assert len(turns) == 2
    assert turns[1].input[0]["type"] == "user.tool_approval"
    assert turns[1].input[0]["approval"] == {"status": "allow"}
    # the first turn reads as resolved: its card says what was decided, without buttons
    first = lab.page.locator(lab.out(TURN)).first
    resolved = first.locator(".tfw-pause-resolved[data-decision='approved']")
    resolved.wait_for()
    assert resolved.locator(".tfw-pause-title").text_content() == "Approved"
    assert "process_refund was approved" in resolved.inner_text()
    assert "is allowed or denied" not in first.inner_text()
    assert first.get_attribute("data-resolved") == "true"
    assert (first.locator(".tfw-header .tfw-pill").text_content() or "").strip() == "resolved"
    assert first.locator(".tfw-approve").count() == 0
    # the resume turn's user bubble says what the person did
    assert last_turn(lab).locator(".tfw-input .tfw-user-text").all_text_contents() == [
        "Approved process_refund"
    ]
    assert "processed" in last_turn(lab).inner_text()
    assert lab.page.locator(lab.out(f"{CONTROLS} .tfw-composer-input")).first.is_enabled()
    shot(lab, "done")
    assert_key_not_on_page(lab, sim)
    lab.assert_no_errors()


def test_answer_a_question_with_an_option_button(host: Lab, sim_factory: Any) -> None:
    lab = host  # JupyterLab 4 and Notebook 7
    sim = sim_factory()
    open_chat(lab, sim, "session_question")
    type_and_send(lab, "Ask me a question before you start")
    wait_turn_status(lab, 1, "paused")
    options = last_turn(lab).locator(".tfw-pause-question .tfw-option")
    options.first.wait_for()
    labels = options.all_text_contents()
    assert len(labels) >= 2
    shot(lab, "question")
    options.nth(1).click()
    wait_turn_status(lab, 2, "done")
    turns = chat_session(sim).turns
    assert [i["type"] for i in turns[1].input] == ["user.tool_response"]
    assert turns[1].input[0]["content"] == labels[1]
    assert labels[1] in last_turn(lab).inner_text()
    shot(lab, "answered")
    lab.assert_no_errors()


def test_cancel_while_a_long_turn_streams(host: Lab, sim_factory: Any) -> None:
    lab = host  # JupyterLab 4 and Notebook 7
    sim = sim_factory(speed=1.0)
    open_chat(lab, sim, "session_cancel")
    type_and_send(lab, "Write a long markdown guide to SSE")
    wait_turn_status(lab, 1, "streaming")
    cancel = lab.page.locator(lab.out(f"{CONTROLS} .tfw-cancel")).first
    cancel.wait_for()
    lab.page.wait_for_function(
        "sel => [...document.querySelectorAll(sel)].some(e => e.textContent.length > 40)",
        arg=lab.out(f"{TURN} .tfw-md"),
    )
    shot(lab, "streaming")
    cancel.click()
    wait_turn_status(lab, 1, "cancelled")
    [turn] = chat_session(sim).turns
    assert turn.state["status"] == "cancelled" and turn.state["reason"] == "client-cancelled"
    pill = last_turn(lab).locator(".tfw-header .tfw-pill").text_content()
    assert (pill or "").strip() == "cancelled"
    assert cancel.is_hidden()
    shot(lab, "cancelled")
    lab.assert_no_errors()


def test_double_click_approve_sends_one_resume(lab: Lab, sim_factory: Any) -> None:
    sim = sim_factory()
    open_chat(lab, sim, "session_double")
    type_and_send(lab, "refund order 7, please")
    wait_turn_status(lab, 1, "paused")
    approve = last_turn(lab).locator(".tfw-approve")
    approve.wait_for()
    approve.dblclick()
    wait_turn_status(lab, 2, "done")
    time.sleep(1.0)  # give a second resume time to show up, if one had been sent
    turns = chat_session(sim).turns
    resumes = [t for t in turns if any(i.get("type") == "user.tool_approval" for i in t.input)]
    assert len(turns) == 2 and len(resumes) == 1
    assert turn_statuses(lab) == ["paused", "done"]
    notices = lab.text(f"{CONTROLS} .tfw-notice-error")
    assert notices == ""
    shot(lab)
    lab.assert_no_errors()


def test_decisions_in_two_threads_are_collected_then_sent_once(lab: Lab, sim_factory: Any) -> None:
    sim = sim_factory()
    open_chat(lab, sim, "session_multi")
    type_and_send(lab, "Handle several things at once")
    wait_turn_status(lab, 1, "paused")
    turn = last_turn(lab)
    turn.locator(".tfw-approve").wait_for()
    turn.locator(".tfw-approve").click()
    decided = turn.locator(".tfw-pause-approval .tfw-decided")
    decided.wait_for()
    assert decided.locator(".tfw-decision").text_content() == "Approve"
    assert "collected" in (decided.locator(".tfw-decision-state").text_content() or "")
    assert len(chat_session(sim).turns) == 1  # nothing sent while the question is open
    status = lab.text(f"{CONTROLS} .tfw-composer-what")
    assert "1 action" in status and "1 decided" in status
    shot(lab, "collected")
    option = turn.locator(".tfw-pause-question .tfw-option").first
    label = option.text_content()
    option.click()
    wait_turn_status(lab, 2, "done")
    turns = chat_session(sim).turns
    assert len(turns) == 2
    assert sorted(i["type"] for i in turns[1].input) == ["user.tool_approval", "user.tool_response"]
    assert next(i for i in turns[1].input if i["type"] == "user.tool_response")["content"] == label
    shot(lab, "sent")
    lab.assert_no_errors()


def test_sign_in_link_and_continue(lab: Lab, sim_factory: Any) -> None:
    sim = sim_factory()
    open_chat(lab, sim, "session_mcp")
    type_and_send(lab, "Sign in to github and list my repositories")
    wait_turn_status(lab, 1, "paused")
    card = last_turn(lab).locator(".tfw-pause-auth")
    link = card.locator(".tfw-signin a")
    link.wait_for()
    assert link.get_attribute("href", timeout=5000).startswith("http")
    assert link.get_attribute("target") == "_blank"
    card.locator(".tfw-continue").click()
    wait_turn_status(lab, 2, "done")
    turns = chat_session(sim).turns
    assert len(turns) == 2 and turns[1].input == []
    lab.assert_no_errors()
