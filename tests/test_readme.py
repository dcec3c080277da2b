"""The README is followed verbatim by newcomers: its commands, code and column lists must stay true."""

from __future__ import annotations

import ast
import asyncio
import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tfwidget import load
from tfwidget.frames import EVENTS_COLUMNS, MESSAGES_COLUMNS, TOOL_CALLS_COLUMNS, USAGE_COLUMNS
from tfwidget.sim import serve
from tfwidget.state import TurnState

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def blocks() -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in FENCE.finditer(README.read_text(encoding="utf-8"))]


def python_blocks() -> list[str]:
    return [code for lang, code in blocks() if lang == "python"]


def test_the_two_commands_come_first() -> None:
    first, second = blocks()[:2]
    assert first == ("bash", "make demo\n")
    assert second == ("bash", "make test\n")
    text = README.read_text(encoding="utf-8")
    # nothing else to run before them: no other fenced block precedes them
    assert text.index("make demo") < text.index("```python")


def test_the_make_targets_it_names_exist() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for target in ("demo", "test", "check", "build", "bench"):
        assert re.search(rf"^{target}:", makefile, re.M), target
    assert "DEMO_ARGS" in makefile


def test_no_machine_paths_or_secrets() -> None:
    text = README.read_text(encoding="utf-8")
    assert "tfy-sim-" not in text
    assert not re.search(r"(?<![\w.])/(?:home|root|tmp|work|Users)/[\w.-]+", text)


def test_local_links_and_images_exist() -> None:
    text = README.read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)\s]+)\)", text)
    local = [t for t in targets if not re.match(r"[a-z]+://", t)]
    assert "docs/img/turnview.png" in local
    for target in local:
        assert (ROOT / target).exists(), f"README links to {target}, which is not in the repository"


def _table_columns(frame: str) -> list[str]:
    row = re.search(rf"^\| `{frame}` \|[^|]*\| `([^`]*)` \|$", README.read_text(encoding="utf-8"), re.M)
    assert row is not None, f"no README table row for {frame}"
    return [c.strip() for c in row.group(1).split(",")]


@pytest.mark.parametrize(
    ("frame", "columns"),
    [
        ("df", EVENTS_COLUMNS),
        ("messages_df", MESSAGES_COLUMNS),
        ("tool_calls_df", TOOL_CALLS_COLUMNS),
        ("usage_df", USAGE_COLUMNS),
    ],
)
def test_documented_columns_match_the_frames(frame: str, columns: list[str]) -> None:
    assert _table_columns(frame) == list(columns)


