"""Browser: one streamed turn rendered in JupyterLab + headless chromium, TurnView vs the naive widget.

Uses the browser test harness (``tests/browser/conftest.py``): a scratch JupyterLab on 127.0.0.1 and the
system chromium through Playwright. For each widget a notebook displays it and starts a feeder thread in the
kernel that waits for a go-file, then delivers the turn at ``rate`` events per second. Before the go-file
is written the page gets ``PerformanceObserver``s for long tasks and long animation frames, a
``requestAnimationFrame`` gap monitor and a stall monitor (a worker thread's 5 ms timer: when it fires over
25 ms late, nothing of the page could run, the machine was busy elsewhere). Measured in the page: time from go
until the widget shows the whole turn, the longest frame (largest gap between animation frames), the longest
frame less the machine's stalls within it (the target), long tasks, and the final DOM node count inside the
widget. The stall monitor is checked on a page busy with its own work (its frames must not pass for stalls).
Long tasks in the 3 s after the turn (the host takes in the refreshed saved transcript) are compared with the
same turn whose saved transcript is only its text.
"""

from __future__ import annotations

import contextlib
import secrets
import statistics
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks._common import check, not_run, result
from benchmarks._streams import large_turn_events

TITLE = "Browser: rendering one streamed turn in JupyterLab + chromium"

#: How long (s) after the turn is shown its long tasks are recorded, apart from the streaming window: at the
#: turn's end the kernel refreshes the static transcript kept for a saved notebook, and the host parses it.
AFTER_TURN_S = 3.0

MONITOR_JS = """
() => {
  const m = (window.__tfwBench = { longtasks: [], loafs: [], gaps: [], start: performance.now(), stop: false });
  for (const [type, list] of [["longtask", m.longtasks], ["long-animation-frame", m.loafs]]) {
    try {
      const obs = new PerformanceObserver((entries) => {
        for (const e of entries.getEntries()) list.push([e.startTime, e.duration]);
      });
      obs.observe({ type, buffered: false });
      (m.observers = m.observers || []).push(obs);
    } catch (err) {
      if (type === "longtask") m.longtaskError = String(err);
    }
  }
  // A heartbeat on a worker thread, which the page's own work (scripts, style, layout, garbage collection)
  // never blocks: when its 5 ms timer fires late, nothing of the page could run either (the machine was
  // busy elsewhere). Those intervals are recorded in epoch milliseconds.
  const src = "let last = performance.now(); const stalls = [];" +
    "setInterval(() => { const t = performance.now(); if (t - last > 25) stalls.push([performance.timeOrigin + last + 5, performance.timeOrigin + t]); last = t; }, 5);" +
    "onmessage = () => postMessage(stalls);";
  try {
    m.worker = new Worker(URL.createObjectURL(new Blob([src], { type: "text/javascript" })));
  } catch (err) {
    m.workerError = String(err);
  }
  let last = null;
  const tick = (t) => {
    if (last !== null) m.gaps.push([t, t - last]);
    last = t;
    if (!m.stop) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  return m.start;
}
"""

