"""DataFrames: shapes, dtypes, column order and contents on the fixtures."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tfwidget import TurnState, load
from tfwidget.frames import EVENTS_COLUMNS, MESSAGES_COLUMNS, TOOL_CALLS_COLUMNS, USAGE_COLUMNS

from .conftest import FIXTURES, merged_expected

INT_COLS = [
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "harness",
    "skills",
    "instructions",
    "tool_definitions",
    "messages",
]


def _state(name: str) -> TurnState:
    return TurnState.from_items(load(FIXTURES / f"{name}.sse"))


def test_df_one_row_per_item_with_stable_columns_and_dtypes(fixture_path: Path) -> None:
    items = load(fixture_path)
    df = TurnState.from_items(items).df
    assert list(df.columns) == EVENTS_COLUMNS
    assert len(df) == len(items)
    assert str(df["sequence_number"].dtype) == "Int64"
    assert list(df["sequence_number"]) == list(range(1, len(items) + 1))
    assert isinstance(df["created_at"].dtype, pd.DatetimeTZDtype)
    assert isinstance(df["received_at"].dtype, pd.DatetimeTZDtype)
    assert df["type"].iloc[0] == "turn.created" and df["type"].iloc[-1] == "turn.done"
    assert [json.loads(p) for p in df["payload"]] == [json.loads(it.raw) for it in items]
    # turn.* events have no thread: NA, not the string "None"
    assert df["thread_id"].isna().iloc[0]


def test_df_content_of_deltas_rebuilds_the_text() -> None:
    df = _state("plain_answer").df
    deltas = df[df["type"] == "model.message.delta"]
    expected = merged_expected("plain_answer")[0]
    assert "".join(deltas["content"].dropna()) == expected["content"]
    assert "".join(deltas["reasoning_content"].dropna()) == expected["reasoning_content"]
    # deltas without created_at are NaT, not an error
    assert df["created_at"].isna().sum() > 0


def test_df_tool_call_ids() -> None:
    df = _state("approval_pause").df
    assert set(df["tool_call_id"].dropna()) == {"call_get_1", "call_refund_1"}


def test_messages_df(fixture_name: str) -> None:
    st = _state(fixture_name)
    m = st.messages_df
    exp = merged_expected(fixture_name)
    assert list(m.columns) == MESSAGES_COLUMNS
    assert list(m["id"]) == [e["id"] for e in exp]
    for col in [*INT_COLS, "n_tool_calls"]:
        assert str(m[col].dtype) == "Int64", col
    for (_, row), e in zip(m.iterrows(), exp, strict=True):
        assert (row["content"] if not pd.isna(row["content"]) else None) == (e.get("content") or None)
        u = e.get("usage")
        if u:
            assert row["input_tokens"] == u["input_tokens"]
            assert row["harness"] == u["input_tokens_breakdown"]["harness"]
        else:
            assert pd.isna(row["input_tokens"])
        assert row["n_tool_calls"] == len(e.get("tool_calls") or [])


def test_tool_calls_df() -> None:
    t = _state("approval_pause").tool_calls_df
    assert list(t.columns) == TOOL_CALLS_COLUMNS
    assert list(t["tool_call_id"]) == ["call_get_1", "call_refund_1"]
    assert list(t["status"]) == ["completed", "awaiting_approval"]
    assert list(t["server_name"]) == ["orders-api", "orders-api"]
    assert json.loads(t["arguments"].iloc[1]) == {"order_id": "ORD-2031", "amount": 1240.0}
    assert pd.isna(t["response"].iloc[1])
    subs = _state("sub_agents").tool_calls_df
    assert list(subs["tool_type"]) == ["truefoundry-system"] * 2
    assert subs["child_thread_id"].notna().all()
    ask = _state("ask_user").tool_calls_df
    assert list(ask["status"]) == ["awaiting_response"]


def test_usage_df_and_breakdown_sums() -> None:
    u = _state("sub_agents").usage_df
    assert list(u.columns) == USAGE_COLUMNS
    assert len(u) == 4
    for col in INT_COLS:
        assert str(u[col].dtype) == "Int64"
    parts = u[["harness", "skills", "instructions", "tool_definitions", "messages"]].sum(axis=1)
    assert (parts == u["input_tokens"]).all()
    assert set(u["thread_id"]) == {"main", "th-qdrant-01", "th-milvus-02"}
    assert list(u["call_index"]) == [1, 2, 3, 4]  # numbered from 1, as in the view and plot_usage
    assert u["input_tokens"].sum() == 30600


@pytest.mark.parametrize("name", ["cancelled", "error_mcp_auth"])
def test_empty_frames_keep_columns_and_dtypes(name: str) -> None:
    st = _state(name)
    u = st.usage_df
    assert len(u) == 0 and list(u.columns) == USAGE_COLUMNS
    assert str(u["input_tokens"].dtype) == "Int64"
    assert list(st.tool_calls_df.columns) == TOOL_CALLS_COLUMNS
