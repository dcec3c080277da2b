"""Background threads that can reach the front end in every host.

In Jupyter any thread may send widget messages. In marimo only threads that carry marimo's runtime
context can (``marimo.Thread``): a plain ``threading.Thread`` there updates nothing until the next cell
runs, so a streaming view would freeze. :func:`new_thread` and :func:`new_timer` pick ``marimo.Thread``
when called from a marimo cell or from such a thread, and the standard classes otherwise.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any


def thread_class() -> type[threading.Thread]:
    """``marimo.Thread`` inside a marimo runtime context, else ``threading.Thread``."""
    if "marimo" not in sys.modules:
        return threading.Thread
    try:
        import marimo
        from marimo._runtime.context.types import runtime_context_installed

        if runtime_context_installed():
            return marimo.Thread
    except Exception:  # pragma: no cover - another marimo layout: plain threads still work in Jupyter
        pass
    return threading.Thread


def new_thread(target: Callable[..., Any], name: str, args: tuple[Any, ...] = ()) -> threading.Thread:
    """A daemon thread (not started) running ``target(*args)``."""
    return thread_class()(target=target, args=args, name=name, daemon=True)


class _Timer:
    """``threading.Timer``'s interface (start, cancel) on a :func:`new_thread` thread."""

    def __init__(self, delay: float, fn: Callable[[], Any]) -> None:
        self._cancelled = threading.Event()
        self._delay = delay
        self._fn = fn
        self.daemon = True
        self._thread = new_thread(self._run, "tfwidget-timer")

    def _run(self) -> None:
        if not self._cancelled.wait(self._delay):
            self._fn()

    def start(self) -> None:
        self._thread.start()

    def cancel(self) -> None:
        self._cancelled.set()


def new_timer(delay: float, fn: Callable[[], Any]) -> Any:
    """A timer (not started) calling ``fn`` after ``delay`` seconds unless cancelled."""
    if thread_class() is threading.Thread:
        timer = threading.Timer(delay, fn)
        timer.daemon = True
        return timer
    return _Timer(delay, fn)
