"""The package as users install it: sdist and wheel built from a clean clone, the wheel installed into a
fresh virtualenv with no node on ``PATH`` and no checkout on ``sys.path``, on the oldest and the newest
Python the package supports (the ``Programming Language :: Python :: 3.x`` classifiers of pyproject.toml;
the oldest is ``requires-python``'s lower bound).

In each venv: ``replay`` + ``to_html``, a ``watch`` against the simulator over loopback HTTP and the CLI (no
``bench``, ``show --html``). On the newest, with the ``demo`` extra, JupyterLab (started from the venv)
renders a TurnView in chromium; the oldest gets the plain install (no extras).

The interpreters are found at run time: ``python3.X`` on ``PATH``, then ``pyenv prefix 3.X``. A missing one
skips its tests, unless ``TFW_REQUIRE_BROWSER`` or ``CI`` is set (``make test``): then they fail.

This builds from the committed ``HEAD`` of the checkout (``git clone``): uncommitted changes are not in it.
The build needs node and npm (the front end is bundled by the package build) and the package index (build
dependencies and the venv's dependencies).
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..browser.conftest import SCREENSHOT_DIR, browser, make_notebook, start_jupyter_lab  # noqa: F401
from ..conftest import FIXTURES

# building, and installing into two venvs from the index, takes minutes (many on a loaded machine)
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(3600)]

ROOT = Path(__file__).resolve().parents[2]
STATIC = ("tfwidget/static/widget.js", "tfwidget/static/widget.css")
ENDS = ("oldest", "newest")
LAB_ON = "newest"  # the venv that gets the demo extra and runs the JupyterLab test


def supported_pythons() -> dict[str, str]:
    """{"oldest": "3.10", "newest": "3.13"} from pyproject.toml (classifiers; checked against
    requires-python)."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    versions = sorted(
        {
            tuple(map(int, v.split(".")))
            for v in re.findall(r"Programming Language :: Python :: (3\.\d+)\"", text)
        }
    )
    assert versions, "pyproject.toml lists no 'Programming Language :: Python :: 3.x' classifiers"
    floor = re.search(r'requires-python\s*=\s*">=\s*(3\.\d+)"', text)
    assert floor and tuple(map(int, floor.group(1).split("."))) == versions[0], (
        "requires-python's lower bound is not the oldest classifier"
    )
    oldest, newest = versions[0], versions[-1]
    return {"oldest": f"{oldest[0]}.{oldest[1]}", "newest": f"{newest[0]}.{newest[1]}"}


def _version_of(python: str) -> str | None:
    try:
        proc = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                              capture_output=True, text=True, timeout=60)  # fmt: skip
    except OSError:
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


@functools.cache
def find_python(version: str) -> str | None:
    """An interpreter of ``version`` (``"3.10"``): ``python3.10`` on PATH (a pyenv shim of another version
    does not count: each candidate is asked its version), then ``pyenv prefix 3.10``."""
    candidates = [shutil.which(f"python{version}")]
    if shutil.which("pyenv"):
        proc = subprocess.run(["pyenv", "prefix", version], capture_output=True, text=True, timeout=60)
        if proc.returncode == 0 and proc.stdout.strip():
            prefix = Path(proc.stdout.strip().splitlines()[0])
            candidates += [str(prefix / "bin" / f"python{version}"), str(prefix / "bin" / "python3")]
    for candidate in candidates:
        if candidate and _version_of(candidate) == version:
            return candidate
    return None


def _errors(text: str) -> str:
    """The end of a command's output without pip's notices about unusable index locations."""
    return "\n".join(ln for ln in text.splitlines() if "is ignored: it is neither" not in ln)[-3000:]


def run(cmd: list[str], *, timeout: float = 600, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kwargs)
    assert proc.returncode == 0, (
        f"{cmd} failed ({proc.returncode}):\n{_errors(proc.stdout)}\n{_errors(proc.stderr)}"
    )
    return proc


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """sdist + wheel (python -m build: the wheel is built from the sdist) and a wheel by pip from
    ``git+file://`` of the clone (what ``pip install git+<url>`` builds)."""
    if shutil.which("git") is None or shutil.which("npm") is None:
        pytest.fail("building the package needs git, node and npm")
    base = tmp_path_factory.mktemp("build")
    clone = base / "clone"
    run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(clone)])
    assert not (clone / "tfwidget" / "static").exists(), "a clean clone has no bundle"
    dist = base / "dist"
    run([sys.executable, "-m", "build", "--outdir", str(dist), str(clone)], timeout=900)
    [sdist] = dist.glob("*.tar.gz")
    [wheel] = dist.glob("*.whl")
    pip_dist = base / "pip-wheel"
    run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(pip_dist),
         f"git+{clone.as_uri()}"], timeout=900)  # fmt: skip
    [pip_wheel] = pip_dist.glob("*.whl")
    return {"sdist": sdist, "wheel": wheel, "pip_wheel": pip_wheel}


