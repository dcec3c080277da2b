"""Smoke tests for the benchmark suite: ``python -m benchmarks --quick`` runs and writes its files.

Nothing here asserts a timing: the suite's numbers are measurements to read, not pass/fail criteria.
The tests check that each benchmark ran, produced the keys the report needs, and that the comm-level
capture the widget benchmarks rely on really counts what a widget sends.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from benchmarks._common import check, recording_comms

ROOT = Path(__file__).resolve().parent.parent
FAST = ["ingest", "network", "fold", "widget_traffic", "frames", "notebook_size", "concat"]

RECORD_KEYS = {"name", "title", "status", "params", "rows", "checks", "notes"}
CHECK_KEYS = {"what", "ours", "baseline", "unit", "ratio", "target", "target_text", "met", "note", "miss"}
ROW_KEYS: dict[str, set[str]] = {
    "ingest": {"implementation", "events_per_s", "seconds", "peak_mib"},
    "widget_traffic": {"implementation", "messages", "bytes", "cpu_s", "wall_s"},
    "frames": {"implementation", "seconds", "peak_mib", "rows", "columns"},
    "fold": {"implementation", "seconds", "us_per_delta"},
    "notebook_size": {
        "implementation",
        "ipynb_bytes",
        "widget_state_bytes",
        "widget_state_without_code_bytes",
    },
    "browser": {"implementation", "finished", "render_s", "longest_frame_ms", "long_tasks", "dom_nodes"},
}
PARAM_KEYS: dict[str, set[str]] = {
    "ingest": {"deltas", "events", "runs"},
    "widget_traffic": {"deltas", "events", "rate_per_s", "simulated_duration_s"},
    "frames": {"items", "runs"},
    "concat": {"turns", "deltas_per_turn", "lines", "runs"},
    "notebook_size": {"deltas", "events"},
    "browser": {"deltas", "events", "rate_per_s", "simulated_duration_s"},
}


def run_suite(out: Path, only: list[str], timeout: float) -> dict[str, Any]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    cmd = [sys.executable, "-m", "benchmarks", "--quick", "--out", str(out), "--only", ",".join(only)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert (out / "RESULTS.md").is_file()
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert data["quick"] is True
    assert list(data["benchmarks"]) == only
    return data


def assert_record(name: str, rec: dict[str, Any]) -> None:
    assert RECORD_KEYS <= set(rec), rec.keys()
    assert rec["name"] == name
    if name == "network" and rec["status"] == "not run":
        assert rec["notes"] == ["not run: bench_client.py missing"]
        assert rec["rows"] == [] and rec["checks"] == []
        return
    assert rec["status"] == "ok", rec["notes"]
    assert PARAM_KEYS.get(name, set()) <= set(rec["params"])
    assert rec["rows"] and rec["checks"]
    for row in rec["rows"]:
        assert ROW_KEYS.get(name, {"implementation"}) <= set(row), (name, row.keys())
    for c in rec["checks"]:
        assert CHECK_KEYS <= set(c), c.keys()
        assert c["met"] in (True, False, None)
        if c["ours"] is not None and c["baseline"] is not None:
            assert c["ratio"] is not None and c["ratio"] > 0


def test_quick_suite_writes_results(tmp_path: Path) -> None:
    data = run_suite(tmp_path, FAST, timeout=240)
    machine = data["machine"]
    assert machine["cores"] and machine["cpu"] and machine["python"] and machine["date"]
    assert machine["packages"]["pandas"]
    for name in FAST:
        assert_record(name, data["benchmarks"][name])

    traffic = {r["implementation"]: r for r in data["benchmarks"]["widget_traffic"]["rows"]}
    naive = traffic["naive anywidget (List trait reassigned)"]
    events = data["benchmarks"]["widget_traffic"]["params"]["events"]
    assert naive["messages"] >= events  # one state update per event, plus comm_open/close

    md = (tmp_path / "RESULTS.md").read_text(encoding="utf-8")
    assert "## Machine" in md and "## Targets" in md
    for name in FAST:
        assert data["benchmarks"][name]["title"] in md
        assert f"`--only {name}`" in md


def test_only_rejects_unknown_names(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--only", "nope", "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "unknown benchmark 'nope'" in proc.stderr
    assert not (tmp_path / "results.json").exists()


def test_network_placeholder_when_bench_client_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    from benchmarks import network

    monkeypatch.setitem(sys.modules, "benchmarks.bench_client", None)
    rec = network.bench(quick=True)
    assert rec["status"] == "not run"
    assert rec["notes"] == ["not run: bench_client.py missing"]
    assert rec["rows"] == [] and rec["checks"] == []


def test_check_ratio_directions() -> None:
    faster = check("x", 200.0, 100.0, target=1.5, unit="events/s")
    assert faster["ratio"] == 2.0 and faster["met"] is True and faster["miss"] == ""
    fewer = check("m", 10, 1000, target=20, higher_is_better=False, miss="why")
    assert fewer["ratio"] == 100.0 and fewer["met"] is True and fewer["miss"] == ""
    missed = check("m", 100, 1000, target=20, higher_is_better=False, miss="why")
    assert missed["met"] is False and missed["miss"] == "why"
    strict = check("s", 100.0, 100.0, target=1.0, strict=True)
    assert strict["met"] is False and strict["target_text"] == "> 1x"
    info = check("i", 1.0, 2.0, target=None)
    assert info["met"] is None and info["target_text"] == "-"


def test_recording_comms_counts_widget_traffic() -> None:
    import anywidget
    import traitlets

    class Counter(anywidget.AnyWidget):
        _esm = "export default { render() {} };"
        value = traitlets.Int(0).tag(sync=True)

    with recording_comms() as rec:
        w = Counter()  # opens its own comm and one for its Layout
        assert rec.by_type == {"comm_open": 2}
        comm_id = w.comm.comm_id
        opened = rec.by_comm[comm_id][1]
        for i in range(1, 6):
            w.value = i
        w.send({"type": "ping", "payload": "x" * 1000})
        assert rec.by_type["comm_msg"] == 6
        assert rec.by_comm[comm_id][0] == 7
        assert rec.by_comm[comm_id][1] - opened > 1000
        w.close()
        assert rec.by_type["comm_close"] == 1
        assert rec.by_comm[comm_id][0] == 8
        assert rec.messages == 9


@pytest.mark.browser
def test_browser_benchmark_quick(tmp_path: Path) -> None:
    from tests.browser.conftest import chromium_path

    if chromium_path() is None:
        if os.environ.get("TFW_REQUIRE_BROWSER"):
            pytest.fail("chromium is not installed but TFW_REQUIRE_BROWSER is set")
        pytest.skip("chromium is not installed")
    data = run_suite(tmp_path, ["browser"], timeout=300)
    rec = data["benchmarks"]["browser"]
    assert_record("browser", rec)
    rows = {r["implementation"]: r for r in rec["rows"]}
    assert rows["tfwidget TurnView"]["finished"] is True
    assert rows["tfwidget TurnView"]["dom_nodes"] > 0
    assert rows["naive anywidget (re-renders the list)"]["rows_rendered"] > 0
    # the stall monitor ran in every run (its worker answered); its arithmetic: test_bench_monitor_browser.py
    for row in rec["rows"]:
        assert row["machine_stalls"] is not None and row["worker_error"] is None, row
    # the instrument's own check (a page busy with its own work) is a target row, measured in the run
    [instrument] = [c for c in rec["checks"] if c["what"].startswith("instrument:")]
    assert instrument["target"] == 20.0 and instrument["met"] in (True, False)
    assert instrument["baseline"] > 0
    # its worker answered: a worker that did not would make the row fail (its value is infinite)
    assert instrument["ours"] != float("inf")
    assert not [n for n in rec["notes"] if "Stall monitor unavailable" in n]
    # after the turn: a target per size, against the same turn whose saved transcript is only its text
    after = [c for c in rec["checks"] if c["what"].startswith("after the turn")]
    assert len(after) == 3 and all(c["target"] == 1.0 and c["met"] is not None for c in after), after
    assert all(c["ours"] != float("inf") for c in after), after  # every run showed the whole turn
    plain = {r["implementation"].rsplit(", ", 1)[1]: r for r in rec["rows"]
             if r["implementation"].startswith("tfwidget TurnView, plain saved")}  # fmt: skip
    assert len(plain) == 3 and all(r["finished"] for r in plain.values()), plain
    # each baseline page held the text-only transcript: smaller than ours of the same turn, never empty
    ours = {"300 deltas": rows["tfwidget TurnView"]} | {
        r["implementation"].rsplit(", ", 1)[1]: r for r in rec["rows"]
        if r["implementation"].startswith("tfwidget TurnView, ") and "plain" not in r["implementation"]
    }  # fmt: skip
    for size, r in plain.items():
        assert 0 < r["saved_transcript_chars"] < ours[size]["saved_transcript_chars"], (size, r, ours[size])
