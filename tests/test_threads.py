"""``_threads.Deferred``: one re-armed thread runs a view's flush at the end of each window."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from tfwidget._threads import Deferred


def _wait(cond, timeout: float = 30.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.005)
    return cond()


def test_many_armings_use_one_thread_and_run_in_order() -> None:
    d = Deferred("test-deferred", idle=30.0)
    ran: list[tuple[int, str]] = []
    for k in range(50):
        done = threading.Event()

        def call(k: int = k, done: threading.Event = done) -> None:
            ran.append((k, threading.current_thread().name))
            done.set()

        d.arm(0.001, call)
        assert done.wait(30)
    assert [k for k, _ in ran] == list(range(50))
    assert {name for _, name in ran} == {"test-deferred"}  # one thread, re-armed
    assert sum(1 for t in threading.enumerate() if t.name == "test-deferred") == 1


def test_arming_again_replaces_and_cancel_drops() -> None:
    d = Deferred("test-deferred-replace", idle=30.0)
    ran: list[str] = []
    d.arm(60.0, lambda: ran.append("first"))  # far off: replaced before it is due
    d.arm(0.0, lambda: ran.append("second"))
    assert _wait(lambda: ran == ["second"])
    d.arm(0.05, lambda: ran.append("cancelled"))
    d.cancel()
    marker = threading.Event()
    d.arm(0.2, marker.set)  # runs after the cancelled one would have
    assert marker.wait(30)
    assert ran == ["second"]


def test_an_idle_thread_ends_and_a_later_arming_starts_another() -> None:
    d = Deferred("test-deferred-idle", idle=0.05)
    first = threading.Event()
    d.arm(0.0, first.set)
    assert first.wait(30)
    assert _wait(lambda: not d.alive)  # nothing armed for longer than idle: the thread ended
    second = threading.Event()
    d.arm(0.0, second.set)
    assert second.wait(30)


def test_a_failing_call_is_logged_and_the_thread_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    d = Deferred("test-deferred-fail", idle=30.0)

    def boom() -> None:
        raise RuntimeError("flush failed")

    with caplog.at_level(logging.ERROR, logger="tfwidget"):
        d.arm(0.0, boom)
        after = threading.Event()
        assert _wait(lambda: any("test-deferred-fail" in r.getMessage() for r in caplog.records))
        d.arm(0.0, after.set)
        assert after.wait(30)
    assert any(r.exc_info and "flush failed" in str(r.exc_info[1]) for r in caplog.records)


def test_the_armed_call_is_not_run_early() -> None:
    d = Deferred("test-deferred-early", idle=30.0)
    at: list[float] = []
    start = time.monotonic()
    d.arm(0.2, lambda: at.append(time.monotonic()))
    assert _wait(lambda: bool(at))
    assert at[0] - start >= 0.2  # late is possible on a busy machine, early never
