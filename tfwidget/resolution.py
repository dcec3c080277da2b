"""How a paused turn was answered: one rule for the Python API and every view.

A paused turn is answered by the *next* turn of its session, a resume turn whose input carries a
``user.tool_approval`` or ``user.tool_response`` per pending tool call. This module reads those input
items once and says, per tool call, what a person decided (:func:`resolve`), and how to say it in words
(:func:`input_label`: "Approved process_refund", "Denied process_refund: amount too high",
"Answered: Express"). :class:`~tfwidget.session.SessionView` sends the result to its front end, which shows
it on the paused turn's cards and in the resume turn's user bubble; ``tfwidget.view.input_view`` uses the
same words for a lone resume turn.

>>> from tfwidget.events import InputItem
>>> item = InputItem(type="user.tool_approval", tool_call_id="c1", approval={"status": "deny", "reason": "no"})
>>> input_label(item, "process_refund")
'Denied process_refund: no'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal, TypedDict

from ._content import content_text

__all__ = ["Resolution", "content_text", "input_label", "resolution_of", "resolve"]

Decision = Literal["approved", "denied", "answered"]


class Resolution(TypedDict):
    """What a person decided for one paused tool call."""

    tool_call_id: str
    decision: Decision
    reason: str | None  # a denial's reason
    text: str | None  # an answer's text
    label: str  # the decision in words, e.g. "Denied process_refund: amount too high"


def _field(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, Mapping) else getattr(item, name, None)


def resolution_of(item: Any, tool_name: str | None = None) -> Resolution | None:
    """The decision one input item carries (``None`` for a plain message or an item without a call id).

    ``item`` is an :class:`~tfwidget.events.InputItem` or its JSON form; ``tool_name`` names the call in
    the label (the call id stands in when it is unknown).
    """
    kind = _field(item, "type")
    call_id = _field(item, "tool_call_id")
    if kind not in ("user.tool_approval", "user.tool_response") or not call_id:
        return None
    name = tool_name or str(call_id)
    if kind == "user.tool_approval":
        approval = _field(item, "approval") or {}
        if not isinstance(approval, Mapping):
            approval = {}
        reason = approval.get("reason")
        reason = str(reason).strip() if reason else None
        if approval.get("status") == "allow" or approval.get("approved") is True:  # (older gateways)
            return Resolution(tool_call_id=str(call_id), decision="approved", reason=None, text=None,
                              label=f"Approved {name}")  # fmt: skip
        label = f"Denied {name}" + (f": {reason}" if reason else "")
        return Resolution(tool_call_id=str(call_id), decision="denied", reason=reason, text=None, label=label)
    text = content_text(_field(item, "content"))
    return Resolution(tool_call_id=str(call_id), decision="answered", reason=None, text=text,
                      label=f"Answered: {text}")  # fmt: skip


def input_label(item: Any, tool_name: str | None = None) -> str:
    """What a person did, in words, for one input item of a turn (a message is its own text)."""
    res = resolution_of(item, tool_name)
    if res is not None:
        return res["label"]
    if _field(item, "type") == "user.message":
        return content_text(_field(item, "content"))
    return content_text(_field(item, "content")) or str(_field(item, "type") or "input")


def resolve(
    resume_input: Iterable[Any], tool_names: Mapping[str, str | None] | None = None
) -> dict[str, Resolution]:
    """Per tool call id, the decision a resume turn's input carries.

    ``tool_names`` maps call ids to tool names (from the paused turn) for the labels.
    """
    names = tool_names or {}
    out: dict[str, Resolution] = {}
    for item in resume_input:
        call_id = _field(item, "tool_call_id")
        res = resolution_of(item, names.get(str(call_id)) if call_id else None)
        if res is not None:
            out[res["tool_call_id"]] = res
    return out