def test_sdist_and_wheels_carry_the_bundle(built: dict[str, Path]) -> None:
    for key in ("wheel", "pip_wheel"):
        names = zipfile.ZipFile(built[key]).namelist()
        for target in STATIC:
            assert target in names, f"{key}: {target} missing"
        assert not any(n.startswith(("tests/", "benchmarks/", "js/")) for n in names), key
        assert zipfile.ZipFile(built[key]).getinfo(STATIC[0]).file_size > 10_000
    with tarfile.open(built["sdist"]) as tar:
        names = [n.split("/", 1)[1] for n in tar.getnames() if "/" in n]
    for target in STATIC:
        assert target in names, f"sdist: {target} missing"
    assert "js/package.json" in names and not any("node_modules" in n for n in names)


@pytest.fixture(scope="module")
def venvs(built: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Any:
    """``venvs("oldest" | "newest")``: a fresh venv of that Python with the wheel installed (the newest one
    with the ``demo`` extra: JupyterLab); its PATH holds only the venv. Made once per module."""
    made: dict[str, dict[str, Any]] = {}

    def make(end: str) -> dict[str, Any]:
        if end in made:
            return made[end]
        version = supported_pythons()[end]
        base = find_python(version)
        if base is None:
            message = f"no Python {version} (the {end} supported) found: python{version} or pyenv"
            if os.environ.get("TFW_REQUIRE_BROWSER") or os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)
        home = tmp_path_factory.mktemp(f"venv-{version}")
        target = home / "venv"
        run([base, "-m", "venv", "--clear", str(target)])
        py = target / "bin" / "python"
        assert _version_of(str(py)) == version
        extra = "[demo]" if end == LAB_ON else ""
        install = [str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                   f"{built['wheel']}{extra}"]  # fmt: skip
        # the package index over the network: a download that fails once (seen on a loaded machine) is
        # tried again; pip keeps what it installed, and a real resolution error fails every time
        for attempt in range(3):
            proc = subprocess.run(install, capture_output=True, text=True, timeout=1200)
            if proc.returncode == 0:
                break
            assert attempt < 2, f"pip install failed 3 times:\n{_errors(proc.stdout)}\n{_errors(proc.stderr)}"
        path = str(target / "bin")
        assert shutil.which("node", path=path) is None and shutil.which("npm", path=path) is None
        work = home / "work"
        work.mkdir()
        environ = {
            "PATH": path,
            "HOME": str(home),
            "LANG": "C.UTF-8",
            "JUPYTER_PLATFORM_DIRS": "1",
        }
        made[end] = {"python": str(py), "path": path, "env": environ, "cwd": work, "home": home,
                     "version": version}  # fmt: skip
        return made[end]

    return make


@pytest.fixture(params=ENDS)
def env(request: pytest.FixtureRequest, venvs: Any) -> dict[str, Any]:
    """The wheel's venv on the oldest, then on the newest supported Python."""
    result: dict[str, Any] = venvs(request.param)
    return result


def in_venv(env: dict[str, Any], code: str, timeout: float = 300) -> str:
    return run(
        [env["python"], "-c", textwrap.dedent(code)], env=env["env"], cwd=env["cwd"], timeout=timeout
    ).stdout


def test_replay_and_to_html_from_the_wheel(env: dict[str, Any]) -> None:
    shutil.copy(FIXTURES / "sub_agents.sse", env["cwd"] / "sub_agents.sse")
    out = in_venv(
        env,
        """
        import json, tfwidget
        assert "site-packages" in tfwidget.__file__, tfwidget.__file__
        v = tfwidget.replay("sub_agents.sse")
        page = v.to_html("turn.html")
        print(json.dumps({"status": v.status, "file": tfwidget.__file__, "size": len(page),
                          "static": "tfws-static" in page, "bundle": "tfw-esm" in page}))
        """,
    )
    result = json.loads(out.strip().splitlines()[-1])
    assert result["status"] == "done" and result["static"] and result["bundle"], result
    assert len((env["cwd"] / "turn.html").read_text(encoding="utf-8")) == result["size"]


