"""Shared test helpers: the protocol fixtures vendored in ``tests/fixtures`` (the ``.sse`` streams and the
official client's ``.merged.json`` results)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
if not any(FIXTURES.glob("*.merged.json")):
    raise pytest.UsageError(f"protocol fixtures missing: expected NAME.sse + NAME.merged.json in {FIXTURES}")
FIXTURE_NAMES = sorted(
    p.stem for p in FIXTURES.glob("*.sse") if (FIXTURES / f"{p.stem}.merged.json").exists()
)


def drop_none(o: Any) -> Any:
    """Recursively drop ``None`` values, the way the fixtures' merged results are compared."""
    if isinstance(o, dict):
        return {k: drop_none(v) for k, v in o.items() if v is not None}
    if isinstance(o, list):
        return [drop_none(v) for v in o]
    return o


def merged_expected(name: str) -> list[dict[str, Any]]:
    return drop_none(json.loads((FIXTURES / f"{name}.merged.json").read_text()))


@pytest.fixture(params=FIXTURE_NAMES)
def fixture_name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def fixture_path(fixture_name: str) -> Path:
    return FIXTURES / f"{fixture_name}.sse"
