"""Replaying a recording: :func:`replay`, and the player, a :class:`~tfwidget.widget.TurnView` with time travel.

``tfwidget.replay(path)`` shows a recorded turn in a plain view (at once, or re-streamed at a speed).
``tfwidget.replay(path, controls=True)`` returns a :class:`PlayerView`. The view shows the turn exactly as
it stood after the current event (text cut mid-stream, tool cards running, threads open); a player bar
plays, pauses, steps by one event or jumps to the previous / next model message, tool call or pause, and a
scrubber seeks anywhere, backward too. Python folds to the position (:meth:`TurnState.at`, from cached
checkpoints) and sends the view: the front end never merges events itself.

>>> w = tfwidget.replay("turn.jsonl", controls=True)       # doctest: +SKIP
>>> w.seek(40); w.step(+1, kind="tool"); w.position        # doctest: +SKIP
>>> w.at_position().messages_df                            # doctest: +SKIP
>>> w.play(); w.pause()                                    # doctest: +SKIP

``w.df`` and the other DataFrames are always the whole recording.
"""

from __future__ import annotations

import bisect
import os
import threading
import time
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import traitlets

from ._facade import FrameName
from .recording import load, save
from .sse import MalformedFrameWarning, StreamItem
from .state import TurnState
from .timetravel import checkpoints
from .widget import TurnView

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["NO_GAPS", "SPEEDS", "STEP_KINDS", "PlayerView", "replay"]

NO_GAPS = "no gaps"
#: The speeds offered by the player bar (and accepted by :attr:`PlayerView.speed`).
SPEEDS: tuple[float | str, ...] = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, NO_GAPS)
STEP_KINDS = ("event", "message", "tool", "pause")
StepKind = Literal["event", "message", "tool", "pause"]
_NO_GAPS_CAP = 0.1  # seconds: in "no gaps" mode every recorded gap is cut to at most this
_TICK = 0.04  # seconds between two position updates while playing (events due meanwhile are batched)
_FULL_JUMP = 512  # a forward move longer than this restores a checkpoint instead of folding on


def _check_speed(speed: float | str) -> float | str:
    if speed == NO_GAPS:
        return NO_GAPS
    if isinstance(speed, bool) or not isinstance(speed, (int, float)) or not 0.1 <= speed <= 100:
        raise ValueError(f"speed must be a number from 0.1 to 100 or {NO_GAPS!r}, not {speed!r}")
    return float(speed)


def _markers(items: Sequence[StreamItem]) -> dict[str, list[int]]:
    """Positions (item counts: the view after that many items) where something starts, by kind."""
    out: dict[str, list[int]] = {"message": [], "tool": [], "pause": [], "sub_agent": []}
    seen_calls: set[tuple[str, int]] = set()
    for k, it in enumerate(items, 1):
        ev = it.event
        t = ev.type
        if t == "model.message":
            out["message"].append(k)
            for i, _tc in enumerate(getattr(ev, "tool_calls", None) or []):
                if (ev.id, i) not in seen_calls:
                    seen_calls.add((ev.id, i))
                    out["tool"].append(k)
        elif t == "model.message.delta":
            for chunk in getattr(ev, "tool_calls", None) or []:
                key = (ev.id, chunk.index)
                if key not in seen_calls:
                    seen_calls.add(key)
                    out["tool"].append(k)
        elif t in ("tool.approval_required", "tool.response_required", "mcp.auth_required"):
            out["pause"].append(k)
        elif t == "thread.created":
            out["sub_agent"].append(k)
    for v in out.values():
        v[:] = sorted(set(v))
    return out


