"""TurnView in JupyterLab 4 and Notebook 7, driven the way a person uses it: wheel, clicks, keys, reloads.

Every test runs on both hosts (the ``host`` fixture). Turns come from the simulated gateway started inside
the kernel (real HTTP on 127.0.0.1), so the whole path runs: simulator -> SSE -> client -> fold -> widget
-> comm -> front end -> DOM. Screenshots go to ``artifacts/screenshots/`` named after the test and host.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from .conftest import ACTIVE_PANEL, DARK_THEME, REPO_ROOT, SCREENSHOT_DIR, Lab

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module", autouse=True)
def _bundle_built() -> None:
    static = REPO_ROOT / "tfwidget" / "static"
    missing = [n for n in ("widget.js", "widget.css") if not (static / n).is_file()]
    if missing:
        pytest.fail(f"tfwidget/static/{', '.join(missing)} missing: run `cd js && npm ci && npm run build`")


# ------------------------------------------------------------------------------------------ helpers


def watch_cell(scenario: str, speed: float, var: str) -> str:
    """A cell that starts a simulator playing ``scenario`` and displays a watched TurnView named ``var``."""
    return (
        f"sim_{var} = tfwidget.sim.Simulator({scenario!r}, speed={speed!r}).start()\n"
        f"{var} = tfwidget.watch(sim_{var}.session_id, sim_{var}.turn_id, "
        f"base_url=sim_{var}.base_url, api_key=sim_{var}.api_key)\n"
        f"{var}"
    )


def roots(host: Lab) -> Any:
    return host.page.locator(host.out(".tfw-root"))


def wait_roots(host: Lab, n: int, timeout: float = 60_000) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    try:
        host.page.wait_for_function(
            "([sel, n]) => document.querySelectorAll(sel).length >= n",
            arg=[host.out(".tfw-root"), n],
            timeout=timeout,
        )
    except PlaywrightTimeoutError:
        shot = host.screenshot("no-views")
        raise AssertionError(
            f"{n} views did not appear within {timeout / 1000:.0f} s (found {roots(host).count()}); see {shot.name}\n"
            f"cell errors: {host.cell_errors() or 'none'}\npage errors: {host.page_errors}"
        ) from None


def wait_status(host: Lab, index: int, statuses: tuple[str, ...], timeout: float = 60_000) -> None:
    host.page.wait_for_function(
        """([sel, i, statuses]) => {
            const el = document.querySelectorAll(sel)[i];
            return !!el && statuses.includes(el.dataset.status);
        }""",
        arg=[host.out(".tfw-root"), index, list(statuses)],
        timeout=timeout,
    )


def scroll_state(host: Lab, index: int) -> dict[str, Any]:
    """Where the ``index``-th view's transcript is scrolled, and how far its bottom is."""
    return (
        roots(host)
        .nth(index)
        .evaluate(
            """el => {
            const s = el.querySelector('.tfw-scroll');
            return {top: s.scrollTop, height: s.scrollHeight, client: s.clientHeight,
                    below: s.scrollHeight - s.scrollTop - s.clientHeight, status: el.dataset.status,
                    following: el.parentElement.__tfw ? el.parentElement.__tfw.renderer.stick : null,
                    jump: !!el.querySelector('.tfw-jump:not([hidden])')};
        }"""
        )
    )


def wait_overflowing(host: Lab, index: int, timeout: float = 60_000) -> None:
    """Wait until the ``index``-th view's transcript is taller than its scroll box."""
    host.page.wait_for_function(
        """([sel, i]) => {
            const el = document.querySelectorAll(sel)[i];
            const s = el && el.querySelector('.tfw-scroll');
            return !!s && s.scrollHeight > s.clientHeight + 100;
        }""",
        arg=[host.out(".tfw-root"), index],
        timeout=timeout,
    )


def settle_quietly(host: Lab) -> None:
    """Wait until every cell ran (the turn-end display refresh and the final snapshot have arrived)."""
    host.wait_cells_done(timeout=90_000)
    host.page.wait_for_timeout(1500)


