"""``state.df`` parses the released deltas in bulk (pyarrow): the frame is the same as parsing them one by one."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tfwidget._arrow_frames as bulk_mod
import tfwidget.frames as frames_mod
from benchmarks._streams import large_turn_events, to_sse
from tfwidget import StreamItem, TurnState, iter_sse, parse_event


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
    real = bulk_mod.parse_concatenated

    def spy(data, n):  # type: ignore[no-untyped-def]
        res = real(data, n)
        calls.append(res is not None)
        return res

    monkeypatch.setattr(frames_mod, "parse_concatenated", spy)
    fast = st.df
    assert calls == [True]  # the bulk path was taken
    monkeypatch.setattr(frames_mod, "parse_concatenated", lambda data, n: None)
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
    spanning = bulk_mod.parse_released([*raws[:-1], '{"type": "x",\n "id": "m"}'])  # read all the same
    assert spanning is not None and spanning["type"][-1].as_py() == "x"
    assert bulk_mod.parse_released(raws[:10]) is None  # too few to be worth it


def _released(seq: int | None, t: float, ev: dict, *, sep: str = ", ") -> StreamItem:
    return StreamItem(seq, None, t, json.dumps(ev, separators=(sep, ": ")))


def _mixed_items(n: int, start: int, *, spaced: bool = False) -> list[StreamItem]:
    """Released deltas (some with line breaks between their tokens, odd created_at values, tool chunks)
    among items of every other kind: parsed events, synthesized, released ones kept as objects."""
    stamps = [None, None, "2026-08-01T10:00:03.500Z", "2026-08-01T12:00:03+02:00", "2026-08-01", "soon",
              "2026-08-01T10:00:03.123456789Z"]  # fmt: skip
    out: list[StreamItem] = [
        StreamItem(start, parse_event({"type": "model.message", "id": "m1", "thread_id": "main",
                                       "content": [{"type": "text", "text": "hi"}],
                                       "tool_calls": [{"id": "c0", "function": {"name": "f", "arguments": ""}}]}),
                   1.5),
    ]  # fmt: skip
    for j in range(n):
        d = {"type": "model.message.delta", "id": "m1", "thread_id": "main" if j % 5 else None,
             "content": " w" if j % 4 else ""}  # fmt: skip
        stamp = stamps[j % len(stamps)]
        if stamp is not None:
            d["created_at"] = stamp
        if j % 9 == 0:
            d["tool_calls"] = [{"index": 0, "function": {"arguments": "{"}}, {"index": 1, "id": f"c{j}"}]
        if j % 11 == 0:
            d["reasoning_content"] = "hmm é 😀"
        out.append(_released(start + 1 + j, 2.0 + j // 3, d, sep=",\n " if spaced and j % 7 == 0 else ", "))
        if j % 500 == 3:
            out.append(StreamItem(None, parse_event({"type": "tool.response", "id": f"r{j}", "tool_call_id": "c0",
                                                     "content": {"rows": [1, 2]}}), 3.25))  # fmt: skip
        if j % 700 == 5:
            out.append(_released(None, 4.0, {"type": "x.note", "id": f"x{j}"}))  # released, no number
            out.append(
                StreamItem(None, None, 5.0, json.dumps({"type": "turn.done", "id": "td"}), synthesized=True)
            )
    return out


def test_bulk_frame_of_several_logs_is_the_item_by_item_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    from tfwidget._itemlog import ItemLog
    from tfwidget.frames import EventRows

    parts = [_mixed_items(1_500, 1), _mixed_items(800, 10_000, spaced=True), _mixed_items(40, 20_000)]
    logs = [ItemLog(parts[0]), ItemLog(parts[1]), parts[2]]  # two logs and a plain list
    assert any(i in logs[0]._obj for i in range(len(logs[0])))  # items kept as objects among them

    def build() -> pd.DataFrame:
        rows = EventRows()
        for one in logs:
            rows.add(one)
        keys = pd.array([f"t{k}" for k, one in enumerate(logs) for _ in one], dtype="string")
        return rows.frame({"turn_id": keys})

    calls = []
    real = bulk_mod.parse_concatenated

    def spy(data, n):  # type: ignore[no-untyped-def]
        res = real(data, n)
        calls.append(res is not None)
        return res

    monkeypatch.setattr(frames_mod, "parse_concatenated", spy)
    fast = build()
    assert calls == [True]
    monkeypatch.setattr(frames_mod, "parse_concatenated", lambda data, n: None)
    slow = build()
    pd.testing.assert_frame_equal(fast, slow, check_exact=True)
    assert len(fast) == sum(len(p) for p in parts)
    assert list(fast["payload"]) == [it.to_json() for p in parts for it in p]
    assert fast["synthesized"].sum() == sum(it.synthesized for p in parts for it in p)


@pytest.mark.parametrize("odd", ["lowest_number", "space_before", "surrogate"])
def test_the_bulk_path_leaves_what_it_cannot_take_to_the_item_path(odd: str) -> None:
    from tfwidget._itemlog import ItemLog
    from tfwidget.frames import EventRows

    items = _mixed_items(2_500, 1)
    if odd == "lowest_number":  # the log's "no number" mark as a number: kept as an object, not lost
        items.append(_released(-(2**63), 9.0, {"type": "model.message.delta", "id": "m1", "content": "z"}))
    elif odd == "space_before":
        items.append(StreamItem(5_000, None, 9.0, ' {"type": "model.message.delta", "id": "m1"}'))
    else:
        raw = '{"type": "model.message.delta", "id": "m1", "content": "' + chr(0xD800) + '"}'
        items.append(StreamItem(5_000, None, 9.0, raw))
    rows = EventRows().add(ItemLog(items))
    assert rows._bulk_columns() is None
    if odd == "surrogate":  # a lone surrogate is no UTF-8: the item path fails on it, as it always did
        with pytest.raises(UnicodeEncodeError):
            rows.frame()
        return
    frame = rows.frame()
    assert list(frame["payload"]) == [it.to_json() for it in items]
    assert list(frame["sequence_number"].astype(object).where(frame["sequence_number"].notna(), None)) == [
        it.sequence_number for it in items
    ]


_STAMPS = st.sampled_from(
    [None, "2026-08-01T10:00:03.500Z", "2026-08-01T12:00:03+02:00", "2026-08-01", "soon", "",
     "2026-08-01T10:00:03.123456789Z", "2026-08-01T10:00:03", "2026-13-01T10:00:00Z"]
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(st.lists(_STAMPS, max_size=12))
def test_created_at_converted_sparsely_is_the_same(values: list[str | None]) -> None:
    import pyarrow as pa

    got = frames_mod._sparse_times(pa.array(values, type=pa.large_string()))
    pd.testing.assert_series_equal(got, frames_mod._times(values), check_exact=True)
