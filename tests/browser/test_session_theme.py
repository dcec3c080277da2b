"""The session view follows JupyterLab's theme live (Settings > Theme), without a reload."""

from __future__ import annotations

import pytest

from .conftest import Lab
from .test_session_browser import CONTROLS, open_chat, shot, wait_turn_status

pytestmark = pytest.mark.browser


def luminance(lab: Lab, selector: str, prop: str) -> float:
    value = lab.page.locator(lab.out(selector)).first.evaluate(f"e => getComputedStyle(e)[{prop!r}]")
    r, g, b = (int(float(x)) for x in value[value.index("(") + 1 : value.index(")")].split(",")[:3])
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


def pick_theme(lab: Lab, theme: str) -> None:
    page = lab.page
    page.locator(".lm-MenuBar-itemLabel", has_text="Settings").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Theme").first.hover()
    page.locator(".lm-Menu-itemLabel", has_text=theme).first.click()
    light = "true" if theme == "JupyterLab Light" else "false"
    page.wait_for_selector(f"body[data-jp-theme-light='{light}']", state="attached", timeout=30_000)


def test_session_view_follows_jupyterlab_theme_live(lab: Lab) -> None:
    from tfwidget.sim import Simulator

    sim = Simulator("plain_answer", speed=0.0).start()
    try:
        open_chat(lab, sim, "session_theme")
        box = lab.page.locator(lab.out(f"{CONTROLS} .tfw-composer-input")).first
        box.click()
        box.type("Please refund order 42")
        lab.page.keyboard.press("Enter")
        wait_turn_status(lab, 1, "paused")
        assert luminance(lab, ".tfw-session .tfw-controls", "backgroundColor") > 0.85
        shot(lab, "light")
        pick_theme(lab, "JupyterLab Dark")
        lab.page.wait_for_function(
            "sel => document.querySelector(sel)?.closest('[data-tfw-theme]')?.dataset.tfwTheme === 'dark'",
            arg=lab.out(".tfw-session"),
        )
        assert luminance(lab, ".tfw-session .tfw-controls", "backgroundColor") < 0.25
        assert luminance(lab, ".tfw-session .tfw-controls .tfw-composer-input", "color") > 0.6
        shot(lab, "dark")
        lab.assert_no_errors()
    finally:
        sim.stop()
