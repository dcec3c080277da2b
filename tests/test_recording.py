"""Recordings: .sse captures and .jsonl recordings load and round-trip losslessly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tfwidget import StreamItem, TurnState, load, parse_event, save
from tfwidget.recording import load_file

from .conftest import FIXTURES


def test_jsonl_round_trip_is_lossless(fixture_path: Path, tmp_path: Path) -> None:
    items = load(fixture_path)
    extra = StreamItem(
        None,
        parse_event({"type": "future.event", "id": "z", "nested": {"a": [1, None]}}),
        1.25,
        synthesized=True,
    )
    items = [*items, extra]
    out = save(items, tmp_path / "turn.jsonl")
    back = load(out)
    assert back == items
    assert [it.received_at for it in back] == [it.received_at for it in items]
    assert [json.loads(b.raw) for b in back] == [json.loads(i.to_json()) for i in items]
    assert back[-1].synthesized and back[-1].sequence_number is None


def test_sse_round_trip(fixture_path: Path, tmp_path: Path) -> None:
    items = load(fixture_path)
    back = load(save(items, tmp_path / "copy.sse"))
    assert [(b.sequence_number, b.event) for b in back] == [(i.sequence_number, i.event) for i in items]


def test_sse_capture_gets_receive_times_from_created_at() -> None:
    items = load(FIXTURES / "plain_answer.sse")
    times = [it.received_at for it in items]
    assert times == sorted(times) and times[-1] > times[0] > 1e9


def test_folder_of_recordings(tmp_path: Path) -> None:
    for name in ("plain_answer", "cancelled"):
        save(load(FIXTURES / f"{name}.sse"), tmp_path / f"{name}.jsonl")
    (tmp_path / "notes.txt").write_text("ignored")
    got = load(tmp_path)
    assert isinstance(got, dict) and list(got) == ["cancelled", "plain_answer"]
    assert TurnState.from_items(got["cancelled"]).status == "cancelled"


def test_bad_recordings_say_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no recording"):
        load(tmp_path / "missing.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"seq": 1, "t": 0, "event": {"type": "x", "id": "a"}}\nnot json\n')
    with pytest.raises(ValueError, match="line 2"):
        load(bad)
    # a line in save()'s own layout whose time is not a number: the same error, naming file and line
    bad.write_text(
        '{"seq": 1, "t": 0, "event": {"type": "x", "id": "a"}}\n{"seq": 2, "t": 1e, "event": {"type": "x", "id": "b"}}\n'
    )
    with pytest.raises(ValueError, match=r"bad\.jsonl, line 2: not a tfwidget recording line"):
        load(bad)
    with pytest.raises(ValueError, match=r"\.sse \(raw capture\) or \.jsonl"):
        load_file(_touch(tmp_path / "x.txt"))
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "empty_dir_missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"no \.sse or \.jsonl"):
        load(tmp_path / "empty")


def _touch(p: Path) -> Path:
    p.write_text("")
    return p


_PLAIN_KEYS = {"type", "id", "thread_id", "created_at", "content", "refusal", "reasoning_content", "finish_reason",
               "tool_calls", "usage"}  # fmt: skip
_CHUNK_KEYS = {"index", "id", "type", "function", "tool_info", "provider_specific_fields"}


def _typed_delta(raw: str) -> bool:
    """A delta whose every key (and every tool call chunk's) is one the protocol names: the strict schema's."""
    d = json.loads(raw)
    chunks = d.get("tool_calls") or []
    return (
        set(d) <= _PLAIN_KEYS
        and isinstance(chunks, list)
        and all(
            isinstance(c, dict)
            and set(c) <= _CHUNK_KEYS
            and isinstance(c.get("index"), int)
            and set(c.get("function") or {}) <= {"name", "arguments"}
            for c in chunks
        )
    )


def test_load_gives_a_compact_sequence_of_items(fixture_path: Path, tmp_path: Path) -> None:
    from collections.abc import Sequence

    from tfwidget._itemlog import ItemLog

    items = load(fixture_path)
    back = load(save(items, tmp_path / "turn.jsonl"))
    for got in (items, back):
        assert isinstance(got, Sequence) and isinstance(got, ItemLog)
        n = len(got)
        assert got == list(got) and list(got[1:3]) == [got[1], got[2]] and got[-1] == got[n - 1]
        assert got + [] == list(got) and isinstance(got + [], list) and isinstance(got[:2], list)
    # the deltas of a recording are kept as their raw JSON only (its columns), not as objects
    plain = [
        i
        for i, it in enumerate(back)
        if it.type == "model.message.delta"
        and _typed_delta(it.raw)  # type: ignore[arg-type]
        and not it.synthesized
    ]
    assert sorted(set(range(len(back))) - set(back._obj)) == plain  # type: ignore[union-attr]


@pytest.mark.parametrize("block", [1, 7, 64, 1 << 20])
def test_jsonl_read_in_blocks_of_lines(fixture_path: Path, tmp_path: Path, block: int) -> None:
    """A recording is decoded a block of whole lines at a time: whatever the block size, the items and the
    fold are those of the saved items, hand-written lines (other key order, spacing, line ends) included, and
    an error names the right line."""
    from unittest import mock

    from tfwidget import recording
    from tfwidget.recording import fold_file

    items = list(load(fixture_path))
    path = save(items, tmp_path / "turn.jsonl")
    lines = path.read_text(encoding="utf-8").splitlines()
    # line 3 rewritten by hand: keys in another order, spaces, a CRLF end; a blank line after it
    rec = json.loads(lines[2])
    lines[2] = (
        "  " + json.dumps({"event": rec["event"], "t": rec["t"], "seq": rec["seq"]}, indent=None) + "\r"
    )
    lines.insert(3, "   ")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with mock.patch.object(recording, "_BLOCK", block):
        got = load(path)
        folded = fold_file(path)
    assert list(got) == items
    want = TurnState.from_items(items)
    assert folded.merged_messages() == want.merged_messages()
    assert [(it.sequence_number, it.received_at) for it in folded.items] == [
        (it.sequence_number, it.received_at) for it in want.items
    ]
    # a bad line after many good ones: the error names it, whichever block it is in
    bad_at = len(lines) + 1
    path.write_text("\n".join(lines) + "\nnot json\n", encoding="utf-8")
    with mock.patch.object(recording, "_BLOCK", block), pytest.raises(ValueError, match=f"line {bad_at}:"):
        load(path)
    # line ends as text mode reads them: a file with bare CR line ends still loads
    path.write_text("\r".join(ln.rstrip("\r") for ln in lines) + "\r", encoding="utf-8")
    with mock.patch.object(recording, "_BLOCK", block):
        assert [it.sequence_number for it in load(path)] == [it.sequence_number for it in items]


@pytest.mark.parametrize("block", [64, 1 << 20])
def test_a_block_with_odd_lines_folds_like_its_items(tmp_path: Path, block: int) -> None:
    """A block of lines is folded in one batch only when it is a dense run of numbered lines: a line whose
    event cannot be parsed (reported and skipped), a synthesized delta, a line without a number and a replayed
    number in the middle of a block all give the fold of the loaded items, line for line."""
    from unittest import mock

    from tfwidget import recording
    from tfwidget.recording import fold_file
    from tfwidget.sse import MalformedFrameWarning

    items = list(load(FIXTURES / "sub_agents.sse"))
    path = save(items, tmp_path / "turn.jsonl")
    lines = path.read_text(encoding="utf-8").splitlines()
    deep = '{"type": "tool.response", "id": "rx", "thread_id": "main", "tool_call_id": "c", "content": ' + (
        "[" * 3000 + "]" * 3000 + "}"
    )
    delta = json.loads(lines[5])["event"]
    odd = [
        f'{{"seq": 900, "t": 1.0, "event": {deep}}}',  # nested too deeply: reported, skipped
        json.dumps({"seq": 901, "t": 2.0, "synthesized": True, "event": delta}),  # a synthesized delta
        json.dumps({"seq": None, "t": 3.0, "event": delta}),  # no number
        lines[6],  # a replay of an earlier line
    ]
    lines[8:8] = odd
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with mock.patch.object(recording, "_BLOCK", block), pytest.warns(MalformedFrameWarning) as caught:
        loaded = load(path)
    with mock.patch.object(recording, "_BLOCK", block), pytest.warns(MalformedFrameWarning) as caught_fold:
        folded = fold_file(path)
    # the warnings name the line that called load() / fold_file(), not a line inside the library
    assert {w.filename for w in [*caught, *caught_fold]} == {__file__}
    want = TurnState.from_items(list(loaded))
    assert len(loaded) == len(lines) - 1  # every line but the deep one
    assert folded.merged_messages() == want.merged_messages()
    assert folded.anomalies == want.anomalies
    assert [(it.sequence_number, it.received_at, it.synthesized) for it in folded.items] == [
        (it.sequence_number, it.received_at, it.synthesized) for it in want.items
    ]
    assert folded.last_sequence_number == want.last_sequence_number


@pytest.mark.parametrize("block", [7, 64, 1000, 1 << 20])
@pytest.mark.parametrize("where", ["first", "middle", "last", "last without a line end"])
def test_an_overlong_line_is_reported_and_the_rest_is_read(tmp_path: Path, block: int, where: str) -> None:
    """A recording line over the bound (one event of ``max_event_bytes`` characters at four UTF-8 bytes each,
    and its fields) is never held whole: it is reported with its file and line number and skipped, and every
    other line is read; an error after it still names the right line. ``max_event_bytes=None`` reads it."""
    from unittest import mock

    from tfwidget import recording
    from tfwidget.recording import fold_file
    from tfwidget.sse import MalformedFrameWarning

    items = list(load(FIXTURES / "sub_agents.sse"))
    path = save(items, tmp_path / "turn.jsonl")
    lines = path.read_text(encoding="utf-8").splitlines()
    cap = 1_000
    bound = 4 * cap + recording._LINE_FIELDS
    assert max(len(ln.encode()) for ln in lines) < bound  # every saved line fits
    delta = json.loads(lines[5])["event"]
    long_line = json.dumps({"seq": 9000, "t": 1.0, "event": dict(delta, content="x" * (3 * bound))})
    at = {"first": 0, "middle": 6, "last": len(lines), "last without a line end": len(lines)}[where]
    lines.insert(at, long_line)
    end = "" if where == "last without a line end" else "\n"
    path.write_text("\n".join(lines) + end, encoding="utf-8")
    seen: list[int] = []
    real_blocks = recording._line_blocks

    def blocks(p: Path, max_line: int | None) -> Any:
        for b in real_blocks(p, max_line):
            seen.append(len(b))
            yield b

    small_reads = mock.patch.object(recording, "_BLOCK", block)
    with small_reads, mock.patch.object(recording, "_line_blocks", blocks):
        with pytest.warns(MalformedFrameWarning) as caught:
            got = load(path, max_event_bytes=cap)
    [w] = [w for w in caught if "longer than" in str(w.message)]
    assert f"turn.jsonl, line {at + 1}:" in str(w.message) and f"{bound:,} bytes" in str(w.message)
    assert w.filename == __file__  # the caller's line, however deep in the reader the line was found
    assert [it.sequence_number for it in got] == [it.sequence_number for it in items]  # all but the long one
    assert max(seen) <= bound + block  # the long line was never gathered whole
    with small_reads, pytest.warns(MalformedFrameWarning) as caught:
        folded = fold_file(path, max_event_bytes=cap)
    assert {w.filename for w in caught} == {__file__}
    assert folded.merged_messages() == TurnState.from_items(items).merged_messages()
    # no bound: the long line is read too
    with small_reads:
        assert 9000 in [it.sequence_number for it in load(path, max_event_bytes=None)]
    # the line numbers after it are still right
    if where in ("first", "middle"):
        path.write_text("\n".join(lines) + "\nnot json\n", encoding="utf-8")
        with small_reads, pytest.warns(MalformedFrameWarning):
            with pytest.raises(ValueError, match=f"line {len(lines) + 1}:"):
                load(path, max_event_bytes=cap)


def test_a_capture_takes_the_same_event_bound(tmp_path: Path) -> None:
    """A ``.sse`` capture is read by the live decoder with ``max_event_bytes``: an event over it stops the load
    with a clear error naming the bound; ``None`` reads it."""
    from tfwidget.errors import StreamLimitError

    items = list(load(FIXTURES / "sub_agents.sse"))
    big = dict(json.loads(items[5].raw or ""), content="y" * 5_000)
    text = (FIXTURES / "sub_agents.sse").read_text(encoding="utf-8")
    path = tmp_path / "big.sse"
    path.write_text(text + f"id: 9000\ndata: {json.dumps(big)}\n\n", encoding="utf-8")
    with pytest.raises(StreamLimitError, match="max_event_bytes"):
        load(path, max_event_bytes=1_000)
    assert load(path, max_event_bytes=None)[-1].sequence_number == 9000
    assert len(load(path)) == len(items) + 1  # the default bound is far above it


def test_a_malformed_frame_in_a_capture_is_blamed_on_the_callers_line(tmp_path: Path) -> None:
    """``load()`` of a ``.sse`` capture with a frame that is not an event reports it, skips it, keeps the rest,
    and the warning names the line that called ``load()``, not one inside the decoder."""
    from tfwidget.sse import MalformedFrameWarning

    good = (FIXTURES / "plain_answer.sse").read_bytes()
    path = tmp_path / "capture.sse"
    path.write_bytes(b"id: 0\ndata: {not json\n\n" + good)
    with pytest.warns(MalformedFrameWarning) as caught:
        got = load(path)
    assert [w.filename for w in caught] == [__file__]
    assert len(got) == len(load(FIXTURES / "plain_answer.sse"))
