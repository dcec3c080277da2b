"""Bulk ingest: ``TurnState.from_items(iter_sse(data))`` folds frames as it decodes them, with a strict fast path
for plain text deltas. It must give exactly the fold of the stream's items applied one by one."""

from __future__ import annotations

import itertools
import json
import warnings
from typing import Any
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from tfwidget import TurnState, iter_sse
from tfwidget import state as state_module
from tfwidget.sse import StreamItem

_TXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=6)
_MID = st.sampled_from(["m1", "m2", "m3"])


def _delta(draw: st.DrawFn) -> dict[str, Any]:
    d: dict[str, Any] = {"type": "model.message.delta", "id": draw(_MID), "thread_id": "main"}
    for key in ("content", "reasoning_content", "refusal"):
        if draw(st.booleans()):
            d[key] = draw(st.one_of(_TXT, st.none(), st.integers(0, 3)))  # a number does not fit the model
    extra = draw(
        st.sampled_from(
            [
                "",
                "",
                "",
                "finish",
                "tool",
                "usage",
                "null_tool",
                "unknown_key",
                "created",
                "args",
                "args",
                "odd_args",
            ]
        )
    )
    if extra == "finish":
        d["finish_reason"] = "stop"
    elif extra == "tool":
        d["tool_calls"] = [{"index": 0, "id": "c1", "function": {"name": "f", "arguments": draw(_TXT)}}]
    elif extra == "args":  # argument text only: the fast path of a known call
        fn = draw(st.sampled_from([{"arguments": draw(_TXT)}, {"arguments": None}, {}, None, {"name": None}]))
        d["tool_calls"] = [{"index": draw(st.integers(0, 1)), "function": fn}]
    elif (
        extra == "odd_args"
    ):  # chunks the fast path leaves to apply(): a name, an id, two chunks, a bad index
        d["tool_calls"] = draw(
            st.sampled_from(
                [
                    [{"index": 0, "function": {"name": "", "arguments": "x"}}],
                    [{"index": 0, "id": "", "function": {"arguments": "y"}}],
                    [
                        {
                            "index": 1,
                            "id": "c2",
                            "type": "function",
                            "function": {"name": "g", "arguments": "{"},
                        }
                    ],
                    [
                        {"index": 0, "function": {"arguments": "a"}},
                        {"index": 1, "function": {"arguments": "b"}},
                    ],
                    [{"index": -1, "function": {"arguments": "z"}}],
                    [{"index": 5000, "function": {"arguments": "z"}}],
                    [{"index": 0, "tool_info": {"type": "mcp"}, "function": {"arguments": "t"}}],
                    [{"index": 0, "x_extra": 1, "function": {"arguments": "t"}}],
                    [],
                ]
            )
        )
    elif extra == "usage":
        d["usage"] = {"input_tokens": 3, "output_tokens": 4}
    elif extra == "null_tool":
        d["tool_calls"] = None
        d["usage"] = None
    elif extra == "unknown_key":
        d["x_extra"] = draw(_TXT)
    elif extra == "created":
        d["created_at"] = "2026-08-01T10:00:00Z"
    return d


_KINDS = ["delta"] * 6 + ["base", "list_base", "done", "created", "tool_response", "unknown"]
_ODD_FRAMES = ["replay", "no_id", "bad_id", "bad_json"]