# --------------------------------------------------------------------------------------------- item 2


def test_settling_keeps_scroll_details_selection_and_focus(host: Lab) -> None:
    """When a turn ends, the view the person is looking at is not rebuilt.

    View A: the person opens the reasoning (a click, which also focuses its summary). View B: the person
    follows the stream and selects a paragraph with a triple click. At ``done`` A's reasoning stays open
    and focused, B stays scrolled to the bottom of its stream with the same text selected.
    """
    # Both views are outputs of one cell: hosts may defer rendering a cell that starts off screen.
    both = watch_cell("long_markdown", 1.5, "a").rsplit("\n", 1)[0] + "\n"
    both += watch_cell("long_markdown", 1.5, "b").rsplit("\n", 1)[0] + "\ndisplay(a, b)"
    cells = ["import tfwidget, tfwidget.sim", both]
    host.run_notebook(cells, "settle")
    wait_roots(host, 2)
    a, b = roots(host).nth(0), roots(host).nth(1)

    # A: open the reasoning while the turn streams.
    summary = a.locator(".tfw-reasoning > summary")
    summary.wait_for(state="visible", timeout=60_000)
    summary.click()
    assert a.locator(".tfw-reasoning").evaluate("d => d.open"), "a click on 'reasoning' did not open it"
    assert summary.evaluate("s => document.activeElement === s"), "the clicked summary did not take focus"

    # B: follow the stream until it overflows, then triple-click a paragraph that is on screen.
    wait_overflowing(host, 1)
    b.scroll_into_view_if_needed()
    assert scroll_state(host, 1)["status"] != "done", "turn B ended before the test could act on it"
    selected = ""
    for _ in range(5):  # the stream moves the text under the pointer; a person would simply try again
        spot = b.evaluate(
            """el => {
                const box = el.querySelector('.tfw-scroll').getBoundingClientRect();
                const lines = [...el.querySelectorAll('.tfw-md p, .tfw-md li')].map(e => e.getBoundingClientRect())
                    .filter(r => r.height > 0 && r.top > box.top + 20 && r.bottom < box.bottom - 60);
                const r = lines[Math.floor(lines.length / 2)];
                return r ? {x: r.left + 12, y: r.top + Math.min(8, r.height / 2)} : null;
            }"""
        )
        if spot is not None:
            host.page.mouse.click(spot["x"], spot["y"], click_count=3)
            selected = host.page.evaluate("() => String(window.getSelection())")
            if selected.strip():
                break
        host.page.wait_for_timeout(300)
    assert selected.strip(), "the triple click selected nothing"
    in_b = b.evaluate("el => el.contains(window.getSelection().anchorNode)")
    assert in_b, "the selection is not inside view B"
    # Put focus back on A's summary without touching B's selection (a person would Tab; that is a
    # notebook shortcut in command mode, so focus it directly).
    summary.evaluate("s => s.focus({preventScroll: true})")
    # Remember the very nodes the person is using: they must be the same nodes after the turn ends.
    host.page.evaluate(
        """([a, b]) => {
            window.__tfwProbe = {summary: document.activeElement, selNode: window.getSelection().anchorNode,
                                 scrollA: document.querySelectorAll(a)[0].querySelector('.tfw-scroll'),
                                 scrollB: document.querySelectorAll(b)[1].querySelector('.tfw-scroll')};
        }""",
        [host.out(".tfw-root"), host.out(".tfw-root")],
    )

    wait_status(host, 1, ("done",), timeout=90_000)
    wait_status(host, 0, ("done",), timeout=90_000)
    settle_quietly(host)

    after = host.page.evaluate(
        """(sel) => {
            const p = window.__tfwProbe, views = document.querySelectorAll(sel);
            const sb = views[1].querySelector('.tfw-scroll');
            return {
                sameScrollers: views[0].querySelector('.tfw-scroll') === p.scrollA && sb === p.scrollB,
                reasoningOpen: views[0].querySelector('.tfw-reasoning').open,
                focusKept: document.activeElement === p.summary && p.summary.isConnected,
                selection: String(window.getSelection()),
                selectionInB: views[1].contains(window.getSelection().anchorNode),
                belowB: sb.scrollHeight - sb.scrollTop - sb.clientHeight,
                topB: sb.scrollTop,
            };
        }""",
        host.out(".tfw-root"),
    )
    host.screenshot(scroll_to=".tfw-root")
    assert after["topB"] > 0 and after["belowB"] < 48, f"B no longer shows the end of its stream: {after}"
    assert after["reasoningOpen"], f"A's reasoning closed itself at settle: {after}"
    assert after["focusKept"], f"focus left A's reasoning summary at settle: {after}"
    assert after["selection"] == selected and after["selectionInB"], f"the selection in B was lost: {after}"
    assert after["sameScrollers"], f"the transcript was rebuilt at settle: {after}"
    host.assert_no_errors()


