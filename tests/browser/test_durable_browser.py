"""The transcript survives without a kernel: JupyterLab 4 and Notebook 7 reopened with no kernel state, and
nbconvert's HTML export with or without widget state, in chromium with the network blocked.

The notebooks replay a vendored fixture (a TurnView) and run a chat session against a simulator started
inside the kernel (a SessionView with a paused turn, an approval and the resume turn). Widget state saving
is off (JupyterLab's default), so after the kernel is shut down no widget model exists anywhere.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from ..conftest import FIXTURES
from .conftest import ACTIVE_PANEL, REPO_ROOT, SCREENSHOT_DIR, Lab, _write_json, make_notebook

pytestmark = pytest.mark.browser

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
MANAGER_PLUGIN = "@jupyter-widgets/jupyterlab-manager:plugin"

CELLS = [
    "import tfwidget\nfrom tfwidget.sim import Simulator\nturn = tfwidget.replay('sub_agents.sse')\nturn",
    # waits that keep the kernel's loop free, so every update reaches the front end during the cell
    "import asyncio\n"
    "async def until(check, timeout=60):\n"
    "    for _ in range(int(timeout * 10)):\n"
    "        if check():\n"
    "            return\n"
    "        await asyncio.sleep(0.1)\n"
    "    raise TimeoutError(session)\n"
    "sim = Simulator('plain_answer', speed=0).start()\n"
    "session = tfwidget.chat('sim-agent', base_url=sim.base_url, api_key=sim.api_key)\n"
    "session.send('Please refund order 42')\n"
    "await until(lambda: session.status == 'paused')\n"
    "session.approve()\n"
    "await until(lambda: len(session.turns) == 2 and session.status == 'done')\n"
    "await asyncio.sleep(1)\n"
    "session",
]


def _write(root: Path, name: str) -> str:
    shutil.copy(FIXTURES / "sub_agents.sse", root / "sub_agents.sse")
    filename = f"{name}.ipynb"
    _write_json(root / filename, make_notebook(CELLS))
    return filename


def check_static_transcripts(page: Any, scope: str) -> None:
    """Both static transcripts are visible, rendered (markdown, nesting, chart) and complete."""
    statics = page.locator(f"{scope} .tfws-static")
    assert statics.count() == 2, (
        f"expected the turn's and the session's static transcripts, got {statics.count()}"
    )
    for i in range(2):
        assert statics.nth(i).is_visible(), f"static transcript {i} is hidden"
    turn = page.locator(f"{scope} .tfws-static.tfws-turn-view").first
    assert turn.locator("strong", has_text="Apache-2.0").count() >= 1, "markdown not rendered"
    assert turn.locator(".tfws-tool .tfws-thread").count() == 2, "sub-agent threads not nested in tool cards"
    assert turn.locator("svg.tfws-chart g.tfws-bar").count() == 4
    session = page.locator(f"{scope} .tfws-static.tfws-session").first
    assert session.get_attribute("data-turns") == "2"
    assert session.locator(".tfws-turn").count() == 2
    assert "Please refund order 42" in session.inner_text()
    assert "approved" in session.inner_text()


def hidden_widget_errors(page: Any, scope: str) -> dict[str, int]:
    return page.evaluate(
        """([scope, mime]) => {
            const outs = [...document.querySelectorAll(`${scope} .jp-OutputArea-output.lm-Panel`)];
            const errors = outs.filter(o => /model not found/.test(o.textContent || ''));
            const visible = errors.filter(o => o.getClientRects().length > 0 && o.offsetParent !== null);
            return {outputs: outs.length, errors: errors.length, visible: visible.length};
        }""",
        [scope, WIDGET_MIME],
    )


# ----------------------------------------------------------------------- JupyterLab 4 and Notebook 7


def reopen_without_a_kernel(host: Lab, cells: list[str], name: str) -> None:
    """Run ``cells`` (they display a TurnView and a SessionView), check the live views hide the static
    transcripts, save with widget-state saving off, shut the kernel down and reload the page."""
    with host.server.api() as api:
        api.put(f"/lab/api/settings/{MANAGER_PLUGIN}", json={"raw": json.dumps({"saveState": False})})
    shutil.copy(FIXTURES / "sub_agents.sse", host.server.root_dir / "sub_agents.sse")
    host.open_notebook(host.write_notebook(cells, name))
    host.run_all()
    host.wait_cells_done(timeout=120_000)
    assert not host.cell_errors(), host.cell_errors()
    host.wait_output(".tfw-root")
    host.wait_output(".tfw-session")
    # live: the static twins are hidden by the live views
    statics = host.page.locator(host.out(".tfws-static"))
    assert statics.count() == 2
    assert statics.filter(visible=True).count() == 0
    host.save()
    saved = host.saved_notebook()
    assert "widgets" not in saved.get("metadata", {}), "widget state was saved: the test needs it off"
    html_outputs = [
        o["data"]["text/html"]
        for c in saved["cells"]
        for o in c["outputs"]
        if "tfws-static" in "".join(o.get("data", {}).get("text/html", ""))
    ]
    assert len(html_outputs) == 2

    host.server.shutdown_kernels()
    host.page.goto(host.server.lab_url(host.notebook or name), wait_until="domcontentloaded")
    host.wait_kernel_idle()
    # the widget manager gives up on the models: wait for its error, then check it is not shown
    host.page.wait_for_function(
        """([scope, mime]) => [...document.querySelectorAll(
               `${scope} .jp-OutputArea-output.lm-Panel`)]
               .filter(o => /model not found/.test(o.textContent || '')).length === 2""",
        arg=[ACTIVE_PANEL, WIDGET_MIME],
        timeout=60_000,
    )
    found = hidden_widget_errors(host.page, ACTIVE_PANEL)
    assert found == {"outputs": 2, "errors": 2, "visible": 0}, found


@pytest.fixture
def no_state_saving(host: Lab) -> Iterator[Lab]:
    """The host with widget-state saving off for the test (the harness turns it on), restored after."""
    try:
        yield host
    finally:
        with host.server.api() as api:
            api.put(f"/lab/api/settings/{MANAGER_PLUGIN}", json={"raw": json.dumps({"saveState": True})})


def test_reopened_without_a_kernel_shows_the_transcript(no_state_saving: Lab) -> None:
    """Run, save (widget state off), shut the kernel down, reload: the transcripts are there, no error."""
    host = no_state_saving
    reopen_without_a_kernel(host, CELLS, f"durable_{host.server.app}")
    check_static_transcripts(host.page, ACTIVE_PANEL)
    host.screenshot("reopened", scroll_to=".tfws-static")
    assert host.page.get_by_text("Error displaying widget").filter(visible=True).count() == 0


# The same views displayed inside ipywidgets containers (nested, next to other widgets): the container is
# the output, so its static twin is the output before it.
BOX_CELLS = [
    CELLS[0].removesuffix("turn")
    + "import ipywidgets\nipywidgets.HBox([turn, ipywidgets.Label('next to the turn')])",
    CELLS[1].removesuffix("session")
    + "ipywidgets.VBox([ipywidgets.HTML('<b>chat</b>'), ipywidgets.HBox([session])])",
]


def test_views_inside_containers_survive_without_a_kernel(no_state_saving: Lab) -> None:
    """A TurnView in an HBox and a SessionView in a VBox in an HBox: reopened without a kernel, both
    transcripts are shown in place of the containers."""
    host = no_state_saving
    reopen_without_a_kernel(host, BOX_CELLS, f"durable_boxes_{host.server.app}")
    check_static_transcripts(host.page, ACTIVE_PANEL)
    host.screenshot("reopened-boxes", scroll_to=".tfws-static")
    assert host.page.get_by_text("Error displaying widget").filter(visible=True).count() == 0


# --------------------------------------------------------------------------------------------- nbconvert


# What nbconvert's HTML loads from CDNs to render widgets from saved state, served from the npm registry's
# packages instead ("online" without internet): require.js, the widget manager and anywidget's front end.
CDN_PACKAGES = {
    r"require(\.min)?\.js(\?.*)?$": ("requirejs@2.3.8", "package/require.js"),
    r"@jupyter-widgets/html-manager@[^/]*/dist/embed-amd\.js$": (
        "@jupyter-widgets/html-manager@1.0.15",
        "package/dist/embed-amd.js",
    ),
    r"/anywidget@[^/]*/dist/index\.js$": ("anywidget@{anywidget}", "package/dist/index.js"),
}


@pytest.fixture(scope="module")
def cdn_copies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """URL pattern -> local file, from ``npm pack`` of the packages the CDNs serve."""
    import tarfile

    import anywidget

    if shutil.which("npm") is None:
        pytest.fail("npm is needed to fetch the widget manager for the 'online' export test")
    folder = tmp_path_factory.mktemp("cdn")
    out: dict[str, Path] = {}
    for pattern, (spec, member) in CDN_PACKAGES.items():
        spec = spec.format(anywidget=anywidget.__version__)
        proc = subprocess.run(["npm", "pack", spec, "--silent"], cwd=folder, capture_output=True, text=True,
                              timeout=300)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        tgz = folder / proc.stdout.strip().splitlines()[-1]
        target = folder / tgz.stem
        with tarfile.open(tgz) as tar:
            tar.extractall(target, filter="data")
        out[pattern] = target / member
        assert out[pattern].is_file(), out[pattern]
    return out


@pytest.mark.parametrize(
    ("widget_state", "online"),
    [(True, False), (False, False), (True, True), (False, True)],
    ids=["with-state-offline", "without-state-offline", "with-state-online", "without-state-online"],
)
def test_nbconvert_html_shows_the_transcript(
    browser: Any, tmp_path: Path, widget_state: bool, online: bool, request: pytest.FixtureRequest
) -> None:
    """nbconvert HTML of the executed notebook. Offline: every non-file request is blocked. Online: the widget
    manager's CDN scripts are served from their npm packages, everything else is blocked."""
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    local = request.getfixturevalue("cdn_copies") if online else {}
    name = _write(tmp_path, "durable_export")
    nb = nbformat.read(tmp_path / name, as_version=4)
    env_path = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env_path) if p)
    try:
        NotebookClient(nb, timeout=180, resources={"metadata": {"path": str(tmp_path)}},
                       store_widget_state=widget_state).execute()  # fmt: skip
    finally:
        os.environ["PYTHONPATH"] = env_path
    has_state = bool(nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json"))
    assert has_state is widget_state
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    page_path = tmp_path / "export.html"
    page_path.write_text(body, encoding="utf-8")

    served: list[str] = []
    blocked: list[str] = []

    def route(r: Any) -> None:
        url = r.request.url
        if url.startswith("file:"):
            r.continue_()
            return
        for pattern, path in local.items():
            if re.search(pattern, url.split("?")[0]):
                served.append(url)
                r.fulfill(path=str(path), content_type="text/javascript",
                          headers={"Access-Control-Allow-Origin": "*"})  # fmt: skip
                return
        blocked.append(url)
        r.abort()

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.route("**/*", route)
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        page.goto(page_path.as_uri())
        if online and widget_state:
            # the widget manager renders the views from the saved state; they hide their static twins
            page.locator(".tfw-root").first.wait_for(state="visible")
            page.wait_for_function("() => document.querySelectorAll('.tfws-static').length === 2")
            page.wait_for_timeout(500)
            turn = page.locator(".jp-OutputArea-output .tfw-root").first
            assert "Apache-2.0" in turn.inner_text()
            assert not page.locator(".tfws-static.tfws-turn-view").is_visible()
            live = page.locator(".tfw-session .tfw-root:not(.tfw-controls)[data-status]")
            assert live.evaluate_all("els => els.map(e => e.dataset.status)") == ["paused", "done"]
            assert "Please refund order 42" in page.locator(".tfw-session").first.inner_text()
            assert not page.locator(".tfws-static.tfws-session").is_visible()
            assert any("html-manager" in u for u in served), served
        else:
            page.wait_for_timeout(1500)  # let blocked scripts fail and anything that would run, run
            if widget_state:
                assert any("html-manager" in u for u in blocked), blocked
            check_static_transcripts(page, "body")
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        page.screenshot(
            path=str(SCREENSHOT_DIR / f"nbconvert-{request.node.callspec.id}.png"), full_page=True
        )
    finally:
        context.close()
