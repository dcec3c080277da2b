"""What a :class:`~tfwidget.session.SessionView` shows besides its turns' own views: per turn, the action
state of its pause cards and how its pauses were resolved; under the turns, the controls (message box,
Send / Cancel / Resume, notices). Pure functions of the :class:`~tfwidget._session_state.SessionState`."""

from __future__ import annotations

from typing import Any

from ._session_state import Run, SessionState
from .contracts import LIVE_STATUSES, TurnActions
from .resolution import input_label, resolve


def _tool_names(run: Run) -> dict[str, str | None]:
    return {cid: info.name for cid, info in run.view.state.tool_calls.items()}


def turn_entries(state: SessionState) -> list[dict[str, Any]]:
    """One entry per turn: ``key``, ``turn_id`` and ``actions`` (what the turn's front end reads as its
    ``_actions``: ``enabled``, ``busy``, ``decisions``, ``sent``, ``resolutions``, ``input_labels``,
    ``resolved``)."""
    with state.lock:
        runs = list(state.runs)
        paused = state.paused_run()
        busy = state.busy
        out = []
        for i, run in enumerate(runs):
            tid = run.view.turn_id or ""
            # copies: the state changes its dicts in place, a trait must never share them
            decisions = {cid: dict(d) for cid, d in state.decisions.get(tid, {}).items()}
            actions: TurnActions
            if run is paused:
                actions = {"enabled": True, "busy": busy is not None, "decisions": decisions, "sent": False}
            elif tid in state.resumed or decisions:
                actions = {
                    "enabled": False,
                    "busy": False,
                    "decisions": decisions,
                    "sent": tid in state.resumed,
                }
            else:
                actions = {}
            # a paused turn answered by the next turn: what was decided, call by call
            nxt = runs[i + 1] if i + 1 < len(runs) else None
            if run.view.status == "paused" and nxt is not None and nxt.view.state.created is not None:
                resolutions = resolve(nxt.view.state.input, _tool_names(run))
                if resolutions:
                    actions["resolutions"] = dict(resolutions)
                    actions["resolved"] = True
            # a resume turn: its input in words, with the paused turn's tool names
            if i > 0 and run.view.state.created is not None:
                items = run.view.state.input
                if any(item.type != "user.message" for item in items):
                    names = _tool_names(runs[i - 1])
                    actions["input_labels"] = [
                        input_label(item, names.get(item.tool_call_id or "")) for item in items
                    ]
            out.append({"key": run.key, "turn_id": run.view.turn_id, "actions": actions})
        return out


def controls(
    state: SessionState, session_id: str, agent_name: str | None, notices: list[dict[str, str]]
) -> dict[str, Any]:
    """The controls' state: session, status, what may be clicked, what the turn waits on, notices."""
    with state.lock:
        runs = list(state.runs)
        paused = state.paused_run()
        pending = state.pending()
        busy = state.busy
        status = state.status()
        waiting = [p for p in pending if p.kind == "mcp_auth" or p.decision is None]
        return {
            "session_id": session_id,
            "agent_name": agent_name,
            "status": status,
            "turns": len(runs),
            "busy": busy,
            "closed": state.closed,
            "can_send": state.why_not_send() is None,
            "can_cancel": not state.closed and busy != "cancel" and status in LIVE_STATUSES,
            "can_resume": busy is None
            and not state.closed
            and paused is not None
            and bool(pending)
            and all(p.kind == "mcp_auth" or p.decision is not None for p in pending),
            "pending": [p.describe() for p in waiting],
            "decided": sum(1 for p in pending if p.decision is not None),
            "notices": [dict(n) for n in notices],
        }
