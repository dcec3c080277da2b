"""SessionView rules a person meets from Python and from the buttons alike, against the simulated gateway.

Each action is refused (or done) the same way whether it comes from Python or as a front-end intent, and
the simulator's own record says whether a gateway turn was created.
"""

from __future__ import annotations

import time

import pytest

from tfwidget.client import GatewayClient
from tfwidget.resolution import input_label, resolve
from tfwidget.session import SessionError, chat
from tfwidget.sim import serve


def sim_turns(sim, session_id: str):
    return list(sim._session(session_id).turns)


def intent(widget, **fields) -> str:
    fields.setdefault("id", f"intent-{time.monotonic_ns()}")
    widget._handle_custom_msg({"type": "intent", **fields}, [])
    return fields["id"]


@pytest.fixture
def acked(monkeypatch):
    """Acks the session view sends for intents of its controls."""
    from tfwidget.session import SessionView

    log: list[dict] = []

    def send_msg(self, content, buffers=None):
        if content.get("type") == "ack":
            log.append(content)

    monkeypatch.setattr(SessionView, "_send_msg", send_msg, raising=False)
    return log


def test_send_after_close_creates_no_turn(acked):
    with serve("plain_answer", speed=0) as sim:
        client = GatewayClient(sim.base_url, sim.api_key)
        view = chat("sim-agent", client=client)
        view.send("hello")
        view.wait(10)
        view.close()
        with pytest.raises(SessionError, match="closed"):
            view.send("are you still there?")
        assert len(sim_turns(sim, view.session_id)) == 1
        with pytest.raises(SessionError, match="closed"):
            view.cancel()
        client.close()


def test_send_while_a_turn_streams_is_refused_from_python_and_from_the_box(acked):
    with serve("plain_answer", speed=1) as sim:
        client = GatewayClient(sim.base_url, sim.api_key)
        view = chat("sim-agent", client=client)
        running = view.send("Write a long markdown guide to SSE")
        deadline = time.monotonic() + 20
        while running.status != "streaming" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert running.status == "streaming"
        with pytest.raises(SessionError, match="still running") as err:
            view.send("and another thing")
        iid = intent(view, action="send", text="and another thing")
        [ack] = [a for a in acked if a["id"] == iid]
        assert ack["ok"] is False and ack["error"] == str(err.value)  # the same words both ways
        # nothing reached the gateway: one turn, still running (not cancelled for a next turn)
        turns = sim_turns(sim, view.session_id)
        assert len(turns) == 1 and turns[0].state["status"] not in ("cancelled",)
        assert view.turns == [running] and running.status == "streaming"
        assert view.notices[-1]["text"] == str(err.value)
        assert view.cancel(wait=20) is True
        assert running.status == "cancelled"
        view.close()
        client.close()


def test_cancel_of_a_finished_turn_raises_from_python_and_is_refused_from_the_button(acked):
    with serve("plain_answer", speed=0) as sim:
        client = GatewayClient(sim.base_url, sim.api_key)
        view = chat("sim-agent", client=client)
        view.send("hello")
        view.wait(10)
        with pytest.raises(SessionError, match="Nothing to cancel"):
            view.cancel()
        assert view._controls["can_cancel"] is False  # the button is hidden: same rule
        assert sim.turn(view.latest.turn_id, view.session_id).state["status"] == "done"
        view.close()
        client.close()


def test_resolution_words():
    items = [
        {"type": "user.tool_approval", "tool_call_id": "c1", "approval": {"status": "allow"}},
        {
            "type": "user.tool_approval",
            "tool_call_id": "c2",
            "approval": {"status": "deny", "reason": "amount too high"},
        },
        {"type": "user.tool_response", "tool_call_id": "c3", "content": "Express"},
        {"type": "user.message", "content": "hi"},
    ]
    names = {"c1": "process_refund", "c2": "process_refund", "c3": "ask_user_question"}
    assert [input_label(i, names.get(i.get("tool_call_id", ""))) for i in items] == [
        "Approved process_refund",
        "Denied process_refund: amount too high",
        "Answered: Express",
        "hi",
    ]
    res = resolve(items, names)
    assert sorted(res) == ["c1", "c2", "c3"]
    assert res["c2"]["decision"] == "denied" and res["c2"]["reason"] == "amount too high"
    assert res["c3"]["decision"] == "answered" and res["c3"]["text"] == "Express"
    assert input_label(
        {"type": "user.tool_approval", "tool_call_id": "c9", "approval": {"status": "allow"}}
    ) == ("Approved c9")


def test_history_shows_decisions_of_earlier_pauses(acked):
    """A session reopened later: the loaded paused turn reads as resolved, the resume turn in words."""
    with serve("plain_answer", speed=0) as sim:
        client = GatewayClient(sim.base_url, sim.api_key)
        view = chat("sim-agent", client=client)
        view.send("Please refund order 42")
        view.wait(10)
        view.deny(reason="amount too high")
        view.wait(10)
        again = chat(session_id=view.session_id, client=client)
        paused, resumed = again.turns[:2]
        assert paused.status == "paused"
        assert paused._actions["resolved"] is True
        [res] = paused._actions["resolutions"].values()
        assert res["decision"] == "denied" and res["label"] == "Denied process_refund: amount too high"
        assert resumed._actions["input_labels"] == ["Denied process_refund: amount too high"]
        again.close()
        view.close()
        client.close()
