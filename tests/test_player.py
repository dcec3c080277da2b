"""The replay player from Python: replay(..., controls=True), seek / step / play / pause, the view as of the
position (exactly the fold of the items up to it), the whole turn in the DataFrames, clear errors."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd
import pytest

import tfwidget
from tfwidget import StreamItem, TurnState, load, parse_event
from tfwidget.player import NO_GAPS, PlayerView
from tfwidget.view import build_view

ROOT = Path(__file__).resolve().parent.parent
REC = ROOT / "notebooks" / "recordings"
SUB = REC / "sub_agents.jsonl"
PAUSE = REC / "approval_pause.jsonl"


def _shown(view: dict) -> dict:
    """What the front end renders of a view (ids, texts, statuses), without revisions and header context."""
    return {
        "status": view["status"],
        "timeline": view["timeline"],
        "messages": {
            k: (m["content"], m["reasoning"], m["streaming"], m["tool_call_ids"])
            for k, m in view["messages"].items()
        },
        "tools": {
            k: (t["name"], t["arguments"], t["status"], t["response"]) for k, t in view["tools"].items()
        },
        "threads": [(t["id"], t["status"]) for t in view["threads"]],
        "pauses": view["pauses"],
        "totals": view["totals"],
    }


def _wait(cond, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


def test_replay_with_controls_opens_at_the_end_and_keeps_the_whole_turn() -> None:
    items = load(SUB)
    w = tfwidget.replay(SUB, controls=True)
    assert isinstance(w, PlayerView)
    assert w.position == len(items) == w.total and not w.playing
    assert w._player["position"] == len(items)
    assert w._player_meta["total"] == len(items)
    assert w._player_meta["markers"]["sub_agent"] == [9, 10]
    assert _shown(w._view) == _shown(build_view(TurnState.from_items(items)))
    w.seek(3)
    full = TurnState.from_items(items)
    pd.testing.assert_frame_equal(w.df, full.df)  # the whole recording, whatever the position
    pd.testing.assert_frame_equal(w.messages_df, full.messages_df)
    assert len(w.at_position().messages_df) == 1
    assert w.state.status == "done" and w.status == "streaming"  # the view is mid-turn


def test_every_seek_forward_and_backward_shows_the_fold_at_that_position() -> None:
    items = load(SUB)
    w = tfwidget.replay(SUB, controls=True)
    order = [0, 5, 6, 12, 4, 30, 35, 1, 20, 19, 35, 0, *range(35, -1, -3)]
    for n in order:
        assert w.seek(n) == n
        want = TurnState.from_items(items[:n])
        assert _shown(w._view) == _shown(build_view(want)), n
        assert w._player["position"] == n and w._player["count"] == n
        pd.testing.assert_frame_equal(w.at_position().messages_df, want.messages_df)
    # mid-message: text cut where the stream was, the message still streaming, tool card streaming
    w.seek(6)
    msg = w._view["messages"]["01M8HN6W5832MWVD5VRZFANGRT"]
    assert msg["streaming"] is True and msg["content"] == "I'll research both in parallel."
    assert w._view["tools"]["call_sub_q"]["status"] == "streaming"


def test_step_by_event_and_jump_by_kind() -> None:
    w = tfwidget.replay(PAUSE, controls=True)
    marks = w._player_meta["markers"]
    assert marks["pause"] and marks["tool"] and marks["message"]
    w.seek(0)
    assert w.step(+1) == 1 and w.step(+1) == 2 and w.step(-1) == 1
    assert w.step(+1, kind="pause") == marks["pause"][0]
    assert w._view["pauses"] and w._view["pauses"][0]["kind"] == "approval"
    assert w.step(-1, kind="tool") == max(m for m in marks["tool"] if m < marks["pause"][0])
    assert w.step(-1, kind="message") == max(m for m in marks["message"] if m < w.count + 1)
    first = marks["message"][0]
    w.seek(first)
    assert w.step(-1, kind="message") == first  # none before: stays
    w.seek(w.total)
    assert w.step(+1) == w.total  # past the end: stays at the end
    w.seek(0)
    assert w.step(-1) == 0


def test_play_pause_and_speed() -> None:
    w = tfwidget.replay(SUB, speed=20, controls=True)
    assert w.speed == 20.0
    _wait(lambda: not w.playing)
    assert w.position == w.total and w._player["playing"] is False
    assert _shown(w._view) == _shown(build_view(w.state))
    w.speed = 0.5
    w.seek(0)
    w.play()  # half speed: 4 s of recording take 8 s; pause long before that
    _wait(lambda: w.position >= 3)
    w.pause()
    at = w.position
    time.sleep(0.3)
    assert not w.playing and w.position == at < w.total
    assert _shown(w._view) == _shown(build_view(TurnState.from_items(load(SUB)[:at])))
    w.play()
    assert w.playing
    thread = w._player_thread
    w.close()  # closing stops the playing thread
    assert not w.playing
    assert thread is not None
    thread.join(timeout=10)
    assert not thread.is_alive()


def test_no_gaps_skips_long_silences() -> None:
    items = load(SUB)
    slow = [StreamItem(i.sequence_number, i.event, i.received_at + (600.0 if k >= 10 else 0.0), i.raw)
            for k, i in enumerate(items)]  # fmt: skip
    w = tfwidget.replay(slow, speed=NO_GAPS, controls=True)
    t0 = time.monotonic()
    _wait(lambda: not w.playing, timeout=60)
    assert w.position == len(items)
    assert time.monotonic() - t0 < 30  # ten minutes of silence were skipped
    assert w._player_meta["duration"] > 600


def test_front_end_intents_drive_the_player() -> None:
    w = tfwidget.replay(PAUSE, controls=True)
    w._on_custom_msg(w, {"type": "player", "action": "seek_count", "count": 3}, [])
    assert w.position == 3
    w._on_custom_msg(w, {"type": "player", "action": "step", "delta": 1, "kind": "event"}, [])
    assert w.position == 4
    w._on_custom_msg(w, {"type": "player", "action": "speed", "speed": "no gaps"}, [])
    assert w.speed == NO_GAPS
    w._on_custom_msg(w, {"type": "player", "action": "speed", "speed": 1000}, [])
    assert w.speed == NO_GAPS
    w.flush()
    assert "speed must be" in w._view["notices"][-1]["text"]
    w._on_custom_msg(w, {"type": "player", "action": "toggle"}, [])
    assert w.playing
    w._on_custom_msg(w, {"type": "player", "action": "toggle"}, [])
    assert not w.playing


def test_bad_input_is_a_clear_error() -> None:
    w = tfwidget.replay(PAUSE, controls=True)
    with pytest.raises(TypeError, match="sequence number"):
        w.seek("3")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="non-zero int"):
        w.step(0)
    with pytest.raises(ValueError, match="kind must be one of"):
        w.step(1, kind="thread")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="speed must be"):
        w.speed = 0
    with pytest.raises(ValueError, match="needs controls=True"):
        tfwidget.replay(PAUSE, speed=NO_GAPS)
    with pytest.raises(ValueError, match="speed must be"):
        tfwidget.replay(PAUSE, speed=-1, controls=True)


def test_seeks_on_a_10k_event_recording_are_quick() -> None:
    from tfwidget.sim.scenarios import Scenario

    sc = Scenario.large(deltas=10_000)
    items = [StreamItem(s, parse_event(json.dumps(e)), 1000.0 + s * 0.01, json.dumps(e))
             for s, e in enumerate(sc.events, 1)]  # fmt: skip
    w = tfwidget.replay(items, controls=True)
    worst = 0.0
    for n in [9_000, 10, 5_000, 4_999, 10_003, 1, 7_777, 200]:
        t0 = time.perf_counter()
        w.seek(n)
        worst = max(worst, time.perf_counter() - t0)
        text = w._view["messages"][next(iter(w._view["messages"]))]["content"] if n > 1 else ""
        want = "".join(i.event.content or "" for i in items[:n] if i.type == "model.message.delta")
        assert text == want
    assert worst < 1.0, f"slowest seek (fold + view) took {worst * 1000:.0f} ms"


def test_sequence_numbers_that_do_not_start_at_one() -> None:
    items = load(PAUSE)
    shifted = [StreamItem(i.sequence_number + 100, i.event, i.received_at, i.raw) for i in items]
    w = tfwidget.replay(shifted, controls=True)
    assert w._player_meta["positions"][:3] == [0, 101, 102]
    assert w.position == 100 + len(items)
    assert w.seek(105) == 105 and w.count == 5
    assert _shown(w._view) == _shown(build_view(TurnState.from_items(items[:5])))
    assert w.seek(50) == 0 and w.count == 0
    assert tfwidget.replay(PAUSE, controls=True)._player_meta["positions"] is None  # dense: not sent


def test_a_seek_while_playing_continues_from_there() -> None:
    w = tfwidget.replay(SUB, controls=True)
    w.speed = 0.5
    w.seek(20)
    w.play()
    _wait(lambda: w.position >= 22)
    w.seek(2)  # backward while playing: playing goes on from event 2, never back to 22
    assert w.playing
    time.sleep(0.5)
    assert 2 <= w.position < 20
    _wait(lambda: w.position > 2)
    w.step(+1, kind="message")
    at = w.position
    time.sleep(0.3)
    assert at <= w.position < 20 and w.playing
    w.pause()
    assert _shown(w._view) == _shown(build_view(TurnState.from_items(load(SUB)[: w.count])))
