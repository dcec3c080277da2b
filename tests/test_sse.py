"""SSE decoding: line ends, multi-line data, comments, retry, chunk splits, malformed frames, cut streams."""

from __future__ import annotations

import json
import random
import warnings

import pytest

from tfwidget import MalformedFrameWarning, SSEDecoder, iter_sse
from tfwidget.sse import StreamItem

from .conftest import FIXTURES


def _ev(i: int, **kw: object) -> str:
    return json.dumps(
        {"type": "model.message.delta", "id": "m1", "thread_id": "main", "content": f"t{i}", **kw}
    )


def _frames(n: int) -> str:
    return "".join(f"id: {i}\ndata: {_ev(i)}\n\n" for i in range(1, n + 1))


def _key(items: list[StreamItem]) -> list[tuple]:
    return [(it.sequence_number, it.event.model_dump()) for it in items]


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"])
def test_line_ends(eol: str) -> None:
    text = _frames(5).replace("\n", eol)
    items = list(iter_sse(text.encode()))
    assert [it.sequence_number for it in items] == [1, 2, 3, 4, 5]
    assert items[2].event.content == "t3"


def test_every_fixture_matches_a_naive_reading() -> None:
    for path in FIXTURES.glob("*.sse"):
        text = path.read_text()
        expected = [json.loads(b.split("data: ", 1)[1]) for b in text.split("\n\n") if "data: " in b]
        got = list(iter_sse(path.read_bytes()))
        assert [json.loads(it.raw) for it in got] == expected
        assert [it.sequence_number for it in got] == list(range(1, len(expected) + 1))


def test_multiline_data_comments_retry_and_unknown_fields() -> None:
    src = (
        ": keep-alive\n"
        "retry: 2500\n"
        "event: ignored\n"
        "foo: bar\n"
        "id: 7\n"
        'data: {"type": "tool.response",\n'
        'data:  "id": "r", "tool_call_id": "c",\n'
        'data: "content": "ok"}\n'
        "\n"
        ":another comment\n\n"
    )
    s = iter_sse(src)
    items = list(s)
    assert len(items) == 1 and items[0].sequence_number == 7
    assert items[0].event.content == "ok"
    assert s.retry == 2500
    assert s.malformed == 0


def test_data_without_space_after_colon_and_no_id() -> None:
    (item,) = list(iter_sse('data:{"type":"x","id":"a"}\n\n'))
    assert item.sequence_number is None and item.event.type == "x"


def test_random_chunking_including_inside_utf8_characters() -> None:
    text = "".join(
        f"id: {i}\r\ndata: {_ev(i, content='héllo wörld ✓ 日本語 🚀' * 3)}\r\n\r\n" for i in range(1, 60)
    )
    data = text.encode("utf-8")
    whole = _key(list(iter_sse(data)))
    rng = random.Random(7)
    for _ in range(30):
        cuts = sorted(rng.sample(range(1, len(data)), rng.randint(1, 200)))
        chunks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
        assert _key(list(iter_sse(chunks))) == whole
    # byte by byte, CRLF split between chunks included
    assert _key(list(iter_sse(data[i : i + 1] for i in range(len(data))))) == whole


def test_malformed_frames_are_reported_skipped_and_the_stream_goes_on() -> None:
    src = (
        f"id: 1\ndata: {_ev(1)}\n\n"
        "id: 2\ndata: {this is not json\n\n"
        f"id: two\ndata: {_ev(3)}\n\n"
        'id: 4\ndata: ["a list"]\n\n'
        'id: 5\ndata: {"type": "x"}\n\n'
        f"id: 6\ndata: {_ev(6)}\n\n"
    )
    s = iter_sse(src)
    with pytest.warns(MalformedFrameWarning) as rec:
        items = list(s)
    assert [it.sequence_number for it in items] == [1, 6]
    assert s.malformed == 4 and len(rec) == 4
    reasons = [e.reason for e in s.errors]
    assert "not valid JSON" in reasons[0]
    assert "not an integer" in reasons[1] and s.errors[1].sse_id == "two"
    assert "JSON object" in reasons[2]
    assert "'id'" in reasons[3]
    assert "skipped malformed SSE frame" in str(s.errors[0])


def test_warnings_can_be_turned_off_but_counter_still_counts() -> None:
    d = SSEDecoder(warn=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        d.feed("data: nope\n\n")
    assert d.malformed == 1


def test_stream_cut_mid_frame_keeps_every_complete_frame_and_the_last_complete_line() -> None:
    full = _frames(4)
    cut = full[: full.index("id: 4") + len('id: 4\ndata: {"type": "model.mes')]
    with pytest.warns(MalformedFrameWarning):
        items = list(iter_sse(cut))
    assert [it.sequence_number for it in items] == [1, 2, 3]
    # a final frame that only lacks its blank line is not lost
    items = list(iter_sse(full.rstrip("\n")))
    assert [it.sequence_number for it in items] == [1, 2, 3, 4]


def test_two_megabyte_event() -> None:
    big = "x" * (2 * 1024 * 1024)
    data = f"id: 1\ndata: {_ev(1, content=big)}\n\nid: 2\ndata: {_ev(2)}\n\n".encode()
    chunks = [data[i : i + 65536] for i in range(0, len(data), 65536)]
    items = list(iter_sse(chunks))
    assert len(items) == 2 and len(items[0].event.content) == len(big)


def test_stream_item_unpacks_like_a_tuple() -> None:
    (item,) = list(iter_sse(f"id: 3\ndata: {_ev(3)}\n\n"))
    seq, event = item
    assert seq == 3 and event.type == "model.message.delta"
    assert item.received_at > 0