# --------------------------------------------------------------------------------- item 5 and 8 views

PAGE_SCROLLER_JS = """(panelSel) => {
    const panel = document.querySelector(panelSel);
    const start = panel.querySelector('.tfw-root') || panel;
    for (let n = start.parentElement; n; n = n.parentElement) {
        const s = getComputedStyle(n);
        if (/(auto|scroll)/.test(s.overflowY) && n.scrollHeight > n.clientHeight + 1) {
            n.setAttribute('data-test-page-scroller', '1');
            return true;
        }
    }
    return false;
}"""

LATENCY_JS = """(sel) => {
    // Time from each keydown in the editor to the frame in which the typed character is in the editor.
    const ed = document.querySelector(sel);
    window.__lat = [];
    let pending = null;
    document.addEventListener('keydown', (e) => {
        if (e.key.length === 1) pending = {t0: e.timeStamp, len: ed.textContent.length};
    }, true);
    const loop = () => {
        if (pending && ed.textContent.length > pending.len) {
            window.__lat.push(performance.now() - pending.t0);
            pending = null;
        }
        requestAnimationFrame(loop);
    };
    requestAnimationFrame(loop);
}"""


def page_scroll_top(host: Lab) -> float:
    return host.page.evaluate("() => document.querySelector('[data-test-page-scroller]').scrollTop")


