"""Keep a session's transcript readable without a kernel: its static output and how it is refreshed.

:class:`~tfwidget.session.SessionView` calls :func:`display_session` from ``_ipython_display_`` and
:func:`refresh_session_static` whenever its state changed; everything else lives in
:mod:`tfwidget.static_html`. The session object only needs ``turns`` (TurnViews, oldest first),
``session_id``, ``agent_name``, ``status``, ``notices``, ``model_id`` and, optionally, the decisions
(turn id -> tool call id -> decision) as ``_state.decisions``.
"""

from __future__ import annotations

from typing import Any

from .static_html import render_session_html, static_output_html
from .widget import display_pair

__all__ = ["display_session", "refresh_session_static", "session_static_bundle", "session_static_html"]


def session_static_html(session: Any) -> str:
    """The static transcript of ``session``: every turn with its decisions (see
    :func:`tfwidget.static_html.render_session_html`)."""
    state = getattr(session, "_state", None)
    decisions = getattr(state, "decisions", None) or getattr(session, "_decisions", None) or {}
    return render_session_html(
        [view.snapshot() for view in session.turns],
        session_id=getattr(session, "session_id", None),
        agent_name=getattr(session, "agent_name", None),
        status=getattr(session, "status", None),
        decisions=decisions,
        notices=getattr(session, "notices", ()) or (),
    )


def session_static_bundle(session: Any) -> dict[str, Any]:
    """The ``text/html`` output shown before the live session view (the static transcript and the rules
    that hide it once the live view renders)."""
    return {"text/html": static_output_html(session_static_html(session))}


_bundle = session_static_bundle


def display_session(session: Any) -> None:
    """Display the session's static transcript, then the live session view right after it."""
    if not isinstance(getattr(session, "_display_handles", None), list):
        session._display_handles = []
    session._static_last = None
    display_pair(session, _bundle(session))


def refresh_session_static(session: Any) -> None:
    """Re-render the static output of every display of ``session`` (no-op when it was never displayed or
    nothing shown changed)."""
    handles = getattr(session, "_display_handles", None)
    if not handles:
        return
    bundle = _bundle(session)
    if bundle == getattr(session, "_static_last", None):
        return
    session._static_last = bundle
    for handle in handles:
        try:
            handle.update(bundle, raw=True)
        except Exception:
            pass
