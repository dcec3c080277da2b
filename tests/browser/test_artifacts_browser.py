"""Images, input files, sandbox artifacts and offloaded results in JupyterLab + chromium.

The kernel runs the simulator's ``artifacts`` scenario (with its hostile additions) and follows it with
:func:`tfwidget.watch`. Expected bytes come from the scenario module (the same objects the simulator
serves); the API key is written by the kernel to a file so the test can check it never reached the page.
"""

from __future__ import annotations

from typing import Any

import pytest

from tfwidget.sim.artifacts_scenario import ARTIFACT_FILES, OFFLOADED_PATH, SANDBOX_ID

from .conftest import Lab
from .test_widget_browser import root, wait_status

pytestmark = pytest.mark.browser

CELLS = [
    "import tfwidget, tfwidget.sim\n"
    "sim = tfwidget.sim.Simulator('artifacts', speed=0, hostile=True).start()\n"
    "open('sim_key.txt', 'w').write(sim.api_key)\n"
    "w = tfwidget.watch(sim.session_id, sim.turn_id, base_url=sim.base_url, api_key=sim.api_key)\n"
    "w",
    # a second turn whose sandbox is gone: its downloads answer 410
    "sim2 = tfwidget.sim.Simulator('artifacts', speed=0).start()\n"
    f"sim2.sandbox.gone.add({SANDBOX_ID!r})\n"
    "open('sim2_key.txt', 'w').write(sim2.api_key)\n"
    "w2 = tfwidget.watch(sim2.session_id, sim2.turn_id, base_url=sim2.base_url, api_key=sim2.api_key)\n"
    "w2",
]


def card(widget: Any, path: str) -> Any:
    return widget.locator(f'.tfw-art-card[data-path="{path}"]')


def wait_card_status(lab: Lab, widget_index: int, path: str, pattern: str, timeout: float = 30_000) -> str:
    lab.page.wait_for_function(
        """([sel, i, path, pattern]) => {
            const w = document.querySelectorAll(sel)[i];
            const c = w && [...w.querySelectorAll('.tfw-art-card')].find(e => e.dataset.path === path);
            const s = c && c.querySelector('.tfw-art-status');
            return !!s && new RegExp(pattern).test(s.textContent);
        }""",
        arg=[lab.out(".tfw-root"), widget_index, path, pattern],
        timeout=timeout,
    )
    return str(card(root(lab, widget_index), path).locator(".tfw-art-status").text_content())


def fetched_bytes(widget: Any) -> tuple[str, bytes]:
    got = widget.evaluate(
        "el => { const l = el.parentElement.__tfw.fetcher.last; return [l.path, Array.from(l.bytes)]; }"
    )
    return got[0], bytes(got[1])