class PlayerView(TurnView):
    """A recorded turn with a player bar: play, pause, step, jump and seek, at any speed.

    Build one with ``tfwidget.replay(path_or_items, controls=True)``.

    Attributes:
        position: the sequence number of the last event shown (0 before the first).
        count: how many events are shown.
        total: how many events the recording has.
        playing: whether it is playing.
        speed: a number (0.5 = half speed, 20 = twenty times) or ``"no gaps"`` (gaps cut to 0.1 s).
    """

    # Player state for the bar: count, position, total, playing, speed, t (seconds since the first event)
    _player = traitlets.Dict().tag(sync=True)
    # Set once: total, markers {kind: [counts]}, positions (sequence number per count, None when they are
    # equal), duration, speeds
    _player_meta = traitlets.Dict().tag(sync=True)

    def __init__(
        self,
        items: Iterable[StreamItem],
        *,
        speed: float | str = 1.0,
        start: int | None = None,
        notices: Iterable[tuple[str, str]] = (),
        flush_interval: float = 0.05,
        **kwargs: Any,
    ) -> None:
        items = list(items)
        if not all(isinstance(i, StreamItem) for i in items):
            raise TypeError("PlayerView needs StreamItem objects (load a recording with tfwidget.load)")
        self._speed: float | str = _check_speed(speed)
        super().__init__(flush_interval=flush_interval, **kwargs)
        for level, text in notices:
            self._notices.append({"level": level, "text": text})
        self._full = TurnState.from_items(items)
        self._all = self._full.items  # the applied items (replays dropped)
        self._cp = checkpoints(self._full)
        self._count = 0
        self._playing = False
        self._wake = threading.Event()
        self._player_thread: threading.Thread | None = None
        self._reset_pending = False
        t0 = self._all[0].received_at if self._all else 0.0
        self._times = [it.received_at - t0 for it in self._all]
        self._vt: dict[str, list[float]] = {}
        self._kind_marks = _markers(self._all)
        positions = [self._cp.sequence_number_of(k) for k in range(len(self._all) + 1)]
        dense = positions == list(range(len(positions)))
        self._player_meta = {
            "total": len(self._all),
            "positions": None if dense else positions,  # sequence number per count (None: the same)
            "duration": round(self._times[-1], 3) if self._times else 0.0,
            "markers": self._kind_marks,
            "speeds": list(SPEEDS),
        }
        end = len(self._all) if start is None else self._cp.count_at(int(start))
        self._goto(end)

    # ------------------------------------------------------------------ position

    @property
    def total(self) -> int:
        return len(self._all)

    @property
    def count(self) -> int:
        return self._count

    @property
    def position(self) -> int:
        """The sequence number of the last event shown (0 before the first)."""
        return self._cp.sequence_number_of(self._count)

    @property
    def playing(self) -> bool:
        return self._playing

    @property
    def speed(self) -> float | str:
        return self._speed

    @speed.setter
    def speed(self, value: float | str) -> None:
        with self._lock:
            self._speed = _check_speed(value)
        self._wake.set()  # the play loop picks up the new pace
        self._request_flush(urgent=True)

    def _goto(self, count: int, *, by_player: bool = False) -> None:
        """Show the fold after ``count`` items (a move not made by the play loop restarts its clock)."""
        if not by_player:
            self._wake.set()
        with self._lock:
            count = max(0, min(int(count), len(self._all)))
            if self._count <= count <= self._count + _FULL_JUMP and len(self._state.items) == self._count:
                for it in self._all[self._count : count]:  # forward: fold on, the front end gets patches
                    self._state.apply(it)
            else:
                self._state = self._cp.at_count(count)
                self._reset_pending = True
            self._count = count
        self._request_flush(urgent=True)

    def seek(self, sequence_number: int) -> int:
        """Show the turn as of ``sequence_number`` (that event included); returns the position."""
        if isinstance(sequence_number, bool) or not isinstance(sequence_number, int):
            raise TypeError(f"seek() takes a sequence number (int), not {type(sequence_number).__name__}")
        self._goto(self._cp.count_at(sequence_number))
        return self.position

    def step(self, delta: int = 1, kind: StepKind = "event") -> int:
        """Move by ``delta`` events (``kind="event"``), or to the next (``delta > 0``) / previous model message,
        tool call or pause (``kind="message" | "tool" | "pause"``; stays put when there is none). Returns
        the position."""
        if isinstance(delta, bool) or not isinstance(delta, int) or delta == 0:
            raise ValueError(f"step() takes a non-zero int delta (+1 or -1), not {delta!r}")
        if kind not in STEP_KINDS:
            raise ValueError(f"kind must be one of {', '.join(STEP_KINDS)}, not {kind!r}")
        with self._lock:
            cur = self._count
            if kind == "event":
                target = cur + delta
            else:
                marks = self._kind_marks[kind]
                target = cur
                for _ in range(abs(delta)):
                    if delta > 0:
                        i = bisect.bisect_right(marks, target)
                        target = marks[i] if i < len(marks) else target
                    else:
                        i = bisect.bisect_left(marks, target)
                        target = marks[i - 1] if i > 0 else target
        self._goto(target)
        return self.position

    def at_position(self) -> TurnState:
        """The fold as of the current position (a copy: its DataFrames are the turn as shown)."""
        with self._lock:
            return self._cp.at_count(self._count)

    # ------------------------------------------------------------------ playing

    def _virtual_times(self) -> list[float]:
        key = "nogaps" if self._speed == NO_GAPS else "real"
        vt = self._vt.get(key)
        if vt is None:
            vt, acc, prev = [], 0.0, None
            for t in self._times:
                if prev is not None:
                    gap = max(0.0, t - prev)
                    acc += min(gap, _NO_GAPS_CAP) if key == "nogaps" else gap
                vt.append(acc)
                prev = t
            self._vt[key] = vt
        return vt

    def play(self) -> None:
        """Play from the current position (from the start when at the end)."""
        with self._lock:
            if self._playing:
                return
            if self._count >= len(self._all):
                self._goto(0)
            self._playing = True
            self._wake.clear()
            self._player_thread = threading.Thread(target=self._run, name="tfwidget-player", daemon=True)
            self._player_thread.start()
        self._request_flush(urgent=True)

    def pause(self) -> None:
        """Stop playing (the position stays)."""
        with self._lock:
            self._playing = False
        self._wake.set()
        self._request_flush(urgent=True)

    def stop(self) -> None:
        """Stop playing (a recording has no stream to stop)."""
        self.pause()

    def close(self) -> None:
        """Stop playing and close the widget."""
        self._playing = False  # (also when __init__ failed half-way: close() runs from __del__)
        self._player_thread = None
        wake = getattr(self, "_wake", None)
        if wake is not None:
            wake.set()
        super().close()

    def _run(self) -> None:
        me = threading.current_thread()
        while True:
            with self._lock:
                if not self._playing or self._player_thread is not me:
                    return
                speed = 1.0 if self._speed == NO_GAPS else float(self._speed)
                vt = self._virtual_times()
                base_count = self._count
                base_v = vt[base_count - 1] if base_count > 0 else (vt[0] if vt else 0.0)
            base_wall = time.monotonic()
            self._wake.clear()
            while True:
                now_v = base_v + (time.monotonic() - base_wall) * speed
                target = bisect.bisect_right(vt, now_v)
                with self._lock:
                    if not self._playing or self._player_thread is not me:
                        return
                    if self._count != base_count:
                        break  # seeked meanwhile: start over from the new position
                    if target > self._count:
                        self._goto(target, by_player=True)
                        base_count = self._count
                    if self._count >= len(vt):
                        self._playing = False
                        self._request_flush(urgent=True)
                        return
                    due = base_wall + (vt[self._count] - base_v) / speed
                wait = max(_TICK, due - time.monotonic())
                if self._wake.wait(min(wait, 1.0)):
                    break  # paused, seeked or the speed changed: re-read

    # ------------------------------------------------------------------ flushing

    def _flush(self, *, force_snapshot: bool = False, token: int | None = None) -> None:
        with self._lock:
            if token is not None and token != self._flush_token:
                return  # a void scheduled flush (see TurnView._request_flush)
            if self._reset_pending:
                self._reset_pending = False
                self._state.take_changes()
                self._tracker.reset(self._state, **self._ctx())
                self.send({"type": "snapshot", "view": self._tracker.snapshot()})
                self.patches_sent += 1
                force_snapshot = force_snapshot or not self._playing
            super()._flush(force_snapshot=force_snapshot, token=token)
            if not self._playing and self._tracker.rev > self._snapshot_rev:
                self._assign_snapshot(time.monotonic())
            player = {
                "count": self._count,
                "position": self.position,
                "total": len(self._all),
                "playing": self._playing,
                "speed": self._speed,
                "t": round(self._times[self._count - 1], 3) if self._count > 0 else 0.0,
            }
            if player != self._player:
                self._player = player

    def _on_custom_msg(self, widget: Any, content: Any, buffers: Any) -> None:
        if not (isinstance(content, dict) and content.get("type") == "player"):
            super()._on_custom_msg(widget, content, buffers)
            return
        action = content.get("action")
        try:
            if action == "play":
                self.play()
            elif action == "pause":
                self.pause()
            elif action == "toggle":
                self.pause() if self._playing else self.play()
            elif action == "seek_count":
                self._goto(int(content.get("count", 0)))
            elif action == "step":
                self.step(int(content.get("delta", 1)), content.get("kind", "event"))
            elif action == "speed":
                self.speed = content.get("speed", 1.0)
        except (TypeError, ValueError) as err:
            self._add_notice("warning", f"player: {err}")

    # ------------------------------------------------------------------ the whole turn

    @property
    def state(self) -> TurnState:
        """The whole recording's fold (the view shows :meth:`at_position`)."""
        return self._full

    @property
    def events(self) -> list[StreamItem]:
        return list(self._all)

    @property
    def turn_id(self) -> str | None:
        return self._full.turn_id

    def _frame(self, name: FrameName) -> pd.DataFrame:
        # df, messages_df, ... of the whole recording (at_position() gives the position's)
        return self._full._frame(name)

    def plot_usage(self, **kwargs: Any) -> Any:
        from .analysis import plot_usage

        return plot_usage(self._full, **kwargs)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the whole recording (``.jsonl`` or ``.sse``)."""
        return save(self._all, path)

    def __repr__(self) -> str:
        st = self._full
        return (
            f"<PlayerView turn={st.turn_id!r} status={st.status} position={self.position} "
            f"events={len(self._all)} playing={self._playing} speed={self._speed}>"
        )


def replay(source: str | os.PathLike[str] | Iterable[StreamItem], *, speed: float | str | None = None,
           flush_interval: float = 0.05, controls: bool = False) -> TurnView:  # fmt: skip
    """Show a recorded turn: a ``.sse``/``.jsonl`` path or a list of :class:`StreamItem`.

    ``speed=None`` shows the final state at once; a number re-streams it in the background with the recorded
    receive-time gaps divided by ``speed``. ``controls=True`` returns a :class:`~tfwidget.player.PlayerView`
    with a player bar (play, pause, step, jump, seek; ``speed`` may then also be ``"no gaps"``): without a
    speed it opens at the end, paused; with one it plays from the start.
    """
    notices: list[tuple[str, str]] = []
    if isinstance(source, (str, os.PathLike)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", MalformedFrameWarning)
            loaded = load(source)
        bad = [w for w in caught if issubclass(w.category, MalformedFrameWarning)]
        if bad:
            notices.append(("warning", f"{len(bad)} malformed frame(s) skipped: {bad[0].message}"))
        if isinstance(loaded, dict):
            raise ValueError(f"replay() takes one recording, not a folder ({len(loaded)} recordings found)")
        items = loaded
    else:
        items = list(source)
    if controls:
        player = PlayerView(items, speed=1.0 if speed is None else speed, start=None if speed is None else 0,
                            notices=notices, flush_interval=flush_interval)  # fmt: skip
        if speed is not None:
            player.play()
        return player
    if speed is not None and (isinstance(speed, str) or not speed > 0):
        hint = ' ("no gaps" needs controls=True)' if isinstance(speed, str) else ""
        raise ValueError(f"speed must be a positive number or None, not {speed!r}{hint}")

    view = TurnView(flush_interval=flush_interval, status=None if speed is None else "connecting")
    for level, text in notices:
        view._notices.append({"level": level, "text": text})
    if speed is None:
        view.feed_many(items)
        view._end_of_source("the recording ends before turn.done")
        return view

    view._started_ms = int(time.time() * 1000)

    def run() -> None:
        prev: float | None = None
        for item in items:
            if view._stopped.is_set():
                return
            if prev is not None:
                gap = max(0.0, item.received_at - prev) / speed
                if gap > 0 and view._stopped.wait(min(gap, 60.0)):
                    return
            prev = item.received_at
            view.feed(item)
        view._end_of_source("the recording ends before turn.done")

    view._start(run, name="tfwidget-replay")
    return view