COLLECT_JS = """
async ([until, after]) => {
  const m = window.__tfwBench;
  m.stop = true;
  for (const o of m.observers || []) o.disconnect();
  let stalls = [];
  if (m.worker) {
    stalls = await new Promise((resolve) => {
      const t = setTimeout(() => resolve(null), 5000);
      m.worker.onmessage = (e) => { clearTimeout(t); resolve(e.data); };
      m.worker.postMessage("stalls");
    });
    m.worker.terminate();
  }
  // the worker's epoch times on the page's clock
  const machine = (stalls || []).map(([a, b]) => [a - performance.timeOrigin, b - performance.timeOrigin]);
  const stalledIn = (lo, hi) => machine.reduce((sum, [a, b]) => sum + Math.max(0, Math.min(b, hi) - Math.max(a, lo)), 0);
  // The window ends with the tick after `until`: a frame's gap is recorded at the next frame's tick, so the
  // frame in which the whole turn was first seen (its render, style, layout and paint) is counted too.
  const next = m.gaps.find(([t]) => t > until);
  const last = next ? next[0] : until;
  const inWindow = (t) => t >= m.start && t <= last;
  const inside = m.gaps.filter(([t]) => inWindow(t));
  const gaps = inside.map(([, g]) => g);
  // a frame's own time: its gap less the part of it in which the machine ran nothing of the page
  const own = inside.map(([t, g]) => [t, g, g - stalledIn(t - g, t)]);
  const slow = inside.filter(([, g]) => g > 50).map(([t, g]) => [(t - m.start) / 1000, g]);
  const slowOwn = own.filter(([, , o]) => o > 50).map(([t, , o]) => [(t - m.start) / 1000, o]);
  const tasks = m.longtasks.filter(([t]) => inWindow(t)).map(([, d]) => d);
  // after the turn is shown: what the page does once streaming is over (the host shows the saved transcript)
  const afterTasks = m.longtasks.filter(([t]) => t > last && t <= after).map(([, d]) => d);
  const loafs = m.loafs.filter(([t]) => inWindow(t)).map(([, d]) => d);
  const stallsIn = machine.filter(([a, b]) => b >= m.start && a <= until).map(([a, b]) => b - a);
  return {
    frames: gaps.length,
    longest_frame_ms: gaps.length ? Math.max(...gaps) : null,
    frames_over_50ms: slow.length,
    slow_frames_at: slow.slice(0, 10),
    longest_own_frame_ms: own.length ? Math.max(...own.map(([, , o]) => o)) : null,
    own_frames_over_50ms: slowOwn.length,
    slow_own_frames_at: slowOwn.slice(0, 10),
    stall_ms_in_frames: own.reduce((sum, [, g, o]) => sum + (g - o), 0),
    frame_ms_total: gaps.reduce((a, b) => a + b, 0),
    machine_stalls: stalls === null ? null : stallsIn.length,
    longest_machine_stall_ms: stallsIn.length ? Math.max(...stallsIn) : 0,
    long_animation_frames: loafs.length,
    longest_animation_frame_ms: loafs.length ? Math.max(...loafs) : 0,
    long_tasks: tasks.length,
    longest_task_ms: tasks.length ? Math.max(...tasks) : 0,
    long_task_total_ms: tasks.reduce((a, b) => a + b, 0),
    after_turn_long_tasks: afterTasks.length,
    after_turn_longest_task_ms: afterTasks.length ? Math.max(...afterTasks) : 0,
    longtask_error: m.longtaskError || null,
    worker_error: m.workerError || (stalls === null ? "the stall monitor's worker did not answer" : null),
  };
}
"""

FEED_CELL = """
import os, threading, time
from benchmarks._streams import large_turn_events, to_sse
{imports}
events = large_turn_events({n_deltas})
{prepare}
w = {make}

def _feed():
    while not os.path.exists({flag!r}):
        time.sleep(0.01)
    t0 = time.perf_counter()
    for i, x in enumerate(stream):
        delay = t0 + i / {rate!r} - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        {feed}
    with open({flag!r} + ".fed", "w") as f:
        f.write(str(time.perf_counter() - t0))

threading.Thread(target=_feed, daemon=True).start()
w
"""

