"""SessionView / chat(): every interactive path against the simulated gateway over loopback HTTP.

No kernel runs here. Messages the widgets send (patches, acks) are captured by wrapping ``send``, and
front-end intents are delivered the way a comm delivers them (``_handle_custom_msg``). Expected values
come from the simulator's own records (its turns, their inputs and merged events), never typed in.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from typing import Any

import pytest

from tfwidget.client import GatewayClient
from tfwidget.session import PendingActionsError, SessionError, SessionView, chat
from tfwidget.sim import serve
from tfwidget.widget import TurnView


@pytest.fixture
def sent(monkeypatch):
    """Every custom message a TurnView or the session controls send: (widget, content)."""
    log: list[tuple[Any, dict[str, Any]]] = []
    lock = threading.Lock()

    def send(self, content, buffers=None):
        with lock:
            log.append((self, copy.deepcopy(content)))

    def session_send(self, content, buffers=None):
        # a session view's messages: its own (controls' acks) or a turn's, tagged with the turn's key
        if content.get("type") == "turn":
            run = self._state.run_by_key(content["key"])
            send(run.view if run is not None else self, content["msg"])
        else:
            send(self, content)

    monkeypatch.setattr(TurnView, "send", send)
    monkeypatch.setattr(SessionView, "_send_msg", session_send)
    return log


@pytest.fixture
def sim():
    with serve("plain_answer", speed=0) as s:
        yield s


@pytest.fixture
def client(sim):
    c = GatewayClient(sim.base_url, sim.api_key)
    yield c
    c.close()


def sim_turns(sim, session_id: str):
    return list(sim._session(session_id).turns)


def merged_content(sim, session_id: str, turn_id: str) -> list[str]:
    turn = sim.turn(turn_id, session_id)
    return [
        e["content"] for e in turn.merged() if e["type"] == "model.message" and e.get("thread_id") == "main"
    ]


def intent(widget, **fields) -> str:
    """Deliver one intent to a widget as its comm would; returns the intent id."""
    fields.setdefault("id", f"intent-{time.monotonic_ns()}")
    widget._handle_custom_msg({"type": "intent", **fields}, [])
    return fields["id"]


def acks(sent, iid: str) -> list[dict[str, Any]]:
    return [m for _, m in sent if m.get("type") == "ack" and m.get("id") == iid]


def tool_response(turn: TurnView, call_id: str) -> str:
    """The content of the ``tool.response`` a turn carried for ``call_id``."""
    [ev] = [
        i.event for i in turn.events if i.event.type == "tool.response" and i.event.tool_call_id == call_id
    ]
    return ev.content


def wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


# ------------------------------------------------------------------------------------------ basics


def test_chat_send_done(sim, client, sent):
    view = chat("sim-agent", client=client)
    assert isinstance(view, SessionView) and view.status == "empty" and view.turns == []
    assert view.controls._controls["can_send"] is True
    turn = view.send("hello there")
    assert isinstance(turn, TurnView) and turn.turn_id
    assert view.wait(10) is turn
    assert turn.status == "done"
    assert [t.id for t in sim_turns(sim, view.session_id)] == [turn.turn_id]
    assert list(view.messages_df["content"]) == merged_content(sim, view.session_id, turn.turn_id)
    # one widget: the turn is shown through the session's own state (its key, its settled view)
    [entry] = view._session["turns"]
    assert entry["turn_id"] == turn.turn_id and view._views[entry["key"]]["status"] == "done"
    ctl = view.controls._controls
    assert ctl["status"] == "done" and ctl["turns"] == 1 and ctl["can_send"] and not ctl["can_cancel"]
    view.close()
    assert turn.comm is None and view.controls.comm is None


def test_dataframes_cover_all_turns_with_turn_id_first(sim, client, sent):
    view = chat("sim-agent", client=client)
    a = view.send("first message")
    view.wait(10)
    b = view.send("Please refund order 7")
    view.wait(10)
    for name in ("df", "messages_df", "tool_calls_df", "usage_df"):
        df = getattr(view, name)
        assert df.columns[0] == "turn_id", name
        for t in (a, b):
            own = getattr(t, name)
            assert (df["turn_id"] == t.turn_id).sum() == len(own), name
    assert len(view.df) == len(a.df) + len(b.df)
    assert set(view.tool_calls_df["turn_id"]) == {b.turn_id}


FRAMES = ("df", "messages_df", "tool_calls_df", "usage_df", "spans_df")


def test_session_frames_stack_as_a_collection_does(sim, client, sent):
    """One stacking rule: a session's frames have the columns and dtypes of a TurnCollection's of the same
    turns (``turn_id`` as pandas ``string``), with no turns as with some."""
    import pandas as pd

    from tfwidget.analysis import TurnCollection, concat

    view = chat("sim-agent", client=client)
    empty = TurnCollection({})
    for name in FRAMES:
        mine, theirs = getattr(view, name), getattr(empty, name)
        assert len(mine) == 0 and list(mine.columns) == list(theirs.columns), name
        assert dict(mine.dtypes) == dict(theirs.dtypes), name
        assert list(mine.columns[1:]) == list(getattr(TurnView(), name).columns), name
    assert len(view.usage_df.columns) > 1
    a = view.send("first message")
    view.wait(10)
    b = view.send("Please refund order 7")
    view.wait(10)
    both = concat({a.turn_id: a.state, b.turn_id: b.state})
    for name in FRAMES:
        mine, theirs = getattr(view, name), getattr(both, name)
        assert mine["turn_id"].dtype == pd.StringDtype(), name
        pd.testing.assert_frame_equal(mine, theirs, check_dtype=True, obj=name)


# ------------------------------------------------------------------------------------------ approvals


def test_approval_approve(sim, client, sent):
    view = chat("sim-agent", client=client)
    paused = view.send("Please refund order 42")
    view.wait(10)
    assert paused.status == "paused"
    [p] = view.pending
    assert p.kind == "approval" and p.tool_name == "process_refund" and p.thread_id == "main"
    assert paused._actions["enabled"] is True and paused._actions["decisions"] == {}
    assert view.controls._controls["can_send"] is False
    resumed = view.approve(p.tool_call_id)
    assert isinstance(resumed, TurnView)
    view.wait(10)
    assert resumed.status == "done" and view.pending == []
    turns = sim_turns(sim, view.session_id)
    assert [t.id for t in turns] == [paused.turn_id, resumed.turn_id]
    assert turns[1].input == [
        {"type": "user.tool_approval", "thread_id": "main", "tool_call_id": p.tool_call_id,
         "approval": {"status": "allow"}}
    ]  # fmt: skip
    assert turns[0].resumed_by == resumed.turn_id
    response = tool_response(resumed, p.tool_call_id)
    assert json.loads(response)["status"] == "processed"
    # answering the paused turn's call is expected in a resume turn: no "unknown tool call" notice
    assert [a.kind for a in resumed.state.anomalies] == []
    assert not any("unknown tool call" in n["text"] for n in resumed._view["notices"])
    # the paused card now shows the decision as sent, without buttons
    assert paused._actions == {
        "enabled": False,
        "busy": False,
        "sent": True,
        "decisions": {p.tool_call_id: {"kind": "approval", "status": "allow"}},
        # the paused turn reads as resolved: what was decided, from the resume turn's input
        "resolved": True,
        "resolutions": {
            p.tool_call_id: {
                "tool_call_id": p.tool_call_id,
                "decision": "approved",
                "reason": None,
                "text": None,
                "label": "Approved process_refund",
            }
        },
    }
    # the resume turn's input in words, not protocol text
    assert resumed._actions["input_labels"] == ["Approved process_refund"]


def test_approval_deny_with_reason(sim, client, sent):
    view = chat("sim-agent", client=client)
    view.send("refund order 9 please")
    view.wait(10)
    [p] = view.pending
    resumed = view.deny(p.tool_call_id, "amount too large")
    view.wait(10)
    assert resumed.status == "done"
    item = sim_turns(sim, view.session_id)[-1].input[0]
    assert item["approval"] == {"status": "deny", "reason": "amount too large"}
    assert "amount too large" in tool_response(resumed, p.tool_call_id)


def test_wrong_decisions_are_clear_errors(sim, client, sent):
    view = chat("sim-agent", client=client)
    with pytest.raises(SessionError, match="No turn is waiting"):
        view.approve("call_x")
    view.send("refund order 1")
    view.wait(10)
    [p] = view.pending
    with pytest.raises(SessionError, match=r"is not pending.*process_refund"):
        view.approve("call_nope")
    with pytest.raises(SessionError, match=r"use approve\(\) or deny\(\)"):
        view.answer(p.tool_call_id, "yes")
    assert len(sim_turns(sim, view.session_id)) == 1


# ------------------------------------------------------------------------------------------ questions


@pytest.mark.parametrize("how", ["free_text", "option"])
def test_question_answered(sim, client, sent, how):
    view = chat("sim-agent", client=client)
    view.send("Ask me a question about the report")
    view.wait(10)
    [p] = view.pending
    assert p.kind == "question" and p.question and p.options
    text = "Somewhere in between, thanks" if how == "free_text" else p.options[-1]
    resumed = view.answer(p.tool_call_id, text)
    view.wait(10)
    assert resumed.status == "done"
    item = sim_turns(sim, view.session_id)[-1].input[0]
    assert item == {"type": "user.tool_response", "thread_id": p.thread_id, "tool_call_id": p.tool_call_id,
                    "content": text}  # fmt: skip
    assert tool_response(resumed, p.tool_call_id) == text


# ------------------------------------------------------------------------------------------ MCP sign-in


def test_mcp_sign_in_then_resume(sim, client, sent):
    view = chat("sim-agent", client=client)
    view.send("sign in to github and list my repos")
    view.wait(10)
    [p] = view.pending
    assert p.kind == "mcp_auth" and p.tool_call_id is None
    assert p.servers and all(s["auth_url"].startswith("http") for s in p.servers)
    assert view.controls._controls["can_resume"] is True
    with pytest.raises(SessionError, match=r"No tool call waits.*sign-in to .*then resume\(\)"):
        view.approve()
    resumed = view.resume()
    view.wait(10)
    assert resumed.status == "done"
    assert sim_turns(sim, view.session_id)[-1].input == []
    assert any(t.server_name == p.servers[0]["name"] for t in resumed.state.tool_calls.values())


# ------------------------------------------------------------------------------------------ two threads


def test_multi_pause_needs_both_decisions_for_one_resume(sim, client, sent):
    view = chat("sim-agent", client=client)
    paused = view.send("handle several things at once")
    view.wait(10)
    pending = view.pending
    assert {p.kind for p in pending} == {"approval", "question"}
    assert len({p.thread_id for p in pending}) == 2
    approval = next(p for p in pending if p.kind == "approval")
    question = next(p for p in pending if p.kind == "question")

    assert view.approve(approval.tool_call_id) is None  # collected, not sent
    assert len(sim_turns(sim, view.session_id)) == 1
    assert paused._actions["decisions"] == {approval.tool_call_id: {"kind": "approval", "status": "allow"}}
    assert paused._actions["enabled"] is True and paused._actions["sent"] is False
    assert view.controls._controls["decided"] == 1
    with pytest.raises(PendingActionsError) as err:
        view.resume()
    assert question.tool_call_id in str(err.value) and question.thread_id in str(err.value)
    assert [p.tool_call_id for p in err.value.pending] == [question.tool_call_id]
    assert len(sim_turns(sim, view.session_id)) == 1

    resumed = view.answer(question.tool_call_id, question.options[0])
    view.wait(10)
    assert resumed.status == "done"
    turns = sim_turns(sim, view.session_id)
    assert len(turns) == 2
    by_call = {i["tool_call_id"]: i for i in turns[1].input}
    assert by_call[approval.tool_call_id]["approval"] == {"status": "allow"}
    assert by_call[question.tool_call_id]["content"] == question.options[0]
    assert by_call[question.tool_call_id]["thread_id"] == question.thread_id


def test_manual_resume_and_changing_a_decision(sim, client, sent):
    view = chat("sim-agent", client=client, auto_resume=False)
    view.send("refund order 5")
    view.wait(10)
    [p] = view.pending
    assert view.approve(p.tool_call_id) is None
    view.clear_decision(p.tool_call_id)
    assert view.pending[0].decision is None
    assert view.deny(p.tool_call_id, "changed my mind") is None
    assert len(sim_turns(sim, view.session_id)) == 1
    resumed = view.resume()
    view.wait(10)
    assert resumed.status == "done"
    assert sim_turns(sim, view.session_id)[-1].input[0]["approval"]["status"] == "deny"


# ------------------------------------------------------------------------------------------ errors


def test_message_while_paused_is_a_clear_error(sim, client, sent):
    view = chat("sim-agent", client=client)
    paused = view.send("refund order 3")
    view.wait(10)
    with pytest.raises(SessionError) as err:
        view.send("never mind, tell me a joke")
    text = str(err.value)
    assert err.value.status is None  # refused before any request, as the Send button refuses it
    assert "paused" in text and "process_refund" in text and "approve()" in text
    assert len(sim_turns(sim, view.session_id)) == 1
    assert view.turns == [paused] and not view.busy
    notices = view.controls._controls["notices"]
    assert notices[-1]["level"] == "error" and "paused" in notices[-1]["text"]
    # the view still works: the pause can be answered
    view.approve()
    view.wait(10)
    assert view.status == "done"


def test_cancel_while_running(client, sent):
    with serve("plain_answer", speed=1) as slow:
        c = GatewayClient(slow.base_url, slow.api_key)
        view = chat("sim-agent", client=c)
        turn = view.send("write a long markdown guide")
        wait_for(lambda: turn.state.message_ids() and turn.status == "streaming")
        assert view.controls._controls["can_cancel"] is True
        assert view.cancel(wait=10) is True
        assert turn.status == "cancelled"
        assert turn.state.status_reason == "client-cancelled"
        sim_turn = slow.turn(turn.turn_id, view.session_id)
        assert sim_turn.state["status"] == "cancelled"
        assert view.controls._controls["can_send"] is True
        c.close()


def test_cancel_of_a_finished_turn_raises(sim, client, sent):
    view = chat("sim-agent", client=client)
    turn = view.send("hello")
    view.wait(10)
    with pytest.raises(SessionError, match="Nothing to cancel"):
        view.cancel()
    assert turn.status == "done"
    assert sim.turn(turn.turn_id, view.session_id).state["status"] == "done"
    assert "Nothing to cancel" in view.notices[-1]["text"]


def test_gateway_errors_become_session_errors(sim, sent):
    bad = GatewayClient(sim.base_url, "not-the-key")
    with pytest.raises(SessionError, match="create a session") as err:
        chat("sim-agent", client=bad)
    assert err.value.status == 401
    with pytest.raises(SessionError, match="load session"):
        chat(session_id="no-such-session", client=GatewayClient(sim.base_url, sim.api_key))
    with pytest.raises(ValueError, match="agent_name"):
        chat(client=bad)
    bad.close()


# ------------------------------------------------------------------------------------------ intents


def test_intents_drive_the_session_and_duplicates_are_ignored(sim, client, sent):
    view = chat("sim-agent", client=client)
    iid = intent(view.controls, action="send", text="refund order 77")
    assert acks(sent, iid) == [{"type": "ack", "id": iid, "ok": True, "error": None}]
    view.wait(10)
    paused = view.latest
    [p] = view.pending

    # the same intent id again: ignored, nothing sent
    intent(view.controls, id=iid, action="send", text="refund order 77")
    assert acks(sent, iid)[-1]["ok"] is False
    assert len(sim_turns(sim, view.session_id)) == 1

    # Approve clicked on the card: the resume turn goes out once, the same id again changes nothing
    a1 = intent(paused, action="approve", call_id=p.tool_call_id)
    intent(paused, id=a1, action="approve", call_id=p.tool_call_id)
    # and a second click with a new id (a double click) finds the turn no longer waiting
    a2 = intent(paused, action="approve", call_id=p.tool_call_id)
    view.wait(10)
    assert [m["ok"] for m in acks(sent, a1)] == [True, False]
    assert acks(sent, a2)[-1]["ok"] is False
    turns = sim_turns(sim, view.session_id)
    assert len(turns) == 2 and turns[1].input[0]["approval"] == {"status": "allow"}
    assert view.status == "done"
    assert view.intents_handled == 2 and view.intents_ignored == 3


def test_send_intents_while_in_flight_or_running_are_ignored(client, sent):
    with serve("plain_answer", speed=1) as slow:
        c = GatewayClient(slow.base_url, slow.api_key)
        view = chat("sim-agent", client=c)
        first = intent(view.controls, action="send", text="hello one")
        second = intent(view.controls, action="send", text="hello two")
        assert acks(sent, first)[-1]["ok"] is True
        assert acks(sent, second)[-1]["ok"] is False
        wait_for(lambda: view.latest.turn_id is not None)
        third = intent(view.controls, action="send", text="hello three")  # the turn runs: ignored too
        assert acks(sent, third)[-1]["ok"] is False
        assert [t.id for t in sim_turns(slow, view.session_id)] == [view.latest.turn_id]
        c3 = intent(view.controls, action="cancel")
        assert acks(sent, c3)[-1]["ok"] is True
        wait_for(lambda: view.status == "cancelled")
        assert slow.turn(view.latest.turn_id, view.session_id).state["reason"] == "client-cancelled"
        c.close()


def test_question_and_deny_intents(sim, client, sent):
    view = chat("sim-agent", client=client)
    view.send("handle several things")
    view.wait(10)
    paused = view.latest
    approval = next(p for p in view.pending if p.kind == "approval")
    question = next(p for p in view.pending if p.kind == "question")
    d = intent(paused, action="deny", call_id=approval.tool_call_id, reason="  not today ")
    assert acks(sent, d)[-1]["ok"] is True
    assert paused._actions["decisions"][approval.tool_call_id] == {
        "kind": "approval", "status": "deny", "reason": "not today"}  # fmt: skip
    empty = intent(paused, action="answer", call_id=question.tool_call_id, text="   ")
    assert acks(sent, empty)[-1]["ok"] is False and "empty" in acks(sent, empty)[-1]["error"]
    assert len(sim_turns(sim, view.session_id)) == 1
    intent(paused, action="answer", call_id=question.tool_call_id, text=question.options[1])
    view.wait(10)
    by_call = {i["tool_call_id"]: i for i in sim_turns(sim, view.session_id)[-1].input}
    assert by_call[approval.tool_call_id]["approval"] == {"status": "deny", "reason": "not today"}
    assert by_call[question.tool_call_id]["content"] == question.options[1]


# ------------------------------------------------------------------------------------------ reopening


def test_reopen_loads_earlier_turns(sim, client, sent):
    view = chat("sim-agent", client=client)
    view.send("good morning")
    view.wait(10)
    view.send("refund order 11")
    view.wait(10)
    view.approve()
    view.wait(10)
    again = chat(session_id=view.session_id, client=client)
    assert [t.turn_id for t in again.turns] == [t.turn_id for t in view.turns]
    assert [t.status for t in again.turns] == ["done", "paused", "done"]
    assert list(again.messages_df["content"]) == list(view.messages_df["content"])
    assert again.pending == []  # the pause was answered by the next turn
    assert again.controls._controls["can_send"] is True
    again.send("thanks")
    again.wait(10)
    assert len(sim_turns(sim, view.session_id)) == 4


def test_reopen_a_paused_session_can_answer_it(sim, client, sent):
    view = chat("sim-agent", client=client)
    view.send("refund order 12")
    view.wait(10)
    again = chat(session_id=view.session_id, client=client)
    [p] = again.pending
    assert p.tool_call_id == view.pending[0].tool_call_id
    again.approve(p.tool_call_id)
    again.wait(10)
    assert again.status == "done" and len(sim_turns(sim, view.session_id)) == 2


def test_reopen_follows_a_running_turn_live(client, sent):
    with serve("plain_answer", speed=1) as slow:
        c = GatewayClient(slow.base_url, slow.api_key)
        view = chat("sim-agent", client=c)
        running = view.send("tell me something")
        again = chat(session_id=view.session_id, client=c)
        assert [t.status for t in again.turns][-1] in ("connecting", "streaming")
        again.wait(15)
        view.wait(15)
        assert again.latest.turn_id == running.turn_id
        assert again.latest.status == "done"
        assert list(again.messages_df["content"]) == list(view.messages_df["content"])
        c.close()


# ------------------------------------------------------------------------------------------ secrets


def test_no_key_in_any_trait_or_message(sim, client, sent):
    view = chat("sim-agent", client=client)
    view.send("handle several things")
    view.wait(10)
    for p in view.pending:
        if p.kind == "approval":
            intent(view.latest, action="approve", call_id=p.tool_call_id)
        else:
            intent(view.latest, action="answer", call_id=p.tool_call_id, text=p.options[0])
    view.wait(10)
    view.send("refund order 5")
    view.wait(10)
    with pytest.raises(SessionError):
        view.send("blocked while paused")  # the gateway's refusal text ends up in a notice
    key = sim.api_key
    widgets = [*view.turns, view.controls]
    states = [{name: getattr(w, name) for name in w.keys} for w in widgets]
    blob = json.dumps(states, default=str) + json.dumps([m for _, m in sent], default=str)
    assert key not in blob and "Bearer" not in blob
    assert key not in repr(view) and key not in json.dumps(view.notices)
    assert len(sent) > 10  # patches and acks were captured
