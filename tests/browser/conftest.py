"""Real-browser harness: scratch JupyterLab 4 / Notebook 7 servers driven by headless chromium (Playwright).

Fixtures
--------
``jupyter_server`` (session)
    A :class:`JupyterServer` started with this interpreter (``python -m jupyter lab``) on a free
    loopback port with a random token, a scratch ``HOME`` and a scratch ``root_dir``. ``PYTHONPATH``
    points at the repository checkout so kernels import ``tfwidget`` from the working tree. The news
    and update-check popups are disabled and ipywidgets is told to save widget state in notebooks.
    The server is stopped by its own PID (terminate, wait, kill) at the end of the session.
``browser`` (session)
    A Playwright chromium ``Browser`` launched from the system chromium (``/usr/bin/chromium`` or
    ``chromium`` on ``PATH``). When chromium is missing the browser tests are skipped, unless the
    environment variable ``TFW_REQUIRE_BROWSER`` is set (CI), in which case they fail.
``lab`` (function)
    A :class:`Lab`: a fresh browser context and page pointed at the server, collecting console
    errors and uncaught page errors, with helpers to run a notebook, wait for and read widget output,
    take screenshots, switch the theme and reload. Kernels started by the test are shut down after it.
``notebook_server`` (session)
    Jupyter Notebook 7, launched by the same :func:`start_jupyter` as ``jupyter_server``.
``host`` (function, parametrized ``lab`` / ``notebook``)
    The same :class:`Lab` helpers on JupyterLab 4 or on Notebook 7 (only the page URL, the kernel-idle
    signal and the host's own console noise differ), so one test covers both hosts.

Screenshots go to ``artifacts/screenshots/`` at the repository root, named after the test.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT_DIR = REPO_ROOT / "artifacts" / "screenshots"
ACTIVE_PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
THEME_PLUGIN = "@jupyterlab/apputils-extension:themes"
# A bound, not an expectation: a server answers in a few seconds here, but a loaded 2-core machine (seen:
# load 13) has taken over a minute to import its extensions.
SERVER_START_TIMEOUT = 300
LIGHT_THEME = "JupyterLab Light"
DARK_THEME = "JupyterLab Dark"

# Uncaught errors of the host itself, seen on a plain notebook without any widget (Notebook 7).
HOST_PAGE_ERRORS: tuple[str, ...] = ("reading 'schema'", "Not same Y.Doc")

# Console messages JupyterLab itself may print in a scratch, offline setup. Anything else is reported.
BENIGN_CONSOLE_PATTERNS: tuple[str, ...] = (
    "favicon",
    "Failed to load resource: the server responded with a status of 404",
    # Notebook 7's own messages on a plain notebook (see the host notes)
    "reading 'schema'",
    "Not same Y.Doc",
    "already registered",
)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")


def chromium_path() -> str | None:
    """Return the system chromium executable, or ``None`` when it is not installed."""
    if Path("/usr/bin/chromium").exists():
        return "/usr/bin/chromium"
    return shutil.which("chromium") or shutil.which("chromium-browser")


def make_notebook(cells: list[str]) -> dict[str, Any]:
    """Build an nbformat 4 notebook dict with one code cell per source string."""
    return {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": f"cell-{i}",
                "metadata": {},
                "outputs": [],
                "source": src,
            }
            for i, src in enumerate(cells)
        ],
        "metadata": {
            "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


@dataclass
class JupyterServer:
    """A running JupyterLab server under test."""

    url: str
    token: str
    root_dir: Path
    home: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    app: str = "lab"

    @property
    def host(self) -> str:
        """The host's name in test ids and screenshots: ``"lab"`` (JupyterLab 4) or ``"notebook"`` (Notebook 7)."""
        return self.app

    def api(self) -> httpx.Client:
        """An HTTP client for the server's REST API, authenticated with the token."""
        return httpx.Client(base_url=self.url, headers={"Authorization": f"token {self.token}"}, timeout=10.0)

    def lab_url(self, notebook: str) -> str:
        """URL that opens ``notebook`` (relative to root_dir): a reset JupyterLab workspace, or Notebook 7's
        single-notebook page."""
        if self.app == "notebook":
            return f"{self.url}/notebooks/{notebook}?token={self.token}"
        return f"{self.url}/lab/tree/{notebook}?reset&token={self.token}"

    def set_theme(self, theme: str) -> None:
        """Persist the JupyterLab theme through the settings API (takes effect on the next load)."""
        with self.api() as client:
            raw = json.dumps({"theme": theme})
            resp = client.put(f"/lab/api/settings/{THEME_PLUGIN}", json={"raw": raw})
            resp.raise_for_status()

    def shutdown_kernels(self) -> None:
        """Delete every session (and so shut its kernel down)."""
        with self.api() as client:
            for session in client.get("/api/sessions").json():
                client.delete(f"/api/sessions/{session['id']}")

    def log_tail(self, n: int = 40) -> str:
        """The last ``n`` lines of the server log, for failure messages."""
        try:
            lines = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])


