"""Make a silent stream visible: a followed view says "no events for 2 min, still connected; last event
14:02:11" while its subscription is idle (connected, but no event for a while), and "reconnecting in 40 s"
during a long wait before a reconnect, instead of a frozen "streaming"."""

from __future__ import annotations

import threading
import time
from typing import Any

__all__ = ["idle_text", "show_idle"]


def idle_text(idle_seconds: float, last_event_at: float | None) -> str:
    """``"no events for 2 min, still connected; last event 14:02:11"`` (local time)."""
    secs = int(idle_seconds)
    span = f"{secs} s" if secs < 90 else f"{round(secs / 60)} min" if secs < 5400 else f"{secs / 3600:.1f} h"
    if last_event_at is None:
        return f"no events yet for {span}, still connected"
    return f"no events for {span}, still connected; last event {time.strftime('%H:%M:%S', time.localtime(last_event_at))}"


def show_idle(view: Any, stream: Any, every: float = 1.0) -> threading.Thread | None:
    """While ``view`` follows ``stream`` (a subscription with ``state``, ``idle_seconds`` and
    ``last_event_at``), show its idle time in the view's status detail; clear it once events flow again."""
    if not hasattr(stream, "state"):
        return None

    def run() -> None:
        shown: str | None = None
        while not view._stopped.wait(every) and not view._finished.is_set():
            state = stream.state
            if state in ("done", "closed"):
                return
            wait = getattr(stream, "next_attempt_in", None)
            if state == "reconnecting" and isinstance(wait, (int, float)) and wait >= 2:
                # a long wait (backoff, or a server's retry: / Retry-After) is shown, not hidden behind "streaming"
                text = f"connection lost; reconnecting in {int(wait)} s"
                if text != shown:
                    shown = text
                    view._set_connection("reconnecting", text)
                continue
            if state == "idle":
                text = idle_text(stream.idle_seconds, stream.last_event_at)
                if text != shown and view._conn_status in (None, "streaming", "connecting"):
                    shown = text
                    view._set_connection(view._conn_status, text)
            elif shown is not None:
                with view._lock:
                    if view._detail == shown:
                        view._detail = None
                        if view._conn_status == "reconnecting" and state == "streaming":
                            view._conn_status = None
                shown = None
                view._request_flush(urgent=True)

    thread = threading.Thread(target=run, name="tfwidget-idle", daemon=True)
    thread.start()
    return thread