def test_watch_against_the_simulator_from_the_wheel(env: dict[str, Any]) -> None:
    out = in_venv(
        env,
        """
        import asyncio, json, tfwidget
        from tfwidget.sim import Simulator
        sim = Simulator("sub_agents", speed=0).start()
        try:
            v = tfwidget.watch(sim.session_id, sim.turn_id, base_url=sim.base_url, api_key=sim.api_key)
            asyncio.run(v.wait(60))
            threads = [t for t in v.state.threads if t != "main"]
            print(json.dumps({"status": v.status, "messages": len(v.messages_df), "threads": len(threads)}))
        finally:
            sim.stop()
        """,
    )
    result = json.loads(out.strip().splitlines()[-1])
    assert result["status"] == "done" and result["messages"] > 0 and result["threads"] >= 2, result


def test_cli_from_the_wheel(env: dict[str, Any]) -> None:
    exe = str(Path(env["path"]) / "tfwidget")
    helptext = run([exe, "--help"], env=env["env"], cwd=env["cwd"]).stdout
    assert "show" in helptext and "bench" not in helptext
    bench = subprocess.run([exe, "bench"], env=env["env"], cwd=env["cwd"], capture_output=True, text=True)
    assert bench.returncode == 2 and "invalid choice" in bench.stderr
    shutil.copy(FIXTURES / "approval_pause.sse", env["cwd"] / "approval_pause.sse")
    run([exe, "show", "approval_pause.sse", "--html", "out/approval.html"], env=env["env"], cwd=env["cwd"])
    page = (env["cwd"] / "out" / "approval.html").read_text(encoding="utf-8")
    assert "tfws-pause" in page and "<script" not in page


@pytest.fixture
def lab_from_wheel(venvs: Any, tmp_path: Path) -> Iterator[Any]:
    env = venvs(LAB_ON)
    home, root = tmp_path / "home", tmp_path / "root"
    home.mkdir()
    root.mkdir()
    with start_jupyter_lab(home, root, python=env["python"], checkout=False, path=env["path"]) as server:
        yield server


def test_jupyterlab_renders_a_turnview_from_the_wheel(lab_from_wheel: Any, browser: Any) -> None:  # noqa: F811
    server = lab_from_wheel
    shutil.copy(FIXTURES / "sub_agents.sse", server.root_dir / "sub_agents.sse")
    cells = [
        "import tfwidget\nassert 'site-packages' in tfwidget.__file__, tfwidget.__file__\n"
        "v = tfwidget.replay('sub_agents.sse')\nv"
    ]
    (server.root_dir / "wheel.ipynb").write_text(json.dumps(make_notebook(cells)), encoding="utf-8")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        page.goto(server.lab_url("wheel.ipynb"), wait_until="domcontentloaded")
        page.wait_for_function(
            "() => /\\|\\s*Idle/.test(document.querySelector('#jp-main-statusbar')?.textContent || '')"
        )
        page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook").first.click(
            position={"x": 5, "y": 5}
        )
        page.keyboard.press("Shift+Enter")
        root = page.locator(".jp-OutputArea-output .tfw-root").first
        root.wait_for(state="visible", timeout=90_000)
        page.wait_for_function(
            "() => document.querySelector('.jp-OutputArea-output .tfw-root')?.dataset.status === 'done'"
        )
        assert root.locator(".tfw-thread").count() == 2
        assert "Apache-2.0" in root.inner_text()
        errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error']")
        assert errors.count() == 0, errors.all_text_contents()
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT_DIR / "wheel-jupyterlab.png"))
    finally:
        context.close()
        server.shutdown_kernels()


def test_report_sizes(built: dict[str, Path], venvs: Any) -> None:
    """Not a check: prints the numbers the README quotes (wheel, sdist, the installed venvs)."""
    sizes = []
    for end in ENDS:
        env = venvs(end)
        size = sum(f.stat().st_size for f in Path(env["python"]).parents[1].rglob("*") if f.is_file())
        extra = "[demo]" if end == LAB_ON else ""
        sizes.append(f"venv with tfwidget{extra} on Python {env['version']} {size / 1e6:.0f} MB")
    print(
        f"\nwheel {built['wheel'].stat().st_size:,} B, sdist {built['sdist'].stat().st_size:,} B, "
        + ", ".join(sizes),
        file=sys.stderr,
    )
    assert os.path.getsize(built["wheel"]) < 2_000_000
