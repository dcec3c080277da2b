"""marimo hosts the views: ``marimo run`` (an app) and ``marimo edit`` (a notebook), headless chromium.

Each test writes a marimo notebook (a Python file) that opens a view against the simulated gateway, then
drives the page as a person would: the session view takes a typed message and an Approve click, a
``TurnView`` streams a long markdown answer, and the widget follows marimo's theme (its dark theme even
when the browser asks for light, and the reverse). The views are shown with ``mo.ui.anywidget(view)`` and
displayed directly. Screenshots (light and dark) go to artifacts/screenshots/.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tfwidget.sim import Simulator

from .conftest import REPO_ROOT, SCREENSHOT_DIR, _free_port, _stop

pytestmark = pytest.mark.browser

BENIGN = ("favicon", "preloaded using link preload", "status of 404")

HEADER = """import marimo

app = marimo.App()


@app.cell
def _():
    import json

    import marimo as mo

    import tfwidget

    cfg = json.load(open("cfg.json"))
    return cfg, mo, tfwidget
"""

SESSION_CELLS = """

@app.cell
def _(cfg, tfwidget):
    chat_client = tfwidget.GatewayClient(cfg["url"], cfg["key"])
    view = tfwidget.chat("marimo-agent", client=chat_client)
    return (view,)


@app.cell
def _(mo, view):
    {show}
    return
"""

TURN_CELLS = """

@app.cell
def _(cfg, tfwidget):
    client = tfwidget.GatewayClient(cfg["url"], cfg["key"])
    if cfg.get("turn_id"):
        session_id, turn_id = cfg["session_id"], cfg["turn_id"]
    else:  # a turn that starts when the notebook runs, so the page sees it stream
        session_id = client.create_session("marimo-agent")["id"]
        turn_id = client.create_turn(session_id, cfg["message"], stream=False)["id"]
    turn = tfwidget.watch(session_id, turn_id, client=client)
    return (turn,)


@app.cell
def _(mo, turn):
    {show}
    return
