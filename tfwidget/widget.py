"""``TurnView``: a live, chat-style view of one turn in a notebook (anywidget).

The settled view lives in the synced ``_view`` trait; increments travel as custom messages (patches, see
:mod:`tfwidget.view`). Items may be fed from any thread: the fold runs under a lock, and widget/comm state is
touched only on the kernel's event loop (when one is running) by coalesced flushes: one patch per
``flush_interval`` while text streams, within a frame after a message finishes, at once at the turn's start
and end, a thread's end and a pause. Without a running loop (plain Python, tests) flushes run synchronously,
coalesced the same way.

>>> view = tfwidget.watch(session_id, turn_id, base_url=url, api_key=key)   # doctest: +SKIP
>>> await view.wait()                                                     # doctest: +SKIP
>>> view.usage_df                                                         # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import html
import json
import os
import sys
import threading
import time
import uuid
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import anywidget
import msgspec
import traitlets
from ipywidgets import widget_serialization

from ._bundle import FrontEndBundle, front_end_traits, inline_bundle
from ._facade import FrameName, FramesFacade
from ._idle import show_idle
from ._threads import Deferred, new_thread
from .contracts import LIVE_STATUSES, ViewStatus
from .events import (
    McpAuthRequiredEvent,
    ModelMessageDeltaEvent,
    ThreadDoneEvent,
    ToolApprovalRequiredEvent,
    ToolResponseRequiredEvent,
    TurnCreatedEvent,
    TurnDoneEvent,
)
from .media import remote_media_allowed
from .recording import save
from .sse import StreamItem
from .state import TurnState
from .static_html import render_turn_html, static_output_html
from .view import ViewTracker, build_view, view_status
from .widget_artifacts import ArtifactsMixin

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["TurnView", "watch"]

_STATIC = Path(__file__).with_name("static")
_ESM_PATH = _STATIC / "widget.js"
_CSS_PATH = _STATIC / "widget.css"
_BUNDLE_MISSING = (
    "tfwidget's front-end bundle (tfwidget/static/widget.js, widget.css) is missing: "
    "run `make build` / `npm run build` in js/ (after `npm ci`)"
)
_BUNDLE_OK = _ESM_PATH.is_file() and _CSS_PATH.is_file()

# Events after which the front end's settled state should be refreshed right away.
_PAUSE_EVENTS = (ToolApprovalRequiredEvent, ToolResponseRequiredEvent, McpAuthRequiredEvent)


#: Views whose JSON is at least this long travel (and are saved with widget state) zlib-compressed.
_PACK_MIN_BYTES = 8_192

_encode_view = msgspec.json.Encoder(enc_hook=str).encode  # compact JSON, as json.dumps(default=str) writes it


def _view_to_json(value: Any, widget: Any) -> Any:
    """How the ``_view`` trait goes over the wire and into saved widget state: a long view as
    ``{rev, turn_id, status, zlib}`` (its JSON compressed, sent as a binary buffer; ``js/src/store.js``
    unpacks it), a short one as is. Hosts without binary widget buffers (marimo) get it as is."""
    if not isinstance(value, dict) or not getattr(widget, "_pack_views", False):
        return value
    try:
        text = _encode_view(value)
    except (TypeError, ValueError, OverflowError):  # what msgspec cannot encode (a key that is no string...)
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str).encode()
    if len(text) < _PACK_MIN_BYTES and not getattr(widget, "_packed", False):
        return value
    # once packed, always packed: a saved state keeps the buffer of the last packed view, which must not
    # outlive it under a later plain view (nbclient merges buffers by path)
    widget._packed = True
    head = {k: value.get(k) for k in ("rev", "turn_id", "status")}
    # level 1: a long turn's final view compresses about 4x faster than at the default level, about 1.4x larger
    return {**head, "zlib": zlib.compress(text, 1)}


#: How soon after the previous flush a message's finishing delta is shown (about one frame): the flush a
#: finished message asks for is not put off by the flush window, but a burst of finishing messages (a fast
#: replay, a catch-up after a reconnect) is shown in one flush per frame, not one flush per message.
_SETTLE_GAP = 1 / 60

#: Text deltas :meth:`TurnView.feed` queues at most before it folds them itself (a flush folds them sooner).
_QUEUE_MAX = 4096

_NOW, _SOON = 2, 1  # how urgent the flush an item asks for is (0: at the end of the flush window)


def _settle_kind(ev: Any) -> int:
    """How soon the front end should see the state after ``ev``: ``_NOW`` after the turn's start and end, a
    thread's end and a pause; ``_SOON`` (within :data:`_SETTLE_GAP` of the previous flush) after a
    message's finishing delta; ``0`` (at the end of the flush window) after anything else."""
    if isinstance(ev, ModelMessageDeltaEvent):
        return _SOON if ev.finish_reason else 0
    return _NOW if isinstance(ev, (TurnDoneEvent, TurnCreatedEvent, ThreadDoneEvent, *_PAUSE_EVENTS)) else 0


_WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def _repr_metadata() -> dict[str, Any]:
    """Display metadata: in Google Colab, the custom widget manager to render with (as anywidget gives its
    own displays; ``AnyWidget.__init__`` enabled that manager), elsewhere nothing."""
    output = sys.modules.get("google.colab.output")
    if output is None:
        return {}
    url = getattr(getattr(output, "_widgets", None), "_installed_url", None)
    if not isinstance(url, str) or not url:
        return {}
    return {_WIDGET_MIME: {"colab": {"custom_widget_manager": {"url": url}}}}


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def display_pair(widget: Any, static_bundle: dict[str, Any]) -> None:
    """Display ``static_bundle`` (a ``text/html`` transcript made by
    :func:`~tfwidget.static_html.static_output_html`) and right after it ``widget`` itself.

    The widget's own output carries an empty ``text/html``: where the widget cannot render (nbconvert or
    GitHub without widget state) the static output before it is the transcript, shown once. The static
    output's display handle is kept in ``widget._display_handles`` (when the widget has that list) so it
    can be refreshed with ``handle.update(bundle, raw=True)``.
    """
    from IPython.display import display

    handle = display(static_bundle, raw=True, display_id=True)
    handles = getattr(widget, "_display_handles", None)
    if handle is not None and isinstance(handles, list):
        handles.append(handle)
    bundle = {
        "text/plain": repr(widget),
        "text/html": "<!-- tfwidget: the static transcript is the output above -->",
        _WIDGET_MIME: {
            "version_major": 2,
            "version_minor": 0,
            "model_id": widget.model_id,
        },
    }
    display(bundle, metadata=_repr_metadata(), raw=True)


