"""Many turns out to the analysis engines: to_polars(), and the Parquet file read by DuckDB grouped by turn.
Turns come from the simulated gateway (loopback HTTP) and from the protocol fixtures."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest

import tfwidget
from tfwidget.analysis import TurnCollection, concat, to_arrow, to_parquet, to_polars
from tfwidget.client import GatewayClient
from tfwidget.sim import serve
from tfwidget.sse import StreamItem

from .conftest import FIXTURES


def stream(name: str) -> list[StreamItem]:
    with serve(name, speed=0) as sim, GatewayClient(sim.base_url, sim.api_key) as client:
        return list(client.subscribe(sim.session_id, sim.turn_id))


@pytest.fixture(scope="module")
def turns() -> TurnCollection:
    sim = {f"sim-{n}": stream(n) for n in ("sub_agents", "multi_pause", "large")}
    recorded = concat(FIXTURES)
    return concat({**sim, **recorded.states})


def test_to_polars_is_the_arrow_table(turns: TurnCollection) -> None:
    frame = to_polars(turns)
    table = to_arrow(turns)
    assert isinstance(frame, pl.DataFrame)
    assert frame.columns == table.column_names
    assert frame.height == table.num_rows == len(turns.df)
    assert frame.schema["created_at"] == pl.Datetime("ns", "UTC")
    assert frame.schema["sequence_number"] == pl.Int64
    assert frame.equals(pl.from_arrow(table))
    assert turns.to_polars().equals(frame)
    assert tfwidget.to_polars(FIXTURES / "plain_answer.sse").height == len(turns["plain_answer"].items)
    per_turn = frame.group_by("turn_id").len().sort("turn_id")
    assert dict(per_turn.iter_rows()) == {k: len(s.items) for k, s in turns.states.items()}


def test_duckdb_reads_the_parquet_and_groups_by_turn(turns: TurnCollection, tmp_path: Path) -> None:
    path = to_parquet(turns, tmp_path / "turns.parquet")
    rows = duckdb.sql(
        f"""select turn_id, count(*) as events, count(distinct thread_id) as threads,
                   count(*) filter (where type = 'model.message.delta') as deltas,
                   min(created_at) as first_at
            from read_parquet('{path}') group by turn_id order by turn_id"""
    ).fetchall()
    assert [r[0] for r in rows] == sorted(turns.states)
    df = turns.df
    for turn_id, events, threads, deltas, first_at in rows:
        mine = df[df.turn_id == turn_id]
        assert events == len(mine) == len(turns[turn_id].items)
        assert threads == mine.thread_id.dropna().nunique()
        assert deltas == int((mine.type == "model.message.delta").sum())
        assert first_at is not None and first_at.tzinfo is not None
    # the payload column is each event's JSON: DuckDB's JSON functions read it
    ((n,),) = duckdb.sql(
        f"select count(*) from read_parquet('{path}') where json_extract_string(payload, '$.type') = type"
    ).fetchall()
    assert n == len(df)
