"""tfwidget.analysis on turns streamed from the simulated gateway over loopback HTTP."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib
import pandas as pd
import pyarrow.parquet as pq
import pytest
from matplotlib.figure import Figure

import tfwidget
from tfwidget import analysis
from tfwidget.analysis import TurnCollection, as_state, concat, plot_usage, to_arrow, to_parquet
from tfwidget.client import GatewayClient
from tfwidget.frames import EVENTS_COLUMNS, USAGE_COLUMNS
from tfwidget.sim import serve
from tfwidget.sse import StreamItem
from tfwidget.state import TurnState

matplotlib.use("Agg")

SCENARIOS = ["sub_agents", "approval_pause", "plain_answer"]


def stream(name: str) -> list[StreamItem]:
    with serve(name, speed=0) as sim, GatewayClient(sim.base_url, sim.api_key) as client:
        items = list(client.subscribe(sim.session_id, sim.turn_id))
        assert len(items) == len(sim.events())
        return items


@pytest.fixture(scope="module")
def turns() -> dict[str, list[StreamItem]]:
    return {name: stream(name) for name in SCENARIOS}


@pytest.fixture(scope="module")
def recordings(turns: dict[str, list[StreamItem]], tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("recordings")
    for name, items in turns.items():
        tfwidget.save(items, folder / f"{name}.jsonl")
    return folder


# ------------------------------------------------------------------------------------------ inputs


def test_as_state_accepts_every_kind_of_turn(turns: dict[str, list[StreamItem]], recordings: Path) -> None:
    items = turns["sub_agents"]
    expected = TurnState.from_items(items).usage_df
    view = tfwidget.replay(items)
    for obj in (items, TurnState.from_items(items), view, recordings / "sub_agents.jsonl",
                str(recordings / "sub_agents.jsonl")):  # fmt: skip
        pd.testing.assert_frame_equal(as_state(obj).usage_df, expected)
    assert as_state(view) is view.state
    with pytest.raises(ValueError, match="folder"):
        as_state(recordings)
    with pytest.raises(TypeError, match="TurnState"):
        as_state(42)


# ------------------------------------------------------------------------------------------ concat


def test_concat_dict_keys_frames_and_states(turns: dict[str, list[StreamItem]]) -> None:
    c = concat(turns)
    assert isinstance(c, TurnCollection)
    assert list(c.states) == SCENARIOS and len(c) == 3
    for attr in ("df", "messages_df", "tool_calls_df", "usage_df"):
        frame = getattr(c, attr)
        assert frame.columns[0] == "turn_id"
        per_turn = {k: getattr(s, attr) for k, s in c.states.items()}
        assert len(frame) == sum(len(f) for f in per_turn.values())
        assert list(frame.columns[1:]) == list(next(iter(per_turn.values())).columns)
        for key, f in per_turn.items():
            part = frame[frame.turn_id == key].drop(columns="turn_id").reset_index(drop=True)
            pd.testing.assert_frame_equal(part, f.reset_index(drop=True), check_dtype=False)
    assert list(c.usage_df.columns) == ["turn_id", *USAGE_COLUMNS]
    assert len(c.df) == sum(len(v) for v in turns.values())


def test_concat_turns_df_matches_each_state(turns: dict[str, list[StreamItem]]) -> None:
    c = concat(turns)
    t = c.turns_df.set_index("turn_id")
    assert t.loc["sub_agents", "status"] == "done"
    assert t.loc["approval_pause", "status"] == "paused"
    for key, state in c.states.items():
        totals = state.totals()
        assert t.loc[key, "input_tokens"] == totals["input_tokens"]
        assert t.loc[key, "output_tokens"] == totals["output_tokens"]
        assert t.loc[key, "events"] == len(state.items)
        assert t.loc[key, "threads"] == len(state.threads)
        if totals["cost_usd"] is None:
            assert pd.isna(t.loc[key, "cost_usd"])
        else:
            assert t.loc[key, "cost_usd"] == pytest.approx(totals["cost_usd"])
    assert t.loc["sub_agents", "threads"] == 3


def test_concat_lists_use_turn_ids_and_stay_unique(turns: dict[str, list[StreamItem]]) -> None:
    a = turns["sub_agents"]
    c = concat([a, tfwidget.replay(a), TurnState.from_items(turns["plain_answer"])])
    tid = TurnState.from_items(a).turn_id
    assert list(c.states) == [tid, f"{tid}#2", TurnState.from_items(turns["plain_answer"]).turn_id]
    assert set(c.usage_df.turn_id) == set(c.states)


def test_concat_folder_path_and_load_dict_agree(recordings: Path) -> None:
    from_folder = concat(recordings)
    from_load = concat(tfwidget.load(recordings))
    from_list = concat([recordings])
    assert list(from_folder.states) == sorted(SCENARIOS) == list(from_load.states) == list(from_list.states)
    pd.testing.assert_frame_equal(from_folder.df, from_load.df)
    nested = concat({"batch": recordings})
    assert list(nested.states) == [f"batch/{n}" for n in sorted(SCENARIOS)]
    again = concat(from_folder)
    assert list(again.states) == list(from_folder.states)


def test_empty_collection_has_the_columns() -> None:
    c = concat([])
    assert len(c) == 0
    assert list(c.usage_df.columns) == ["turn_id", *USAGE_COLUMNS]
    assert c.turns_df.empty


# ------------------------------------------------------------------------------------------ plot_usage


def _bars(ax: object) -> list:
    return [p for p in ax.patches if p.get_fill()]  # type: ignore[attr-defined]


def test_plot_usage_stacks_match_usage(turns: dict[str, list[StreamItem]]) -> None:
    state = TurnState.from_items(turns["sub_agents"])
    usage = state.usage_df
    fig = plot_usage(state)
    assert isinstance(fig, Figure)
    ax, ax2 = fig.axes[0], fig.axes[1]
    # every call's stack reaches input + output
    tops: dict[int, float] = {}
    for p in _bars(ax):
        x = round(p.get_x() + p.get_width() / 2)
        tops[x] = max(tops.get(x, 0.0), p.get_y() + p.get_height())
    expected = (usage.input_tokens + usage.output_tokens).astype(float).tolist()
    assert [tops[i] for i in range(len(usage))] == pytest.approx(expected)
    # cache reads: hatched outlines as high as each call's cache_read_tokens
    hatched = [p for p in ax.patches if not p.get_fill()]
    assert [p.get_height() for p in hatched] == pytest.approx(
        usage.cache_read_tokens.fillna(0).astype(float).tolist()
    )
    # the cumulative line on the second axis
    (line,) = ax2.get_lines()
    assert list(line.get_ydata()) == pytest.approx(pd.Series(expected).cumsum().tolist())
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    for name in ("harness", "messages", "output", "thread: main", "thread: qdrant-research",
                 "thread: milvus-research", "cumulative tokens"):  # fmt: skip
        assert name in labels
    # the tick labels take their thread's colour: sub-agent calls differ from main
    colors = {t.get_text(): t.get_color() for t in ax.get_xticklabels()}
    # ticks are numbered like usage_df.call_index (from 1), the number the view's chart shows
    assert [t.get_text() for t in ax.get_xticklabels()] == [f"#{i}" for i in usage.call_index]
    main_calls = usage.call_index[usage.thread_id == "main"].tolist()
    sub_calls = usage.call_index[usage.thread_id != "main"].tolist()
    assert colors[f"#{main_calls[0]}"] == colors[f"#{main_calls[-1]}"]
    assert colors[f"#{sub_calls[0]}"] != colors[f"#{main_calls[0]}"]


def test_plot_usage_on_a_given_axes_and_a_frame(turns: dict[str, list[StreamItem]]) -> None:
    import matplotlib.pyplot as plt

    c = concat(turns)
    fig, ax = plt.subplots()
    try:
        out = plot_usage(c.usage_df, ax=ax, by="turn", cumulative=False, title="three turns")
        assert out is ax and len(fig.axes) == 1
        assert ax.get_title() == "three turns"
        assert len(ax.get_xticklabels()) == len(c.usage_df)
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert {f"turn: {k}" for k in SCENARIOS} <= set(labels)
    finally:
        plt.close(fig)
    # a widget works too, and a collection's method colours by turn
    assert isinstance(plot_usage(tfwidget.replay(turns["approval_pause"])), Figure)
    fig2 = c.plot_usage()
    assert any(t.get_text() == "turn: plain_answer" for t in fig2.legends[0].get_texts())


def test_plot_usage_errors(turns: dict[str, list[StreamItem]], monkeypatch: pytest.MonkeyPatch) -> None:
    state = TurnState.from_items(turns["plain_answer"])
    with pytest.raises(ValueError, match="backend"):
        plot_usage(state, backend="plotly")
    with pytest.raises(ValueError, match="by must be"):
        plot_usage(state, by="colour")
    with pytest.raises(ValueError, match="several turns"):
        plot_usage(state, by="turn")
    with pytest.raises(ValueError, match="usage_df"):
        plot_usage(pd.DataFrame({"a": [1]}))
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"pip install 'tfwidget\[plot\]'"):
        plot_usage(state)


def test_plot_usage_without_calls() -> None:
    fig = plot_usage(TurnState())
    assert "0 model calls" in fig.axes[0].get_title()


# ------------------------------------------------------------------------------------------ Arrow / Parquet


def test_to_arrow_rows_are_the_events(turns: dict[str, list[StreamItem]]) -> None:
    c = concat(turns)
    table = to_arrow(c)
    assert table.schema.names == ["turn_id", *EVENTS_COLUMNS]
    assert table.num_rows == sum(len(v) for v in turns.values())
    assert str(table.schema.field("created_at").type) == "timestamp[ns, tz=UTC]"
    rows = table.to_pylist()
    for row, item in zip(rows[: len(turns["sub_agents"])], turns["sub_agents"], strict=True):
        assert row["turn_id"] == "sub_agents"
        assert row["sequence_number"] == item.sequence_number
        assert json.loads(row["payload"]) == json.loads(item.raw)
        assert row["type"] == item.event.type
    assert to_arrow(turns["plain_answer"]).num_rows == len(turns["plain_answer"])
    assert to_arrow([]).num_rows == 0


def test_to_parquet_turn_by_turn(
    recordings: Path, tmp_path: Path, turns: dict[str, list[StreamItem]]
) -> None:
    paths = sorted(recordings.glob("*.jsonl"))
    out = to_parquet(paths, tmp_path / "sub" / "turns.parquet")
    assert out.is_file()
    meta = pq.ParquetFile(out).metadata
    assert meta.num_row_groups == len(paths)  # one row group per turn: written one at a time
    table = pq.read_table(out)
    assert table.equals(to_arrow(paths))
    by_turn = table.to_pandas().groupby("turn_id").size().to_dict()
    assert by_turn == {p.stem: len(turns[p.stem]) for p in paths}
    assert concat(turns).to_parquet(tmp_path / "c.parquet").stat().st_size > 0


def test_arrow_missing_is_a_clear_error(
    turns: dict[str, list[StreamItem]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(ImportError, match=r"pip install 'tfwidget\[arrow\]'"):
        to_arrow(turns["plain_answer"])


def test_package_exports() -> None:
    assert tfwidget.concat is analysis.concat
    assert tfwidget.plot_usage is analysis.plot_usage
    assert tfwidget.TurnCollection is analysis.TurnCollection


def test_concat_of_a_folder_folds_one_recording_at_a_time(
    recordings: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc
    import shutil
    import weakref

    from tfwidget.pricing import ModelPrice, Pricing, set_pricing

    for k in range(12):  # 36 recordings: the three scenarios, four times each under new names
        for f in sorted(recordings.iterdir()):
            shutil.copy(f, tmp_path / f"{k:02d}-{f.name}")
    n = len(list(tmp_path.iterdir()))
    loads: list[weakref.ref[TurnState]] = []
    most_alive = 0
    real = analysis.as_state

    def counting(obj: object) -> TurnState:
        nonlocal most_alive
        state = real(obj)
        if isinstance(obj, Path):
            gc.collect()
            loads.append(weakref.ref(state))
            most_alive = max(most_alive, sum(r() is not None for r in loads))
        return state

    monkeypatch.setattr(analysis, "as_state", counting)
    c = concat(tmp_path)
    assert loads == []  # nothing is folded until a frame is asked for
    df = c.df
    assert len(loads) == n and most_alive <= 2  # one turn at a time (the last one is kept for c.states)
    assert df.turn_id.nunique() == n
    usage = c.usage_df  # the small frames were built while df had each turn loaded: no second fold
    assert len(loads) == n
    fresh = pd.concat(
        [real(p).usage_df.assign(turn_id=p.stem) for p in sorted(tmp_path.iterdir())], ignore_index=True
    )
    pd.testing.assert_frame_equal(usage, fresh[["turn_id", *USAGE_COLUMNS]], check_dtype=False)
    assert usage.turn_id.dtype == "string"
    # the usage columns depend on the price table: a new table folds the recordings again
    try:
        set_pricing(Pricing({"sim-model": ModelPrice(input=1_000.0, output=1_000.0)}),
                    model="sim-model")  # fmt: skip
        priced = c.usage_df
        assert len(loads) == 2 * n
        assert priced.cost_usd.notna().all() and not priced.cost_usd.equals(usage.cost_usd)
    finally:
        set_pricing()


def test_empty_collection_frames_are_typed() -> None:
    c = concat([])
    for attr, columns in (("df", EVENTS_COLUMNS), ("usage_df", USAGE_COLUMNS)):
        frame = getattr(c, attr)
        assert list(frame.columns) == ["turn_id", *columns]
        assert frame.turn_id.dtype == "string"
        single = getattr(TurnState(), attr)
        assert list(frame.dtypes.iloc[1:]) == list(single.dtypes)