@st.composite
def turns(draw: st.DrawFn, clean: bool = False) -> bytes:
    """A turn's SSE bytes; ``clean``: densely numbered well-formed frames (the batch fold's case), with more
    deltas and a base for every message first."""
    out: list[str] = []
    seq = 0
    n = draw(st.integers(1, 40))
    kinds = _KINDS + ["delta"] * 12 if clean else _KINDS + _ODD_FRAMES
    if clean:
        for mid in ("m1", "m2", "m3"):
            seq += 1
            out.append(f"id: {seq}\ndata: {json.dumps({'type': 'model.message', 'id': mid})}\n\n")
    for _ in range(n):
        kind = draw(st.sampled_from(kinds))
        ev: Any
        if kind == "base":
            ev = {
                "type": "model.message",
                "id": draw(_MID),
                "thread_id": draw(st.sampled_from(["main", "t2"])),
            }
        elif kind == "list_base":
            ev = {
                "type": "model.message",
                "id": draw(_MID),
                "thread_id": "main",
                "content": [{"type": "text", "text": "a"}],
            }
        elif kind == "done":
            ev = {"type": "turn.done", "id": "td", "state": {"status": "done"}}
        elif kind == "created":
            ev = {"type": "turn.created", "id": "tc", "turn_id": "t"}
        elif kind == "tool_response":
            ev = {"type": "tool.response", "id": "r1", "tool_call_id": "c1", "content": "ok"}
        elif kind == "unknown":
            ev = {"type": "x.new", "id": "u1"}
        else:
            ev = _delta(draw)
        text = json.dumps(ev, ensure_ascii=draw(st.booleans()))
        if kind == "bad_json":
            text = text[:-1]
        if kind == "replay" and seq:
            out.append(f"id: {draw(st.integers(1, seq))}\ndata: {text}\n\n")
        elif kind == "no_id":
            out.append(f"id:\ndata: {text}\n\n")
        elif kind == "bad_id":
            out.append(f"id: x{seq}\ndata: {text}\n\n")
        else:
            seq += 1
            out.append(f"id: {seq}\ndata: {text}\n\n")
    return "".join(out).encode("utf-8")


def fingerprint(s: TurnState) -> dict[str, Any]:
    return {
        "items": [(it.sequence_number, it.raw, it.event.model_dump(mode="json")) for it in s.items],
        "messages": [m.model_dump(mode="json") for m in s.messages],
        "text": [s.message_text(m) for m in s.message_ids()],
        "anomalies": s.anomalies,
        "timeline": s.timeline,
        "tools": {k: (v.name, v.arguments, v.status, v.response) for k, v in s.tool_calls.items()},
        "threads": {k: (v.status, v.title) for k, v in s.threads.items()},
        "last": s.last_sequence_number,
        "status": s.status,
        "changes": s.take_changes(),
    }


@settings(max_examples=400, deadline=None)
@given(st.one_of(turns(), turns(clean=True)), st.integers(1, 400), st.sampled_from([1, 2, 5, 4096]))
def test_bulk_ingest_is_the_fold_of_the_items(data: bytes, size: int, batch: int) -> None:
    with warnings.catch_warnings(), mock.patch.object(state_module, "_BATCH", batch):
        warnings.simplefilter("ignore")
        one_by_one = TurnState()  # the reference: every item with its typed event, through the full merge
        for it in list(iter_sse(data)):
            one_by_one.apply(StreamItem(it.sequence_number, it.event, it.received_at, it.raw))
        lazy = TurnState()  # the decoder's items as they come (deltas checked by the strict schema)
        for it in list(iter_sse(data)):
            lazy.apply(it)
        chunks = [data[i : i + size] for i in range(0, len(data), size)]
        bulk = TurnState.from_items(iter_sse(chunks))
        whole = TurnState.from_items(iter_sse(data))
    want = fingerprint(one_by_one)
    assert fingerprint(lazy) == want
    assert fingerprint(bulk) == want
    assert fingerprint(whole) == want


def test_bulk_ingest_reports_malformed_frames_like_the_items_do() -> None:
    data = b'id: 1\ndata: {"type": "model.message", "id": "m"}\n\nid: 2\ndata: {oops\n\n'
    stream = iter_sse(data, warn=False)
    st_ = TurnState.from_items(stream)
    assert stream.malformed == 1 and len(st_.items) == 1


@settings(max_examples=200, deadline=None)
@given(st.one_of(turns(), turns(clean=True)), st.sampled_from([".jsonl", ".sse"]))
def test_folding_a_loaded_recording_is_the_fold_of_its_items(data: bytes, suffix: str) -> None:
    import tempfile
    from pathlib import Path

    from tfwidget import load, save
    from tfwidget._itemlog import ItemLog
    from tfwidget.recording import fold_file

    with warnings.catch_warnings(), tempfile.TemporaryDirectory() as tmp:
        warnings.simplefilter("ignore")
        items = list(iter_sse(data))
        path = save(items, Path(tmp) / f"turn{suffix}")
        one_by_one = TurnState()  # the reference: the saved items, each with its typed event, applied
        for it in list(iter_sse(data)) if suffix == ".sse" else items:
            one_by_one.apply(StreamItem(it.sequence_number, it.event, it.received_at, it.raw))
        loaded = load(path)
        assert isinstance(loaded, ItemLog)
        folded = TurnState.from_items(loaded)  # the log's own fold: plain deltas merged from its columns
        by_items = TurnState.from_items(list(loaded))  # the same items applied one by one
        direct = fold_file(path)  # a .jsonl folded as it is read, without the items in between
    want = fingerprint(by_items)
    assert fingerprint(folded) == want
    assert fingerprint(direct) == want
    assert [it.received_at for it in direct.items] == [it.received_at for it in by_items.items]
    assert [it.received_at for it in folded.items] == [it.received_at for it in by_items.items]
    if suffix == ".jsonl":  # (a capture has no receive times: they come from created_at)
        assert want == fingerprint(one_by_one)


