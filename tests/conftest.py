"""Shared test helpers: the protocol fixtures that sit beside the project in ``shared/fixtures``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
_CANDIDATES = [
    Path(os.environ["TFW_FIXTURES"]) if os.environ.get("TFW_FIXTURES") else None,
    ROOT.parent / "shared" / "fixtures",
]
_found = [p for p in _CANDIDATES if p is not None and p.is_dir() and any(p.glob("*.merged.json"))]
if not _found:
    raise pytest.UsageError(
        "protocol fixtures not found: expected shared/fixtures beside the project checkout "
        "(or set TFW_FIXTURES to a folder of NAME.sse + NAME.merged.json files)"
    )
FIXTURES = _found[0]
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
