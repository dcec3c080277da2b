"""Jupyter Notebook 7 under test: the same helpers as the JupyterLab harness (conftest.py), another app.

Notebook 7 is built from JupyterLab's parts (the same notebook panel, outputs and menus), so
:class:`~tests.browser.conftest.Lab`'s helpers work once the page URL and the "kernel idle" check are
Notebook 7's. Its own console noise on a plain notebook ("reading 'schema'", "Not same Y.Doc", duplicated
menu entries) is filtered out.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import REPO_ROOT, JupyterServer, Lab, _free_port, _stop, _test_file_name, _user_settings

NOTEBOOK7_BENIGN = ("reading 'schema'", "Not same Y.Doc", "already registered", "favicon", "status of 404")


@dataclass
class Notebook7Server(JupyterServer):
    """A running ``jupyter notebook`` (Notebook 7) server."""

    def lab_url(self, notebook: str) -> str:
        return f"{self.url}/notebooks/{notebook}?token={self.token}"


@contextlib.contextmanager
def start_notebook7(home: Path, root: Path) -> Iterator[Notebook7Server]:
    """``jupyter notebook`` on loopback with a scratch HOME and root_dir, stopped by its own PID on exit."""
    _user_settings(home)
    port = _free_port()
    token = secrets.token_hex(16)
    env = dict(os.environ)
    env.update(
        {
            "HOME": str(home),
            "PYTHONPATH": os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p),
            "JUPYTER_CONFIG_DIR": str(home / ".jupyter"),
            "JUPYTER_DATA_DIR": str(home / ".local" / "share" / "jupyter"),
            "JUPYTER_RUNTIME_DIR": str(home / ".local" / "share" / "jupyter" / "runtime"),
            "IPYTHONDIR": str(home / ".ipython"),
            "JUPYTER_PLATFORM_DIRS": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.pop("JUPYTER_TOKEN", None)
    log_path = home / "notebook.log"
    cmd = [sys.executable, "-m", "jupyter", "notebook", "--no-browser", "--ip", "127.0.0.1", "--port", str(port),
           "--port-retries=0", f"--ServerApp.token={token}", "--allow-root", f"--ServerApp.root_dir={root}"]  # fmt: skip
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT)
    server = Notebook7Server(f"http://127.0.0.1:{port}", token, root, home, proc, log_path)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"jupyter notebook exited with {proc.returncode}:\n{server.log_tail()}")
            try:
                with server.api() as client:
                    if client.get("/api/status").status_code == 200:
                        break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"jupyter notebook did not answer within 60 s:\n{server.log_tail()}")
            time.sleep(0.2)
        yield server
    finally:
        _stop(proc)


class Notebook7(Lab):
    """A page on a Notebook 7 server (one notebook per page, no status bar)."""

    def wait_kernel_idle(self, timeout: float = 60_000) -> None:
        self.page.wait_for_selector(".jp-NotebookPanel .jp-Notebook", timeout=timeout)
        with self.server.api() as client:
            deadline = time.monotonic() + timeout / 1000
            while time.monotonic() < deadline:
                sessions = client.get("/api/sessions").json()
                if sessions and all(s["kernel"]["execution_state"] == "idle" for s in sessions):
                    break
                time.sleep(0.2)
        # the page shows the kernel as ready (its indicator leaves the "starting" state)
        self.page.wait_for_function(
            """() => !document.querySelector('.jp-Notebook-ExecutionIndicator[data-status="starting"]')
                  && !document.querySelector('.jp-Notebook-ExecutionIndicator[data-status="unknown"]')""",
            timeout=timeout,
        )

    def _on_page_error(self, err: Any) -> None:
        if any(p in str(err) for p in NOTEBOOK7_BENIGN):
            return
        super()._on_page_error(err)

    def _on_console(self, msg: Any) -> None:
        if msg.type == "error" and any(p in msg.text for p in NOTEBOOK7_BENIGN):
            self.console_log.append((msg.type, msg.text))
            return
        super()._on_console(msg)


@pytest.fixture(scope="session")
def notebook7_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Notebook7Server]:
    home = tmp_path_factory.mktemp("nb7-home")
    root = tmp_path_factory.mktemp("nb7-root")
    try:
        with start_notebook7(home, root) as server:
            yield server
    except RuntimeError as err:
        pytest.fail(str(err))


@pytest.fixture
def nb7(
    request: pytest.FixtureRequest, browser: Any, notebook7_server: Notebook7Server
) -> Iterator[Notebook7]:
    """A fresh page on the Notebook 7 server; kernels are shut down afterwards."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    helper = Notebook7(
        server=notebook7_server, context=context, page=page, test_name=_test_file_name(request)
    )
    page.on("console", helper._on_console)
    page.on("pageerror", helper._on_page_error)
    page.on("websocket", helper._on_websocket)
    try:
        yield helper
    finally:
        context.close()
        notebook7_server.shutdown_kernels()
