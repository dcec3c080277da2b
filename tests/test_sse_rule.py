"""One SSE decoding rule for live and recorded streams: tfwidget's decoder agrees with httpx-sse's.

The live client and ``load()`` both use :class:`tfwidget.sse.SSEDecoder`; this checks it against httpx-sse
(which follows the SSE standard) on random streams cut into random chunks, including inside UTF-8
characters: the same frames, with the same data and the same event ids (the last id persists).
"""

from __future__ import annotations

import codecs
import json

from httpx_sse._decoders import SSEDecoder as HttpxSSEDecoder
from httpx_sse._decoders import SSELineDecoder
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tfwidget.recording import load
from tfwidget.sse import SSEDecoder, iter_sse

_TEXT = st.text(
    alphabet=st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)), min_size=0, max_size=12
)
_ID = st.one_of(st.integers(0, 10**6).map(str), _TEXT, st.just(""), st.just("1\x002"))
_LINE = st.one_of(
    st.tuples(st.just("id"), _ID),
    st.tuples(st.just("comment"), _TEXT),
    st.tuples(st.just("retry"), st.one_of(st.integers(0, 9999).map(str), _TEXT)),
    st.tuples(st.just("event"), _TEXT),
    st.tuples(st.just("other"), _TEXT),
)
_DATA = st.tuples(st.just("data"), _TEXT.filter(bool))
_FRAME = st.tuples(
    st.lists(_LINE, max_size=3), st.lists(_DATA, min_size=1, max_size=3), st.lists(_LINE, max_size=2)
)
_EOL = st.sampled_from(["\n", "\r\n", "\r"])


@st.composite
def streams(draw: st.DrawFn) -> bytes:
    out: list[str] = []
    for before, data, after in draw(st.lists(_FRAME, min_size=1, max_size=8)):
        for kind, value in [*before, *data, *after]:
            space = draw(st.sampled_from(["", " "]))
            line = {"comment": f":{value}", "other": f"x-field:{space}{value}"}.get(
                kind, f"{kind}:{space}{value}"
            )
            out.append(line + draw(_EOL))
        out.append(draw(_EOL))
        if draw(st.booleans()):
            out.append(draw(_EOL))  # an extra blank line dispatches nothing
    # a CR line end followed by a LF "blank line" is one CRLF: end with LF LF so the last frame is complete
    # (tfwidget also dispatches a frame cut short at the end of a stream; httpx-sse drops it)
    return ("".join(out) + "\n\n").encode("utf-8")


def _cut(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True) if b > a]


def _httpx_sse(chunks: list[bytes]) -> list[tuple[str, str | None]]:
    utf8 = codecs.getincrementaldecoder("utf-8")()
    lines, dec = SSELineDecoder(), HttpxSSEDecoder()
    out = []
    for text in [*(utf8.decode(chunk) for chunk in chunks), None]:
        for line in (lines.decode(text) if text else []) if text is not None else lines.flush():
            sse = dec.decode(line)
            if sse is not None and sse.data:  # httpx-sse also emits id-only / empty frames; the standard not
                out.append((sse.data, sse.id or None))
    return out


def _ours(chunks: list[bytes]) -> list[tuple[str, str | None]]:
    dec = SSEDecoder(warn=False)
    out = [frame for chunk in chunks for frame in dec.feed_frames(chunk)]
    return out + dec.close_frames()


@settings(max_examples=300, deadline=None)
@given(streams(), st.lists(st.integers(0, 10**6), max_size=12))
def test_same_frames_and_ids_as_httpx_sse_under_random_chunking(data: bytes, cuts: list[int]) -> None:
    chunks = _cut(data, cuts)
    assert b"".join(chunks) == data
    assert _ours(chunks) == _httpx_sse(chunks)


def test_a_frame_without_its_own_id_carries_the_last_one_live_and_recorded(tmp_path) -> None:
    ev = '{"type": "model.message.delta", "id": "m", "thread_id": "main", "content": "%s"}'
    text = f"id: 4\ndata: {ev % 'a'}\n\ndata: {ev % 'b'}\n\nid:\ndata: {ev % 'c'}\n\n"
    assert [it.sequence_number for it in iter_sse(text)] == [4, 4, None]
    path = tmp_path / "turn.sse"
    path.write_text(text, encoding="utf-8")
    assert [it.sequence_number for it in load(path)] == [4, 4, None]  # type: ignore[union-attr]


_WORD = st.text(
    alphabet=st.characters(blacklist_characters='\r\n"\\', blacklist_categories=("Cs",)), max_size=8
)


