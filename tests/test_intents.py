"""Intents from the page are checked against the contract (tfwidget.contracts.Intent) before anything happens.

A malformed intent (a value of the wrong type, a missing or unknown key, a string past its bound) gets an
error ack naming the field, and nothing else: no action, no notice, and its id is not used up.
"""

from __future__ import annotations

from typing import Any

import pytest

from tfwidget._session_intents import MAX_ID_CHARS, MAX_TEXT_CHARS, IntentDispatcher, invalid_intent
from tfwidget.client import GatewayClient
from tfwidget.contracts import INTENT_ACTIONS
from tfwidget.session import chat
from tfwidget.sim import serve


class Source:
    """Stands in for the widget an intent came from: keeps what is sent back."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def _send_msg(self, content: dict[str, Any], buffers: Any = None) -> None:
        self.sent.append(content)


def dispatcher() -> tuple[IntentDispatcher, list[tuple[Any, dict[str, Any]]], list[str]]:
    acted: list[tuple[Any, dict[str, Any]]] = []
    notices: list[str] = []

    def act(source: Any, action: Any, content: dict[str, Any]) -> tuple[bool, str | None]:
        acted.append((action, content))
        return True, None

    return IntentDispatcher(act, notices.append), acted, notices


def ok(**fields: Any) -> dict[str, Any]:
    return {"type": "intent", "id": "i-1", "action": "send", "text": "hello", **fields}


MALFORMED: list[tuple[str, Any, str]] = [
    # (case, content, the field the error names)
    ("id not a string", ok(id=5), "id"),
    ("id missing", {k: v for k, v in ok().items() if k != "id"}, "id"),
    ("action missing", {k: v for k, v in ok().items() if k != "action"}, "action"),
    ("action unknown", ok(action="format_disk"), "action"),
    ("action not a string", ok(action=["send"]), "action"),
    ("type wrong", ok(type="ack"), "type"),
    ("type missing", {k: v for k, v in ok().items() if k != "type"}, "type"),
    ("text a list", ok(text=["hello"]), "text"),
    ("text a number", ok(text=42), "text"),
    ("text a bool", ok(text=True), "text"),
    ("call_id a dict", ok(action="approve", call_id={"id": "c1"}), "call_id"),
    ("reason a number", ok(action="deny", reason=3), "reason"),
    ("turn a number", ok(turn=3), "turn"),
    ("an unknown key", ok(junk="x"), "junk"),
    ("an unknown nested value", ok(extra={"deep": [1, 2, 3]}), "extra"),
    ("huge text", ok(text="x" * (MAX_TEXT_CHARS + 1)), "text"),
    ("huge reason", ok(action="deny", reason="r" * (MAX_TEXT_CHARS + 1)), "reason"),
    ("huge id", ok(id="i" * (MAX_ID_CHARS + 1)), "id"),
    ("huge call_id", ok(action="approve", call_id="c" * 100_000), "call_id"),
    ("huge turn", ok(turn="t" * (MAX_ID_CHARS + 1)), "turn"),
]


@pytest.mark.parametrize(("case", "content", "field"), MALFORMED, ids=[c[0] for c in MALFORMED])
def test_a_malformed_intent_gets_an_error_ack_naming_the_field_and_nothing_else(
    case: str, content: Any, field: str
) -> None:
    d, acted, notices = dispatcher()
    source = Source()
    d.handle(source, content)
    assert acted == [] and notices == []
    [ack] = source.sent
    assert ack["type"] == "ack" and ack["ok"] is False
    assert ack["error"].startswith(f"invalid intent: {field}:"), ack["error"]
    assert len(ack["error"]) < 300  # says what is wrong without echoing the value
    iid = content.get("id")
    assert ack["id"] == (iid if isinstance(iid, str) and len(iid) <= MAX_ID_CHARS else "")
    assert (d.handled, d.ignored) == (0, 1)
    # the id is not used up: the same id, well-formed, acts
    d.handle(source, ok())
    assert len(acted) == 1 and source.sent[-1] == {"type": "ack", "id": "i-1", "ok": True, "error": None}


def test_an_unknown_key_of_any_length_is_named_briefly() -> None:
    why = invalid_intent({**ok(), "k" * 50_000: 1})
    assert why is not None and why.startswith("k") and len(why) < 200


@pytest.mark.parametrize("content", [None, "intent", 7, ["intent"], b"{}"])
def test_a_message_that_is_not_an_object_is_refused(content: Any) -> None:
    d, acted, _ = dispatcher()
    source = Source()
    d.handle(source, content)
    assert acted == []
    [ack] = source.sent
    assert ack == {"type": "ack", "id": "", "ok": False, "error": ack["error"]}
    assert ack["error"].startswith("invalid intent: intent:")


def test_every_error_is_counted_in_the_message() -> None:
    why = invalid_intent({"type": "intent", "id": 1, "action": "x", "junk": 2})
    assert why is not None and why.startswith("id:") and why.endswith("(and 2 more)")


@pytest.mark.parametrize("action", INTENT_ACTIONS)
def test_the_intents_the_page_sends_are_valid(action: str) -> None:
    # as js/src/actions.js and session.js send them: a deny's reason and a pause's call id may be null
    assert invalid_intent({"type": "intent", "id": "5f0c", "action": action}) is None
    assert (
        invalid_intent({"type": "intent", "id": "5f0c", "action": action, "call_id": None, "reason": None})
        is None
    )
    full = {
        "type": "intent",
        "id": "5f0c",
        "action": action,
        "turn": "t1",
        "call_id": "c1",
        "reason": "no",
        "text": "x",
    }
    assert invalid_intent(full) is None
    assert invalid_intent({**full, "text": "y" * MAX_TEXT_CHARS, "id": "i" * MAX_ID_CHARS}) is None


def test_a_malformed_intent_reaches_no_gateway(monkeypatch: pytest.MonkeyPatch) -> None:
    from tfwidget.session import SessionView

    acks: list[dict[str, Any]] = []
    monkeypatch.setattr(
        SessionView,
        "_send_msg",
        lambda self, content, buffers=None: acks.append(content) if content.get("type") == "ack" else None,
        raising=False,
    )
    with serve("plain_answer", speed=0) as sim:
        client = GatewayClient(sim.base_url, sim.api_key)
        view = chat("sim-agent", client=client)
        before = sum(len(s.turns) for s in sim._sessions.values())
        bad = [
            {"type": "intent", "id": "a", "action": "send", "text": ["hello"]},
            {"type": "intent", "id": "b", "action": "send", "text": "hello", "model": "other"},
            {"type": "intent", "id": "c", "action": "send", "text": "h" * (MAX_TEXT_CHARS + 1)},
            {"type": "intent", "id": "d", "action": "cancel", "reason": 1},
        ]
        for content in bad:
            view._handle_custom_msg(content, [])
        assert [(a["id"], a["ok"]) for a in acks] == [("a", False), ("b", False), ("c", False), ("d", False)]
        assert [a["error"].split(":")[1].strip() for a in acks] == ["text", "model", "text", "reason"]
        assert view.turns == [] and view.notices == [] and view.intents_handled == 0
        assert sum(len(s.turns) for s in sim._sessions.values()) == before  # the gateway heard of nothing
        view.close()
        client.close()