def _user_settings(home: Path) -> None:
    """Pre-seed JupyterLab user settings: no news/update popups, widget state saved in notebooks."""
    base = home / ".jupyter" / "lab" / "user-settings"
    _write_json(
        base / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings",
        {"fetchNews": "false", "checkForUpdates": False},
    )
    _write_json(
        base / "@jupyter-widgets" / "jupyterlab-manager" / "plugin.jupyterlab-settings",
        {"saveState": True},
    )
    _write_json(
        base / "@jupyterlab" / "apputils-extension" / "themes.jupyterlab-settings",
        {"theme": LIGHT_THEME},
    )


@contextlib.contextmanager
def start_jupyter_lab(home: Path, root: Path, **kw: Any) -> Iterator[JupyterServer]:
    """JupyterLab on loopback (see :func:`start_jupyter`); used by the browser benchmark and the wheel test."""
    with start_jupyter(home, root, app="lab", **kw) as server:
        yield server


@contextlib.contextmanager
def start_jupyter(
    home: Path,
    root: Path,
    app: str = "lab",
    *,
    python: str | None = None,
    checkout: bool = True,
    path: str | None = None,
) -> Iterator[JupyterServer]:
    """JupyterLab 4 (``app="lab"``) or Notebook 7 (``app="notebook"``) on loopback with a scratch HOME and
    root_dir, stopped by its own PID on exit.

    Both hosts share the settings, the environment and the launch; only the ``jupyter`` subcommand and the
    page URL differ. ``python`` runs the server (default: this interpreter); with ``checkout=False`` the
    repository is not put on ``PYTHONPATH`` (kernels import an installed ``tfwidget``); ``path`` replaces
    ``PATH``. Raises ``RuntimeError`` (with the end of the server's log) when the server exits or does not
    answer ``/api/status`` within ``SERVER_START_TIMEOUT`` seconds.
    """
    if app not in ("lab", "notebook"):
        raise ValueError(f"app must be 'lab' or 'notebook', not {app!r}")
    _user_settings(home)
    port = _free_port()
    token = secrets.token_hex(16)
    env = dict(os.environ)
    env.update(
        {
            "HOME": str(home),
            "PYTHONPATH": os.pathsep.join(
                p
                for p in (str(REPO_ROOT) if checkout else "", env.get("PYTHONPATH", "") if checkout else "")
                if p
            ),
            "JUPYTER_CONFIG_DIR": str(home / ".jupyter"),
            "JUPYTER_DATA_DIR": str(home / ".local" / "share" / "jupyter"),
            "JUPYTER_RUNTIME_DIR": str(home / ".local" / "share" / "jupyter" / "runtime"),
            "IPYTHONDIR": str(home / ".ipython"),
            "JUPYTER_PLATFORM_DIRS": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.pop("JUPYTER_TOKEN", None)
    if path is not None:
        env["PATH"] = path
    log_path = home / "jupyter.log"
    cmd = [
        python or sys.executable,
        "-m",
        "jupyter",
        app,
        "--no-browser",
        "--ip",
        "127.0.0.1",
        "--port",
        str(port),
        "--port-retries=0",
        f"--IdentityProvider.token={token}",
        "--allow-root",
        f"--ServerApp.root_dir={root}",
    ]
    if app == "lab":
        cmd += ["--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT)
    server = JupyterServer(
        url=f"http://127.0.0.1:{port}",
        token=token,
        root_dir=root,
        home=home,
        process=proc,
        log_path=log_path,
        app=app,
    )
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"jupyter {app} exited with {proc.returncode}:\n{server.log_tail()}")
            try:
                with server.api() as client:
                    if client.get("/api/status").status_code == 200:
                        break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"jupyter {app} did not answer /api/status within {SERVER_START_TIMEOUT} s:\n{server.log_tail()}"
                )
            time.sleep(0.2)
        yield server
    finally:
        _stop(proc)


@pytest.fixture(scope="session")
def jupyter_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    """Start JupyterLab on loopback with a scratch HOME and root_dir; stop it by PID afterwards."""
    home = tmp_path_factory.mktemp("lab-home")
    root = tmp_path_factory.mktemp("lab-root")
    with contextlib.ExitStack() as stack:
        try:
            server = stack.enter_context(start_jupyter_lab(home, root))
        except RuntimeError as err:
            pytest.fail(str(err))
        yield server


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Headless system chromium through Playwright's sync API (never a downloaded browser).

    Chromium runs with a scratch ``HOME`` so its crash-report and config folders stay out of the
    user's home directory.
    """
    exe = chromium_path()
    if exe is None:
        if os.environ.get("TFW_REQUIRE_BROWSER"):
            pytest.fail("chromium is not installed but TFW_REQUIRE_BROWSER is set")
        pytest.skip("chromium is not installed (apt-get install chromium); set TFW_REQUIRE_BROWSER to fail")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if os.environ.get("TFW_REQUIRE_BROWSER"):
            raise
        pytest.skip("the playwright Python package is not installed")
    with sync_playwright() as pw:
        env = {**os.environ, "HOME": str(tmp_path_factory.mktemp("chromium-home"))}
        chromium = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=True, env=env)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Lab:
    """One browser page against the JupyterLab server, plus notebook and widget helpers."""

    server: JupyterServer
    context: Any
    page: Any
    test_name: str
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    console_log: list[tuple[str, str]] = field(default_factory=list)
    ws_frames: list[bytes] = field(default_factory=list)
    notebook: str | None = None

    # -- errors -------------------------------------------------------------------------------
    def _on_console(self, msg: Any) -> None:
        self.console_log.append((msg.type, msg.text))
        if msg.type != "error":
            return
        text = msg.text
        if any(pat in text for pat in BENIGN_CONSOLE_PATTERNS):
            return
        self.console_errors.append(text)

    def _on_page_error(self, err: Any) -> None:
        text = str(err)
        if any(pat in text for pat in HOST_PAGE_ERRORS):
            return
        self.page_errors.append(text)

    def _on_websocket(self, ws: Any) -> None:
        def keep(payload: Any) -> None:
            self.ws_frames.append(payload if isinstance(payload, bytes) else str(payload).encode())

        ws.on("framereceived", keep)
        ws.on("framesent", keep)

    def seen_on_the_wire(self, needle: str) -> bool:
        """Whether ``needle`` was in any WebSocket frame (kernel and comm traffic) this page sent or got."""
        data = needle.encode()
        return any(data in frame for frame in self.ws_frames)

    def assert_no_errors(self) -> None:
        """Fail if the page logged a console error or raised an uncaught exception."""
        assert not self.page_errors, f"uncaught page errors: {self.page_errors}"
        assert not self.console_errors, f"console errors: {self.console_errors}"

    # -- notebooks ----------------------------------------------------------------------------
    def write_notebook(self, cells: list[str], name: str) -> str:
        """Write ``NAME.ipynb`` into the server's root_dir and return its file name."""
        filename = f"{name}.ipynb"
        _write_json(self.server.root_dir / filename, make_notebook(cells))
        return filename

    def open_notebook(self, filename: str, timeout: float = 60_000) -> None:
        """Open a notebook in a reset workspace and wait until its kernel is idle."""
        self.notebook = filename
        self.page.goto(self.server.lab_url(filename), wait_until="domcontentloaded")
        self.wait_kernel_idle(timeout)

    def wait_kernel_idle(self, timeout: float = 60_000) -> None:
        """Wait until the notebook panel is shown and the status bar reports an idle kernel."""
        self.page.wait_for_selector(f"{ACTIVE_PANEL} .jp-Notebook", timeout=timeout)
        # JupyterLab says "| Idle" in its status bar; Notebook 7 has no status bar, only the toolbar's
        # execution indicator.
        self.page.wait_for_function(
            """(app) => {
                if (app === 'notebook') {
                    const ind = document.querySelector('.jp-Notebook-ExecutionIndicator');
                    return !!ind && ind.dataset.status === 'idle';
                }
                const bar = document.querySelector('#jp-main-statusbar');
                return !!bar && /\\|\\s*Idle/.test(bar.textContent || '');
            }""",
            arg=self.server.app,
            timeout=timeout,
        )

    def run_all(self, attempts: int = 3) -> None:
        """Run every cell of the active notebook through the Run menu.

        A click that lands before the page has wired the command up runs nothing (seen on a loaded machine
        with Notebook 7), or runs only the first cell: until every cell shows it is queued or ran, the menu
        is used again.
        """
        from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

        for attempt in range(attempts):
            self.page.locator(f"{ACTIVE_PANEL} .jp-Notebook").first.click(position={"x": 5, "y": 5})
            self.page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
            self.page.locator(".lm-Menu-item:not(.lm-mod-disabled) .lm-Menu-itemLabel").filter(
                has_text="Run All Cells"
            ).first.click()
            try:
                self.page.wait_for_function(
                    """(panel) => [...document.querySelectorAll(panel + ' .jp-CodeCell .jp-InputArea-prompt')]
                        .every(e => /\\[(\\*|\\d+)\\]/.test(e.textContent))""",
                    arg=ACTIVE_PANEL,
                    timeout=15_000,
                )
                return
            except PlaywrightTimeoutError:
                if attempt == attempts - 1:
                    raise AssertionError(f"Run All Cells ran nothing after {attempts} attempts") from None

    def run_notebook(self, cells: list[str], name: str) -> None:
        """Write a notebook made of ``cells``, open it, wait for the kernel, and run all cells."""
        self.open_notebook(self.write_notebook(cells, name))
        self.run_all()

    def wait_cells_done(self, timeout: float = 60_000) -> None:
        """Wait until every code cell in the active notebook has an execution count."""
        self.page.wait_for_function(
            """(panel) => {
                const p = document.querySelector(panel);
                if (!p) return false;
                const prompts = p.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt');
                return prompts.length > 0 && [...prompts].every(e => /\\[\\d+\\]/.test(e.textContent));
            }""",
            arg=ACTIVE_PANEL,
            timeout=timeout,
        )

    def save(self) -> None:
        """Save the active notebook (Ctrl+S) and wait until the file on disk has outputs."""
        assert self.notebook is not None
        path = self.server.root_dir / self.notebook
        before = path.stat().st_mtime_ns
        self.page.locator(f"{ACTIVE_PANEL} .jp-Notebook").first.click(position={"x": 5, "y": 5})
        self.page.keyboard.press("Control+s")
        deadline = time.monotonic() + 15
        while path.stat().st_mtime_ns == before:
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.notebook} was not saved")
            time.sleep(0.1)

    def saved_notebook(self) -> dict[str, Any]:
        """The active notebook as it is on disk."""
        assert self.notebook is not None
        return json.loads((self.server.root_dir / self.notebook).read_text(encoding="utf-8"))

    def reload(self) -> None:
        """Reload the page and wait until the notebook is back with an idle kernel."""
        self.page.reload(wait_until="domcontentloaded")
        self.wait_kernel_idle()

    # -- widget output ------------------------------------------------------------------------
    def out(self, selector: str) -> str:
        """``selector`` scoped to the outputs of the active notebook panel."""
        return f"{ACTIVE_PANEL} .jp-OutputArea-output {selector}"

    def wait_output(self, selector: str, timeout: float = 30_000, state: str = "visible") -> Any:
        """Wait for ``selector`` inside a cell output of the active notebook; return its locator."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

        loc = self.page.locator(self.out(selector)).first
        try:
            loc.wait_for(state=state, timeout=timeout)
        except PlaywrightTimeoutError:
            raise AssertionError(
                f"{selector!r} did not appear in the notebook outputs within {timeout / 1000:.0f} s.\n"
                f"cell errors: {self.cell_errors() or 'none'}\npage errors: {self.page_errors}\n"
                f"console errors: {self.console_errors}"
            ) from None
        return loc

    def cell_errors(self) -> list[str]:
        """Text of every traceback or stderr output in the active notebook."""
        sel = (
            f"{ACTIVE_PANEL} .jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'], "
            f"{ACTIVE_PANEL} .jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error']"
        )
        return [t.strip()[-2000:] for t in self.page.locator(sel).all_text_contents()]

    def text(self, selector: str) -> str:
        """The concatenated text content of every match of ``selector`` inside the outputs."""
        return "".join(self.page.locator(self.out(selector)).all_text_contents())

    def count(self, selector: str) -> int:
        """How many elements match ``selector`` inside the outputs."""
        return self.page.locator(self.out(selector)).count()

    def screenshot(self, suffix: str = "", selector: str | None = None, scroll_to: str | None = None) -> Path:
        """Save a PNG named after the test into artifacts/screenshots/ and return its path.

        ``selector`` limits the shot to the first matching output element; ``scroll_to`` scrolls the
        first matching output element into view before a whole-page shot.
        """
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        if scroll_to is not None and self.count(scroll_to):
            self.page.locator(self.out(scroll_to)).first.scroll_into_view_if_needed()
        path = SCREENSHOT_DIR / f"{self.test_name}{'-' + suffix if suffix else ''}.png"
        if selector is None:
            self.page.screenshot(path=str(path), full_page=True)
        else:
            self.page.locator(self.out(selector)).first.screenshot(path=str(path))
        return path

    def set_theme(self, theme: str) -> None:
        """Switch JupyterLab's theme through the settings API and reload so it applies.

        The reload shows the notebook as saved on disk: call :meth:`save` first to keep outputs.
        """
        self.server.set_theme(theme)
        self.page.reload(wait_until="domcontentloaded")
        light = "true" if theme == LIGHT_THEME else "false"
        self.page.wait_for_selector(f"body[data-jp-theme-light='{light}']", state="attached", timeout=30_000)
        self.wait_kernel_idle()


def _test_file_name(request: pytest.FixtureRequest) -> str:
    name = request.node.name
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name).strip("_")


def _page_on(request: pytest.FixtureRequest, browser: Any, server: JupyterServer) -> Iterator[Lab]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    helper = Lab(server=server, context=context, page=page, test_name=_test_file_name(request))
    page.on("console", helper._on_console)
    page.on("pageerror", helper._on_page_error)
    page.on("websocket", helper._on_websocket)
    try:
        yield helper
    finally:
        context.close()
        server.shutdown_kernels()
        server.set_theme(LIGHT_THEME)


@pytest.fixture
def lab(request: pytest.FixtureRequest, browser: Any, jupyter_server: JupyterServer) -> Iterator[Lab]:
    """A fresh page on the JupyterLab server; kernels and the theme are reset afterwards."""
    yield from _page_on(request, browser, jupyter_server)


@pytest.fixture(scope="session")
def notebook_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    """Jupyter Notebook 7 on loopback, launched like ``jupyter_server`` (see :func:`start_jupyter`)."""
    home = tmp_path_factory.mktemp("nb7-home")
    root = tmp_path_factory.mktemp("nb7-root")
    with contextlib.ExitStack() as stack:
        try:
            server = stack.enter_context(start_jupyter(home, root, app="notebook"))
        except RuntimeError as err:
            pytest.fail(str(err))
        yield server


@pytest.fixture(params=["lab", "notebook"])
def host(request: pytest.FixtureRequest, browser: Any) -> Iterator[Lab]:
    """A fresh page on JupyterLab 4 (``lab``) or Notebook 7 (``notebook``): the same helpers on both.

    The server of each host starts on first use, so selecting one host (``-k lab``) starts only that one.
    """
    server = request.getfixturevalue("jupyter_server" if request.param == "lab" else "notebook_server")
    yield from _page_on(request, browser, server)


@pytest.fixture
def offline_page(browser: Any) -> Iterator[Any]:
    """A page whose network is blocked: every request except ``file://`` is aborted."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})

    def _route(route: Any) -> None:
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            route.abort()

    context.route("**/*", _route)
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        yield page
    finally:
        context.close()