@st.composite
def event_streams(draw: st.DrawFn) -> bytes:
    """Streams as a gateway sends them (``id: N`` / ``data: {json}`` frames), mixed with everything else the
    standard allows: other line ends, comments, ``retry``, frames without an id (the last one carries on),
    ``id:`` clearing it, data split over several lines, blank lines between frames."""
    out: list[str] = []
    seq = 0
    for _ in range(draw(st.integers(1, 12))):
        seq += 1
        ev = json.dumps(
            {"type": "model.message.delta", "id": "m", "content": draw(_WORD)}, ensure_ascii=False
        )
        eol = draw(st.sampled_from(["\n", "\n", "\r\n", "\r"]))
        kind = draw(st.sampled_from(["gateway", "gateway", "no_id", "clear_id", "multi", "comment", "retry"]))
        if kind == "gateway":
            out.append(f"id: {seq}{eol}data: {ev}{eol}{eol}")
        elif kind == "no_id":
            out.append(f"data: {ev}{eol}{eol}")
        elif kind == "clear_id":
            out.append(f"id:{eol}data:{ev}{eol}{eol}")
        elif kind == "multi":
            half = ev.index(", ") + 1  # data lines are joined with a line end: cut between members
            out.append(f"id: {seq}{eol}data: {ev[:half]}{eol}data:{ev[half:]}{eol}{eol}")
        elif kind == "comment":
            out.append(f": {draw(_WORD)}{eol}id: {seq}{eol}: x{eol}data: {ev}{eol}{eol}")
        else:
            out.append(f"retry: {draw(st.integers(0, 99999))}{eol}{eol}")
        if draw(st.booleans()):
            out.append(eol)  # a blank line between frames dispatches nothing
    return ("".join(out) + "\n\n").encode("utf-8")


def _httpx_sse_events(chunks: list[bytes]) -> tuple[list[tuple[str, str | None]], int | None]:
    utf8 = codecs.getincrementaldecoder("utf-8")()
    lines, dec = SSELineDecoder(), HttpxSSEDecoder()
    out, retry = [], None
    for text in [*(utf8.decode(chunk) for chunk in chunks), None]:
        for line in (lines.decode(text) if text else []) if text is not None else lines.flush():
            sse = dec.decode(line)
            if sse is None:
                continue
            if sse.retry is not None:
                retry = sse.retry
            if sse.data:
                out.append((sse.data, sse.id or None))
    return out, retry


@settings(max_examples=300, deadline=None)
@given(event_streams(), st.lists(st.integers(0, 10**6), max_size=12))
def test_gateway_shaped_streams_decode_as_httpx_sse_does_under_random_chunking(
    data: bytes, cuts: list[int]
) -> None:
    chunks = _cut(data, cuts)
    want, want_retry = _httpx_sse_events(chunks)
    dec = SSEDecoder(warn=False)
    got = [frame for chunk in chunks for frame in dec.feed_frames(chunk)] + dec.close_frames()
    assert got == want
    assert dec.retry == want_retry
    # the typed items (what the live client and load() hand out) carry the same data and ids
    dec = SSEDecoder(warn=False)
    items = [it for chunk in chunks for it in dec.feed(chunk)] + dec.close()
    assert [(it.raw, it.sequence_number) for it in items] == [(d, int(i) if i else None) for d, i in want]
    assert dec.malformed == 0 and dec.retry == want_retry


def test_retry_takes_ascii_digits_only() -> None:
    dec = SSEDecoder(warn=False)
    assert dec.feed_frames("retry: \u00b2\n\nretry: 25\n\nretry: \u0663\n\n") == []
    assert dec.retry == 25


@settings(max_examples=200, deadline=None)
@given(streams(), st.lists(st.integers(0, 10**6), max_size=12))
def test_frames_longer_than_the_cap_in_bytes_decode_the_same_when_no_line_or_data_is(
    data: bytes, cuts: list[int]
) -> None:
    # a small cap: unfinished frames outgrow it and are taken line by line; no line is longer than 64
    # characters in these streams, and streams where an event's data is (two frames join into one event
    # when a CR line end meets the LF of the blank line) are left out, so nothing may be refused
    chunks = _cut(data, cuts)
    want = _httpx_sse(chunks)
    assume(all(len(d) <= 64 for d, _ in want))
    dec = SSEDecoder(warn=False, max_event_bytes=64)
    got = [frame for chunk in chunks for frame in dec.feed_frames(chunk)] + dec.close_frames()
    assert dec.limit_error is None
    assert got == want


def test_an_event_of_exactly_the_cap_is_kept() -> None:
    # six data lines joined by five line feeds: 64 characters of data, which a cap of 64 allows
    lines = ["0" * 6, "0" * 10, "0" * 12, "0" * 10, "0" * 10, "0" * 11]
    dec = SSEDecoder(warn=False, max_event_bytes=64)
    frames = dec.feed_frames("".join(f"data:{x}\n" for x in lines) + "\n")
    assert dec.limit_error is None and frames == [("\n".join(lines), None)]
    dec = SSEDecoder(warn=False, max_event_bytes=63)
    dec.feed_frames("".join(f"data:{x}\n" for x in lines) + "\n")
    assert dec.limit_error is not None and "63" in str(dec.limit_error)