VARIANTS: dict[str, dict[str, str]] = {
    "tfwidget TurnView": {
        "imports": "from tfwidget import TurnView, iter_sse",
        "prepare": "stream = list(iter_sse(to_sse(events)))",
        "make": "TurnView()",
        "feed": "w.feed(x)",
        "root": ".tfw-root",
        "done_js": "(sel) => { const r = document.querySelector(sel); return r && r.dataset.status === 'done' "
        "? performance.now() : false; }",
    },
    # the after-turn baseline: the same widget and turn, its saved transcript only the text in paragraphs
    "tfwidget TurnView, plain saved transcript": {
        "imports": "from tfwidget import iter_sse\nfrom benchmarks._naive import plain_transcript_view",
        "prepare": "stream = list(iter_sse(to_sse(events)))",
        "make": "plain_transcript_view()",
        "feed": "w.feed(x)",
        "root": ".tfw-root",
        "done_js": "(sel) => { const r = document.querySelector(sel); return r && r.dataset.status === 'done' "
        "? performance.now() : false; }",
    },
    "naive anywidget (re-renders the list)": {
        "imports": "from benchmarks._naive import NaiveEventsWidget",
        "prepare": "stream = events",
        "make": "NaiveEventsWidget()",
        "feed": "w.append(x)",
        "root": ".naive-root",
        "done_js": "([sel, n]) => { const r = document.querySelector(sel); return r && "
        "r.querySelectorAll('.naive-ev').length >= n ? performance.now() : false; }",
    },
}


@contextlib.contextmanager
def jupyter_lab() -> Iterator[Any]:
    """Start the harness's scratch JupyterLab (the same server as the ``jupyter_server`` fixture)."""
    from tests.browser.conftest import start_jupyter_lab

    with tempfile.TemporaryDirectory(prefix="tfw-bench-lab-") as tmp:
        home, root = Path(tmp, "home"), Path(tmp, "root")
        home.mkdir()
        root.mkdir()
        with start_jupyter_lab(home, root) as server:
            yield server


def _run_variant(browser: Any, server: Any, name: str, spec: dict[str, str], *, n_deltas: int, rate: float,
                 n_events: int, cap_s: float) -> dict[str, Any]:  # fmt: skip
    from tests.browser.conftest import Lab

    slug = "turnview" if "TurnView" in name else "naive"
    flag = f"go-{slug}-{secrets.token_hex(4)}.flag"
    source = FEED_CELL.format(n_deltas=n_deltas, rate=rate, flag=flag,
                              **{k: spec[k] for k in ("imports", "prepare", "make", "feed")})  # fmt: skip
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    lab = Lab(server=server, context=context, page=page, test_name=f"bench-{slug}")
    page.on("console", lab._on_console)
    page.on("pageerror", lab._on_page_error)
    try:
        lab.run_notebook([source], f"bench_{slug}")
        lab.wait_output(spec["root"], timeout=120_000, state="attached")
        lab.wait_cells_done(timeout=120_000)
        page.wait_for_timeout(500)  # let the first render settle
        start = page.evaluate(MONITOR_JS)
        (server.root_dir / flag).write_text("go")
        sel = lab.out(spec["root"])
        arg = sel if slug == "turnview" else [sel, n_events]
        finished = True
        try:
            # checked at every animation frame: the window ends with the frame that shows the whole turn
            handle = page.wait_for_function(spec["done_js"], arg=arg, polling="raf", timeout=cap_s * 1000)
            end = float(handle.json_value())
        except Exception:  # Playwright's TimeoutError: the page did not show the whole turn in time
            finished = False
            end = float(
                page.evaluate(
                    "() => performance.now()",
                )
                if not page.is_closed()
                else start
            )
        if finished:  # what the page does right after the turn, reported apart
            page.wait_for_timeout(AFTER_TURN_S * 1000)
        stats = page.evaluate(COLLECT_JS, [end, end + (AFTER_TURN_S * 1000 if finished else 0)])
        nodes = page.evaluate("(sel) => { const r = document.querySelector(sel); "
                              "return r ? r.querySelectorAll('*').length + 1 : 0; }", sel)  # fmt: skip
        # the saved transcript the page holds once the turn is over (its markup, as the host parsed it)
        saved = page.evaluate("(sel) => { const r = document.querySelector(sel); return r ? r.outerHTML.length : 0; }",
                              lab.out(".tfws-static"))  # fmt: skip
        rows = None
        if slug == "naive":
            rows = page.evaluate("(sel) => { const r = document.querySelector(sel); "
                                 "return r ? r.querySelectorAll('.naive-ev').length : 0; }", sel)  # fmt: skip
        fed = server.root_dir / (flag + ".fed")
        return {
            "finished": finished,
            "render_s": (end - start) / 1000,
            "kernel_feed_s": float(fed.read_text()) if fed.exists() else None,
            "dom_nodes": nodes,
            "saved_transcript_chars": saved,
            "rows_rendered": rows,
            "page_errors": len(lab.page_errors),
            **stats,
        }
    finally:
        context.close()
        server.shutdown_kernels()


