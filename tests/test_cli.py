"""The ``tfwidget`` command, run as a subprocess against the simulated gateway on 127.0.0.1."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import httpx
import pytest

import tfwidget
from tfwidget import cli
from tfwidget.sim import Faults, serve
from tfwidget.state import TurnState

ROOT = Path(__file__).resolve().parent.parent
SUB_AGENTS = ROOT / "tfwidget" / "sim" / "data" / "sub_agents.sse"
APPROVAL = ROOT / "tfwidget" / "sim" / "data" / "approval_pause.sse"


def env(**extra: str) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith(("TFY_", "GATEWAY_"))}
    e["PYTHONPATH"] = str(ROOT) + (os.pathsep + e["PYTHONPATH"] if e.get("PYTHONPATH") else "")
    e.update(extra)
    return e


def run(*args: str, timeout: float = 60, **extra_env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tfwidget.cli", *args],
        env=env(**extra_env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("tfwidget: error:")]
    assert len(errors) == 1, proc.stderr
    return errors[0]


# ------------------------------------------------------------------------------------------ help


def test_help_lists_every_command() -> None:
    proc = run("--help")
    assert proc.returncode == 0
    for name in ("demo", "sim", "record", "show", "bench"):
        assert re.search(rf"^\s+{name}\s", proc.stdout, re.M), name
    assert "TFY_GATEWAY_URL" in proc.stdout


@pytest.mark.parametrize("sub", ["demo", "record", "show", "bench"])
def test_each_command_has_help(sub: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main([sub, "--help"])
    assert exc.value.code == 0
    assert f"usage: tfwidget {sub}" in capsys.readouterr().out


def test_no_command_and_bad_arguments_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    proc = run()
    assert proc.returncode == 2 and "usage: tfwidget" in proc.stdout
    with pytest.raises(SystemExit) as exc:
        cli.main(["record", "only-a-session"])
    assert exc.value.code == 2 and "required" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["--version"])
    assert capsys.readouterr().out.strip() == f"tfwidget {tfwidget.__version__}"


# ------------------------------------------------------------------------------------------ record


def _created(event: dict[str, object]) -> float | None:
    value = event.get("created_at")
    if not isinstance(value, str):
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def test_record_jsonl_matches_the_served_turn(tmp_path: Path) -> None:
    out = tmp_path / "rec" / "turn.jsonl"
    with serve("sub_agents", speed=1) as sim:
        proc = run("record", sim.session_id, sim.turn_id, "-o", str(out), **sim.env())
        served = sim.events()
    assert proc.returncode == 0, proc.stderr
    items = tfwidget.load(out)
    assert [it.sequence_number for it in items] == list(range(1, len(served) + 1))
    assert [it.event.id for it in items] == [e["id"] for e in served]
    state = TurnState.from_items(items)
    assert state.status == "done" and len(state.threads) == 3
    # receive times are the recorder's own clock readings, taken as each event arrived: never before the
    # simulator made the event (its created_at, same machine clock, millisecond precision), in order, and not
    # the events' own timestamps. (How far apart they fall depends on when the command got going, which a
    # loaded machine decides: a command that starts after the turn ended receives it in one burst.)
    received = [it.received_at for it in items]
    assert received == sorted(received)
    created = [_created(e) for e in served]
    made = [(r, c) for r, c in zip(received, created, strict=True) if c is not None]
    assert len(made) >= 5  # text deltas carry no created_at
    assert all(r >= c - 0.002 for r, c in made), [(r, c) for r, c in made if r < c - 0.002][:3]
    assert any(abs(r - c) > 1e-6 for r, c in made)
    assert f"wrote {out}: {len(served)} events, turn status done" in proc.stdout
    assert re.search(rf"events {len(served)} · messages 4 · \d+\.\d s", proc.stderr), proc.stderr


def test_record_sse_after_a_cursor(tmp_path: Path) -> None:
    out = tmp_path / "tail.sse"
    with serve("approval_pause", speed=0) as sim:
        sim.wait(timeout=10)
        total = len(sim.events())
        proc = run("record", sim.session_id, sim.turn_id, "-o", str(out), "--after", "5", **sim.env())
    assert proc.returncode == 0, proc.stderr
    items = tfwidget.load(out)
    assert [it.sequence_number for it in items] == list(range(6, total + 1))
    assert out.read_text().startswith("id: 6\n")
    assert "turn status paused" in proc.stdout


def test_record_resumes_across_dropped_connections(tmp_path: Path) -> None:
    out = tmp_path / "turn.jsonl"
    with serve("sub_agents", speed=0, faults=Faults(drop_after_events=7)) as sim:
        proc = run("record", sim.session_id, sim.turn_id, "-o", str(out), **sim.env())
        served = TurnState.from_items(tfwidget.load(SUB_AGENTS))
        drops = sim.fault_stats["drops"]
    assert proc.returncode == 0, proc.stderr
    assert drops >= 1
    # the first 7 events came live; the rest after the drop (the resumed stream, or the turn's event list once
    # the live stream is gone): the recorded turn folds to the same result as the full stream
    items = tfwidget.load(out)
    assert [it.sequence_number for it in items[:7]] == list(range(1, 8))
    got = TurnState.from_items(items)
    assert got.status == "done"
    assert [got.message_text(m) for m in got.message_ids()] == [
        served.message_text(m) for m in served.message_ids()
    ]
    assert got.totals() == served.totals()


def test_record_errors_are_one_line(tmp_path: Path) -> None:
    out = tmp_path / "x.jsonl"
    with serve("plain_answer", speed=0) as sim:
        good = sim.env()
        bad_key = run("record", sim.session_id, sim.turn_id, "-o", str(out),
                      TFY_GATEWAY_URL=good["TFY_GATEWAY_URL"], TFY_API_KEY="not-the-key")  # fmt: skip
        missing = run("record", sim.session_id, "no-such-turn", "-o", str(out), **good)
    assert bad_key.returncode == 1
    line = one_line_error(bad_key)
    assert "401" in line and "TFY_API_KEY" in line and "not-the-key" not in bad_key.stderr
    assert missing.returncode == 1 and "404" in one_line_error(missing)
    assert not out.exists()

    unconfigured = run("record", "s", "t", "-o", str(out))
    assert unconfigured.returncode == 2 and "TFY_GATEWAY_URL" in one_line_error(unconfigured)
    wrong_suffix = run("record", "s", "t", "-o", str(tmp_path / "x.txt"), **good)
    assert wrong_suffix.returncode == 2 and ".jsonl" in one_line_error(wrong_suffix)


# ------------------------------------------------------------------------------------------ show


def test_show_summarizes_a_recording() -> None:
    proc = run("show", str(SUB_AGENTS), "--width", "200")
    assert proc.returncode == 0, proc.stderr
    state = TurnState.from_items(tfwidget.load(SUB_AGENTS))
    out = proc.stdout
    assert out.splitlines()[0] == f"turn {state.turn_id}: done"
    assert "Compare Qdrant and Milvus licensing" in out  # the user's input
    for mid in state.message_ids():
        text = state.message_text(mid)[0]
        assert " ".join(text.split()) in out
    assert out.count("create_sub_agent: completed") == 2
    assert "th-qdrant-01 qdrant-research (done, parent main" in out
    t = state.totals()
    assert f"{t['input_tokens']:,} in · {t['output_tokens']:,} out" in out
    assert f"cost ${t['cost_usd']:.4f}" in out
    assert "anomalies: 0" in out


def test_show_a_paused_turn_truncates_and_lists_what_it_waits_for() -> None:
    proc = run("show", str(APPROVAL), "--width", "20")
    assert proc.returncode == 0
    assert ": paused" in proc.stdout.splitlines()[0]
    assert "approval of process_refund (call_refund_1)" in proc.stdout
    assert "process_refund (orders-api): awaiting_approval" in proc.stdout
    msgs = proc.stdout.split("messages:\n")[1].split("tools:")[0].splitlines()
    assert any("…" in line and len(line) < 60 for line in msgs)


def test_show_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "recs"
    folder.mkdir()
    for src in (SUB_AGENTS, APPROVAL):
        (folder / src.name).write_bytes(src.read_bytes())
    proc = run("show", str(folder))
    assert proc.returncode == 0
    assert proc.stdout.count("\nturn ") + proc.stdout.startswith("turn ") == 2
    assert "source: approval_pause" in proc.stdout and "source: sub_agents" in proc.stdout


def test_show_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = run("show", str(tmp_path / "nope.jsonl"))
    assert missing.returncode == 1 and "nope.jsonl" in one_line_error(missing)
    (tmp_path / "notes.txt").write_text("hello")
    assert cli.main(["show", str(tmp_path / "notes.txt")]) == 1
    assert "tfwidget: error: unknown recording type '.txt'" in capsys.readouterr().err
    (tmp_path / "broken.jsonl").write_text("{not json\n")
    assert cli.main(["show", str(tmp_path / "broken.jsonl")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("tfwidget: error: broken.jsonl, line 1") and err.count("\n") == 1


# ------------------------------------------------------------------------------------------ sim, bench


def test_sim_subcommand_serves_a_gateway() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tfwidget.cli", "sim", "--scenario", "plain_answer", "--speed", "0",
         "--duration", "20"],
        env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        lines: dict[str, str] = {}
        deadline = time.monotonic() + 20
        while "turn id" not in lines and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if ":" in line:
                k, _, v = line.partition(":")
                lines[k.strip()] = v.strip()
        base, key = lines["base URL"], lines["API key"]
        assert base.startswith("http://127.0.0.1:")
        r = httpx.get(
            f"{base}/v1/agents/sessions/{lines['session id']}/turns/{lines['turn id']}",
            headers={"Authorization": f"Bearer {key}"},
        )
        assert r.status_code == 200 and r.json()["data"]["id"] == lines["turn id"]
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0


def test_bench_is_not_a_command_of_an_installed_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Outside a source checkout (a wheel or sdist install) the CLI has no ``bench`` command at all."""
    monkeypatch.setattr(cli, "_CHECKOUT", tmp_path)
    assert "bench" not in cli.build_parser().format_help()
    with pytest.raises(SystemExit) as exc:
        cli.main(["bench"])
    assert exc.value.code == 2
    assert "invalid choice: 'bench'" in capsys.readouterr().err


