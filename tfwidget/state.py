"""The fold: a turn's stream items -> one consistent, merged view of the turn.

:class:`TurnState` is pure (no I/O) and shared by the widget, the DataFrames and the CLI. It merges
``model.message.delta`` events into their base exactly as the official client does (see
``merge_event_delta`` in ``truefoundry-gateway-sdk``), but in linear time: text increments are kept as
chunks and joined only when read.

Replays are safe: an item whose sequence number was already applied is ignored, and a non-delta event seen
again with the same id replaces the earlier one instead of duplicating it. Events in an unexpected order (a
delta before its base, a ``tool.response`` for an unknown call, anything after ``turn.done``) are kept and
recorded in :attr:`TurnState.anomalies`; the fold never raises on them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING, Any

import msgspec

from ._content import content_text
from ._facade import FrameName, FramesFacade, turn_frame
from ._itemlog import _NONE, ItemLog, SeqSet
from .artifacts import classify_image_url, content_images, iter_image_blocks
from .contracts import ThreadStatus, TimelineKind, ToolCallStatus, TurnStatus
from .events import (
    ContentPart,
    Event,
    McpAuthRequiredEvent,
    ModelMessageDeltaEvent,
    ModelMessageEvent,
    ThreadCreatedEvent,
    ThreadDoneEvent,
    ToolApprovalRequiredEvent,
    ToolCall,
    ToolCallFunction,
    ToolResponseEvent,
    ToolResponseRequiredEvent,
    TurnCreatedEvent,
    TurnDoneEvent,
    TurnMetrics,
    UnknownEvent,
    parse_event,
)
from .sse import _FAST_DECODE, SSEStream, StreamItem, _FastDelta

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Anomaly", "Changes", "ThreadInfo", "TimelineEntry", "ToolCallInfo", "TurnState", "TurnStatus"]

PauseEvent = ToolApprovalRequiredEvent | ToolResponseRequiredEvent | McpAuthRequiredEvent
_PAUSE_TYPES = (ToolApprovalRequiredEvent, ToolResponseRequiredEvent, McpAuthRequiredEvent)
#: ``tool_calls[].index`` of a delta must be in ``range(MAX_TOOL_CALL_INDEX + 1)``: the fold pads a message's
#: tool call slots up to the index, so a hostile index (1e8, 2e9) would otherwise cost gigabytes, and a negative
#: one would address the wrong slot. Chunks outside are skipped and flagged as ``invalid_tool_call_index``.
MAX_TOOL_CALL_INDEX = 4095


@dataclass(slots=True)
class ThreadInfo:
    """The main thread or a sub-agent thread.

    ``status``: ``running`` until its ``thread.done`` (``done`` or ``error``); threads still open when the turn
    ends take the turn's ending: ``paused``, ``cancelled`` or ``error`` (``main`` always takes the turn's status).
    """

    id: str
    title: str | None = None
    parent_thread_id: str | None = None
    parent_tool_call_id: str | None = None
    agent_info: dict[str, Any] | None = None
    status: ThreadStatus = "running"
    error: Any = None
    output: Any = None
    created_at: str | None = None
    done_at: str | None = None

    @property
    def agent_name(self) -> str | None:
        return (self.agent_info or {}).get("name")

    @property
    def model(self) -> str | None:
        return (self.agent_info or {}).get("model")


class ToolCallInfo:
    """A tool call with everything known about it.

    ``status``: ``streaming`` (its message is still streaming), ``running`` (called, no response yet),
    ``completed`` (has a ``tool.response``), ``awaiting_approval``, ``awaiting_response`` (the turn is paused
    on it), or ``incomplete`` (the turn ended without a response).

    ``arguments`` is read from the argument chunks the fold keeps for the call and joined only when read
    (a call streamed in many deltas would otherwise be re-joined on every one of them).
    """

    __slots__ = (
        "_args",
        "child_thread_id",
        "id",
        "index",
        "message_id",
        "name",
        "response",
        "response_event_id",
        "status",
        "thread_id",
        "tool_info",
    )
    _FIELDS = (
        "id",
        "message_id",
        "thread_id",
        "index",
        "name",
        "arguments",
        "tool_info",
        "response",
        "response_event_id",
        "status",
        "child_thread_id",
    )

    def __init__(
        self,
        id: str,
        message_id: str,
        thread_id: str | None,
        index: int,
        name: str = "",
        arguments: str = "",
        tool_info: dict[str, Any] | None = None,
        response: Any = None,
        response_event_id: str | None = None,
        status: ToolCallStatus = "streaming",
        child_thread_id: str | None = None,
    ) -> None:
        self.id = id
        self.message_id = message_id
        self.thread_id = thread_id
        self.index = index
        self.name = name
        self._args: list[str] = [arguments]
        self.tool_info = tool_info
        self.response = response
        self.response_event_id = response_event_id
        self.status = status
        self.child_thread_id = child_thread_id

    @property
    def arguments(self) -> str:
        chunks = self._args
        if len(chunks) == 1:
            return chunks[0]
        joined = "".join(chunks)
        chunks[:] = [joined]  # shared with the fold: later reads (and later chunks) start from here
        return joined

    @arguments.setter
    def arguments(self, value: str) -> None:
        self._args = [value]

    @property
    def tool_type(self) -> str | None:
        return (self.tool_info or {}).get("type")

    @property
    def server_name(self) -> str | None:
        return (self.tool_info or {}).get("server_name")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in self._FIELDS)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        inner = ", ".join(f"{f}={getattr(self, f)!r}" for f in self._FIELDS)
        return f"ToolCallInfo({inner})"


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    kind: TimelineKind
    id: str
    thread_id: str | None


@dataclass(frozen=True, slots=True)
class Anomaly:
    """Something unexpected in the stream that was kept and flagged rather than raised."""

    kind: str
    message: str
    sequence_number: int | None = None
    event_id: str | None = None


@dataclass(slots=True)
class Changes:
    """What changed since the previous :meth:`TurnState.take_changes` (used by the widget's flushes)."""

    messages: set[str] = field(default_factory=set)
    tools: set[str] = field(default_factory=set)
    threads: set[str] = field(default_factory=set)
    events: set[str] = field(default_factory=set)
    turn: bool = False
    timeline_start: int = 0
    anomalies_start: int = 0

    def __bool__(self) -> bool:
        return bool(self.messages or self.tools or self.threads or self.events or self.turn)


_PACK = 256
_SEQ_MIN, _SEQ_MAX = -(2**63), 2**63  # sequence numbers the item log keeps in its column (exclusive bounds)


def _argument_chunk(
    m: _Message, did: str, tcs: Any, slot_info: dict[tuple[str, int], ToolCallInfo]
) -> tuple[list[Any], ToolCallInfo, str | None] | None:
    """The one rule for a decoder-checked delta's ``tool_calls`` on the fast paths (``_merge_fast``, the batch
    fold): when it is one chunk that only adds argument text to a call message ``m`` (id ``did``) already
    has, ``(slot, info, argument text)``; else ``None`` (the delta takes ``apply``'s full path)."""
    if len(tcs) != 1:
        return None
    k = tcs[0]
    fn = k.function
    idx = k.index
    if (
        k.id is not None
        or k.type is not None
        or k.tool_info is not None
        or k.provider_specific_fields is not None
        or (fn is not None and fn.name is not None)
        or not 0 <= idx < len(m.slots)
    ):
        return None
    slot = m.slots[idx]
    info = slot_info.get((did, idx))
    if slot is None or info is None:
        return None
    return slot, info, fn.arguments if fn is not None else None


def _pack(chunks: list[str], packed: int) -> int:
    """Join the pieces after the first ``packed`` entries into one (a long message's text is then a few
    strings, not one per delta); returns the new count of packed entries. Reads join everything
    (``_Message._join``), which leaves one entry: a count beyond the list starts over from there."""
    if packed > len(chunks):
        packed = 1 if chunks else 0
    chunks[packed:] = ["".join(chunks[packed:])]
    return packed + 1


class _Message:
    """A model message being merged: text increments kept as chunks, joined on read."""

    __slots__ = (
        "base",
        "cache",
        "content",
        "content_list",
        "images",
        "media",
        "packed",
        "reasoning",
        "refusal",
        "slots",
    )

    def __init__(self, base: ModelMessageEvent) -> None:
        self.base = base
        self.cache: ModelMessageEvent | None = None
        self.packed = 0  # leading entries of ``content`` that are packed runs of pieces (see _pack)
        c = base.content
        self.content_list: list[ContentPart] | None = None
        if isinstance(c, list):
            self.content_list = [p.model_copy() for p in c]
            self.content: list[str] | None = None
        else:
            self.content = None if c is None else [c]
        self.reasoning: list[str] | None = (
            None if base.reasoning_content is None else [base.reasoning_content]
        )
        self.refusal: list[str] | None = None if base.refusal is None else [base.refusal]
        # streamed image content blocks {index: url chunks}: shown, but (like the official client) never
        # merged into ``content``
        self.images: dict[int, list[str]] | None = None
        self.media: tuple[Any, list[dict[str, Any]]] | None = None  # (key, message_images) cache
        # per tool call slot: [ToolCall, argument chunks]; None where the index was padded
        self.slots: list[list[Any] | None] = [
            [tc.model_copy(deep=True), [tc.function.arguments]] for tc in (base.tool_calls or [])
        ]

    def merge(
        self,
        d: ModelMessageDeltaEvent,
        rejected: list[int] | None = None,
        appended: list[int] | None = None,
    ) -> list[int]:
        """Merge a delta (exactly the official client's rules). Returns the tool call indexes touched.

        Tool call chunks whose index is negative or above :data:`MAX_TOOL_CALL_INDEX` are skipped; their
        indexes are appended to ``rejected``. With ``appended``, a chunk that only adds argument text to a
        known call is listed there instead of in the result (nothing else about the call changed)."""
        self.cache = None
        if d.content:
            if self.content_list is None:
                if self.content is None:
                    self.content = [d.content]
                else:
                    self.content.append(d.content)
            else:
                last = self.content_list[-1] if self.content_list else None
                if last is not None and last.type == "text":
                    last.text = (last.text or "") + d.content
                else:
                    self.content_list.append(ContentPart(type="text", text=d.content))
        if d.refusal:
            (self.refusal if self.refusal is not None else self._new("refusal")).append(d.refusal)
        touched: list[int] = []
        if d.tool_calls:
            slots = self.slots
            for chunk in d.tool_calls:
                i = chunk.index
                if not 0 <= i <= MAX_TOOL_CALL_INDEX:
                    if rejected is not None:
                        rejected.append(i)
                    continue
                while len(slots) <= i:
                    slots.append(None)
                slot = slots[i]
                fn = chunk.function
                if (
                    appended is not None
                    and slot is not None
                    and not (chunk.id or chunk.type or chunk.tool_info or chunk.provider_specific_fields)
                    and (fn is None or not fn.name)
                ):
                    if fn is not None and fn.arguments:
                        slot[1].append(fn.arguments)
                    appended.append(i)
                    continue
                if slot is None:
                    tc = ToolCall.model_construct(
                        id=chunk.id or "",
                        type=chunk.type or "function",
                        function=ToolCallFunction.model_construct(
                            name=fn.name if fn is not None and fn.name else "", arguments=""
                        ),
                        tool_info=chunk.tool_info,
                        provider_specific_fields=None,
                    )
                    slot = slots[i] = [tc, []]
                tc = slot[0]
                if chunk.id:
                    tc.id = chunk.id
                if chunk.type:
                    tc.type = chunk.type
                if fn is not None and fn.name:
                    tc.function.name = fn.name
                if fn is not None and fn.arguments:
                    slot[1].append(fn.arguments)
                if chunk.tool_info:
                    tc.tool_info = chunk.tool_info
                if chunk.provider_specific_fields:
                    tc.provider_specific_fields = {
                        **(tc.provider_specific_fields or {}),
                        **chunk.provider_specific_fields,
                    }
                touched.append(i)
        if d.finish_reason:
            self.base.finish_reason = d.finish_reason
        if d.reasoning_content:
            (self.reasoning if self.reasoning is not None else self._new("reasoning")).append(
                d.reasoning_content
            )
        if d.usage:
            self.base.usage = d.usage
        blocks = (d.model_extra or {}).get("content_blocks")
        if isinstance(blocks, list) and blocks:
            images = self.images if self.images is not None else {}
            for index, piece in iter_image_blocks(blocks):
                images.setdefault(index, []).append(piece)
            self.images = images or None
        return touched

    def _new(self, name: str) -> list[str]:
        lst: list[str] = []
        setattr(self, name, lst)
        return lst

    @staticmethod
    def _join(chunks: list[str] | None) -> str | None:
        if chunks is None:
            return None
        if len(chunks) > 1:
            joined = "".join(chunks)
            chunks[:] = [joined]
            return joined
        return chunks[0] if chunks else ""

    def arguments(self, i: int) -> str:
        slot = self.slots[i]
        if slot is None:
            return ""
        joined = self._join(slot[1]) or ""
        slot[0].function.arguments = joined
        return joined

    def content_text(self) -> str:
        if self.content_list is not None:
            return content_text(self.content_list)
        return self._join(self.content) or ""

    def reasoning_text(self) -> str:
        return self._join(self.reasoning) or ""

    def streamed_images(self) -> list[tuple[int, str, bool]]:
        """``(index, url, complete)`` of streamed image blocks; complete once a later block or the finish came."""
        if not self.images:
            return []
        last = max(self.images)
        done = self.base.finish_reason is not None
        return [(i, "".join(self.images[i]), done or i < last) for i in sorted(self.images)]

    def refusal_text(self) -> str:
        return self._join(self.refusal) or ""

    def materialize(self) -> ModelMessageEvent:
        if self.cache is not None:
            return self.cache
        update: dict[str, Any] = {
            "content": self.content_list if self.content_list is not None else self._join(self.content),
            "reasoning_content": self._join(self.reasoning),
            "refusal": self._join(self.refusal),
        }
        if self.slots:
            calls: list[Any] = []
            for i, slot in enumerate(self.slots):
                if slot is None:
                    calls.append(None)
                    continue
                self.arguments(i)
                calls.append(slot[0].model_copy(deep=True))
            update["tool_calls"] = calls
        if self.content_list is not None:  # later merges append to the last part's text in place
            update["content"] = [p.model_copy() for p in self.content_list]
        # a shallow copy: what later merges change is replaced above (content, tool calls) or rebound on
        # ``base`` (finish reason, usage), never changed inside; the public readers copy deeply
        self.cache = self.base.model_copy(update=update)
        return self.cache


class TurnState(FramesFacade):
    """The merged state of one turn, built by applying stream items in order.

    >>> from tfwidget import load
    >>> state = TurnState.from_items(load("turn.sse"))      # doctest: +SKIP
    >>> state.status, [m.text for m in state.messages]      # doctest: +SKIP
    """

    def __init__(self) -> None:
        self.items: ItemLog | list[StreamItem] = ItemLog()
        self.anomalies: list[Anomaly] = []
        self.timeline: list[TimelineEntry] = []
        self.created: TurnCreatedEvent | None = None
        self.done: TurnDoneEvent | None = None
        self.threads: dict[str, ThreadInfo] = {"main": ThreadInfo("main", title="main")}
        self.tool_calls: dict[str, ToolCallInfo] = {}
        self.events_by_id: dict[str, Event] = {}
        self.last_sequence_number: int | None = None
        self._seen_seq: SeqSet | set[int] = SeqSet()
        self._msgs: dict[str, _Message] = {}
        self._slot_info: dict[tuple[str, int], ToolCallInfo] = {}  # (message id, index) -> its call
        self._responses: dict[str, ToolResponseEvent] = {}  # tool call id -> response (also early ones)
        self._pauses: dict[str, PauseEvent] = {}  # live pause events by id
        self._changes = Changes()
        self._turn_id: str | None = None
        self._pending_cache: dict[str, set[str]] | None = None

    # ------------------------------------------------------------------ building

    @classmethod
    def from_items(cls, items: Iterable[StreamItem | Event]) -> TurnState:
        """Fold items (or bare events, e.g. listed ones) into a new state.

        Given :func:`~tfwidget.iter_sse` of bytes, text or chunks, the frames are folded as they are decoded:
        the same state as applying the stream's items one by one, in a fraction of the time."""
        st = cls()
        if cls.apply is TurnState.apply and (type(items) is SSEStream or type(items) is ItemLog):
            if type(items) is SSEStream:
                st._ingest(items)
            elif type(items) is ItemLog:
                st._fold_log(items)  # what load() gives
            if type(st.items) is ItemLog:
                st.items.trim()
            return st
        for it in items:
            st.apply(it)
        return st

    def _ingest(self, stream: SSEStream) -> None:
        dec = stream.decoder
        src = stream._source
        chunks: Iterable[Any] = [src] if isinstance(src, (bytes, bytearray, str)) else src
        for chunk in chunks:
            datas, sids = dec._columns(chunk)
            if datas:
                self._fold_frames(dec, datas, sids)
            if dec.limit_error is not None:
                raise dec.limit_error
        frames = dec._close()
        if frames:
            self._fold_each(dec, frames)

    def _fold_frames(self, dec: Any, datas: list[Any], sids: list[Any]) -> None:
        """Fold decoded frames (their data, and their ids as text or ASCII bytes). The common case, frames
        numbered densely after everything seen so far, is folded in batches (:meth:`_fold_batch`); any other
        takes :meth:`_fold_each`. Both give the fold of :meth:`apply` on each frame's item."""
        n = len(datas)
        last = self.last_sequence_number
        try:
            first = int(sids[0])
            dense = (
                first == int(sids[-1]) - n + 1
                and (last is None or first > last)
                and _SEQ_MIN < first
                and first + n < _SEQ_MAX
                and list(map(int, sids)) == list(range(first, first + n))
            )
        except (TypeError, ValueError):  # a frame without an id, or a bad id
            dense = False
        if sids and type(sids[0]) is bytes:
            sids = b"\n".join(sids).decode("ascii").split("\n") if not dense else sids
        if not dense or type(self.items) is not ItemLog:
            self._fold_each(dec, list(zip(datas, sids, strict=True)))
            return
        for a in range(0, n, _BATCH):
            b = min(a + _BATCH, n)
            try:
                decoded = list(map(_FAST_DECODE, datas[a:b]))
            except (
                msgspec.MsgspecError,
                RecursionError,
            ):  # a frame outside the schema (or not JSON): one by one
                self._fold_each(dec, [(d, str(first + k)) for k, d in enumerate(datas[a:b], a)])
                continue
            self._fold_batch(dec, decoded, datas[a:b], first + a)

    def _fold_batch(
        self,
        dec: Any,
        decoded: list[Any],
        datas: list[Any],
        first: int,
        times: list[float] | None = None,
        apply_one: Callable[[int], None] | None = None,
    ) -> None:
        """Fold frames numbered ``first``, ``first + 1``, ... (none seen yet), each decoded by the fast schema.

        Runs of plain deltas of known messages (text, reasoning, refusal, or argument text of a known tool call)
        are merged here: their text gathered per message and appended once, their items added to the log's
        columns in one step. Any other frame is applied as an item, in order: ``apply_one(i)`` when given
        (a recording's line), else the decoder's item of frame ``i``. ``times``: each frame's receive time
        (a recording's), else now for all."""
        now = time.time()
        msgs = self._msgs
        log = self.items
        assert type(log) is ItemLog
        changed_add = self._changes.messages.add
        tools_add = self._changes.tools.add
        slot_info = self._slot_info
        n = len(decoded)
        i = 0
        while i < n:
            j = i
            if self.done is None:
                cur: str | None = None
                m: Any = None
                cacc: list[str] = []
                racc: list[str] = []
                facc: list[str] = []
                touched: list[tuple[str, _Message, list[str], list[str], list[str]]] = []
                owners: list[tuple[int, str]] = []  # where the run's message changes (for the log)
                for d in decoded[i:]:
                    if d.__class__ is not _FastDelta or d.finish_reason is not None or d.usage is not None:
                        break
                    did = d.id
                    if did != cur:
                        m = msgs.get(did)
                        if m is None or m.content_list is not None:
                            break
                        cur = did
                        cacc, racc, facc = [], [], []
                        touched.append((did, m, cacc, racc, facc))
                        owners.append((j - i, did))
                    tcs = d.tool_calls
                    if tcs is not None:
                        found = _argument_chunk(m, did, tcs, slot_info)
                        if found is None:
                            break
                        slot, info, args = found
                        if args:
                            slot[1].append(args)
                        tools_add(info.id)
                    c = d.content
                    if c:
                        cacc.append(c)
                    c = d.reasoning_content
                    if c:
                        racc.append(c)
                    c = d.refusal
                    if c:
                        facc.append(c)
                    j += 1
                if j > i:
                    for did, m, cacc, racc, facc in touched:
                        m.cache = None
                        changed_add(did)
                        if cacc:
                            joined = "".join(cacc)
                            if m.content is None:
                                m.content = [joined]
                            else:
                                m.content.append(joined)
                                if len(m.content) - m.packed >= _PACK:
                                    m.packed = _pack(m.content, m.packed)
                        if racc:
                            (m.reasoning if m.reasoning is not None else m._new("reasoning")).append(
                                "".join(racc)
                            )
                        if facc:
                            (m.refusal if m.refusal is not None else m._new("refusal")).append("".join(facc))
                    seen = self._seen_seq
                    lo, hi = first + i, first + j
                    if type(seen) is SeqSet:
                        seen.add_range(lo, hi)
                    else:
                        seen.update(range(lo, hi))  # type: ignore[union-attr]
                    self.last_sequence_number = hi - 1
                    log._add_run(datas[i:j], range(lo, hi), now if times is None else times[i:j], owners)
                    i = j
                    continue
            # one frame the fast path does not take: its item through apply()
            if apply_one is not None:
                apply_one(i)
            else:
                for item in dec._items([(datas[i], str(first + i))], now):
                    self.apply(item)
            i += 1

    def _fold_each(self, dec: Any, frames: list[tuple[bytes | str, str | None]]) -> None:
        """Fold frames one by one. A plain text delta of a known message is checked by a strict decoder and
        merged here (its item goes straight into the log's columns); every other frame takes :meth:`apply`'s
        path. Both give the same fold."""
        now = time.time()
        items = self.items
        log = items if type(items) is ItemLog else None
        if log is not None:
            buf, off_add, seq_add, tpos, tval = (
                log._buf,
                log._off.append,
                log._seq.append,
                log._tpos,
                log._tval,
            )
            new_run = not tval or tval[-1] != now
        seen = self._seen_seq
        seen_add = seen.add
        merge = self._merge_fast
        last = self.last_sequence_number
        for data, sse_id in frames:
            if type(data) is bytes and sse_id is not None and self.done is None:
                try:
                    d = _FAST_DECODE(data)
                    seq = int(sse_id)
                except (msgspec.MsgspecError, ValueError, RecursionError):
                    d = None
                if d.__class__ is _FastDelta:
                    # a number above the last one cannot have been seen: the set is asked only otherwise
                    if (last is None or seq > last or seq not in seen) and merge(d):
                        seen_add(seq)
                        if last is None or seq > last:
                            last = self.last_sequence_number = seq
                        if log is None:
                            items.append(StreamItem(seq, None, now, data.decode("utf-8")))
                        elif _SEQ_MIN < seq < _SEQ_MAX:
                            k = len(log._seq)
                            if new_run:
                                tpos.append(k)
                                tval.append(now)
                                new_run = False
                            buf += data
                            off_add(len(buf))
                            seq_add(seq)
                            log._note(k, k + 1, d.id)  # the owner, as _add notes it
                        else:
                            log._add(data, seq, now, d.id)
                            new_run = tval[-1] != now
                        continue
            for item in dec._items([(data, sse_id)]):
                self.apply(item)
            last = self.last_sequence_number
            if log is not None:
                new_run = not tval or tval[-1] != now

    def _fold_log(self, log: ItemLog) -> None:
        """Fold the items of an item log (what :func:`~tfwidget.load` gives): a compact item that is a plain
        text delta (checked by the strict decoder) is merged by :meth:`_merge_plain` without building its
        item or event; every other item takes :meth:`apply`'s path. Both give the same fold."""
        decode = _FAST_DECODE
        merge = self._merge_plain
        buf, off, seqs, objs, tpos, tval = log._buf, log._off, log._seq, log._obj, log._tpos, log._tval
        n = len(seqs)
        runs = len(tpos)
        run = 0
        t = 0.0
        next_run = tpos[0] if runs else n  # receive times are run-length coded (compact items only)
        for i in range(n):
            if i == next_run:
                t = tval[run]
                run += 1
                next_run = tpos[run] if run < runs else n
            obj = objs.get(i) if objs else None
            if obj is not None:
                self.apply(obj)
                continue
            seq = seqs[i]
            raw = buf[off[i] : off[i + 1]]
            if seq != _NONE:
                try:
                    d = decode(raw)
                except (msgspec.MsgspecError, RecursionError):  # nested too deeply: the full path reports it
                    d = None
                if d is not None and merge(d, seq, raw, t):
                    continue
            text = raw.decode("utf-8", "surrogatepass")
            self.apply(StreamItem(None if seq == _NONE else seq, None, t, text))

    def _fold_records(self, records: Iterable[StreamItem | tuple[int | None, float, bytes, Any]]) -> None:
        """Fold a recording's lines as :func:`tfwidget.recording` reads them: an item, or a plain text delta
        already decoded by the strict decoder as ``(seq, t, raw, decoded)``, merged by :meth:`_merge_plain`
        when it can be (else applied as its item). The same fold as applying the recording's items."""
        merge = self._merge_plain
        for rec in records:
            if type(rec) is tuple:
                seq, t, raw, d = rec
                if not merge(d, seq, raw, t):
                    self.apply(StreamItem(seq, None, t, raw.decode("utf-8", "surrogatepass")))
            else:
                self.apply(rec)  # type: ignore[arg-type]

    def _fold_lines(
        self,
        seqs: list[int | None],
        times: list[float],
        raws: list[bytes],
        decoded: list[Any],
        items: list[StreamItem | None],
    ) -> None:
        """Fold a block of a recording's lines as :func:`tfwidget.recording` decodes them: line ``k`` is
        ``items[k]`` when the recording gave an item, else a delta the strict decoder read (``decoded[k]``;
        raw UTF-8 ``raws[k]``, sequence number ``seqs[k]``, receive time ``times[k]``). Lines numbered densely
        after everything seen are folded in one batch (:meth:`_fold_batch`), others one by one; both give
        the fold of applying each line's item."""
        n = len(seqs)
        if not n:
            return

        def apply_one(k: int) -> None:
            item = items[k]
            if item is None:
                item = StreamItem(seqs[k], None, times[k], raws[k].decode("utf-8", "surrogatepass"))
            self.apply(item)

        first = seqs[0]
        last = self.last_sequence_number
        if (
            type(self.items) is ItemLog
            and first is not None
            and (last is None or first > last)
            and _SEQ_MIN < first
            and first + n < _SEQ_MAX
            and seqs == list(range(first, first + n))
        ):
            plain = [None if items[k] is not None else d for k, d in enumerate(decoded)]
            self._fold_batch(None, plain, raws, first, times=times, apply_one=apply_one)
            return
        merge = self._merge_plain
        for k in range(n):
            if items[k] is not None or not merge(decoded[k], seqs[k], raws[k], times[k]):
                apply_one(k)

    def _merge_plain(self, d: Any, seq: int | None, raw: bytes | bytearray, t: float) -> bool:
        """Merge a delta decoded by the strict schema (``d``; its raw UTF-8 text ``raw``, received at ``t``)
        the way :meth:`apply` would, when it is the common case: numbered, not seen yet, before
        ``turn.done``, and only adding text (see :meth:`_merge_fast`). Its item goes straight into the log's
        columns. Returns ``False`` (nothing done) for any other: the caller applies its item."""
        if seq is None or self.done is not None or d.__class__ is not _FastDelta:
            return False
        last = self.last_sequence_number
        seen = self._seen_seq
        if not (last is None or seq > last or seq not in seen) or not self._merge_fast(d):
            return False
        seen.add(seq)
        if last is None or seq > last:
            self.last_sequence_number = seq
        items = self.items
        if type(items) is ItemLog:
            items._add(raw, seq, t, d.id)
        else:
            items.append(StreamItem(seq, None, t, raw.decode("utf-8", "surrogatepass")))
        return True

    def apply(self, item: StreamItem | Event) -> bool:
        """Apply one item. Returns ``False`` when it was ignored as already applied (a replay)."""
        if item.__class__ is StreamItem:
            # the hot path, one per token: a delta the decoder checked (``_fast``), numbered after everything
            # seen, that only adds text; the same fold as the general path below, with less work per item
            fast = item._fast
            seq = item.sequence_number
            last = self.last_sequence_number
            log = self.items
            raw = item.raw
            if (
                fast is not None
                and raw is not None
                and seq is not None
                and (last is None or seq > last)
                and self.done is None
                and type(log) is ItemLog
                and not item.synthesized
                and self._merge_fast(fast)
            ):
                self.last_sequence_number = seq
                seen = self._seen_seq
                bits = seen._bits if type(seen) is SeqSet else None
                if bits is not None and 0 <= seq < len(bits) << 3:
                    bits[seq >> 3] |= 1 << (seq & 7)
                else:
                    seen.add(seq)
                item._fast = item._event = None  # released: only its raw text stays
                log._add(raw.encode("utf-8", "surrogatepass"), seq, item.received_at, fast.id)
                return True
        if not isinstance(item, StreamItem):
            item = StreamItem(None, item, time.time())
        seq = item.sequence_number
        if seq is not None:
            last = self.last_sequence_number
            if last is None or seq > last:  # above the last one: cannot have been seen (the set is not asked)
                self.last_sequence_number = seq
            elif seq in self._seen_seq:
                return False
            self._seen_seq.add(seq)
        fast = item._fast
        if fast is not None and self.done is None and self._merge_fast(fast):
            # the merged message holds what the delta carried: keep only its raw text
            item.release()
            self._log_delta(item, fast.id)
            return True
        ev = item.event
        if self.done is not None and not isinstance(ev, TurnDoneEvent):
            self._flag("after_done", f"{ev.type} after turn.done", item)
        cls = type(ev)
        if cls is ModelMessageDeltaEvent:
            self._on_delta(ev, item)  # type: ignore[arg-type]
            # the merged message holds what the delta carried: keep only its raw text (memory, GC time)
            item.release()
            self._log_delta(item, None if ev.finish_reason else ev.id)  # type: ignore[union-attr]
            return True
        self.items.append(item)
        handler = _HANDLERS.get(cls)
        if handler is None:
            self._other(ev, item)
        else:
            handler(self, ev, item)
        return True

    def _log_delta(self, item: StreamItem, owner: str | None) -> None:
        """Log a merged delta's item; ``owner``: its message's id when it does not finish it (the log notes it
        for the timing scan, see :meth:`ItemLog._add`)."""
        items = self.items
        if type(items) is ItemLog:
            items.append(item, owner)
        else:
            items.append(item)

    def _merge_fast(self, d: _FastDelta) -> bool:
        """Merge a delta decoded by the strict schema when it only adds text (content, reasoning, refusal, or
        the argument text of a known tool call) to a known message; ``False`` (nothing changed): it takes
        the full path."""
        if d.finish_reason is not None or d.usage is not None:
            return False
        did = d.id
        m = self._msgs.get(did)
        if m is None or m.content_list is not None:
            return False
        tcs = d.tool_calls
        if tcs is not None:
            found = _argument_chunk(m, did, tcs, self._slot_info)
            if found is None:
                return False
            slot, info, args = found
            if args:
                slot[1].append(args)
            self._changes.tools.add(info.id)
        m.cache = None
        c = d.content
        if c:
            if m.content is None:
                m.content = [c]
            else:
                m.content.append(c)
                if len(m.content) - m.packed >= _PACK:
                    m.packed = _pack(m.content, m.packed)
        c = d.reasoning_content
        if c:
            (m.reasoning if m.reasoning is not None else m._new("reasoning")).append(c)
        c = d.refusal
        if c:
            (m.refusal if m.refusal is not None else m._new("refusal")).append(c)
        self._changes.messages.add(did)
        return True

    def extend(self, items: Iterable[StreamItem | Event]) -> int:
        """Apply many items; returns how many were applied (not ignored as replays).

        The same fold as :meth:`apply` on each item, in less time: items as the stream decoder hands them over,
        numbered densely after everything seen, are folded in batches (:meth:`_fold_batch`: a run of text
        deltas is merged in one step)."""
        if type(self).apply is not TurnState.apply or type(self.items) is not ItemLog:
            return sum(map(self.apply, items))
        n = 0
        if type(items) is list:
            for a in range(0, len(items), _BATCH):
                n += self._extend_batch(items[a : a + _BATCH])
            return n
        it = iter(items)
        while chunk := list(islice(it, _BATCH)):
            n += self._extend_batch(chunk)
        return n

    def _extend_batch(self, chunk: list[StreamItem | Event]) -> int:
        first = chunk[0].sequence_number if chunk[0].__class__ is StreamItem else None
        last = self.last_sequence_number
        n = len(chunk)
        if (
            first is None
            or not (last is None or first > last)
            or not (_SEQ_MIN < first and first + n < _SEQ_MAX)
            or self.done is not None
        ):
            return sum(map(self.apply, chunk))
        seqs: list[Any] = []
        decoded: list[Any] = []
        raws: list[str] = []
        times: list[float] = []
        dense = True
        for it in chunk:
            if it.__class__ is not StreamItem:  # a bare event
                dense = False
                break
            fast = it._fast
            raw = it.raw
            if fast is not None and raw is not None and not it.synthesized:
                it._fast = it._event = None  # released, as apply() does
            else:
                fast = None
            decoded.append(fast)
            raws.append(raw)  # type: ignore[arg-type]
            seqs.append(it.sequence_number)
            times.append(it.received_at)
        if not dense or seqs != list(range(first, first + n)):  # one by one (their decoded deltas back first)
            for it, fast in zip(chunk, decoded, strict=False):
                if fast is not None:
                    it._fast = fast  # type: ignore[union-attr]
            return sum(map(self.apply, chunk))
        applied = [n]

        def apply_one(k: int) -> None:
            item = chunk[k]
            if decoded[k] is not None:
                item._fast = decoded[k]  # type: ignore[union-attr]
            applied[0] -= not self.apply(item)

        self._fold_batch(None, decoded, raws, first, times=times, apply_one=apply_one)
        return applied[0]

    def at(self, sequence_number: int) -> TurnState:
        """The fold as of ``sequence_number`` (that event included), as a new state: the same as folding the
        items up to it. Seeks use cached checkpoints (see :mod:`tfwidget.timetravel`), so they are fast in
        both directions; ``0`` gives the empty fold."""
        from .timetravel import checkpoints

        return checkpoints(self).at(sequence_number)

    def take_changes(self) -> Changes:
        """Return what changed since the previous call, and start a new change set."""
        ch = self._changes
        self._changes = Changes(timeline_start=len(self.timeline), anomalies_start=len(self.anomalies))
        return ch

    # ------------------------------------------------------------------ handlers

    def _flag(self, kind: str, message: str, item: StreamItem) -> None:
        self.anomalies.append(Anomaly(kind, message, item.sequence_number, item.event.id))

    def _thread(self, thread_id: str | None, item: StreamItem | None = None) -> ThreadInfo | None:
        if thread_id is None:
            return None
        th = self.threads.get(thread_id)
        if th is None:
            th = self.threads[thread_id] = ThreadInfo(thread_id)
            if item is not None and not isinstance(item.event, ThreadCreatedEvent):
                self._flag("unknown_thread", f"event on thread {thread_id!r} before its thread.created", item)
            self._changes.threads.add(thread_id)
        return th

    def _on_message(self, ev: ModelMessageEvent, item: StreamItem) -> None:
        self._thread(ev.thread_id, item)
        old = self._msgs.get(ev.id)
        if old is None:
            self.timeline.append(TimelineEntry("message", ev.id, ev.thread_id))
        else:
            bare = not (
                ev.content
                or ev.tool_calls
                or ev.reasoning_content
                or ev.refusal
                or ev.usage
                or ev.finish_reason
            )
            if bare:
                self._flag("duplicate", f"model.message {ev.id} seen again (kept the merged content)", item)
                return
        # shallow: _Message copies the parts it changes in place (content parts, tool calls)
        m = self._msgs[ev.id] = _Message(ev.model_copy())
        self.events_by_id[ev.id] = ev
        self._changes.messages.add(ev.id)
        for i in range(len(m.slots)):
            self._sync_tool(ev.id, m, i)

    def _on_delta(self, ev: ModelMessageDeltaEvent, item: StreamItem) -> None:
        m = self._msgs.get(ev.id)
        if m is None:
            self._flag("delta_without_base", f"delta for model.message {ev.id} whose base was not seen", item)
            base = ModelMessageEvent.model_construct(
                type="model.message", id=ev.id, thread_id=ev.thread_id, created_at=ev.created_at
            )
            self._thread(ev.thread_id, item)
            m = self._msgs[ev.id] = _Message(base)
            self.timeline.append(TimelineEntry("message", ev.id, ev.thread_id))
        rejected: list[int] = []
        appended: list[int] = []
        touched = m.merge(ev, rejected, appended)
        for bad in rejected:
            self._flag(
                "invalid_tool_call_index",
                f"tool call chunk with index {bad} skipped (allowed: 0..{MAX_TOOL_CALL_INDEX})",
                item,
            )
        self._changes.messages.add(ev.id)
        for i in touched:
            self._sync_tool(ev.id, m, i)
        for i in appended:  # argument text only: the call's info reads it from the shared chunks
            info = self._slot_info.get((ev.id, i))
            if info is None:
                self._sync_tool(ev.id, m, i)
            else:
                self._changes.tools.add(info.id)
        if ev.finish_reason:
            for i in range(len(m.slots)):
                info = self._slot_info.get((ev.id, i))
                if info is not None:
                    self._refresh_tool_status(info)

    def _sync_tool(self, msg_id: str, m: _Message, i: int) -> None:
        slot = m.slots[i]
        if slot is None:
            return
        tc: ToolCall = slot[0]
        info = self._slot_info.get((msg_id, i))
        want = tc.id or f"{msg_id}#{i}"
        if info is None:
            info = ToolCallInfo(want, msg_id, m.base.thread_id, i)
            self._slot_info[(msg_id, i)] = info
            self._key_tool(info, want)
        elif info.id != want and not info.id.startswith(f"{want}@"):
            del self.tool_calls[info.id]  # the id arrived in a later chunk, or changed
            self._changes.tools.add(info.id)
            self._key_tool(info, want)
        info.name = tc.function.name
        info._args = slot[1]  # the message's argument chunks, joined when read
        ti = tc.tool_info
        info.tool_info = ti.model_dump(exclude_none=True) if ti is not None else None
        resp = self._responses.get(info.id)
        if resp is not None and info.response_event_id is None:
            info.response, info.response_event_id = resp.content, resp.id
        self._refresh_tool_status(info)
        self._changes.tools.add(info.id)

    def _key_tool(self, info: ToolCallInfo, want: str) -> None:
        other = self.tool_calls.get(want)
        if other is not None and other is not info:
            self.anomalies.append(
                Anomaly("duplicate_tool_call_id", f"tool call id {want!r} used twice", None, info.message_id)
            )
            want = f"{want}@{info.message_id}#{info.index}"
        info.id = want
        self.tool_calls[want] = info

    def _refresh_tool_status(self, info: ToolCallInfo) -> None:
        old = info.status
        if info.response_event_id is not None:
            info.status = "completed"
        elif info.id in self._pending_ids("tool.approval_required"):
            info.status = "awaiting_approval"
        elif info.id in self._pending_ids("tool.response_required"):
            info.status = "awaiting_response"
        elif self.done is not None:
            info.status = "incomplete"
        else:
            m = self._msgs.get(info.message_id)
            info.status = "running" if m is not None and m.base.finish_reason else "streaming"
        if info.status != old:
            self._changes.tools.add(info.id)

    def _pending_ids(self, kind: str) -> set[str]:
        cache = self._pending_cache
        if cache is None:
            cache = {"tool.approval_required": set(), "tool.response_required": set()}
            for p in self.required_actions:
                if not isinstance(p, McpAuthRequiredEvent):
                    cache.setdefault(p.type, set()).update(tc.id for tc in p.tool_calls)
            self._pending_cache = cache
        return cache.get(kind, set())

    def _on_tool_response(self, ev: ToolResponseEvent, item: StreamItem) -> None:
        self._thread(ev.thread_id, item)
        if ev.id not in self.events_by_id:
            self.timeline.append(TimelineEntry("tool_response", ev.id, ev.thread_id))
        self.events_by_id[ev.id] = ev
        self._responses[ev.tool_call_id] = ev
        info = self.tool_calls.get(ev.tool_call_id)
        if info is None:
            # a resume turn carries the results of the calls its input answered: those belong to the paused
            # turn, they are expected here
            if ev.tool_call_id not in self._answered_calls():
                self._flag(
                    "unknown_tool_call", f"tool.response for unknown tool call {ev.tool_call_id!r}", item
                )
            return
        info.response, info.response_event_id = ev.content, ev.id
        self._refresh_tool_status(info)
        self._changes.tools.add(info.id)

    def _answered_calls(self) -> set[str]:
        """Tool calls of a paused turn that this (resume) turn's input approves, denies or answers."""
        return {
            i.tool_call_id
            for i in self.input
            if i.type in ("user.tool_approval", "user.tool_response") and i.tool_call_id
        }

    def _on_pause(self, ev: PauseEvent, item: StreamItem) -> None:
        self._thread(ev.thread_id, item)
        if ev.id not in self._pauses:
            self.timeline.append(TimelineEntry("pause", ev.id, ev.thread_id))
        self._pauses[ev.id] = ev
        self.events_by_id[ev.id] = ev
        self._changes.turn = True
        self._pending_cache = None
        self._refresh_pending(ev)

    def _refresh_pending(self, ev: PauseEvent) -> None:
        if isinstance(ev, McpAuthRequiredEvent):
            return
        for tc in ev.tool_calls:
            info = self.tool_calls.get(tc.id)
            if info is not None:
                self._refresh_tool_status(info)

    def _on_thread_created(self, ev: ThreadCreatedEvent, item: StreamItem) -> None:
        tid = ev.thread_id or ev.id
        known = tid in self.threads
        th = self._thread(tid)
        assert th is not None
        th.title = ev.title
        th.created_at = ev.created_at
        if ev.parent is not None:
            th.parent_thread_id = ev.parent.thread_id
            th.parent_tool_call_id = ev.parent.tool_call_id
            parent = self.tool_calls.get(ev.parent.tool_call_id or "")
            if parent is not None:
                parent.child_thread_id = tid
                self._changes.tools.add(parent.id)
        th.agent_info = ev.agent_info.model_dump(exclude_none=True) if ev.agent_info is not None else None
        if not known or ev.id not in self.events_by_id:
            self.timeline.append(TimelineEntry("thread", tid, th.parent_thread_id))
        self.events_by_id[ev.id] = ev
        self._changes.threads.add(tid)

    def _on_thread_done(self, ev: ThreadDoneEvent, item: StreamItem) -> None:
        tid = ev.thread_id or ev.id
        th = self._thread(tid, item)
        assert th is not None
        st = ev.state
        th.status = "error" if st is not None and st.status == "error" else "done"
        if st is not None:
            th.output, th.error = st.output, st.error
        th.done_at = ev.created_at
        if ev.title and not th.title:
            th.title = ev.title
        self.events_by_id[ev.id] = ev
        self._changes.threads.add(tid)

    def _on_turn_created(self, ev: TurnCreatedEvent, item: StreamItem) -> None:
        if self.created is not None and self.created.id != ev.id:
            self._flag("duplicate", "a second turn.created in one stream", item)
        self.created = ev
        self._turn_id = ev.turn_id or self._turn_id
        self.events_by_id[ev.id] = ev
        self._changes.turn = True

    def _on_turn_done(self, ev: TurnDoneEvent, item: StreamItem) -> None:
        if self.done is not None and self.done.id != ev.id:
            self._flag("duplicate", "a second turn.done in one stream (the last one wins)", item)
        self.done = ev
        self.events_by_id[ev.id] = ev
        self._changes.turn = True
        self._pending_cache = None
        if ev.state.status not in ("done", "cancelled", "error"):
            self._flag("unknown_status", f"turn.done with unknown status {ev.state.status!r}", item)
        for info in self.tool_calls.values():
            self._refresh_tool_status(info)
        # threads still open when the turn ends share its fate: a paused turn leaves them paused (a sub-agent
        # waiting on a question), a cancelled or failed one ends them so
        ended = self.status
        for th in self.threads.values():
            if th.id == "main" or th.status in ("running", "paused"):
                th.status = ended if th.id == "main" or ended != "done" else "done"
                if th.done_at is None or th.id == "main":
                    th.done_at = ev.state.completed_at or ev.created_at
                self._changes.threads.add(th.id)

    def _other(self, ev: Event, item: StreamItem) -> None:
        if ev.id not in self.events_by_id:
            self.timeline.append(TimelineEntry("event", ev.id, ev.thread_id))
        self.events_by_id[ev.id] = ev
        self._changes.events.add(ev.id)
        if isinstance(ev, UnknownEvent):
            if ev.parse_problem:
                self._flag("invalid_event", f"kept as unknown: {ev.parse_problem}", item)
            else:
                self._flag("unknown_type", f"unknown event type {ev.type!r} (kept)", item)
        elif ev.thread_id is not None:
            self._thread(ev.thread_id, item)

    # ------------------------------------------------------------------ reading

    @property
    def turn_id(self) -> str | None:
        return self._turn_id

    @property
    def input(self) -> list[Any]:
        """The turn's input items (from ``turn.created``)."""
        return list(self.created.input) if self.created is not None else []

    @property
    def status(self) -> TurnStatus:
        """``running`` until ``turn.done``; then ``done``, ``paused`` (done with required actions),
        ``cancelled`` or ``error``."""
        if self.done is None:
            return "running"
        s = self.done.state.status
        if s == "done":
            return "paused" if self.done.state.required_actions else "done"
        if s in ("cancelled", "error"):
            return s  # type: ignore[return-value]
        return "error"

    @property
    def status_reason(self) -> str | None:
        """The cancel reason, the error message, or ``None``."""
        if self.done is None:
            return None
        st = self.done.state
        if st.status == "cancelled":
            return st.reason
        if st.status == "error":
            return st.message
        if st.status != "done":
            return f"turn ended with unknown status {st.status!r}"
        return None

    @property
    def is_finished(self) -> bool:
        return self.done is not None

    @property
    def messages(self) -> list[ModelMessageEvent]:
        """Merged ``model.message`` events, in first-seen order (copies: changing them changes nothing here)."""
        return [m.materialize().model_copy(deep=True) for m in self._msgs.values()]

    def merged_messages(self) -> list[ModelMessageEvent]:
        """Like :attr:`messages` but without copying: cheap, and the results must be treated as read-only."""
        return [m.materialize() for m in self._msgs.values()]

    def message(self, message_id: str) -> ModelMessageEvent:
        """One merged message by id, as a copy (``KeyError`` when unknown)."""
        return self._msgs[message_id].materialize().model_copy(deep=True)

    def _merged_message(self, message_id: str) -> ModelMessageEvent:
        """One merged message without copying (``KeyError`` when unknown): read-only, for the view."""
        return self._msgs[message_id].materialize()

    def message_images(self, message_id: str) -> list[dict[str, Any]]:
        """A message's images: its ``image_url`` content parts, then its complete streamed image blocks.

        Each is classified by :func:`tfwidget.artifacts.classify_image_url` (``kind``: data, remote or refused).
        Streamed blocks are not part of :attr:`messages` (the official client does not merge them either).
        """
        m = self._msgs[message_id]
        # classified once per change (a data URI can be megabytes; text deltas do not change images)
        key = (
            sum(1 for p in m.content_list if p.type == "image_url") if m.content_list else 0,
            tuple((i, len(m.images[i])) for i in sorted(m.images)) if m.images else (),
            m.base.finish_reason is not None,
        )
        if m.media is None or m.media[0] != key:
            out = content_images(m.content_list)
            out.extend(classify_image_url(url) for _, url, complete in m.streamed_images() if complete)
            m.media = (key, out)
        return [dict(i) for i in m.media[1]]

    def message_text(self, message_id: str) -> tuple[str, str, str]:
        """``(content, reasoning, refusal)`` of a message as plain text, without building the model."""
        m = self._msgs[message_id]
        return m.content_text(), m.reasoning_text(), m.refusal_text()

    def message_ids(self) -> list[str]:
        return list(self._msgs)

    @property
    def required_actions(self) -> list[PauseEvent]:
        """Pause events the turn waits on: from ``turn.done`` once it came, else the ones seen live."""
        if self.done is not None:
            if self.done.state.status != "done":
                return []
            out = []
            for a in self.done.state.required_actions or []:
                try:
                    ev = parse_event(a)
                except Exception:
                    continue
                if isinstance(ev, _PAUSE_TYPES):
                    out.append(ev)
            return out
        return list(self._pauses.values())

    @property
    def pause_events(self) -> list[PauseEvent]:
        """Every pause event seen live (resolved or not)."""
        return list(self._pauses.values())

    @property
    def metrics(self) -> TurnMetrics | None:
        return self.done.state.metrics if self.done is not None else None

    @property
    def output(self) -> ModelMessageEvent | None:
        """The turn's final output message (``turn.done`` ``state.output``), when given."""
        return self.done.state.output if self.done is not None else None

    def totals(self) -> dict[str, Any]:
        """Token totals and cost of the turn, each field with where it came from.

        A field comes from ``turn.done`` metrics when they carry it, else from the sum of the calls' usage
        (metrics often lack the cache fields): ``sources`` maps every field to ``"metrics"`` or ``"usage"``
        (``cost_usd``: ``"metrics"``, or ``None`` when not reported). ``source`` is ``"metrics"`` or
        ``"usage"`` when every token field agrees, else ``"mixed"``.
        """
        summed = {"input_tokens": 0, "output_tokens": 0, "cache_read_tokens": 0, "cache_write_tokens": 0}
        for m in self._msgs.values():
            u = m.base.usage
            if u is None:
                continue
            summed["input_tokens"] += u.input_tokens or 0
            summed["output_tokens"] += u.output_tokens or 0
            summed["cache_read_tokens"] += u.cache_read_tokens or 0
            summed["cache_write_tokens"] += u.cache_write_tokens or 0
        mt = self.metrics
        reported = {
            "input_tokens": mt.total_input_tokens if mt is not None else None,
            "output_tokens": mt.total_output_tokens if mt is not None else None,
            "cache_read_tokens": mt.total_cache_read_tokens if mt is not None else None,
            "cache_write_tokens": mt.total_cache_write_tokens if mt is not None else None,
        }
        out: dict[str, Any] = {}
        sources: dict[str, str | None] = {}
        for k, v in reported.items():
            out[k], sources[k] = (v, "metrics") if v is not None else (summed[k], "usage")
        if mt is not None and mt.total_tokens is not None:
            out["total_tokens"], sources["total_tokens"] = mt.total_tokens, "metrics"
        else:
            out["total_tokens"] = out["input_tokens"] + out["output_tokens"]
            both = {sources["input_tokens"], sources["output_tokens"]}
            sources["total_tokens"] = both.pop() if len(both) == 1 else "mixed"
        cost = mt.total_cost_in_usd if mt is not None else None
        out["cost_usd"], sources["cost_usd"] = cost, ("metrics" if cost is not None else None)
        token_sources = {v for k, v in sources.items() if k != "cost_usd"}
        out["source"] = token_sources.pop() if len(token_sources) == 1 else "mixed"
        out["sources"] = sources
        return out

    # ------------------------------------------------------------------ DataFrames

    def _frame(self, name: FrameName) -> pd.DataFrame:
        # the properties (df, messages_df, tool_calls_df, usage_df, spans_df) come from FramesFacade
        return turn_frame(self, name)

    def __repr__(self) -> str:
        t = self.totals()
        extra = f" ({self.status_reason})" if self.status_reason else ""
        return (
            f"<TurnState turn={self.turn_id!r} status={self.status}{extra} items={len(self.items)} "
            f"messages={len(self._msgs)} tool_calls={len(self.tool_calls)} threads={len(self.threads)} "
            f"tokens in={t['input_tokens']} out={t['output_tokens']} anomalies={len(self.anomalies)}>"
        )


_BATCH = 4096  # frames decoded at once (a frame outside the schema sends only its batch one by one)


_HANDLERS: dict[type, Any] = {
    ModelMessageEvent: TurnState._on_message,
    ModelMessageDeltaEvent: TurnState._on_delta,
    ToolResponseEvent: TurnState._on_tool_response,
    ToolApprovalRequiredEvent: TurnState._on_pause,
    ToolResponseRequiredEvent: TurnState._on_pause,
    McpAuthRequiredEvent: TurnState._on_pause,
    ThreadCreatedEvent: TurnState._on_thread_created,
    ThreadDoneEvent: TurnState._on_thread_done,
    TurnCreatedEvent: TurnState._on_turn_created,
    TurnDoneEvent: TurnState._on_turn_done,
}
