"""Loading a session's history for :class:`~tfwidget.session.SessionView`: its finished turns (from the
session's events) and its newest turn, which may still run (and is then not in the events yet)."""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import GatewayError
from .sse import StreamItem

if TYPE_CHECKING:
    from .client import GatewayClient


@dataclass
class History:
    """A session's finished turns as stream items (oldest turn first) and the id of a turn to follow."""

    turns: OrderedDict[str, list[StreamItem]]
    follow: str | None  # the newest turn, when it is not among ``turns`` (still running)


def load_history(
    client: GatewayClient, session_id: str, latest_hint: dict[str, Any] | None = None
) -> History:
    """Read the session's events, grouped by turn, and find a newest turn that still runs.

    Raises the client's :class:`~tfwidget.errors.GatewayError` when the events cannot be listed.
    """
    events = client.list_session_events(session_id)
    groups: OrderedDict[str, list[StreamItem]] = OrderedDict()
    now = time.time()
    for entry in reversed(events):  # the API lists newest first
        groups.setdefault(entry.turn_id, []).append(StreamItem(None, entry.event, now))
    newest = latest_hint or newest_turn(client, session_id)
    follow = None
    if newest is not None and newest.get("id") not in groups:
        follow = str(newest["id"])
    return History(groups, follow)


def newest_turn(client: GatewayClient, session_id: str) -> dict[str, Any] | None:
    """The session's newest turn (``None`` when it has none or the listing fails)."""
    try:
        data = client.list_turns(session_id, limit=1)
    except GatewayError:
        return None
    if isinstance(data, list) and data and isinstance(data[0], dict) and data[0].get("id"):
        return data[0]
    return None
