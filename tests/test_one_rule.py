"""One rule each: the text of content, and what a resume turn decided for a paused tool call."""

from __future__ import annotations

import pytest

import tfwidget
from tfwidget.events import ContentPart
from tfwidget.resolution import content_text, input_label, resolve
from tfwidget.state import TurnState
from tfwidget.timing import decisions

PARTS = [
    {"type": "text", "text": "Express"},
    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
    {"type": "text", "text": " shipping"},
]


def test_content_text_reads_dicts_models_and_strings_alike() -> None:
    models = [ContentPart.model_validate(p) for p in PARTS]
    assert content_text(PARTS) == content_text(models) == "Express shipping"
    assert content_text(["a", {"type": "text", "text": "b"}], " ") == "a b"
    assert content_text(None) == "" and content_text("as is") == "as is" and content_text(3) == "3"


def _resume_turn(inputs: list[dict]) -> TurnState:
    st = TurnState()
    st.apply(
        tfwidget.StreamItem(
            1,
            tfwidget.parse_event(
                {"type": "turn.created", "id": "r0", "turn_id": "t-resume", "input": inputs}
            ),
            1000.0,
        )
    )
    return st


@pytest.mark.parametrize(
    ("item", "decision", "detail", "label"),
    [
        ({"type": "user.tool_approval", "approval": {"status": "allow"}}, "approved", None, "Approved c1"),
        ({"type": "user.tool_approval", "approval": {"approved": True}}, "approved", None, "Approved c1"),
        (
            {"type": "user.tool_approval", "approval": {"status": "deny", "reason": " too much "}},
            "denied",
            "too much",
            "Denied c1: too much",
        ),
        ({"type": "user.tool_response", "content": PARTS}, "answered", "Express shipping", None),
    ],
)
def test_timing_and_views_resolve_a_pause_the_same_way(item, decision, detail, label) -> None:
    st = _resume_turn([{**item, "tool_call_id": "c1"}])
    [res] = resolve(st.input).values()
    [dec] = decisions(st).values()
    assert res["decision"] == dec.kind == decision
    assert (res["reason"] or res["text"]) == dec.detail == detail
    assert input_label(st.input[0]) == (label or f"Answered: {detail}")
