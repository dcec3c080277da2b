"""The compact item log behind ``TurnState.items`` reads back exactly the items appended to it."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from tfwidget._itemlog import ItemLog, SeqSet
from tfwidget.events import parse_event
from tfwidget.sse import StreamItem

_SEQ = st.one_of(st.none(), st.integers(0, 50), st.integers(-(2**70), 2**70))
_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=5)


@st.composite
def stream_items(draw: st.DrawFn) -> StreamItem:
    raw = '{"type": "model.message.delta", "id": "m", "content": ' + json.dumps(draw(_TEXT)) + "}"
    seq = draw(_SEQ)
    t = draw(st.sampled_from([1.0, 1.0, 2.5, 1e9 + 0.123456]))
    kind = draw(st.sampled_from(["released", "parsed", "synthesized"]))
    if kind == "released":
        return StreamItem(seq, None, t, raw)
    return StreamItem(seq, parse_event(raw), t, raw, synthesized=kind == "synthesized")


def _key(it: StreamItem) -> tuple:
    return (it.sequence_number, it.received_at, it.raw, it.synthesized, it.event)


@settings(max_examples=200, deadline=None)
@given(st.lists(stream_items(), max_size=30), st.integers(-40, 40), st.integers(0, 35))
def test_the_log_reads_back_what_was_appended(items: list[StreamItem], i: int, k: int) -> None:
    kept = [it._event is not None or it.synthesized for it in items]  # (reading .event below parses)
    log = ItemLog()
    for it in items:
        log.append(it)
    assert len(log) == len(items)
    assert [_key(a) for a in log] == [_key(b) for b in items]
    assert log == items and list(log) == items
    if -len(items) <= i < len(items):
        assert _key(log[i]) == _key(items[i])
    assert [_key(a) for a in log[k:]] == [_key(b) for b in items[k:]]
    head = log.head(k)
    assert [_key(a) for a in head] == [_key(b) for b in items[:k]]
    assert set(head.seen()) == {it.sequence_number for it in items[:k]} - {None}
    assert all(log[n] is it for n, it in enumerate(items) if kept[n])  # those are kept as they are


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.one_of(st.integers(0, 3000), st.integers(-5, 10**12)), max_size=60), st.integers(-5, 10**12)
)
def test_seqset_is_a_set(adds: list[int], probe: int) -> None:
    s, want = SeqSet(), set()
    for a in adds:
        s.add(a)
        want.add(a)
        assert a in s
    assert (probe in s) == (probe in want)
    assert set(s) == want and len(s) == len(want)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(0, 3000), max_size=20),
    st.lists(st.tuples(st.integers(-20, 3000), st.integers(0, 900)), max_size=4),
    st.sampled_from([0, 10**6, 10**9]),
)
def test_seqset_add_range_is_adding_one_by_one(
    adds: list[int], ranges: list[tuple[int, int]], far: int
) -> None:
    s, want = SeqSet(), set()
    for a in adds:
        s.add(a)
        want.add(a)
    for lo, size in ranges:
        s.add_range(lo + far, lo + far + size)
        want.update(range(lo + far, lo + far + size))
    assert set(s) == want
    assert all(x in s for x in want)
    assert ((far + 3001) in s) == ((far + 3001) in want)


@settings(max_examples=200, deadline=None)
@given(st.lists(stream_items(), max_size=12), st.lists(st.tuples(st.lists(_TEXT, max_size=6), st.booleans())))
def test_a_run_of_compact_items_reads_back_like_appending_them(
    items: list[StreamItem], runs: list[tuple[list[str], bool]]
) -> None:
    log, want = ItemLog(items), list(items)
    t, seq = 7.0, 1000
    for texts, as_text in runs:
        raws = ['{"type": "model.message.delta", "id": "m", "content": ' + json.dumps(x) + "}" for x in texts]
        t += 1.0
        log._add_run([r if as_text else r.encode() for r in raws], range(seq, seq + len(raws)), t)
        want += [StreamItem(seq + k, None, t, r) for k, r in enumerate(raws)]
        seq += len(raws)
    assert [_key(a) for a in log] == [_key(b) for b in want]


def _runs(owners: list[str | None]) -> tuple[list[int], list[int], list[set[str]]]:
    """The maximal runs of noted items in a per-item list of owners (``None``: not noted), with the set of
    the messages in each."""
    starts: list[int] = []
    ends: list[int] = []
    ids: list[set[str]] = []
    for i, o in enumerate(owners):
        if o is None:
            continue
        if ends and ends[-1] == i:
            ends[-1] = i + 1
            ids[-1].add(o)
        else:
            starts.append(i)
            ends.append(i + 1)
            ids.append({o})
    return starts, ends, ids


_OWNER = st.one_of(st.none(), st.sampled_from(["a", "b"]))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("add"), _OWNER, st.sampled_from([1, 2, None, 2**70])),
            st.tuples(st.just("keep"), st.none(), st.none()),
            st.tuples(
                st.just("run"), st.lists(st.tuples(st.integers(0, 3), st.sampled_from("ab")), max_size=3)
            ),
            st.tuples(st.just("head"), st.integers(0, 40), st.none()),
        ),
        max_size=25,
    )
)
def test_owner_ranges_are_the_runs_of_noted_deltas(ops: list[tuple]) -> None:
    """The ranges the fold notes (see ``ItemLog._add``) are exactly the maximal runs of noted compact items,
    whatever breaks them (other items, items kept as objects, runs, a cut with ``head``): one message's id
    when only it streamed there, else a set holding every message that did (a cut may leave more)."""
    log, owners = ItemLog(), []
    cut = False  # after a cut, a range's set may name a message whose deltas were cut off
    raw = b'{"type": "model.message.delta", "id": "m", "content": "x"}'
    for op in ops:
        if op[0] == "add":
            log._add(raw, op[2], 1.0, op[1])
            owners.append(op[1] if op[2] != 2**70 else None)  # a number beyond the column: kept as an object
        elif op[0] == "keep":
            log.append(StreamItem(None, parse_event(raw.decode()), 1.0, raw.decode()), "a")
            owners.append(None)
        elif op[0] == "run":
            marks, k = [], 0
            for n, o in op[1]:
                marks.append((k, o))
                k += n
            log._add_run([raw] * k, range(k), 2.0, marks)
            for n, o in op[1]:
                owners += [o] * n
        else:
            log = log.head(op[1])
            owners = owners[: op[1]]
            cut = True
        assert len(log) == len(owners)
        starts, ends, ids = log.owner_ranges()
        want_starts, want_ends, want_ids = _runs(owners)
        assert (list(starts), list(ends)) == (want_starts, want_ends)
        for got, want in zip(ids, want_ids, strict=True):
            if isinstance(got, str):
                assert want == {got}
            else:
                assert want <= got and len(got) > 1
            if not cut:
                assert (got if isinstance(got, set) else {got}) == want


def test_the_fold_notes_the_mid_stream_deltas_of_each_message() -> None:
    """Folding a recorded turn, every noted range holds deltas of its message that do not finish it, and every
    such delta stored compactly is in one (a finishing delta, any other event, an item kept whole: none)."""
    from pathlib import Path

    from tfwidget.events import ModelMessageDeltaEvent
    from tfwidget.sse import iter_sse
    from tfwidget.state import TurnState

    fixtures = Path(__file__).parent / "fixtures"
    noted_any = False
    for path in sorted(fixtures.glob("*.sse")):
        state = TurnState.from_items(iter_sse(path.read_bytes()))
        log = state.items
        assert isinstance(log, ItemLog)
        owner: list[set[str] | None] = [None] * len(log)
        for s, e, o in zip(*log.owner_ranges(), strict=True):
            owner[s:e] = [o if isinstance(o, set) else {o}] * (e - s)
            noted_any = True
        for i, it in enumerate(log):
            compact = i not in log._obj
            ev = it.event
            mid = isinstance(ev, ModelMessageDeltaEvent) and not ev.finish_reason
            if owner[i] is not None:
                assert mid and compact and ev.id in owner[i], (path.name, i)
            else:
                assert not (mid and compact), (path.name, i)
    assert noted_any