BUSY_PAGE_JS = """
async () => {
  const keep = [];
  const box = document.createElement("div");
  document.body.appendChild(box);
  for (let round = 0; round < 40; round++) {
    const t = performance.now();
    while (performance.now() - t < 45) {
      const a = [];
      for (let i = 0; i < 20000; i++) a.push({ i, s: "x" + i, pair: [i, i + 1] });
      keep.push(a);
      if (keep.length > 30) keep.shift();
      box.innerHTML = ("<p>" + "word ".repeat(3000) + "</p>").repeat(20);
      void box.offsetHeight;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  return performance.now();
}
"""


def _instrument_check(browser: Any) -> dict[str, Any]:
    """The stall monitor on a page kept busy by its own work for about 2 s (allocation, garbage collection,
    markup, layout in 45 ms tasks): the part of its frames taken for machine stalls is the instrument's error
    (it should be none: the page's work must not pass for the machine's)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.set_content("<!doctype html><title>busy</title>")
        page.evaluate(MONITOR_JS)
        page.wait_for_timeout(300)
        end = float(page.evaluate(BUSY_PAGE_JS))
        return dict(page.evaluate(COLLECT_JS, [end, end]))
    finally:
        context.close()


def _combine(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Several runs of one widget: median render time, worst frame and task, totals of slow frames."""
    if len(runs) == 1:
        return {**runs[0], "runs": 1}
    last = runs[-1]
    return {
        **last,
        "runs": len(runs),
        "finished": all(r["finished"] for r in runs),
        "render_s": statistics.median(r["render_s"] for r in runs),
        "frames": sum(r["frames"] for r in runs),
        "longest_frame_ms": max(r["longest_frame_ms"] or 0 for r in runs),
        "longest_frame_ms_per_run": [r["longest_frame_ms"] for r in runs],
        "frames_over_50ms": sum(r["frames_over_50ms"] for r in runs),
        "slow_frames_at": [f for r in runs for f in r["slow_frames_at"]][:10],
        "longest_own_frame_ms": max(r["longest_own_frame_ms"] or 0 for r in runs),
        "longest_own_frame_ms_per_run": [r["longest_own_frame_ms"] for r in runs],
        "own_frames_over_50ms": sum(r["own_frames_over_50ms"] for r in runs),
        "slow_own_frames_at": [f for r in runs for f in r["slow_own_frames_at"]][:10],
        "machine_stalls": None
        if any(r["machine_stalls"] is None for r in runs)
        else sum(r["machine_stalls"] for r in runs),
        "longest_machine_stall_ms": max(r["longest_machine_stall_ms"] for r in runs),
        "stall_ms_in_frames": sum(r["stall_ms_in_frames"] for r in runs),
        "frame_ms_total": sum(r["frame_ms_total"] for r in runs),
        "worker_error": next((r["worker_error"] for r in runs if r["worker_error"]), None),
        "long_animation_frames": sum(r["long_animation_frames"] for r in runs),
        "longest_animation_frame_ms": max(r["longest_animation_frame_ms"] for r in runs),
        "long_tasks": sum(r["long_tasks"] for r in runs),
        "longest_task_ms": max(r["longest_task_ms"] for r in runs),
        "long_task_total_ms": sum(r["long_task_total_ms"] for r in runs),
        "after_turn_long_tasks": sum(r["after_turn_long_tasks"] for r in runs),
        "after_turn_longest_task_ms": max(r["after_turn_longest_task_ms"] for r in runs),
        "page_errors": sum(r["page_errors"] for r in runs),
    }


