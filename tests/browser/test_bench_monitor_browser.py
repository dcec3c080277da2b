"""The browser benchmark's frame monitor (``benchmarks/browser.py``), on made-up frames in a real page.

The monitor's summary (``COLLECT_JS``) takes each frame's gap less the part of it inside a machine stall (a
time the stall monitor's worker thread could not run either). Here the gaps and the worker's stalls are
given, so the arithmetic is checked exactly, including the two clocks (the worker reports epoch times).
"""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.browser import COLLECT_JS, MONITOR_JS

pytestmark = pytest.mark.browser

GIVEN = """([gaps, stalls]) => {
  const m = window.__tfwBench;
  m.gaps = gaps;
  m.longtasks = [];
  m.loafs = [];
  m.start = 1000;
  // the worker's answer, in epoch milliseconds as a worker reports them
  m.worker = {
    postMessage() { setTimeout(() => this.onmessage({ data: stalls.map(([a, b]) => [a + performance.timeOrigin, b + performance.timeOrigin]) })); },
    terminate() {},
  };
}"""


def test_a_frame_counts_its_gap_less_the_machine_stalls_in_it(offline_page: Any) -> None:
    page = offline_page
    page.set_content("<!doctype html><title>monitor</title>")
    page.evaluate(MONITOR_JS)
    page.evaluate("() => window.__tfwBench.worker.terminate()")  # the real worker: replaced below
    gaps = [
        [1100, 60.0],  # [1040, 1100]: 40 ms of it in the stall [1050, 1090] -> 20 ms of its own
        [1200, 16.7],  # no stall
        [1300, 70.0],  # [1230, 1300]: 20 ms in the stall [1280, 1400] -> 50 ms, not over 50
        [1400, 100.0],  # [1300, 1400]: all of it in that stall -> 0
        [1500, 55.0],  # [1445, 1500]: no stall -> 55 ms, over 50
        [1620, 20.0],  # the tick after the end (1600): the frame in which the turn was seen, counted
        [5000, 80.0],  # after the window
    ]
    stalls = [[1050, 1090], [1280, 1400], [9000, 9100]]
    page.evaluate(GIVEN, [gaps, stalls])
    r = page.evaluate(COLLECT_JS, [1600])
    assert r["frames"] == 6
    assert r["longest_frame_ms"] == 100.0
    assert r["frames_over_50ms"] == 4
    assert r["longest_own_frame_ms"] == pytest.approx(55.0)
    assert r["own_frames_over_50ms"] == 1
    assert [t for t, _ in r["slow_own_frames_at"]] == [pytest.approx(0.5)]
    assert r["stall_ms_in_frames"] == pytest.approx(40 + 20 + 100)
    assert r["frame_ms_total"] == pytest.approx(60 + 16.7 + 70 + 100 + 55 + 20)
    assert r["machine_stalls"] == 2  # the third is outside the window
    assert r["longest_machine_stall_ms"] == pytest.approx(120)
    assert r["worker_error"] is None


def test_a_monitor_whose_worker_never_answers_subtracts_nothing(offline_page: Any) -> None:
    page = offline_page
    page.set_content("<!doctype html><title>monitor</title>")
    page.evaluate(MONITOR_JS)
    page.evaluate("() => { const m = window.__tfwBench; m.worker.terminate(); m.gaps = [[1100, 60]]; m.start = 1000;"
                  " m.worker = { postMessage() {}, terminate() {} }; }")  # fmt: skip
    r = page.evaluate(COLLECT_JS, [1600])
    assert r["longest_own_frame_ms"] == r["longest_frame_ms"] == 60
    assert r["machine_stalls"] is None and r["worker_error"]