def test_eight_views_stream_follow_and_leave_the_page_responsive(host: Lab) -> None:
    """Eight views stream at once. A person types in a cell editor (each key on screen within 50 ms), then
    wheels the page down and back up over the views: the page moves, no view catches the wheel, and at
    the end every one of the eight views shows the end of its stream."""
    n = 8
    cells = [
        "import tfwidget, tfwidget.sim",
        # one cell, eight outputs: hosts render a cell's outputs together (off-screen cells may wait)
        f"sims = [tfwidget.sim.Simulator('long_markdown', speed=0.5).start() for _ in range({n})]\n"
        "views = [tfwidget.watch(s.session_id, s.turn_id, base_url=s.base_url, api_key=s.api_key) for s in sims]\n"
        "display(*views)",
        "# notes",
    ]
    host.run_notebook(cells, "eight")
    wait_roots(host, n, timeout=90_000)
    for i in range(n):
        wait_status(host, i, ("streaming",), timeout=90_000)
    for i in range(n):
        wait_overflowing(host, i)

    # Type into the last cell's editor while all eight stream.
    editor = host.page.locator(f"{host_panel(host)} .jp-CodeCell").last.locator(".cm-content")
    editor.click()
    host.page.evaluate(LATENCY_JS, f"{host_panel(host)} .jp-CodeCell:last-child .cm-content")
    host.page.keyboard.type(" typed while eight turns stream", delay=60)
    latencies = host.page.evaluate("() => window.__lat")
    assert editor.inner_text().endswith("typed while eight turns stream"), editor.inner_text()
    live = sum(1 for i in range(n) if scroll_state(host, i)["status"] == "streaming")

    # Wheel the page down and back up with the pointer over the notebook (and so over views).
    assert host.page.evaluate(PAGE_SCROLLER_JS, host_panel(host)), "no page scroller around the views"
    panel_box = host.page.locator(host_panel(host)).bounding_box()
    assert panel_box is not None
    host.page.mouse.move(panel_box["x"] + panel_box["width"] / 2, panel_box["y"] + panel_box["height"] / 2)
    host.page.evaluate("() => { document.querySelector('[data-test-page-scroller]').scrollTop = 0; }")
    top0 = page_scroll_top(host)
    for _ in range(12):
        host.page.mouse.wheel(0, 250)
    top1 = page_scroll_top(host)
    for _ in range(12):
        host.page.mouse.wheel(0, -250)
    top2 = page_scroll_top(host)
    live_after_wheel = sum(1 for i in range(n) if scroll_state(host, i)["status"] == "streaming")

    for i in range(n):
        wait_status(host, i, ("done",), timeout=120_000)
    settle_quietly(host)
    ends = []
    for i in range(n):  # look at each view in turn, as a person scrolling down the page would
        roots(host).nth(i).scroll_into_view_if_needed()
        host.page.wait_for_timeout(200)
        ends.append(scroll_state(host, i))
    host.screenshot()

    lat_sorted = sorted(latencies)
    median = lat_sorted[len(lat_sorted) // 2] if lat_sorted else None
    print(
        f"\n[{host.server.host}] keypress-to-screen ms: median {median}, max {max(latencies, default=None)}, "
        f"n={len(latencies)}, views streaming while typing: {live}/{n}; page scroll {top0} -> {top1} -> {top2}; "
        f"views streaming after the wheel: {live_after_wheel}/{n}"
    )
    assert len(latencies) >= 20, f"too few keypresses measured: {latencies}"
    assert live >= n // 2, f"only {live} of {n} views were still streaming while typing"
    assert median is not None and median < 50, (
        f"keypress to screen: median {median:.0f} ms (all: {latencies})"
    )
    assert top1 - top0 >= 1500, f"wheeling down over the views moved the page only {top1 - top0:.0f} px"
    assert top1 - top2 >= 1500, f"wheeling back up over the views moved the page only {top1 - top2:.0f} px"
    lost = [(i, round(e["below"]), e["following"], e["jump"]) for i, e in enumerate(ends) if e["below"] >= 48]
    assert not lost, (
        f"views that ended above the end of their stream (index, px below, following, jump shown): {lost}"
    )
    host.assert_no_errors()


def host_panel(host: Lab) -> str:
    return ACTIVE_PANEL


GROWING_CODE_JS = """el => {
    // The code block at the very end of a streaming message, if there is one: its lines and shown lines.
    const pre = el.querySelector('.tfw-streaming > .tfw-md > .tfw-md-tail > pre:last-child');
    if (!pre) return null;
    const probe = (text) => {
        const c = pre.cloneNode(true);
        c.querySelector('code').textContent = text;
        pre.parentElement.insertBefore(c, pre);  // not last: no cursor
        const h = c.getBoundingClientRect().height;
        c.remove();
        return h;
    };
    const one = probe('x'), two = probe('x\\nx');
    const text = pre.querySelector('code').textContent.replace(/\\n$/, '');
    if (!text) return null;  // a fence just opened: nothing to count yet
    return {lines: text.split('\\n').length, shown: Math.round(1 + (pre.getBoundingClientRect().height - one) / (two - one))};
}"""


def test_wheel_in_a_view_shows_jump_to_latest(host: Lab) -> None:
    """A code block streaming in shows no extra empty line. A person who stops, then wheels up inside a streaming view reads back; a visible "Jump to latest"
    button appears, and clicking it follows the stream again to its end. At the end of the view, further
    wheeling down scrolls the page."""
    filler = "print('\\n'.join(f'line {i}' for i in range(60)))"  # a page taller than the window
    cells = ["import tfwidget, tfwidget.sim", watch_cell("long_markdown", 1.0, "w"), filler]
    host.run_notebook(cells, "jump")
    # Scroll down to the view's cell as a person would: hosts may defer rendering an off-screen cell.
    deadline = time.monotonic() + 60
    while not roots(host).count() and time.monotonic() < deadline:
        host.page.locator(f"{ACTIVE_PANEL} .jp-Cell").nth(1).scroll_into_view_if_needed()
        host.page.wait_for_timeout(500)
    wait_roots(host, 1)
    view = roots(host).nth(0)

    # While a code block streams in, it shows its lines and no empty line after them.
    growing: list[dict[str, Any]] = []
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline and len(growing) < 3 and scroll_state(host, 0)["status"] != "done":
        sample = view.evaluate(GROWING_CODE_JS)
        if sample is not None:
            growing.append(sample)
        host.page.wait_for_timeout(100)
    assert growing, "never saw a code block streaming in"
    assert all(g["shown"] == g["lines"] for g in growing), (
        f"a streaming code block shows extra lines: {growing}"
    )

    wait_overflowing(host, 0)
    view.scroll_into_view_if_needed()
    box = view.locator(".tfw-scroll").bounding_box()
    assert box is not None
    host.page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    host.page.wait_for_timeout(1000)  # a pause: this wheel is meant for the view
    host.page.mouse.wheel(0, -300)
    host.page.wait_for_timeout(300)
    state = scroll_state(host, 0)
    assert state["status"] == "streaming", "the turn ended before the test could read back"
    assert state["below"] > 200, f"wheeling up inside the view did not scroll it: {state}"
    jump = view.locator(".tfw-jump")
    jump.wait_for(state="visible", timeout=5_000)
    assert "latest" in (jump.inner_text() or "").lower()
    # Still reading back a moment later: the stream does not pull the view down.
    host.page.wait_for_timeout(1000)
    assert scroll_state(host, 0)["below"] > 200
    jump.click()
    host.page.wait_for_timeout(300)
    assert scroll_state(host, 0)["below"] < 48, "Jump to latest did not go to the end"
    wait_status(host, 0, ("done",), timeout=90_000)
    settle_quietly(host)
    end = scroll_state(host, 0)
    assert end["below"] < 48, f"after Jump to latest the view stopped following: {end}"
    assert not jump.is_visible()

    # At the end of the view, wheeling on moves the page instead of doing nothing.
    assert host.page.evaluate(PAGE_SCROLLER_JS, host_panel(host))
    view.scroll_into_view_if_needed()
    box = view.locator(".tfw-scroll").bounding_box()
    assert box is not None
    host.page.mouse.move(box["x"] + box["width"] / 2, box["y"] + min(box["height"] / 2, 100))
    before = page_scroll_top(host)
    host.page.mouse.wheel(0, 200)
    host.page.mouse.wheel(0, 200)
    host.page.wait_for_timeout(300)
    assert page_scroll_top(host) > before, "at the end of the view the wheel did not reach the page"
    host.assert_no_errors()


# ------------------------------------------------------------------ watch, replay, themes, reload, item 10

CONTRAST_JS = """(el) => {
    const parse = (c) => {
        const nums = (c.match(/-?[\\d.]+/g) || []).map(Number);
        if (c.startsWith('color(')) {  // color(srgb r g b / a): channels 0..1
            return [nums[0] * 255, nums[1] * 255, nums[2] * 255, nums.length > 3 ? nums[3] : 1];
        }
        return [nums[0], nums[1], nums[2], nums.length > 3 ? nums[3] : 1];
    };
    const over = (top, under) => [0, 1, 2].map((i) => top[i] * top[3] + under[i] * (1 - top[3]));
    const layers = [];
    for (let n = el; n && n.nodeType === 1; n = n.parentElement) {
        const c = parse(getComputedStyle(n).backgroundColor);
        if (c[3] > 0) layers.push(c);
        if (c[3] >= 1) break;
    }
    let bg = [255, 255, 255];
    for (const c of layers.reverse()) bg = over(c, bg);
    const fg = over(parse(getComputedStyle(el).color), bg);
    const lum = (rgb) => {
        const ch = rgb.map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
        return 0.2126 * ch[0] + 0.7152 * ch[1] + 0.0722 * ch[2];
    };
    const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
    return {ratio: (hi + 0.05) / (lo + 0.05), fg, bg, text: el.textContent.trim().slice(0, 20),
            size: getComputedStyle(el).fontSize};
}"""

# Elements with small text whose contrast the issue measured below 4.5:1.
SMALL_LABELS = {
    "DONE pill": ".tfw-header .tfw-pill-done",
    "DONE badge of a sub-agent": ".tfw-thread-summary .tfw-badge-done",
    "USER label": ".tfw-user .tfw-role",
}


def contrasts(host: Lab) -> dict[str, dict[str, Any]]:
    out = {}
    for name, sel in SMALL_LABELS.items():
        loc = host.page.locator(host.out(sel))
        assert loc.count() > 0, f"no {name} ({sel}) on the page"
        out[name] = loc.first.evaluate(CONTRAST_JS)
    return out


def markdown_checks(host: Lab) -> dict[str, Any]:
    """Task-list boxes and code-block line counts as rendered in the first view (long_markdown)."""
    return (
        roots(host)
        .nth(0)
        .evaluate(
            """el => ({
            tasks: [...el.querySelectorAll('.tfw-md li')].filter(li => /^\\s*[☑☐]/.test(li.textContent))
                .map(li => ({checked: !!li.querySelector('[role=checkbox][aria-checked=true]'),
                             box: !!li.querySelector('[role=checkbox]'), text: li.textContent.trim()})),
            rawTasks: [...el.querySelectorAll('.tfw-md li')].filter(li => /^\\s*\\[[ xX]\\]/.test(li.textContent))
                .map(li => li.textContent.trim()),
            // Rendered lines of each code block: its height against same-styled blocks of 1 and 2 lines.
            code: [...el.querySelectorAll('.tfw-md pre')].map(pre => {
                const probe = (text) => {
                    const c = pre.cloneNode(true);
                    c.querySelector('code').textContent = text;
                    pre.after(c);
                    const h = c.getBoundingClientRect().height;
                    c.remove();
                    return h;
                };
                const one = probe('x'), two = probe('x\\nx');
                return Math.round(1 + (pre.getBoundingClientRect().height - one) / (two - one));
            }),
        })"""
        )
    )


def expected_tasks() -> list[tuple[bool, str]]:
    import re

    text = (REPO_ROOT / "tfwidget" / "sim" / "data" / "long_markdown.md").read_text(encoding="utf-8")
    return [
        (m.group(1).lower() == "x", m.group(2).strip())
        for m in re.finditer(r"^- \[([ xX])\] (.+)$", text, re.M)
    ]


def expected_code_lines() -> list[int]:
    """Lines inside each fenced code block of long_markdown.md (blank lines inside the fence count)."""
    text = (REPO_ROOT / "tfwidget" / "sim" / "data" / "long_markdown.md").read_text(encoding="utf-8")
    counts, inside, n = [], False, 0
    for line in text.splitlines():
        if line.startswith("```"):
            if inside:
                counts.append(n)
            inside, n = not inside, 0
        elif inside:
            n += 1
    return counts


def shoot_views(host: Lab, theme: str) -> None:
    """Element screenshots of both views (``watch`` and ``replay``) in ``theme``."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(("watch", "replay")):
        view = roots(host).nth(i)
        view.scroll_into_view_if_needed()
        view.screenshot(
            path=str(SCREENSHOT_DIR / f"turnview-{host.server.host}-{theme}-{name}.png"),
            animations="disabled",
        )


def test_watch_replay_themes_and_reload(host: Lab) -> None:
    """``watch`` and ``replay`` render on the host; task lists keep their boxes, code blocks have no empty
    last line, small labels keep 4.5:1 contrast in the light and the dark theme, and a reload with the
    kernel alive brings both views back unchanged."""
    cells = [
        "import importlib.resources, tfwidget, tfwidget.sim",
        watch_cell("long_markdown", 0, "w"),
        "r = tfwidget.replay(importlib.resources.files('tfwidget.sim') / 'data' / 'sub_agents.sse')\nr",
    ]
    host.run_notebook(cells, "matrix")
    wait_roots(host, 2)
    wait_status(host, 0, ("done",))
    wait_status(host, 1, ("done",))
    host.wait_cells_done()

    md = markdown_checks(host)
    tasks = expected_tasks()
    assert tasks, "long_markdown has no task list"
    assert not md["rawTasks"], f"task items show their markdown instead of a box: {md['rawTasks']}"
    assert [(t["checked"], t["box"]) for t in md["tasks"]] == [(c, True) for c, _ in tasks], md["tasks"]
    assert md["code"] == expected_code_lines(), "code blocks do not show exactly their source lines"

    light = contrasts(host)
    texts = [roots(host).nth(i).locator(".tfw-scroll").inner_text() for i in range(2)]
    host.screenshot("light", scroll_to=".tfw-root")
    shoot_views(host, "light")
    host.save()

    host.set_theme(DARK_THEME)  # a page reload, the kernel stays alive: the views come back from it
    wait_roots(host, 2)
    wait_status(host, 0, ("done",))
    wait_status(host, 1, ("done",))
    assert [roots(host).nth(i).locator(".tfw-scroll").inner_text() for i in range(2)] == texts
    dark = contrasts(host)
    bg = dark["USER label"]["bg"]
    assert sum(bg) / 3 < 100, f"the dark theme's view is not dark: {dark}"
    host.screenshot("dark", scroll_to=".tfw-root")
    shoot_views(host, "dark")

    low = {f"{theme} {name}": round(c["ratio"], 2) for theme, cs in (("light", light), ("dark", dark))
           for name, c in cs.items() if c["ratio"] < 4.5}  # fmt: skip
    assert not low, f"below 4.5:1: {low}\nlight: {light}\ndark: {dark}"
    host.assert_no_errors()


def test_quickstart_turn_streams_in_view(host: Lab) -> None:
    """A newcomer opens the quickstart and runs all cells: the first turn streams long enough to watch
    (at least 5 s) and is on screen while it does."""
    import shutil

    shutil.copy(REPO_ROOT / "notebooks" / "quickstart.ipynb", host.server.root_dir / "quickstart.ipynb")
    host.open_notebook("quickstart.ipynb")
    host.run_all()
    samples: list[tuple[float, str, bool]] = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        state = host.page.evaluate(
            """(sel) => {
                const el = document.querySelector(sel);
                if (!el) return null;
                const r = el.getBoundingClientRect();
                const seen = Math.min(r.bottom, window.innerHeight) - Math.max(r.top, 0);
                return {status: el.dataset.status, visible: seen >= Math.min(200, r.height)};
            }""",
            host.out(".tfw-root"),
        )
        if state is not None:
            samples.append((time.monotonic(), state["status"], state["visible"]))
            if state["status"] == "done":
                break
        time.sleep(0.2)
    streaming = [(t, v) for t, s, v in samples if s == "streaming"]
    assert samples and samples[-1][1] == "done", f"the quickstart's turn did not finish: {samples[-3:]}"
    span = streaming[-1][0] - streaming[0][0] if streaming else 0.0
    seen = sum(1 for _, v in streaming if v)
    print(
        f"\n[{host.server.host}] quickstart: streamed for {span:.1f} s, on screen in {seen}/{len(streaming)} samples"
    )
    assert span >= 5, f"the first turn streamed for only {span:.1f} s: too short to watch"
    assert seen >= 0.8 * len(streaming), (
        f"the streaming turn was on screen in only {seen}/{len(streaming)} samples"
    )
    host.wait_cells_done(timeout=120_000)
    host.screenshot(scroll_to=".tfw-root")
    host.assert_no_errors()