def _script_json(value: Any) -> str:
    """JSON that is safe inside a ``<script type="application/json">`` element."""
    text = json.dumps(value, ensure_ascii=False)
    return (
        text.replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


class TurnView(FramesFacade, ArtifactsMixin, anywidget.AnyWidget):
    """A live view of one turn: chat transcript, tool cards, sub-agent threads, pauses and usage.

    Build one with :func:`watch` (follow a running turn) or :func:`~tfwidget.player.replay` (a recording), or feed
    :class:`~tfwidget.sse.StreamItem` objects yourself with :meth:`feed`.

    Args:
        items: items to apply right away.
        session_id: shown in the header.
        flush_interval: seconds between patches while streaming (coalescing window).
        snapshot_interval: kept for compatibility, unused: the whole ``_view`` trait is sent only at settle
            points (a pause, the turn's end) and when a front end asks for it; patches carry the rest.
        remote_media: load remote images, video and audio in the transcript without asking (default: the
            global setting, :func:`tfwidget.allow_remote_media`, off unless changed). Off, each shows a
            placeholder naming its host with a "load images" button; the choice is kept in this trait.
    """

    if _BUNDLE_OK:  # without the bundle the module still imports; constructing a view raises a clear error
        # a small loader and a reference to the kernel's bundle model (or the whole bundle: see _bundle.py)
        _esm = traitlets.Unicode().tag(sync=True)
        _css = traitlets.Unicode().tag(sync=True)
        _bundle = traitlets.Instance(FrontEndBundle, allow_none=True).tag(sync=True, **widget_serialization)

    _view = traitlets.Dict().tag(sync=True, to_json=_view_to_json)
    # Interactive pause cards (used by tfwidget.session): empty for a plain view. Keys: enabled, busy,
    # decisions {call_id: {...}}, sent. Intents from the cards arrive as {"type": "intent", ...} messages
    # and go to ``_intent_handler(view, content)`` when one is set.
    _actions = traitlets.Dict().tag(sync=True)
    #: Load remote images, video and audio in model and tool output (see :mod:`tfwidget.media`).
    remote_media = traitlets.Bool(False).tag(sync=True)
    # Names this model for the front end: when the host re-renders the same model in place (an output
    # update), the new view carries on with the old view's DOM instead of rebuilding it.
    _uid = traitlets.Unicode().tag(sync=True)
    #: Scroll the view into sight once, when its turn is first seen streaming (e.g. after "Run All").
    reveal = traitlets.Bool(False).tag(sync=True)

    @traitlets.default("_uid")
    def _default_uid(self) -> str:
        return uuid.uuid4().hex

    def __init__(
        self,
        items: Iterable[StreamItem] | None = None,
        *,
        session_id: str | None = None,
        flush_interval: float = 0.05,
        snapshot_interval: float = 1.0,
        status: ViewStatus | None = None,
        remote_media: bool | None = None,
        **kwargs: Any,
    ) -> None:
        if not (_ESM_PATH.is_file() and _CSS_PATH.is_file()):
            raise FileNotFoundError(_BUNDLE_MISSING)
        kwargs["remote_media"] = remote_media_allowed() if remote_media is None else bool(remote_media)
        for key, value in front_end_traits().items():
            kwargs.setdefault(key, value)
        super().__init__(**kwargs)
        self._pack_views = not inline_bundle()  # binary buffers need an ipywidgets widget manager
        self.flush_interval = float(flush_interval)
        self.snapshot_interval = float(snapshot_interval)
        self._lock = threading.RLock()
        self._fold = TurnState()  # read it as ``_state``: that folds what :meth:`feed` queued first
        # text deltas fed since the last flush or read, folded together then (see feed); the highest sequence
        # number fed, queued or applied (an item above it cannot be a replay)
        self._queue: deque[StreamItem] = deque()
        self._fed_last: int | None = None
        self._tracker = ViewTracker(session_id=session_id)
        self._loop = _running_loop()
        self._loop_thread = threading.get_ident() if self._loop is not None else None
        self._reconnected_detail: str | None = None
        self._conn_status: ViewStatus | None = status
        self._detail: str | None = None
        self._notices: list[dict[str, str]] = []
        self._started_ms: int | None = None
        self._scheduled_at: float | None = None  # monotonic time of the pending flush (None: none pending)
        self._flush_token = 0  # names the pending flush; bumped by every flush and every (re)scheduling
        self._timer = Deferred("tfwidget-flush")  # runs the flush at the end of a window
        self._last_flush = 0.0
        self._last_snapshot = 0.0
        self._snapshot_rev = -1
        self._finished = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._closer: Callable[[], None] | None = None
        self._display_handles: list[Any] = []
        self._intent_handler: Callable[[TurnView, dict[str, Any]], None] | None = None
        self._broken: str | None = None  # why the view model could not be built (see _break)
        self.patches_sent = 0
        self.snapshots_sent = 0
        self.on_msg(self._on_custom_msg)
        with self._lock:
            self._state.take_changes()
            self._view = self._tracker.snapshot(self._state, **self._ctx())
            self._snapshot_rev = self._tracker.rev
            self.snapshots_sent += 1
        if items is not None:
            self.feed_many(items)

    # ------------------------------------------------------------------ feeding

    def feed(self, item: StreamItem) -> bool:
        """Apply one item (thread-safe). Returns ``False`` when it was a replay (already applied).

        A delta that only streams text (as the stream decoder hands it over, numbered above everything fed)
        is queued, not folded at once: the queue is folded in one step (:meth:`TurnState.extend`) by the next
        flush, or by anything that reads the fold (``_state``) first. Every other item folds the queue, then
        itself, at once."""
        # the event is parsed once here (kept on the item): the fold reads the same object, then releases a
        # delta's parsed event, so the settle test must come first; a delta the decoder checked by its strict
        # schema (``_fast``) needs no event for it
        fast = item._fast
        if fast is not None and not fast.finish_reason:
            seq = item.sequence_number
            last = self._fed_last
            if seq is not None and (last is None or seq > last) and self._conn_status is None:
                self._fed_last = seq
                queue = self._queue
                queue.append(item)
                if len(queue) >= _QUEUE_MAX:  # fed faster than flushes run (none can between the items)
                    self._drain()
                # after the append: a flush that runs meanwhile clears ``_scheduled_at`` before it folds the
                # queue, so an item it did not take always asks for a flush of its own
                if self._scheduled_at is None:
                    self._request_flush()
                return True
            settle = 0
        else:
            settle = (_SOON if fast.finish_reason else 0) if fast is not None else _settle_kind(item.event)
        with self._lock:
            if self._queue:
                self._drain()
            applied = self._fold.apply(item)
            self._note_fed()
            if not applied:
                return False
            if self._conn_status is not None and self._conn_status in ("connecting", "reconnecting"):
                self._conn_status = None  # streaming (again)
            if not settle and self._scheduled_at is not None:
                return True  # a flush is pending: it takes this item's changes along
        self._request_flush(urgent=settle == _NOW, soon=settle == _SOON)
        return True

    def feed_many(self, items: Iterable[StreamItem]) -> int:
        """Apply many items, then flush once. Returns how many were applied."""
        with self._lock:
            n = self._state.extend(items)
            self._note_fed()
            if n and self._conn_status in ("connecting", "reconnecting"):
                self._conn_status = None  # streaming (again)
        self._request_flush(urgent=True)
        return n

    def _note_fed(self) -> None:
        """After folding under the lock: the highest number fed is at least the fold's last one."""
        last = self._fold.last_sequence_number
        if last is not None and (self._fed_last is None or last > self._fed_last):
            self._fed_last = last

    @property
    def _state(self) -> TurnState:
        """The fold of every item fed so far (what :meth:`feed` queued is folded first)."""
        if self._queue:
            self._drain()
        return self._fold

    @_state.setter
    def _state(self, value: TurnState) -> None:  # time travel (PlayerView) swaps the fold
        with self._lock:
            if self._queue:
                self._drain()
            self._fold = value
            self._fed_last = value.last_sequence_number

    def _drain(self) -> None:
        """Fold the queued deltas (in the order fed; a feeder may append meanwhile: those stay queued)."""
        with self._lock:
            queue = self._queue
            n = len(queue)
            if n:
                pop = queue.popleft
                self._fold.extend([pop() for _ in range(n)])

    # ------------------------------------------------------------------ flushing

    def _ctx(self) -> dict[str, Any]:
        detail = self._detail
        if self._state.done is not None and self._conn_status != "error":
            detail = None  # the fold's own reason (cancel reason, error message)
        return {
            "status": self._conn_status,
            "detail": detail,
            "started_ms": self._started_ms,
            "notices": list(self._notices),
        }

    def _request_flush(self, *, urgent: bool = False, soon: bool = False) -> None:
        """Make sure a flush runs: at once when ``urgent``, within :data:`_SETTLE_GAP` of the last flush
        when ``soon``, else at the end of the current flush window (``flush_interval`` after the last flush).
        At most one flush is pending at any time: a request that one already pending covers returns at once,
        and a pending flush that a later one replaces (or that any flush makes unneeded) is void, so it sends
        nothing when its timer still fires."""
        inline = False
        with self._lock:
            now = time.monotonic()
            if urgent:
                due = now
            else:
                due = max(now, self._last_flush + (_SETTLE_GAP if soon else self.flush_interval))
            pending = self._scheduled_at
            if pending is not None and pending <= due:
                return  # one is already due soon enough
            self._scheduled_at = due
            self._flush_token += 1
            token = self._flush_token
            self._timer.cancel()
            delay = due - now
            loop = self._loop
            if loop is not None and loop.is_running():
                if delay <= 0 and threading.get_ident() == self._loop_thread:
                    inline = True  # already on the loop's thread
                else:
                    try:
                        loop.call_soon_threadsafe(self._arm_on_loop, due, token)
                        return
                    except RuntimeError:  # the loop closed meanwhile
                        pass
            if delay <= 0:
                inline = True
            elif not inline:
                self._timer.arm(delay, lambda: self._flush(token=token))  # marimo: see _threads
        if inline:
            self._flush(token=token)

    def _arm_on_loop(self, target: float, token: int) -> None:
        assert self._loop is not None
        if token != self._flush_token:
            return  # replaced, or a flush ran since
        delay = target - time.monotonic()
        if delay <= 0:
            self._flush(token=token)
        else:
            self._loop.call_later(delay, lambda: self._flush(token=token))

    def flush(self) -> None:
        """Send everything pending now (call it from the kernel's thread when a loop runs)."""
        self._flush(force_snapshot=True)

    def _flush(self, *, force_snapshot: bool = False, token: int | None = None) -> None:
        # runs on the kernel's loop, a timer or a follower thread: an exception here would freeze the view
        # silently (the loop logs it, a thread dies), so a failure ends the view visibly instead. ``token``:
        # the scheduled flush this is (a void one, replaced or overtaken by another flush, does nothing)
        if self._broken is not None:
            return
        try:
            self._flush_now(force_snapshot=force_snapshot, token=token)
        except Exception as exc:
            self._break(exc)

    def _break(self, exc: BaseException) -> None:
        """End the view in ``error`` when its view model cannot be built or sent (content that a later stage
        cannot handle). The fold keeps applying items: the DataFrames stay complete; :meth:`wait` returns."""
        reason = f"the view could not be updated: {type(exc).__name__}: {exc}"[:500]
        with self._lock:
            if self._broken is not None:
                return
            self._broken = reason
            self._scheduled_at = None
            self._flush_token += 1
            self._conn_status, self._detail = "error", reason
            self._notices.append({"level": "error", "text": reason})
            try:  # the last view the tracker built (what the page shows, patches included)
                last = self._tracker.snapshot()
            except Exception:
                last = dict(self._view)
            # newer than every patch sent so far, or the front end would ignore it as stale
            rev = max(self._tracker.rev, int(self._view.get("rev") or 0)) + 1
            view = {**last, "rev": rev, "status": "error", "status_detail": reason,
                    "notices": [*(last.get("notices") or []), {"level": "error", "text": reason}]}  # fmt: skip
        try:
            self._view = view
        except Exception:
            pass
        self._finished.set()

    def _flush_now(self, *, force_snapshot: bool = False, token: int | None = None) -> None:
        with self._lock:
            if token is not None and token != self._flush_token:
                return  # a void scheduled flush (replaced, or another flush ran since it was armed)
            # this flush takes every change so far: whatever was scheduled is void now
            self._scheduled_at = None
            self._flush_token += 1
            self._timer.cancel()
            changes = self._state.take_changes()
            patch = self._tracker.update(self._state, changes, **self._ctx())
            now = time.monotonic()
            self._last_flush = now
            if patch is not None:
                self.send(patch)
                self.patches_sent += 1
            finished = self._is_finished()
            first_finish = finished and not self._finished.is_set()
            pending = self._tracker.rev > self._snapshot_rev
            settle = patch is not None and self._is_settle_patch(patch)
            # The open front ends keep their copy current from the patches, and a front end that connects
            # later asks for the state (``get_state`` answers with the current view) or says hello: the
            # whole view goes over the wire only at settle points, so the traffic stays linear in the turn.
            if pending and (force_snapshot or first_finish or settle):
                self._assign_snapshot(now)
        if first_finish:
            self._finished.set()
            self._update_displays()

    def _assign_snapshot(self, now: float) -> None:
        view = self._tracker.snapshot()
        # before the assignment: it sends the state at once, and get_state builds a second copy of the whole
        # view while the trait looks older than the patches
        self._snapshot_rev = self._tracker.rev
        self._view = view
        self._last_snapshot = now
        self.snapshots_sent += 1

    @staticmethod
    def _is_settle_patch(patch: Mapping[str, Any]) -> bool:
        """``True`` when the turn settles: it pauses or ends (or a pause is resolved). A status flip between
        live states (streaming, reconnecting) is not one: a flaky connection must not re-send the whole view
        on every reconnect."""
        sets = patch.get("set") or {}
        if "pauses" in sets:
            return True
        return "status" in sets and sets["status"] not in LIVE_STATUSES

    def get_state(self, key: str | list[str] | None = None, drop_defaults: bool = False) -> dict[str, Any]:
        """The widget state as ipywidgets sends it (to a front end that connects or reloads, to saved widget
        state, to an export): ``_view`` is the view as of the last patch sent, not the last settled one."""
        state: dict[str, Any] = super().get_state(key=key, drop_defaults=drop_defaults)
        lock = getattr(self, "_lock", None)
        if "_view" in state and lock is not None:
            with lock:
                if self._broken is None and self._tracker.rev > getattr(self, "_snapshot_rev", 0):
                    state["_view"] = _view_to_json(self._tracker.snapshot(), self)
        return state

    def _current_view(self) -> dict[str, Any]:
        """The view as a page that applied every patch sent so far has it (``_view`` itself is only re-sent
        at settle points)."""
        with self._lock:
            if self._broken is None and self._tracker.rev > getattr(self, "_snapshot_rev", 0):
                return dict(self._tracker.snapshot())
            return dict(self._view)

    def _is_finished(self) -> bool:
        return view_status(self._state, self._conn_status) not in LIVE_STATUSES

    def _on_custom_msg(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "artifact":
            self._on_artifact_msg(content)
            return
        if isinstance(content, dict) and content.get("type") == "intent":
            handler = self._intent_handler
            if handler is not None:
                handler(self, content)
            return
        if not isinstance(content, dict) or content.get("type") != "hello":
            return
        with self._lock:
            self._flush()
            if self._tracker.rev > self._snapshot_rev:
                self._assign_snapshot(time.monotonic())
            if content.get("reason") == "gap":
                self.send({"type": "snapshot", "view": self._tracker.snapshot()})

    # ------------------------------------------------------------------ connection status

    def _set_connection(
        self, status: ViewStatus | None, detail: str | None = None, notice: tuple[str, str] | None = None
    ) -> None:
        with self._lock:
            self._conn_status = status
            self._detail = detail
            if notice is not None:
                self._notices.append({"level": notice[0], "text": notice[1]})
        self._request_flush(urgent=True)

    def _add_notice(self, level: str, text: str) -> None:
        with self._lock:
            self._notices.append({"level": level, "text": text})
        self._request_flush()

    def _fail(self, message: str) -> None:
        if self._stopped.is_set():
            return
        self._set_connection("error", message, ("error", message))

    # ------------------------------------------------------------------ background following

    def _start(self, target: Callable[[], None], name: str) -> None:
        def run() -> None:
            try:
                target()
            except BaseException as exc:  # a bug or a client error: end the view visibly, never silently
                try:
                    self._fail(f"{type(exc).__name__}: {exc}")
                except BaseException:
                    self._break(exc)

        self._thread = new_thread(run, name)
        self._thread.start()

    def _follow(self, items: Iterable[StreamItem]) -> None:
        """Feed items from an iterator until ``turn.done``, an error, or :meth:`stop`."""
        it: Iterator[StreamItem] = iter(items)
        try:
            for item in it:
                if self._stopped.is_set():
                    break
                # before feeding: the fold releases a delta's parsed event
                done = item._fast is None and isinstance(item.event, TurnDoneEvent)
                self.feed(item)
                if done:
                    break
        except Exception as exc:
            self._fail(str(exc) or type(exc).__name__)
            return
        finally:
            close = getattr(it, "close", None)
            if callable(close):
                try:
                    close()
                except Exception:
                    pass
        self._end_of_source("the stream ended before turn.done")

    def _end_of_source(self, message: str) -> None:
        if self._stopped.is_set():
            return
        with self._lock:
            done = self._state.done is not None
        if not done:
            self._fail(message)
        else:
            self._request_flush(urgent=True)

    def stop(self) -> None:
        """Stop following the stream (the turn itself keeps running on the gateway)."""
        self._stopped.set()
        closer = self._closer
        if closer is not None:
            try:
                closer()
            except Exception:
                pass
        with self._lock:
            if self._state.done is None and self._conn_status != "error":
                self._conn_status = "cancelled"
                self._detail = "stopped following (the turn itself was not cancelled)"
        self._request_flush(urgent=True)

    async def wait(self, timeout: float | None = None) -> TurnView:
        """Wait until the turn is done (or failed, or :meth:`stop` was called); returns the view."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._finished.is_set():
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"turn {self.turn_id!r} still {self.status} after {timeout} s")
            await asyncio.sleep(0.02)
        return self

    # ------------------------------------------------------------------ reading

    @property
    def state(self) -> TurnState:
        """The fold (:class:`~tfwidget.state.TurnState`)."""
        return self._state

    @property
    def events(self) -> list[StreamItem]:
        """Every stream item applied so far."""
        with self._lock:
            return list(self._state.items)

    @property
    def turn_id(self) -> str | None:
        return self._state.turn_id

    @property
    def status(self) -> ViewStatus:
        """connecting, streaming, reconnecting, paused, done, cancelled or error."""
        with self._lock:
            return view_status(self._state, self._conn_status)

    def _frame(self, name: FrameName) -> pd.DataFrame:
        # the properties (df, messages_df, ...) come from FramesFacade; read under the view's lock
        with self._lock:
            return self._state._frame(name)

    def plot_usage(self, **kwargs: Any) -> Any:
        """Token usage per model call as stacked bars: see :func:`tfwidget.analysis.plot_usage`."""
        from .analysis import plot_usage

        with self._lock:
            return plot_usage(self._state, **kwargs)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the items received so far as a recording (``.jsonl``) or raw capture (``.sse``)."""
        return save(self.events, path)

    def snapshot(self) -> dict[str, Any]:
        """The current view model (what the front end shows), computed fresh from the state."""
        with self._lock:
            if self._broken is not None:
                return dict(self._view)
            try:
                view = build_view(self._state, rev=self._tracker.rev, session_id=self._tracker.session_id,
                                  **self._ctx())  # fmt: skip
                return cast("dict[str, Any]", view)
            except Exception as exc:
                self._break(exc)
                return dict(self._view)

    def __repr__(self) -> str:
        with self._lock:
            st = self._state
            totals = st.totals()
            return (
                f"<TurnView turn={st.turn_id!r} status={view_status(st, self._conn_status)} "
                f"events={len(st.items)} messages={len(st.message_ids())} tool_calls={len(st.tool_calls)} "
                f"threads={len(st.threads)} tokens in={totals['input_tokens']} out={totals['output_tokens']}>"
            )

    # ------------------------------------------------------------------ display and export

    def _mimebundle(self) -> dict[str, Any]:
        return {
            "text/plain": repr(self),
            "text/html": transcript_html(self.snapshot()),
            _WIDGET_MIME: {
                "version_major": 2,
                "version_minor": 0,
                "model_id": self.model_id,
            },
        }

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        return self._mimebundle(), _repr_metadata()

    def _static_bundle(self) -> dict[str, Any]:
        return {"text/html": static_output_html(transcript_html(self.snapshot()))}

    def _ipython_display_(self, **kwargs: Any) -> None:
        """Two outputs: the static transcript, then the live view (which hides the static one once it
        renders). A notebook reopened without a kernel or widget state keeps showing the transcript."""
        display_pair(self, self._static_bundle())

    def _update_displays(self) -> None:
        """At turn end: refresh every static output so a saved notebook has the whole transcript."""
        if not self._display_handles:
            return
        bundle = self._static_bundle()
        for handle in self._display_handles:
            try:
                handle.update(bundle, raw=True)
            except Exception:
                pass

    def to_html(self, path: str | os.PathLike[str] | None = None) -> str:
        """A standalone HTML page of the view that needs no kernel (inline CSS, bundle and snapshot).

        With ``path``, the page is also written there. The page renders through the same front end as the
        widget; without JavaScript it shows a static transcript.
        """
        page = standalone_html(self.snapshot())
        if path is not None:
            Path(path).write_text(page, encoding="utf-8")
        return page


# --------------------------------------------------------------------------------------- static HTML


def transcript_html(view: Mapping[str, Any]) -> str:
    """A static HTML transcript of a view (no script, nothing loaded from outside): see
    :func:`tfwidget.static_html.render_turn_html`."""
    return render_turn_html(view)


_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="tfwidget">
<title>{title}</title>
<style>
body {{ margin: 0; padding: 16px; background: #ffffff; }}
#tfw-app .tfw-root .tfw-scroll {{ max-height: none; }}
@media (prefers-color-scheme: dark) {{
  body {{ background: #1e1e1e; }}
  :root {{
    --jp-layout-color0: #1e1e1e; --jp-layout-color1: #252526; --jp-layout-color2: #333333;
    --jp-ui-font-color0: #e6e6e6; --jp-ui-font-color1: #d4d4d4; --jp-ui-font-color2: #9d9d9d;
    --jp-border-color1: #454545; --jp-border-color2: #3a3a3a; --jp-brand-color1: #4fa3f7;
  }}
}}
</style>
<style>{css}</style>
</head>
<body>
<div id="tfw-app">{fallback}</div>
<script type="application/json" id="tfw-view">{view}</script>
<script type="application/json" id="tfw-esm">{esm}</script>
<script type="module">
const read = (id) => JSON.parse(document.getElementById(id).textContent);
const view = read("tfw-view");
const url = URL.createObjectURL(new Blob([read("tfw-esm")], {{ type: "text/javascript" }}));
const widget = (await import(url)).default;
URL.revokeObjectURL(url);
const model = {{
  get: (key) => (key === "_view" ? view : undefined),
  set() {{}}, on() {{}}, off() {{}}, send() {{}}, save_changes() {{}},
}};
widget.render({{ model, el: document.getElementById("tfw-app") }});
</script>
</body>
</html>
"""


def standalone_html(view: Mapping[str, Any]) -> str:
    """A self-contained page rendering ``view`` with the widget's own front end (no kernel, no network)."""
    if not (_ESM_PATH.is_file() and _CSS_PATH.is_file()):
        raise FileNotFoundError(_BUNDLE_MISSING)
    css = _CSS_PATH.read_text(encoding="utf-8").replace("</", "<\\/")
    title = f"turn {view.get('turn_id') or ''} · tfwidget".strip()
    return _PAGE.format(
        title=html.escape(title, quote=True),
        css=css,
        fallback=transcript_html(view),
        view=_script_json(dict(view)),
        esm=_script_json(_ESM_PATH.read_text(encoding="utf-8")),
    )


# ------------------------------------------------------------------------------------------ factories


def watch(
    session_id: str,
    turn_id: str,
    *,
    client: Any = None,
    base_url: str | None = None,
    api_key: str | None = None,
    after_sequence_number: int | None = None,
    flush_interval: float = 0.05,
    reveal: bool = False,
) -> TurnView:
    """Follow a turn live: returns a :class:`TurnView` that fills in the background.

    Uses ``client`` (a :class:`~tfwidget.client.GatewayClient`) or builds one from ``base_url`` and
    ``api_key``. Reconnects show as ``reconnecting``; a client error ends the view in status ``error``.
    The API key stays inside the client: it is never part of the widget's state. With ``reveal=True`` the
    page scrolls the view into sight once, when the turn starts streaming (useful after "Run All").
    """
    own_client = client is None
    if own_client:
        from .client import GatewayClient

        client = GatewayClient(base_url, api_key)
    view = TurnView(
        session_id=session_id, flush_interval=flush_interval, status="connecting", reveal=bool(reveal)
    )
    # sandbox file downloads (w.download, the page's buttons); a client of our own is closed when the stream
    # ends, so downloads get their own (it connects on first use)
    view.gateway_client = GatewayClient(base_url, api_key) if own_client else client

    def on_reconnect(info: Any) -> None:
        after = getattr(info, "after_sequence_number", None)
        attempt = getattr(info, "attempt", None)
        reason = getattr(info, "reason", None) or "connection lost"
        mode = getattr(info, "mode", None)
        delay = getattr(info, "delay", None)
        bits = [f"after event {after}" if after is not None else None, mode,
                f"in {delay:.1f} s" if isinstance(delay, (int, float)) else None]  # fmt: skip
        how = ", ".join(b for b in bits if b)
        text = f"reconnect #{attempt}: {reason}" + (f" ({how})" if how else "")
        view._set_connection("reconnecting", f"{reason}; reconnecting (attempt {attempt})", ("info", text))
        view._reconnected_detail = f"reconnected after {after if after is not None else 0} events"

    def follow() -> None:
        try:
            stream = client.subscribe(
                session_id, turn_id, after_sequence_number=after_sequence_number, on_reconnect=on_reconnect
            )
            close = getattr(stream, "close", None)
            if callable(close):
                view._closer = close  # stop() ends the subscription, also mid-read
            if view._stopped.is_set():
                return
            show_idle(view, stream)  # "no events for 2 min, still connected; last event 14:02:11"
            view._follow(_announce_reconnects(view, stream))
        finally:
            if own_client:
                client.close()

    view._start(follow, name=f"tfwidget-watch-{turn_id}")
    return view


def _announce_reconnects(view: TurnView, stream: Iterable[StreamItem]) -> Iterator[StreamItem]:
    """Pass items through; the first item after a reconnect sets the 'reconnected after N events' detail."""
    for item in stream:
        detail = getattr(view, "_reconnected_detail", None)
        if detail is not None:
            view._reconnected_detail = None
            with view._lock:
                view._detail = detail
        yield item


# Views inside ipywidgets containers (HBox, VBox, ...) get their static transcripts too (tfwidget.containers).
from . import containers as _containers  # noqa: E402

_containers.install()