"""


@contextlib.contextmanager
def marimo_server(folder: Path, mode: str, theme: str = "light") -> Iterator[str]:
    """``marimo run|edit app.py --headless`` on loopback; yields its URL; stopped by its own PID."""
    home = folder / "home"
    for config in (home / ".marimo.toml", home / ".config" / "marimo" / "marimo.toml"):
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(f'[display]\ntheme = "{theme}"\n', encoding="utf-8")
    port = _free_port()
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "PYTHONPATH": os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p),
        "PYTHONUNBUFFERED": "1",
    }
    cmd = [sys.executable, "-m", "marimo", mode, "app.py", "--headless", "--host", "127.0.0.1", "--port",
           str(port), "--no-token"]  # fmt: skip
    log_path = folder / "marimo.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"marimo exited with {proc.returncode}: {log_path.read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"marimo did not start within 60 s: {log_path.read_text()[-2000:]}")
            time.sleep(0.2)
        yield url
    finally:
        _stop(proc)


class MarimoPage:
    """A chromium page on a marimo server, collecting page errors and console errors."""

    def __init__(self, browser: Any, url: str, name: str, color_scheme: str = "light") -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme=color_scheme)
        self.page = self.context.new_page()
        self.page.set_default_timeout(60_000)
        self.name = name
        self.errors: list[str] = []
        self.page.on("pageerror", lambda err: self.errors.append(str(err)))
        self.page.on("console", self._on_console)
        self.page.goto(url, wait_until="domcontentloaded")

    def _on_console(self, msg: Any) -> None:
        if msg.type == "error" and not any(b in msg.text for b in BENIGN):
            self.errors.append(msg.text)

    def screenshot(self, suffix: str) -> Path:
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOT_DIR / f"marimo-{self.name}-{suffix}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        self.context.close()


def write_app(folder: Path, cells: str, show: str, cfg: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cfg.json").write_text(json.dumps(cfg), encoding="utf-8")
    (folder / "app.py").write_text(HEADER + cells.replace("{show}", show), encoding="utf-8")


def show_code(display: str, name: str) -> str:
    return f"mo.ui.anywidget({name})" if display == "anywidget" else name


def rgb(page: Any, selector: str, prop: str) -> tuple[int, int, int]:
    value = page.locator(selector).first.evaluate(f"e => getComputedStyle(e)[{prop!r}]")
    nums = [int(float(x)) for x in value[value.index("(") + 1 : value.index(")")].split(",")[:3]]
    return nums[0], nums[1], nums[2]


def luminance(c: tuple[int, int, int]) -> float:
    return (0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]) / 255


@pytest.fixture
def sims() -> Iterator[Any]:
    started: list[Simulator] = []

    def make(scenario: str = "plain_answer", speed: float = 0.0) -> Simulator:
        sim = Simulator(scenario, speed=speed).start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        sim.stop()


def run_edit_cells(page: Any, mode: str) -> None:
    """In ``marimo edit``, run the notebook if it did not run on open (the Run-all shortcut)."""
    if mode != "edit":
        return
    with contextlib.suppress(Exception):
        page.locator(".tfw-session, .tfw-root").first.wait_for(state="attached", timeout=15_000)
        return
    page.keyboard.press("Control+Shift+r")


@pytest.mark.parametrize(
    ("mode", "display"), [("run", "anywidget"), ("run", "direct"), ("edit", "anywidget"), ("edit", "direct")]
)
def test_session_view_in_marimo_takes_a_message_and_an_approve_click(
    browser: Any, sims: Any, tmp_path: Path, mode: str, display: str
) -> None:
    sim = sims()
    write_app(tmp_path, SESSION_CELLS, show_code(display, "view"), {"url": sim.base_url, "key": sim.api_key})
    with marimo_server(tmp_path, mode) as url:
        mp = MarimoPage(browser, url, f"session-{mode}-{display}")
        try:
            page = mp.page
            run_edit_cells(page, mode)
            box = page.locator(".tfw-session .tfw-composer-input").first
            box.wait_for()
            box.click()
            box.type("Please refund order 42")
            page.keyboard.press("Shift+Enter")  # a new line, not marimo's "run cell"
            box.type("thanks")
            assert box.input_value() == "Please refund order 42\nthanks"
            page.keyboard.press("Enter")
            page.wait_for_function(
                "() => [...document.querySelectorAll('marimo-anywidget')].some(h => h.shadowRoot &&"
                " h.shadowRoot.querySelector('.tfw-session-turn .tfw-root[data-status=paused] .tfw-approve'))"
            )
            [session] = [s for s in sim._sessions.values() if s.agent_name == "marimo-agent"]
            assert len(session.turns) == 1
            assert session.turns[0].input[0]["content"] == "Please refund order 42\nthanks"
            page.locator(".tfw-session .tfw-approve").first.click()
            page.wait_for_function(
                "() => [...document.querySelectorAll('marimo-anywidget')].some(h => h.shadowRoot && [...h.shadowRoot"
                ".querySelectorAll('.tfw-session-turn .tfw-root')].map(e => e.dataset.status).join() === 'paused,done')"
            )
            assert len(session.turns) == 2
            assert session.turns[1].input[0]["approval"] == {"status": "allow"}
            # the paused turn's resolution arrives with the session's next sync: wait for it, do not race it
            page.wait_for_function(
                "() => [...document.querySelectorAll('marimo-anywidget')].some(h => h.shadowRoot &&"
                " h.shadowRoot.querySelector('.tfw-session-turn .tfw-root')?.dataset.resolved === 'true')"
            )
            first = page.locator(".tfw-session .tfw-session-turn .tfw-root").first
            assert first.get_attribute("data-resolved") == "true"
            assert "processed" in page.locator(".tfw-session .tfw-session-turn .tfw-root").last.inner_text()
            mp.screenshot("light")
            assert not mp.errors, mp.errors
        finally:
            mp.close()


@pytest.mark.parametrize(("mode", "display"), [("run", "anywidget"), ("edit", "direct")])
def test_turn_view_streams_in_marimo_with_markdown_styles(
    browser: Any, sims: Any, tmp_path: Path, mode: str, display: str
) -> None:
    sim = sims("plain_answer", speed=1.0)
    cfg = {"url": sim.base_url, "key": sim.api_key, "message": "Write a long markdown guide to SSE"}
    write_app(tmp_path, TURN_CELLS, show_code(display, "turn"), cfg)
    with marimo_server(tmp_path, mode) as url:
        mp = MarimoPage(browser, url, f"turnview-{mode}-{display}")
        try:
            page = mp.page
            run_edit_cells(page, mode)
            root = page.locator(".tfw-root").first
            root.wait_for()
            lengths = []
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                status = root.get_attribute("data-status")
                lengths.append((status, len(root.locator(".tfw-md").first.text_content() or "")))
                if status not in ("connecting", "streaming"):
                    break
                time.sleep(0.3)
            streaming = [n for s, n in lengths if s == "streaming"]
            assert len(set(streaming)) >= 3, lengths  # the text grew while it streamed
            assert lengths[-1][0] == "done", lengths
            # markdown keeps its styles under marimo's reset
            ul = page.locator(".tfw-root .tfw-md ul").first
            assert ul.evaluate("e => getComputedStyle(e).listStyleType") == "disc"
            ol = page.locator(".tfw-root .tfw-md ol")
            if ol.count():
                assert ol.first.evaluate("e => getComputedStyle(e).listStyleType") == "decimal"
            heading = page.locator(".tfw-root .tfw-md h1, .tfw-root .tfw-md h2, .tfw-root .tfw-md h3").first
            assert int(heading.evaluate("e => getComputedStyle(e).fontWeight")) >= 600
            body = float(
                page.locator(".tfw-root .tfw-md p").first.evaluate(
                    "e => parseFloat(getComputedStyle(e).fontSize)"
                )
            )
            assert float(heading.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")) > body
            mp.screenshot("light")
            assert not mp.errors, mp.errors
        finally:
            mp.close()


@pytest.mark.parametrize(("marimo_theme", "browser_scheme"), [("dark", "light"), ("light", "dark")])
def test_the_widget_follows_marimos_theme(
    browser: Any, sims: Any, tmp_path: Path, marimo_theme: str, browser_scheme: str
) -> None:
    sim = sims("long_markdown", speed=0.0)
    cfg = {"url": sim.base_url, "key": sim.api_key, "session_id": sim.session_id, "turn_id": sim.turn_id}
    # a TurnView and a session view (with one answered turn) on the same page
    write_app(tmp_path, TURN_CELLS + SESSION_CELLS.replace("{show}", "view"), "mo.ui.anywidget(turn)", cfg)
    with marimo_server(tmp_path, "run", theme=marimo_theme) as url:
        mp = MarimoPage(browser, url, f"theme-{marimo_theme}", color_scheme=browser_scheme)
        try:
            page = mp.page
            page.locator(".tfw-root[data-status=done]").first.wait_for()
            box = page.locator(".tfw-session .tfw-composer-input").first
            box.click()
            box.type("hello")
            page.keyboard.press("Enter")
            page.locator(".tfw-session .tfw-session-turn .tfw-root[data-status=done]").first.wait_for()
            session_bg = luminance(rgb(page, ".tfw-session .tfw-controls", "backgroundColor"))
            assert (session_bg < 0.25) if marimo_theme == "dark" else (session_bg > 0.85), session_bg
            classes = page.evaluate(
                "() => document.body.className + ' ' + document.documentElement.className"
            )
            bg = luminance(rgb(page, ".tfw-root", "backgroundColor"))
            fg = luminance(rgb(page, ".tfw-root .tfw-md p", "color"))
            if marimo_theme == "dark":
                assert "dark" in classes  # marimo shows its dark theme ...
                assert bg < 0.25 and fg > 0.6, (bg, fg)  # ... and so does the widget
            else:
                assert "dark" not in classes.replace("light", "")
                assert bg > 0.85 and fg < 0.4, (bg, fg)  # light, though the browser prefers dark
            mp.screenshot(marimo_theme)
            assert not mp.errors, mp.errors
        finally:
            mp.close()
