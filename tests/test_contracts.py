"""tfwidget.contracts: the lists exist once, the fold and the view stay inside them, the front end's
generated copy is up to date and the front end holds no hand copies."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tfwidget import contracts, view
from tfwidget.contracts import (
    LIVE_STATUSES,
    PAUSE_KINDS,
    THREAD_STATUSES,
    TIMELINE_KINDS,
    TOOL_CALL_STATUSES,
    VIEW_STATUSES,
    VIEW_TIMELINE_KINDS,
)
from tfwidget.recording import load
from tfwidget.state import TurnState
from tfwidget.view import build_view

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
NAMES = sorted(p.stem for p in FIXTURES.glob("*.sse"))
GENERATED = ROOT / "js" / "src" / "contracts.gen.js"


def test_generated_js_is_up_to_date():
    assert GENERATED.read_text(encoding="utf-8") == contracts.js_module(), (
        "js/src/contracts.gen.js is stale: run `make contracts`"
    )


def test_the_generator_runs_as_a_module():
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-m", "tfwidget.contracts", "--js"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    assert out.stdout == contracts.js_module()
    assert subprocess.run([sys.executable, "-m", "tfwidget.contracts"], capture_output=True).returncode == 2


def test_view_module_uses_the_contract_lists():
    # one list each: view.py re-exports the contracts' objects instead of keeping copies
    assert view.VIEW_STATUSES is contracts.VIEW_STATUSES
    assert view.LIVE_STATUSES is contracts.LIVE_STATUSES
    assert view.MESSAGE_TEXT_FIELDS is contracts.MESSAGE_TEXT_FIELDS
    assert view.TOOL_TEXT_FIELDS is contracts.TOOL_TEXT_FIELDS
    assert view.SET_KEYS is contracts.SET_KEYS
    assert LIVE_STATUSES < set(VIEW_STATUSES)


@pytest.mark.parametrize("name", NAMES)
def test_fold_and_view_stay_inside_the_literals(name):
    items = load(FIXTURES / f"{name}.sse")
    for k in (len(items) // 2, len(items)):
        state = TurnState.from_items(items[:k])
        assert {t.status for t in state.tool_calls.values()} <= set(TOOL_CALL_STATUSES)
        assert {t.status for t in state.threads.values()} <= set(THREAD_STATUSES)
        assert {e.kind for e in state.timeline} <= set(TIMELINE_KINDS)
        v = build_view(state)
        assert set(v) == set(contracts.View.__annotations__)
        assert set(contracts.SET_KEYS) == set(v) - {"rev", "timeline", "messages", "tools", "events"}
        assert v["status"] in VIEW_STATUSES
        assert {e["kind"] for e in v["timeline"]} <= set(VIEW_TIMELINE_KINDS)
        assert {p["kind"] for p in v["pauses"]} <= set(PAUSE_KINDS)
        for p in v["pauses"]:
            assert set(p) == set(contracts.PauseView.__annotations__)
        for t in v["threads"]:
            assert set(t) == set(contracts.ThreadView.__annotations__)
        optional = {"images", "artifacts", "offloaded"}
        for m in v["messages"].values():
            assert set(contracts.MessageView.__annotations__) - optional <= set(m)
            assert set(m) <= set(contracts.MessageView.__annotations__)
        for t in v["tools"].values():
            assert set(contracts.ToolView.__annotations__) - optional <= set(t)
            assert set(t) <= set(contracts.ToolView.__annotations__)
        for row in v["usage"]:
            assert set(contracts.USAGE_TOKEN_KEYS) | set(contracts.USAGE_BREAKDOWN_KEYS) <= set(row)


def _hand_copies(values: tuple[str, ...]) -> re.Pattern[str]:
    # the values written out in a row, as a JS array literal or a Set of one
    body = r"\s*,\s*".join(re.escape(f'"{v}"') for v in values)
    return re.compile(r"\[\s*" + body + r"\s*,?\s*\]")


@pytest.mark.parametrize(
    "values",
    [
        tuple(s for s in VIEW_STATUSES if s in LIVE_STATUSES),
        VIEW_STATUSES,
        contracts.USAGE_BREAKDOWN_KEYS,
        contracts.MESSAGE_TEXT_FIELDS,
        TOOL_CALL_STATUSES,
    ],
)
def test_front_end_has_no_hand_copies_of_the_lists(values):
    pattern = _hand_copies(values)
    for path in sorted((ROOT / "js" / "src").glob("*.js")):
        if path == GENERATED:
            continue
        text = path.read_text(encoding="utf-8")
        assert not pattern.search(text), f"{path.name} copies {values}: import it from contracts.gen.js"
