"""A newcomer's first run prints no warnings the project causes.

``tfwidget demo`` (JupyterLab on the quickstart notebook, a kernel started on it), ``tfwidget demo
--execute`` and ``npm ci`` of the front end, each in a scratch HOME, with their whole output checked for
the warnings that used to appear: the deprecated ``ServerApp.token``, "Notebook quickstart.ipynb is not
trusted", the kernel's "running over TCP without encryption" and npm's install-scripts notice for esbuild.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from jupyter_client import BlockingKernelClient

from tfwidget import cli

from .test_cli import env, run

ROOT = Path(__file__).resolve().parent.parent
WARNINGS = ("deprecated", "not trusted", "without encryption", "install-scripts", "allowScripts")


def _warnings(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if any(w.lower() in ln.lower() for w in WARNINGS)]


def test_demo_with_a_kernel_prints_no_warnings(tmp_path: Path) -> None:
    port = cli._free_port()
    log = tmp_path / "demo.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tfwidget.cli", "demo", "--no-browser", "--port", str(port)],
            env=env(HOME=str(tmp_path)), stdout=out, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while "token=" not in log.read_text():
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "no URL printed"
            time.sleep(0.2)
        token = log.read_text().split("token=", 1)[1].split()[0]
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", params={"token": token}, timeout=30) as api:
            assert api.get("/api/contents/quickstart.ipynb").status_code == 200  # the trust check runs here
            r = api.post("/api/sessions", json={"path": "quickstart.ipynb", "type": "notebook",
                                                 "kernel": {"name": "python3"}})  # fmt: skip
            assert r.status_code == 201, r.text
            kernel = r.json()["kernel"]["id"]
            # the kernel is up once it answers on its (encrypted) channels
            [conn] = tmp_path.rglob(f"kernel-{kernel}.json")
            kc = BlockingKernelClient(connection_file=str(conn))
            kc.load_connection_file()
            kc.start_channels(hb=False)  # no heartbeat: a loaded machine misses its beats
            try:
                msg_id = kc.kernel_info()
                deadline = time.monotonic() + 90
                while True:
                    reply = kc.get_shell_msg(timeout=max(1.0, deadline - time.monotonic()))
                    if reply["parent_header"].get("msg_id") == msg_id:
                        break
                assert reply["content"]["status"] == "ok"
            finally:
                kc.stop_channels()
            time.sleep(1)  # anything the kernel printed at start-up reaches the log
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    text = log.read_text()
    assert _warnings(text) == [], text


def test_demo_execute_prints_no_warnings(tmp_path: Path) -> None:
    proc = run("demo", "--execute", str(tmp_path / "out.html"), timeout=240, HOME=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert _warnings(proc.stdout + proc.stderr) == [], proc.stderr


def test_npm_ci_prints_no_install_scripts_notice(tmp_path: Path) -> None:
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed")
    js = tmp_path / "js"
    js.mkdir()
    for name in ("package.json", "package-lock.json"):
        shutil.copy(ROOT / "js" / name, js / name)
    proc = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=js, capture_output=True, text=True,
                          timeout=300, env={**env(), "HOME": str(tmp_path)})  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert _warnings(proc.stdout + proc.stderr) == [], proc.stderr