def test_artifacts_scenario_in_jupyterlab(lab: Lab) -> None:
    requests: list[str] = []
    lab.page.on("request", lambda r: requests.append(r.url))
    lab.run_notebook(CELLS, "artifacts")
    lab.wait_output(".tfw-root")
    wait_status(lab, "done", 0)
    wait_status(lab, "done", 1)
    w = root(lab, 0)

    # images: the PNG part renders (decoded), the text/html data URI and the remote image do not load
    img = w.locator(".tfw-media .tfw-images > img.tfw-img")
    assert img.count() == 1
    lab.page.wait_for_function("el => el.complete && el.naturalWidth > 0", arg=img.element_handle())
    assert img.get_attribute("src").startswith("data:image/png;base64,")
    assert "not an image data URI (text/html)" in w.locator(".tfw-img-refused").inner_text()
    assert "images.example.com" in w.locator(".tfw-img-remote").inner_text()  # a placeholder naming the host
    # input file chips: name, type and size; the PNG has a thumbnail
    chips = w.locator(".tfw-input .tfw-file-chip")
    assert chips.count() == 2
    assert "revenue.csv" in chips.nth(0).inner_text() and "text/csv" in chips.nth(0).inner_text()
    assert chips.nth(1).locator("img.tfw-file-thumb").count() == 1
    # the sandbox_artifacts code block itself is hidden behind the cards
    assert not w.locator("code.language-sandbox_artifacts").is_visible()

    # Download: the page receives exactly the simulator's bytes and saves them
    for path in ("/workspace/out/summary.csv", "/workspace/out/chart.png"):
        with lab.page.expect_download(timeout=30_000) as dl:
            card(w, path).locator(".tfw-art-download").click()
        saved = dl.value.path()
        assert saved is not None and open(saved, "rb").read() == ARTIFACT_FILES[path]
        assert dl.value.suggested_filename == path.rsplit("/", 1)[-1]
        assert fetched_bytes(w) == (path, ARTIFACT_FILES[path])
        wait_card_status(lab, 0, path, "received")

    # Open (text): a new tab with the file as plain text
    with lab.context.expect_page(timeout=30_000) as popup_info:
        card(w, "/workspace/out/notes.txt").locator(".tfw-art-open").click()
    popup = popup_info.value
    popup.wait_for_load_state()
    assert popup.url.startswith("blob:")
    assert (
        popup.locator("body").inner_text().strip()
        == ARTIFACT_FILES["/workspace/out/notes.txt"].decode().strip()
    )
    popup.close()

    # the offloaded tool result: "full result: N KB, load" then its text
    off = w.locator(f'.tfw-offloaded[data-path="{OFFLOADED_PATH}"]')
    assert "full result" in off.inner_text() and "KB" in off.inner_text()
    off.locator(".tfw-offloaded-load").click()
    off.locator(".tfw-offloaded-text").wait_for(state="visible", timeout=30_000)
    assert off.locator(".tfw-offloaded-text").text_content() == ARTIFACT_FILES[OFFLOADED_PATH].decode()

    # hostile links are refused in the card, with no buttons
    for bad, why in (("javascript:alert(1)", "not absolute"), ("../../etc/passwd", "not absolute")):
        c = w.locator(".tfw-art-refused").filter(has_text=bad)
        assert c.count() == 1 and why in c.inner_text() and c.locator("button").count() == 0
    # a 1 GiB artifact is refused with a clear message, not streamed into the page
    card(w, "/workspace/out/huge.bin").locator(".tfw-art-download").click()
    msg = wait_card_status(lab, 0, "/workspace/out/huge.bin", "too large")
    assert "1.0 GB" in msg or "over 50.0 MB" in msg, msg
    assert "view.download" in msg

    # 410: the second turn's sandbox is gone
    w2 = root(lab, 1)
    card(w2, "/workspace/out/summary.csv").locator(".tfw-art-download").click()
    msg = wait_card_status(lab, 1, "/workspace/out/summary.csv", "HTTP 410")
    assert "is gone" in msg, msg

    # the key never reached the page (not in the DOM, not on the kernel WebSocket)
    for name in ("sim_key.txt", "sim2_key.txt"):
        key = (lab.server.root_dir / name).read_text()
        assert key and not lab.seen_on_the_wire(key)
        assert key not in lab.page.content()
    assert not [u for u in requests if "images.example.com" in u], "a remote image was loaded without consent"
    # the remote image waits behind the view's "load images" consent; once given, it loads
    remote = w.locator(".tfw-media .tfw-img-remote")
    assert "images.example.com" in remote.locator(".tfw-media-blocked").inner_text()
    png = ARTIFACT_FILES["/workspace/out/chart.png"]
    lab.page.route(
        "https://images.example.com/**", lambda r: r.fulfill(status=200, content_type="image/png", body=png)
    )
    remote.locator(".tfw-media-load").click()
    img = remote.locator("img.tfw-img")
    lab.page.wait_for_function(
        "el => el.complete && el.naturalWidth > 0", arg=img.element_handle(), timeout=30_000
    )
    assert img.get_attribute("src") == "https://images.example.com/chart.png"
    assert img.get_attribute("referrerpolicy") == "no-referrer"
    assert [u for u in requests if "images.example.com" in u]
    lab.screenshot(scroll_to=".tfw-artifacts")
    lab.assert_no_errors()