def test_show_html_writes_a_static_page(tmp_path: Path) -> None:
    out = tmp_path / "pages" / "sub_agents.html"
    proc = run("show", str(SUB_AGENTS), "--html", str(out))
    assert proc.returncode == 0, proc.stderr
    page = out.read_text(encoding="utf-8")
    assert "<script" not in page.lower()
    assert "<strong>Apache-2.0</strong>" in page
    assert page.count('class="tfws-thread"') == 2
    assert "<svg" in page


# ------------------------------------------------------------------------------------------ demo


def test_demo_execute_writes_the_executed_quickstart(tmp_path: Path) -> None:
    out = tmp_path / "out" / "quickstart.html"
    proc = run("demo", "--execute", str(out), timeout=240, HOME=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"wrote {out}" in proc.stdout
    page = out.read_text(encoding="utf-8")
    assert "managed cloud is proprietary" in page  # the sub-agents turn's final answer, as a transcript
    assert 'class="jp-RenderedImage' in page or "image/png" in page  # the usage plot
    assert "Traceback" not in page


def test_demo_starts_jupyterlab_and_stops_it_on_ctrl_c(tmp_path: Path) -> None:
    port = cli._free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tfwidget.cli", "demo", "--no-browser", "--port", str(port)],
        env=env(HOME=str(tmp_path)), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        url = None
        deadline = time.monotonic() + 90
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
            m = re.search(r"(http://127\.0\.0\.1:\d+/lab/tree/quickstart\.ipynb\?token=\w+)", line)
            url = m.group(1) if m else None
        assert url is not None, "the URL with its token is printed"
        assert f":{port}/" in url
        token = url.rsplit("=", 1)[1]
        assert httpx.get(url, timeout=10).status_code == 200
        r = httpx.get(f"http://127.0.0.1:{port}/api/contents/quickstart.ipynb", params={"token": token})
        assert r.status_code == 200 and r.json()["type"] == "notebook"
        assert httpx.get(f"http://127.0.0.1:{port}/api/status", params={"token": "wrong"}).status_code == 403
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=30)
    assert code == 0
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/api/status", timeout=2)


def test_demo_outside_a_checkout_writes_its_own_quickstart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nbformat

    monkeypatch.setattr(cli, "_CHECKOUT", tmp_path / "site-packages")
    assert cli.checkout_notebooks() is None
    args = cli.build_parser().parse_args(["demo", "--dir", str(tmp_path / "demo")])
    path = cli._quickstart(args)
    assert path == tmp_path / "demo" / "quickstart.ipynb"
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    source = "\n".join(c.source for c in nb.cells)
    assert "tfwidget.sim.Simulator(" in source and "tfwidget.watch(" in source and "plot_usage" in source
    # an existing notebook (perhaps edited) is never overwritten
    path.write_text(path.read_text().replace("sub_agents", "plain_answer"))
    assert cli._quickstart(args) == path and "plain_answer" in path.read_text()
    # compiled, every code cell is valid Python (top-level await allowed, as in IPython)
    import ast

    for cell in nb.cells:
        if cell.cell_type == "code":
            compile(cell.source, "<cell>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
