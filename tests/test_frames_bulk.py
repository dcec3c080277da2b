"""``state.df`` parses the released deltas in bulk (pyarrow): the frame is the same as parsing them one by one."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import tfwidget._arrow_frames as bulk_mod
import tfwidget.frames as frames_mod
from benchmarks._streams import large_turn_events, to_sse
from tfwidget import TurnState, iter_sse


def _odd_deltas(n: int) -> list[dict]:
    """Deltas with every shape the frame reads: empty text, reasoning, several tool chunks, an id later."""
    out = []
    for j in range(n):
        d: dict = {"type": "model.message.delta", "id": "m000000", "thread_id": "main"}
        k = j % 6
        if k == 0:
            d["content"] = ""
        elif k == 1:
            d["reasoning_content"] = "think "
        elif k == 2:
            d["tool_calls"] = [{"index": 1, "function": {"arguments": "x"}},
                               {"index": 2, "id": f"late_{j}", "function": {"arguments": "{"}}]  # fmt: skip
        elif k == 3:
            d["created_at"] = "2026-08-01T10:00:03.500Z"
            d["content"] = "é ü 😀"
        elif k == 4:
            d["thread_id"] = None
            d["content"] = "line\nbreak"
        else:
            d["extra_field"] = {"nested": [1, 2]}
        out.append(d)
    return out


@pytest.mark.parametrize("odd", [False, True])
def test_bulk_parse_gives_the_same_frame(monkeypatch: pytest.MonkeyPatch, odd: bool) -> None:
    events = large_turn_events(6_000)
    if odd:
        events = events[:2] + _odd_deltas(3_000) + events[2:]
    st = TurnState.from_items(iter_sse(to_sse(events)))
    released = sum(1 for it in st.items if it._event is None)
    assert released >= bulk_mod.MIN_ROWS

    calls = []
    real = bulk_mod.parse_released

    def spy(raws):  # type: ignore[no-untyped-def]
        res = real(raws)
        calls.append(res is not None)
        return res

    monkeypatch.setattr(frames_mod, "parse_released", spy)
    fast = st.df
    assert calls == [True]  # the bulk path was taken
    monkeypatch.setattr(frames_mod, "parse_released", lambda raws: None)
    slow = st.df
    pd.testing.assert_frame_equal(fast, slow)
    assert len(fast) == len(events)
    assert json.loads(fast["payload"].iloc[-1])["type"] == "turn.done"


def test_bulk_parse_declines_what_it_cannot_read() -> None:
    good = json.dumps({"type": "model.message.delta", "id": "m", "content": "a"})
    raws = [good] * bulk_mod.MIN_ROWS
    assert bulk_mod.parse_released(raws) is not None
    assert (
        bulk_mod.parse_released([*raws[:-1], '{"type": "model.message.delta", "id": "m", "content": [1]}'])
        is None
    )
    assert bulk_mod.parse_released([*raws[:-1], '{"type": "x",\n "id": "m"}']) is None
    assert bulk_mod.parse_released(raws[:10]) is None  # too few to be worth it
