"""Compact storage of a turn's items: what :attr:`TurnState.items` holds.

Most items of a long turn are text deltas whose event the fold has merged and released: only their raw JSON,
sequence number and receive time matter. Those are kept in columns (the UTF-8 text of all of them in one
``bytearray`` plus offsets, numbers and times in typed arrays: no Python object per item, nothing for the
garbage collector to walk); every other item is kept as the :class:`StreamItem` it is. Reading gives
:class:`StreamItem` s as before (a compact one is rebuilt on access; its event parses from the raw text when
asked for).
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from itertools import accumulate
from typing import Any, overload

from .sse import StreamItem

__all__ = ["ItemLog", "SeqSet"]

_NONE = -(2**63)  # "no sequence number" in the sequence column


class ItemLog(Sequence[StreamItem]):
    """A list-like, append-only sequence of :class:`StreamItem` (see the module doc)."""

    __slots__ = (
        "_buf", "_obj", "_off", "_own", "_own_end", "_own_last", "_own_next", "_own_start", "_seq", "_tpos",
        "_tval",
    )  # fmt: skip

    def __init__(self, items: Iterable[StreamItem] = ()) -> None:
        self._buf = bytearray()
        self._off = array("q", [0])
        self._seq = array("q")
        # receive times, run-length coded: items decoded from one chunk share their time
        self._tpos = array("q")  # the index where each run starts
        self._tval = array("d")
        self._obj: dict[int, StreamItem] = {}
        # what the fold knows of some compact items: ranges ``[_own_start[k], _own_end[k])`` of consecutive
        # mid-stream deltas, ``_own[k]`` the id of their message, or the set of ids when several messages
        # stream interleaved (sub-agents); items outside them are unknown. The last range is open: it ends at
        # ``_own_next`` (its end in ``_own_end`` is set when the next opens)
        self._own_start = array("q")
        self._own_end = array("q")
        self._own: list[str | set[str]] = []
        self._own_last: str | None = None
        self._own_next = -1
        for it in items:
            self.append(it)

    def append(self, item: StreamItem, owner: str | None = None) -> None:
        """Add an item: compactly when its event is released (it has its raw text and no parsed event).
        ``owner``: see :meth:`_add`."""
        if item._event is None and item.raw is not None and not item.synthesized:
            self._add(
                item.raw.encode("utf-8", "surrogatepass"), item.sequence_number, item.received_at, owner
            )
        else:
            self._keep(item)

    def _keep(self, item: StreamItem) -> None:
        self._obj[len(self._seq)] = item
        self._seq.append(_NONE)
        self._off.append(len(self._buf))

    def _add(
        self, raw: bytes | bytearray, seq: int | None, received_at: float, owner: str | None = None
    ) -> None:
        """A compact item from its raw UTF-8 JSON. ``owner``: the id of the message when the fold merged the
        item as a delta of it that does not finish it (what :mod:`tfwidget.timing` need not read again once
        the message had its first token)."""
        if seq is None:
            seq = _NONE
        elif not _NONE < seq < 2**63:  # a number beyond the column: kept as an object
            self._keep(StreamItem(seq, None, received_at, raw.decode("utf-8", "surrogatepass")))
            return
        n = len(self._seq)
        tval = self._tval
        if not tval or tval[-1] != received_at:
            self._tpos.append(n)
            tval.append(received_at)
        if owner is not None:
            if n == self._own_next and owner == self._own_last:
                self._own_next = n + 1  # what _note does here, inline: this runs once per token
            else:
                self._note(n, n + 1, owner)
        self._buf += raw
        self._off.append(len(self._buf))
        self._seq.append(seq)

    def _note(self, start: int, stop: int, owner: str) -> None:
        """Note items ``[start, stop)`` (the last ones added, or about to be) as mid-stream deltas of message
        ``owner``: the open range grows when it ends at ``start`` (taking ``owner`` into its set of ids when it
        is another message's), else a new one opens."""
        own = self._own
        if start != self._own_next:
            if own:
                self._own_end.append(self._own_next)
            self._own_start.append(start)
            own.append(owner)
        elif owner != self._own_last:  # interleaved messages: one range, the set of their ids
            ids = own[-1]
            if type(ids) is str:
                own[-1] = {ids, owner}
            else:
                ids.add(owner)  # type: ignore[union-attr]
        self._own_last = owner
        self._own_next = stop

    def owner_ranges(self) -> tuple[array[int], array[int], list[str | set[str]]]:
        """The ranges of items the fold noted (see ``__init__``): starts, ends, message ids (an id, or a set).
        A copy: see ``_own_*`` for reading them without one."""
        ends = self._own_end[:]
        if self._own:
            ends.append(self._own_next)
        return self._own_start[:], ends, [o if type(o) is str else set(o) for o in self._own]

    def _add_run(
        self,
        raws: Sequence[bytes | str],
        seqs: Iterable[int],
        received_at: float | Sequence[float],
        owners: Sequence[tuple[int, str]] = (),
    ) -> None:
        """Compact items in one step: their raw JSON (UTF-8 bytes, or text), sequence numbers (all inside the
        column's range) and one receive time for all, or one per item. ``owners``: ``(k, message id)`` where
        the items' message changes (``k`` counted in ``raws``, the first at 0): the owner (see :meth:`_add`)
        of every item from ``k`` on, up to the next."""
        base = len(self._seq)
        for k, (start, owner) in enumerate(owners):
            stop = owners[k + 1][0] if k + 1 < len(owners) else len(raws)
            if start < stop:
                self._note(base + start, base + stop, owner)
        try:
            joined = b"".join(raws)  # type: ignore[arg-type]
        except TypeError:  # some data came as text (a multi-line frame, or items' raw text)
            joined = b""
            if all(type(r) is str for r in raws):
                text = "".join(raws)  # type: ignore[arg-type]
                joined = text.encode("utf-8", "surrogatepass")
                if len(joined) != len(text):  # not all ASCII: the lengths below must be in bytes
                    joined = b""
            if not joined:
                raws = [r if type(r) is bytes else r.encode("utf-8", "surrogatepass") for r in raws]  # type: ignore[union-attr]
                joined = b"".join(raws)  # type: ignore[arg-type]
        tval = self._tval
        if isinstance(received_at, float):
            if not tval or tval[-1] != received_at:
                self._tpos.append(len(self._seq))
                tval.append(received_at)
        else:  # run-length: a new entry where the time changes
            tpos = self._tpos
            prev = tval[-1] if tval else None
            for k, t in enumerate(received_at, len(self._seq)):
                if t != prev:
                    tpos.append(k)
                    tval.append(t)
                    prev = t
        ends = accumulate(map(len, raws), initial=len(self._buf))
        next(ends)
        self._off.extend(ends)
        self._buf += joined
        self._seq.extend(seqs)

    def head(self, n: int) -> ItemLog:
        """The first ``n`` items, as a new log (the columns are copied, no item is rebuilt)."""
        n = max(0, min(n, len(self._seq)))
        out = ItemLog()
        end = self._off[n]
        out._buf = bytearray(memoryview(self._buf)[:end])
        out._off = self._off[: n + 1]
        out._seq = self._seq[:n]
        k = bisect_right(self._tpos, n - 1) if n else 0
        out._tpos = self._tpos[:k]
        out._tval = self._tval[:k]
        out._obj = {i: it for i, it in self._obj.items() if i < n}
        starts = self._own_start
        k = bisect_left(starts, n)
        if k:  # the ranges that start before n, the last one cut at n (its set of ids may name a message
            # whose deltas all lie beyond n: reading more of the log is all that costs)
            ends = self._own_end
            out._own_start = starts[:k]
            out._own_end = array("q", (min(e, n) for e in ends[: k - 1]))
            out._own = [o if type(o) is str else set(o) for o in self._own[:k]]
            last = out._own[-1]
            out._own_last = last if type(last) is str else None  # a set takes in any id that continues it
            out._own_next = min(ends[k - 1] if k <= len(ends) else self._own_next, n)
        return out

    def seen(self) -> SeqSet:
        """The sequence numbers of the items, as a :class:`SeqSet`."""
        out = SeqSet()
        add = out.add
        for seq in self._seq:
            if seq != _NONE:
                add(seq)
        for it in self._obj.values():
            if it.sequence_number is not None:
                add(it.sequence_number)
        return out

    def extend(self, items: Iterable[StreamItem]) -> None:
        for it in items:
            self.append(it)

    def __len__(self) -> int:
        return len(self._seq)

    def _item(self, i: int) -> StreamItem:
        obj = self._obj.get(i)
        if obj is not None:
            return obj
        seq = self._seq[i]
        raw = self._buf[self._off[i] : self._off[i + 1]].decode("utf-8", "surrogatepass")
        t = self._tval[bisect_right(self._tpos, i) - 1]
        return StreamItem(None if seq == _NONE else seq, None, t, raw)

    @overload
    def __getitem__(self, i: int) -> StreamItem: ...
    @overload
    def __getitem__(self, i: slice) -> list[StreamItem]: ...
    def __getitem__(self, i: int | slice) -> StreamItem | list[StreamItem]:
        if isinstance(i, slice):
            return [self._item(k) for k in range(*i.indices(len(self._seq)))]
        n = len(self._seq)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("item index out of range")
        return self._item(i)

    def __iter__(self) -> Iterator[StreamItem]:
        item = self._item
        for i in range(len(self._seq)):
            yield item(i)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (ItemLog, list, tuple)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __add__(self, other: Iterable[StreamItem]) -> list[StreamItem]:
        return [*self, *other]

    def __radd__(self, other: Iterable[StreamItem]) -> list[StreamItem]:
        return [*other, *self]

    def trim(self) -> None:
        """Give back the spare room of the text column (after a bulk load)."""
        self._buf = bytearray(self._buf)

    def __repr__(self) -> str:
        return f"<ItemLog items={len(self)} compact={len(self) - len(self._obj)} bytes={len(self._buf)}>"

    def nbytes(self) -> int:
        """Bytes held by the columns (not counting the items kept as objects)."""
        columns: tuple[array[Any], ...] = (
            self._off,
            self._seq,
            self._tpos,
            self._tval,
            self._own_start,
            self._own_end,
        )
        return len(self._buf) + 8 * sum(len(c) for c in columns)


class SeqSet:
    """The set of sequence numbers seen: a bitmap for the dense range a stream uses, a set for the rest."""

    __slots__ = ("_bits", "_other")

    def __init__(self) -> None:
        self._bits = bytearray()
        self._other: set[Any] = set()

    def __contains__(self, seq: Any) -> bool:
        bits = self._bits
        if type(seq) is int and 0 <= seq < (len(bits) << 3) and bits[seq >> 3] & (1 << (seq & 7)):
            return True
        return seq in self._other

    def add(self, seq: Any) -> None:
        if type(seq) is int and seq >= 0:
            byte = seq >> 3
            bits = self._bits
            if byte >= len(bits) and byte < 2 * len(bits) + 65536:  # dense numbering: grow (at most doubling)
                bits.extend(bytes(max(byte + 1 - len(bits), len(bits))))
            if byte < len(bits):
                bits[byte] |= 1 << (seq & 7)
                return
        self._other.add(seq)

    def add_range(self, lo: int, hi: int) -> None:
        """Add every number of ``range(lo, hi)`` (the same as adding them one by one, in one step)."""
        if hi <= lo:
            return
        bits = self._bits
        top = (hi - 1) >> 3
        if lo < 0 or top >= 2 * len(bits) + 65536:
            for seq in range(lo, hi):
                self.add(seq)
            return
        if top >= len(bits):
            bits.extend(bytes(max(top + 1 - len(bits), len(bits))))
        a, b = (lo + 7) >> 3, hi >> 3  # the bytes wholly inside the range
        if a >= b:
            for seq in range(lo, hi):
                bits[seq >> 3] |= 1 << (seq & 7)
            return
        for seq in range(lo, a << 3):
            bits[seq >> 3] |= 1 << (seq & 7)
        bits[a:b] = b"\xff" * (b - a)
        for seq in range(b << 3, hi):
            bits[seq >> 3] |= 1 << (seq & 7)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __iter__(self) -> Iterator[Any]:
        for byte, b in enumerate(self._bits):
            if b:
                for k in range(8):
                    if b & (1 << k):
                        yield (byte << 3) | k
        bits = self._bits
        for seq in self._other:
            if not (type(seq) is int and 0 <= seq < (len(bits) << 3) and bits[seq >> 3] & (1 << (seq & 7))):
                yield seq
