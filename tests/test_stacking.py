"""The one stacking path (tfwidget._facade.stack_frames): several turns' frames as one DataFrame.

A TurnCollection's frames and a SessionView's frames both come from it. Checked here against the plain
definition: every turn's own frame, a ``turn_id`` column put first, ``pd.concat``-ed.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import tfwidget
from tfwidget import frames
from tfwidget._facade import FRAME_NAMES, stack_frames
from tfwidget.analysis import TurnCollection
from tfwidget.state import TurnState
from tfwidget.timing import link_pauses

FIXTURES = Path(__file__).parent / "fixtures"
NAMES = ["sub_agents", "approval_pause", "plain_answer", "ask_user", "cancelled", "error_mcp_auth"]


def states() -> dict[str, TurnState]:
    return {name: TurnState.from_items(tfwidget.load(FIXTURES / f"{name}.sse")) for name in NAMES}


def reference(turns: dict[str | None, TurnState], name: str) -> pd.DataFrame:
    """Each turn's own frame with a leading turn_id, concatenated (what stacking means)."""
    if name == "spans_df":
        link_pauses(turns.values())
    parts = []
    for key, state in turns.items():
        frame = getattr(state, name)
        frame.insert(0, "turn_id", pd.array([key] * len(frame), dtype="string"))
        parts.append(frame)
    return pd.concat(parts, ignore_index=True)


@pytest.mark.parametrize("name", FRAME_NAMES)
def test_stacking_equals_each_turns_frame_concatenated(name: str) -> None:
    turns: dict[str | None, TurnState] = dict(states())
    turns[None] = TurnState()  # a turn not created yet: no id
    got = stack_frames(turns.items(), name)  # type: ignore[arg-type]
    want = reference(turns, name)
    assert len(got) > 0
    pd.testing.assert_frame_equal(got, want, check_dtype=True, obj=name)


@pytest.mark.parametrize("name", FRAME_NAMES)
def test_no_turns_gives_the_columns_and_dtypes_of_one_turn(name: str) -> None:
    got = stack_frames([], name)
    one = getattr(TurnState(), name)
    assert len(got) == 0
    assert list(got.columns) == ["turn_id", *one.columns]
    assert got["turn_id"].dtype == pd.StringDtype()
    assert list(got.dtypes.iloc[1:]) == list(one.dtypes)


@pytest.mark.parametrize("name", ["messages_df", "tool_calls_df", "usage_df"])
def test_built_columns_stack_like_the_states_they_came_from(name: str) -> None:
    turns = states()
    build = {"messages_df": frames.messages_columns, "tool_calls_df": frames.tool_calls_columns,
             "usage_df": frames.usage_columns}[name]  # fmt: skip
    mixed = [(k, build(s) if i % 2 else s) for i, (k, s) in enumerate(turns.items())]
    pd.testing.assert_frame_equal(stack_frames(mixed, name), stack_frames(turns.items(), name))  # type: ignore[arg-type]


def test_a_collection_stacks_through_the_one_path(tmp_path: Path) -> None:
    for name in NAMES[:3]:
        (tmp_path / f"{name}.sse").write_bytes((FIXTURES / f"{name}.sse").read_bytes())
    on_disk = tfwidget.concat(tmp_path)  # recordings folded one at a time, small columns kept
    in_memory = TurnCollection({k: s for k, s in states().items() if k in NAMES[:3]})
    for name in ("df", "usage_df", "messages_df", "tool_calls_df", "spans_df"):
        ref = reference(dict(sorted(in_memory.states.items())), name)
        pd.testing.assert_frame_equal(getattr(on_disk, name), ref, obj=name)
    with pytest.raises(ValueError, match="unknown frame"):
        stack_frames([], "nope")  # type: ignore[arg-type]