def _slow_frames_text(r: dict[str, Any], own: bool = True) -> str:
    """Where the frames over 50 ms fell (seconds after the feed started), for the report."""
    key, count = (
        ("slow_own_frames_at", "own_frames_over_50ms") if own else ("slow_frames_at", "frames_over_50ms")
    )
    at = ", ".join(f"{g:.0f} ms at {t:.1f} s" for t, g in r.get(key) or [])
    what = "frames took over 50 ms less the machine's stalls" if own else "frames took over 50 ms as measured"
    return (
        f"{r[count]} of {r['frames']:,} {what} ({at}); {r['long_tasks']} long task(s), longest "
        f"{r['longest_task_ms']:.0f} ms; {r['long_animation_frames']} long animation frame(s), longest "
        f"{r['longest_animation_frame_ms']:.0f} ms; machine stalls seen by the worker: {r['machine_stalls']}, "
        f"longest {r['longest_machine_stall_ms']:.0f} ms."
    )


def bench(quick: bool = False) -> dict[str, Any]:
    """Benchmark 4 as a suite record; "not run" with the reason when the browser cannot be driven."""
    from tests.browser.conftest import CHROMIUM_ARGS, chromium_path

    n_deltas, rate = (300, 1000.0) if quick else (10_000, 1000.0)
    cap_s = 30.0 if quick else 60.0
    turnview_runs = 1 if quick else 3
    n_events = len(large_turn_events(n_deltas))
    params: dict[str, Any] = {"deltas": n_deltas, "events": n_events, "rate_per_s": rate,
              "simulated_duration_s": n_events / rate, "cap_s": cap_s, "turnview_runs": turnview_runs}  # fmt: skip
    exe = chromium_path()
    if exe is None:
        return not_run("browser", TITLE, "not run: chromium is not installed", params)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return not_run("browser", TITLE, "not run: the playwright package is not installed", params)

    res: dict[str, dict[str, Any]] = {}
    long_sizes = (600, 1_200) if quick else (50_000, 100_000)
    params["long_turns_deltas"] = ", ".join(f"{n:,}" for n in long_sizes)
    with jupyter_lab() as server, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=True)
        try:
            for name, spec in VARIANTS.items():
                if "plain saved" in name:
                    continue
                runs = turnview_runs if "TurnView" in name else 1  # the naive widget runs into the cap
                each = [_run_variant(browser, server, name, spec, n_deltas=n_deltas, rate=rate,
                                     n_events=n_events, cap_s=cap_s) for _ in range(runs)]  # fmt: skip
                res[name] = _combine(each)
        finally:
            browser.close()
        # long turns, TurnView alone (the naive widget cannot keep up with them): every frame within budget
        long_runs: dict[int, dict[str, Any]] = {}
        browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=True)
        try:
            for n in long_sizes:
                n_ev = len(large_turn_events(n))
                long_runs[n] = _run_variant(browser, server, "tfwidget TurnView", VARIANTS["tfwidget TurnView"],
                                            n_deltas=n, rate=rate, n_events=n_ev, cap_s=n_ev / rate + 60.0)  # fmt: skip
            # the after-turn baseline: the same turn with only its text in the saved transcript
            name = "tfwidget TurnView, plain saved transcript"
            plain = {}
            for n in (n_deltas, *long_sizes):
                n_ev = len(large_turn_events(n))
                # as many runs as ours at each size: the worst of each is compared
                plain[n] = _combine([_run_variant(browser, server, name, VARIANTS[name], n_deltas=n, rate=rate,
                                                  n_events=n_ev, cap_s=n_ev / rate + 60.0)
                                     for _ in range(turnview_runs if n == n_deltas else 1)])  # fmt: skip
            calibration = _instrument_check(browser)
        finally:
            browser.close()
    rows = [{"implementation": k, **v} for k, v in res.items()]
    rows += [{"implementation": f"tfwidget TurnView, {n:,} deltas", **r} for n, r in long_runs.items()]
    rows += [
        {"implementation": f"tfwidget TurnView, plain saved transcript, {n:,} deltas", **r}
        for n, r in plain.items()
    ]
    ours, naive = res["tfwidget TurnView"], res["naive anywidget (re-renders the list)"]
    notes = [f"{n_events:,} events delivered from a kernel thread at {rate:,.0f} events/s "
             f"({n_events / rate:.1f} s); render_s runs from the start of the feed until the page shows the "
             "whole turn (TurnView: status done; naive: every row). Frames are gaps between "
             "requestAnimationFrame callbacks in that window, which ends with the frame that shows the whole "
             "turn (checked at every frame) and the frame's own gap; long tasks come from PerformanceObserver, and those of the "
             f"{AFTER_TURN_S:.0f} s after it are reported apart. "
             f"TurnView runs {turnview_runs} time(s): median render time, the worst frame and task of all "
             "runs, slow frames and long tasks summed over the runs."]  # fmt: skip
    if not naive["finished"]:
        notes.append(f"The naive widget had not rendered the whole turn after {cap_s:.0f} s "
                     f"({naive['rows_rendered']:,} of {n_events:,} rows): its numbers cover the capped "
                     "window, its render time is a lower bound.")  # fmt: skip
    if ours.get("longest_frame_ms_per_run"):
        per = ", ".join(f"{x:.1f}" for x in ours["longest_frame_ms_per_run"])
        per_own = ", ".join(f"{x:.1f}" for x in ours["longest_own_frame_ms_per_run"])
        notes.append(
            f"TurnView's longest frame per run (ms): {per} as measured; {per_own} less machine stalls."
        )
    notes.append("Machine stalls: a worker thread of the page runs a 5 ms timer; the page's own work (scripts, "
                 "style, layout, paint, garbage collection) runs on the main thread and never delays it, so "
                 "when it fires late (over 25 ms) nothing of the page could run: the time is the machine's "
                 "(other processes, the virtual machine's scheduling). A frame's own time leaves that part of "
                 "its gap out; the raw gaps are reported beside it. Long animation frames "
                 "(PerformanceObserver 'long-animation-frame') are frames whose main-thread work took over "
                 "50 ms.")  # fmt: skip
    notes.append("After the turn, the baseline is the same widget streaming the same turn in a fresh page, "
                 "its saved transcript only the text (a paragraph per message, hidden the same way): the "
                 "least any output that keeps the turn's text costs the host. Its longest task after the turn: "
                 + ", ".join(f"{plain[n]['after_turn_longest_task_ms']:.0f} ms at {n:,} deltas" for n in plain)
                 + " (0: none over 50 ms).")  # fmt: skip
    for r in [ours, *long_runs.values(), calibration]:
        if r["worker_error"]:
            notes.append(
                f"Stall monitor unavailable in a run: {r['worker_error']} (no stall was subtracted)."
            )
            break
    if ours["longtask_error"]:
        notes.append(f"PerformanceObserver longtask unavailable: {ours['longtask_error']}")
    own_note = ("a frame's time is its gap between animation frames less the part of it in which a worker "
                "thread of the page could not run either (the machine ran nothing of the page); ratio = 50 ms / "
                "that time")  # fmt: skip
    checks = [
        check("longest frame while streaming, TurnView (target: none over 50 ms)", ours["longest_own_frame_ms"],
              50.0, target=1.0, higher_is_better=False, unit="ms", target_text="<= 50 ms",
              note=own_note, miss=_slow_frames_text(ours)),
        check("longest frame as measured, machine stalls included, TurnView", ours["longest_frame_ms"], 50.0,
              target=None, higher_is_better=False, unit="ms", note="informational: the raw longest gap",
              miss=_slow_frames_text(ours, own=False)),
        *[check(f"longest frame while streaming, {n:,} deltas at {rate:,.0f}/s (none over 50 ms)",
                r["longest_own_frame_ms"] if r["finished"] else float("inf"), 50.0, target=1.0, higher_is_better=False,
                unit="ms", target_text="<= 50 ms", note=own_note,
                miss=_slow_frames_text(r) + ("" if r["finished"] else " The page did not show the whole turn."))
          for n, r in long_runs.items()],
        *[check(f"longest frame as measured, machine stalls included, {n:,} deltas", r["longest_frame_ms"], 50.0,
                target=None, higher_is_better=False, unit="ms", note="informational: the raw longest gap",
                miss=_slow_frames_text(r, own=False))
          for n, r in long_runs.items()],
        *[check(f"longest long task, {n:,} deltas (none over 50 ms)", r["longest_task_ms"], 50.0,
                target=1.0, higher_is_better=False, unit="ms", target_text="<= 50 ms",
                note=f"{r['long_tasks']} long task(s) in the window (a long task is over 50 ms by definition)",
                miss=_slow_frames_text(r))
          for n, r in long_runs.items()],
        *[check(f"after the turn, {n:,} deltas: longest task (the host takes in the refreshed saved transcript)",
                # a run that did not show the whole turn (ours or the baseline's) has no after-turn window
                r["after_turn_longest_task_ms"] if r["finished"] and plain[n]["finished"] else float("inf"),
                max(50.0, 1.2 * plain[n]["after_turn_longest_task_ms"]),
                target=1.0, higher_is_better=False, unit="ms",
                target_text="<= 50 ms, or <= 1.2x the text alone",
                note=f"{r['after_turn_long_tasks']} long task(s) in the {AFTER_TURN_S:.0f} s after the frame that "
                     "shows the whole turn (0 ms: none over 50 ms). At the turn's end the kernel refreshes the "
                     "static transcript (the output a saved notebook keeps); JupyterLab renders it and its table "
                     "of contents sanitizes it to look for headings. Baseline: the same turn whose saved "
                     f"transcript is only its text: {plain[n]['after_turn_long_tasks']} long task(s), longest "
                     f"{plain[n]['after_turn_longest_task_ms']:.0f} ms",
                miss="the host's work on our saved transcript at the turn's end exceeds what it does for the "
                     "turn's text alone" if r["finished"] and plain[n]["finished"]
                     else "a run did not show the whole turn: there is no after-turn window to measure")
          for n, r in [(n_deltas, ours), *long_runs.items()]],
        check("instrument: a page busy with its own work, its frames' time vs the part taken for machine stalls",
              # a monitor whose worker did not answer has not been checked: the row fails
              calibration["stall_ms_in_frames"] if not calibration["worker_error"] else float("inf"),
              calibration["frame_ms_total"], target=20.0,
              higher_is_better=False, unit="ms", target_text="<= 5 % of it",
              note=f"{calibration['frames']} frames, the longest {calibration['longest_frame_ms'] or 0:.0f} ms "
                   f"as measured and {calibration['longest_own_frame_ms'] or 0:.0f} ms less machine stalls; "
                   f"{calibration['machine_stalls']} stall(s) seen: the page's own work must not pass for the "
                   "machine's",
              miss="the stall monitor took the page's own work for the machine's: the frame rows above "
                   "cannot be trusted"),
        check("render time vs naive", ours["render_s"], naive["render_s"], target=None,
              higher_is_better=False, unit="s"),
        check("longest frame vs naive", ours["longest_frame_ms"], naive["longest_frame_ms"], target=None,
              higher_is_better=False, unit="ms"),
        check("DOM nodes vs naive", ours["dom_nodes"], naive["dom_nodes"], target=None,
              higher_is_better=False, unit="nodes"),
    ]  # fmt: skip
    return result("browser", TITLE, params=params, rows=rows, checks=checks, notes=notes)