async def _run_blocks(sources: list[str], ns: dict[str, object]) -> None:
    for i, src in enumerate(sources):
        code = compile(src, f"<README python block {i + 1}>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        result = eval(code, ns)
        if asyncio.iscoroutine(result):
            await result


def test_python_blocks_run_against_the_simulator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sources = python_blocks()
    assert len(sources) >= 3
    # the blocks use paths relative to the repository root and write files to the working directory
    (tmp_path / "notebooks").symlink_to(ROOT / "notebooks", target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    with serve("plain_answer", speed=20) as sim:
        for k, v in sim.env().items():  # the README's gateway, substituted by the simulator
            monkeypatch.setenv(k, v)
        ns: dict[str, object] = {"__name__": "__readme__"}
        asyncio.run(asyncio.wait_for(_run_blocks(sources, ns), timeout=120))

    out = capsys.readouterr().out
    assert "paused" in out  # the simulator example's approval pause
    w = ns["w"]
    # the last `w` is the replayed recording of the plotting block: fully folded
    state = w.state  # type: ignore[attr-defined]
    assert isinstance(state, TurnState) and state.status == "done"
    assert (tmp_path / "out" / "usage.png").stat().st_size > 5_000
    assert (tmp_path / "out" / "turns.parquet").stat().st_size > 1_000
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == ["notebooks", "out"], f"the examples wrote outside out/: {written}"
    turns = ns["turns"]
    assert list(turns.turns_df.status) == ["done", "paused"]  # type: ignore[attr-defined]
    view = ns["view"]  # the chat example: paused for an approval, approved, resumed to the end
    assert view.status == "done" and len(view.turns) == 2  # type: ignore[attr-defined]
    assert "done 2" in out


def test_gateway_example_watches_a_new_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first Python block on its own: a new session and turn on the gateway, watched to its end."""
    src = python_blocks()[0]
    assert "create_session" in src and "tfwidget.watch" in src
    with serve("plain_answer", speed=20) as sim:
        for k, v in sim.env().items():
            monkeypatch.setenv(k, v)
        ns: dict[str, object] = {}
        asyncio.run(asyncio.wait_for(_run_blocks([src], ns), timeout=60))
        w = ns["w"]
        assert w.status == "done"  # type: ignore[attr-defined]
        frame = w.messages_df  # type: ignore[attr-defined]
        assert len(frame) >= 1 and frame.content.notna().any()
        # the watched turn is the one the block created, on the simulator
        assert w.turn_id == ns["turn"]["id"]  # type: ignore[attr-defined,index]
        assert sim.turn(w.turn_id, ns["session"]["id"]).status == "done"  # type: ignore[attr-defined,index]


def _clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    venv_bin = str(ROOT / ".venv" / "bin")
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin)
    env["HOME"] = str(home)
    # keep the machine's pip and npm caches: the clone must not depend on them, but may use them
    real_home = Path(os.environ.get("HOME", str(Path.home())))
    env.setdefault("PIP_CACHE_DIR", str(real_home / ".cache" / "pip"))
    env.setdefault("npm_config_cache", str(real_home / ".npm"))
    return env


@pytest.mark.slow
@pytest.mark.timeout(330)
def test_make_demo_execute_in_a_clean_clone(tmp_path: Path) -> None:
    """`make demo DEMO_ARGS="--execute out/quickstart.html"` in a fresh clone of the committed state: it
    works, installs only the demo's packages, and leaves nothing untracked in the clone."""
    if shutil.which("make") is None or shutil.which("npm") is None:
        pytest.fail("make and npm are needed (see the README)")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True, timeout=60)
    home = tmp_path / "home"
    home.mkdir()
    proc = subprocess.run(
        ["make", "demo", "DEMO_ARGS=--execute out/quickstart.html"],
        cwd=clone,
        env=_clean_env(home),
        capture_output=True,
        text=True,
        timeout=300,
    )
    tail = (proc.stdout + proc.stderr)[-3000:]
    assert proc.returncode == 0, tail
    out = clone / "out" / "quickstart.html"
    assert out.is_file(), tail
    assert "wrote out/quickstart.html" in proc.stdout
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=clone,
                            capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert status == "", f"make demo left files git does not ignore:\n{status}"
    pip_list = subprocess.run([str(clone / ".venv" / "bin" / "python"), "-m", "pip", "list", "--format=json"],
                              capture_output=True, text=True, check=True).stdout  # fmt: skip
    installed = {p["name"].lower() for p in json.loads(pip_list)}
    assert {"tfwidget", "jupyterlab", "matplotlib"} <= installed
    for test_only in ("playwright", "pyarrow", "pytest", "hypothesis"):
        assert test_only not in installed, f"the demo's venv has {test_only}"
    size = sum(f.stat().st_size for f in (clone / ".venv").rglob("*") if f.is_file() and not f.is_symlink())
    print(f"\ndemo venv: {size / 1e6:.0f} MB")
    assert size < 700e6, f"the demo's venv is {size / 1e6:.0f} MB"
    page = html.unescape(re.sub(r"<[^>]+>", " ", out.read_text(encoding="utf-8")))
    # the assistant's final answer of the quickstart's sub-agents turn, from the static transcript
    final = TurnState.from_items(load(ROOT / "tfwidget" / "sim" / "data" / "sub_agents.sse"))
    answer = final.message_text(final.message_ids()[-1])[0]
    for fragment in re.split(r"[*_`#]+", answer):
        if len(fragment.strip()) >= 10:
            assert fragment.strip() in page, fragment
    assert "Traceback" not in page
