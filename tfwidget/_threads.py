"""Background threads that can reach the front end in every host.

In Jupyter any thread may send widget messages. In marimo only threads that carry marimo's runtime
context can (``marimo.Thread``): a plain ``threading.Thread`` there updates nothing until the next cell
runs, so a streaming view would freeze. :func:`new_thread` (and so :class:`Deferred`) picks ``marimo.Thread``
when called from a marimo cell or from such a thread, and the standard class otherwise.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

logger = logging.getLogger("tfwidget")


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


class Deferred:
    """Calls a function at a chosen moment on a thread of its own that is re-armed, not re-made: a view that
    flushes every window would otherwise start a timer thread per window, and starting one
    waits for it to run (about a millisecond on a busy machine). The thread comes from :func:`new_thread`
    at the first :meth:`arm` (so in marimo it carries the arming thread's context) and ends after ``idle``
    seconds with nothing armed; the next :meth:`arm` starts another. At most one call is pending: arming
    again replaces it. An exception in the call is logged (the thread goes on)."""

    def __init__(self, name: str, idle: float = 5.0) -> None:
        self._cond = threading.Condition()
        self._due: float | None = None
        self._fn: Callable[[], Any] | None = None
        self._thread: threading.Thread | None = None
        self._name = name
        self._idle = idle

    def arm(self, delay: float, fn: Callable[[], Any]) -> None:
        """Call ``fn`` in ``delay`` seconds (instead of whatever was armed)."""
        with self._cond:
            self._due = time.monotonic() + delay
            self._fn = fn
            if self._thread is None:
                self._thread = new_thread(self._run, self._name)
                self._thread.start()
            else:
                self._cond.notify()

    def cancel(self) -> None:
        """Call nothing (what was armed is dropped)."""
        with self._cond:
            self._due = self._fn = None
            self._cond.notify()

    @property
    def alive(self) -> bool:
        """Whether the thread runs (it ends when idle)."""
        with self._cond:
            return self._thread is not None

    def _run(self) -> None:
        cond = self._cond
        while True:
            with cond:
                while True:
                    due = self._due
                    if due is None:
                        if not cond.wait(self._idle) and self._due is None:
                            self._thread = None  # idle: the next arm() starts another thread
                            return
                        continue
                    left = due - time.monotonic()
                    if left <= 0:
                        break
                    cond.wait(left)
                fn = self._fn
                self._due = self._fn = None
            if fn is not None:
                try:
                    fn()
                except Exception:  # never silently: the thread goes on for the next call
                    logger.exception("a deferred call of %s failed", self._name)