@settings(max_examples=300, deadline=None)
@given(st.one_of(turns(), turns(clean=True)), st.sampled_from([1, 2, 5, 4096]), st.lists(st.integers(0, 60)))
def test_extend_is_the_fold_of_the_items(data: bytes, batch: int, cuts: list[int]) -> None:
    """``TurnState.extend`` (runs of text deltas merged in one step) folds what ``apply`` on each item folds,
    returns how many were applied, and releases the deltas' parsed events as ``apply`` does; called on
    pieces of the stream (a list, or an iterator) it continues where the last call stopped."""
    with warnings.catch_warnings(), mock.patch.object(state_module, "_BATCH", batch):
        warnings.simplefilter("ignore")
        one_by_one = TurnState()
        ref = list(iter_sse(data))
        applied = sum(one_by_one.apply(it) for it in ref)
        items = list(iter_sse(data))
        ext = TurnState()
        got = 0
        bounds = sorted({min(c, len(items)) for c in cuts} | {0, len(items)})
        for k, (a, b) in enumerate(itertools.pairwise(bounds)):
            piece = items[a:b]
            got += ext.extend(piece if k % 2 else iter(piece))
    assert got == applied
    assert fingerprint(ext) == fingerprint(one_by_one)
    assert ext.items.owner_ranges() == one_by_one.items.owner_ranges()
    assert [it._fast for it in items] == [it._fast for it in ref]  # released where apply released


@settings(max_examples=200, deadline=None)
@given(st.one_of(turns(), turns(clean=True)), st.lists(st.integers(0, 60)))
def test_a_view_fed_item_by_item_is_the_fold_of_the_items(data: bytes, reads: list[int]) -> None:
    """``TurnView.feed`` queues text deltas and folds them in batches: every read of its fold (here at random
    points) sees every item fed so far, ``feed`` returns what ``apply`` returns (a replay: ``False``), and the
    view ends with exactly the fold of the items."""
    from tfwidget.widget import TurnView

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = TurnState()
        view = TurnView()
        try:
            for k, (a, b) in enumerate(zip(iter_sse(data), iter_sse(data), strict=True)):
                assert view.feed(a) == ref.apply(b)
                if k in reads:
                    assert view._state.message_ids() == ref.message_ids()
                    assert [view._state.message_text(m) for m in ref.message_ids()] == [
                        ref.message_text(m) for m in ref.message_ids()
                    ]
            view.flush()
            want, got = fingerprint(ref), fingerprint(view._state)
            del want["changes"], got["changes"]
            assert got == want
            assert view._state.items.owner_ranges() == ref.items.owner_ranges()
        finally:
            view.close()


def test_extend_takes_bare_events_among_the_items() -> None:
    """Bare events (listed ones) among decoded items: folded as ``apply`` folds them, in order."""
    from tfwidget.events import parse_event

    data = b"".join(
        f'id: {i}\ndata: {{"type": "model.message.delta", "id": "m1", "content": "w{i} "}}\n\n'.encode()
        for i in range(2, 40)
    )
    head = b'id: 1\ndata: {"type": "model.message", "id": "m1"}\n\n'
    bare = parse_event('{"type": "x.new", "id": "u1"}')
    ref = TurnState()
    ref_n = sum(ref.apply(x) for x in [*list(iter_sse(head + data))[:10], bare, *list(iter_sse(data))[9:]])
    ext = TurnState()
    got = ext.extend([*list(iter_sse(head + data))[:10], bare, *list(iter_sse(data))[9:]])
    assert got == ref_n == 40
    assert fingerprint(ext) == fingerprint(ref)
