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


# `make check` runs `-m "not slow"`: these modules start servers, subprocesses, notebooks or browsers, or
# fold large generated turns, and together take minutes; the rest (the fold, the view, the frames, the
# contracts, the resume core, ...) runs in well under a minute on two cores. `make test` runs everything.
SLOW_MODULES = frozenset(
    {
        "test_artifacts",
        "test_async_client",
        "test_benchmarks",
        "test_cli",
        "test_client",
        "test_client_chaos",
        "test_first_run",
        "test_frames_bulk",
        "test_hostile_fold",
        "test_hostile_gateway",
        "test_notebooks",
        "test_oracle",
        "test_otel",
        "test_otel_phoenix",
        "test_polars_duckdb",
        "test_readme",
        "test_session",
        "test_session_rules",
        "test_sim",
        "test_sim_hostile",
        "test_sim_official_client",
        "test_timetravel",
    }
)

# single long tests in otherwise fast modules: the property tests with hundreds of examples (the decoder
# against httpx-sse, the bulk ingest against the fold), every pair of recordings diffed, and tests that start
# a Python subprocess or build ipywidgets containers. Their rules keep quick cases in `make check` (tests/
# test_sse.py, test_sse_rule.py's fixed cases, test_ingest.py's malformed frames, test_diff.py's pairs,
# test_contracts.py's up-to-date check).
SLOW_TESTS = frozenset(
    {
        "test_concat_of_a_folder_folds_one_recording_at_a_time",
        "test_bulk_ingest_is_the_fold_of_the_items",
        "test_same_frames_and_ids_as_httpx_sse_under_random_chunking",
        "test_gateway_shaped_streams_decode_as_httpx_sse_does_under_random_chunking",
        "test_frames_longer_than_the_cap_in_bytes_decode_the_same_when_no_line_or_data_is",
        "test_every_pair_of_fixtures_and_recordings",
        "test_the_generator_runs_as_a_module",
        "test_views_inside_containers_get_their_static_transcript_first",
    }
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.stem in SLOW_MODULES or item.originalname in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)
