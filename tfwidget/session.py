"""Interactive sessions in a notebook: chat, approve, answer, sign in, cancel.

:func:`chat` opens (or creates) a session and shows all its turns in one :class:`SessionView`: the earlier
turns loaded from the session's events, the newest one followed live, and a message box. Sending a message
creates a turn and streams it into the view. Pauses become actions: Approve / Deny on each pending tool call,
an answer box or option buttons for ``ask_user_question``, a sign-in link per MCP server and a Continue
button. Decisions across all threads are collected and sent as *one* resume turn once nothing is left
pending (the gateway rejects partial resumes).

Everything has a Python twin::

    view = tfwidget.chat("my-agent")          # doctest: +SKIP
    view.send("Please refund order 42")       # doctest: +SKIP  -> the new turn's TurnView
    view.wait()                               # doctest: +SKIP  (paused: awaiting approval)
    view.approve("call_123")                  # doctest: +SKIP  -> the resume turn's TurnView
    view.cancel()                             # doctest: +SKIP

A :class:`SessionView` is one anywidget (one model, one front-end entry), so it shows wherever a
:class:`~tfwidget.widget.TurnView` does (JupyterLab, Notebook 7, VS Code, marimo). Its turns are
:class:`~tfwidget.widget.TurnView` objects whose patches and snapshots travel over the session's own
channel, tagged with the turn's key. The parts live in small modules: the state machine
(:mod:`tfwidget._session_state`), history loading (:mod:`tfwidget._session_history`), the intent protocol
(:mod:`tfwidget._session_intents`) and what the front end shows (:mod:`tfwidget._session_ui`).

The front end sends *intents*; Python makes the gateway calls, so the API key never reaches the browser.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import anywidget
import traitlets
from ipywidgets import widget_serialization

from . import _session_ui
from ._bundle import FrontEndBundle, front_end_traits
from ._facade import FrameName, FramesFacade, stack_frames
from ._session_history import load_history
from ._session_intents import IntentDispatcher, act
from ._session_state import PendingAction, PendingActionsError, Run, RunKind, SessionError, SessionState
from ._threads import new_thread
from .artifacts import sandbox_id_of
from .contracts import LIVE_STATUSES, PauseKind, SessionStatus, ViewStatus
from .durable import display_session, refresh_session_static, session_static_bundle
from .errors import GatewayError
from .events import TurnCreatedEvent, TurnDoneEvent
from .sse import StreamItem
from .widget import _BUNDLE_MISSING, _BUNDLE_OK, TurnView, _repr_metadata

if TYPE_CHECKING:
    import pandas as pd

    from .client import GatewayClient

__all__ = ["PendingAction", "PendingActionsError", "SessionError", "SessionView", "chat"]

AGENT_VARIABLE = "TFY_AGENT_NAME"
_CREATE_TIMEOUT = 60.0  # seconds to wait for a new turn's turn.created
_MAX_NOTICES = 20


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _gateway_error(exc: BaseException, doing: str, hint: str = "") -> SessionError:
    if isinstance(exc, SessionError):
        return exc
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    message = f"Could not {doing}: {text}" + (f" {hint}" if hint else "")
    return SessionError(
        message,
        status=getattr(exc, "status", None),
        body_snippet=getattr(exc, "body_snippet", None),
        cause=exc,
    )


_CONSTRUCTION_LOCK = threading.Lock()


@contextlib.contextmanager
def _no_host_comm() -> Iterator[None]:
    """Construct a widget without the host's construction hook.

    marimo hooks every ipywidgets construction to open a channel to the page (and upload the front end)
    for it; a session's turns travel over the session's channel and need none. The hook is restored at
    once; the lock keeps two turns from interleaving here."""
    import ipywidgets

    with _CONSTRUCTION_LOCK:
        saved = ipywidgets.Widget._widget_construction_callback
        ipywidgets.Widget._widget_construction_callback = None
        try:
            yield
        finally:
            ipywidgets.Widget._widget_construction_callback = saved


class SessionTurnView(TurnView):
    """A :class:`~tfwidget.widget.TurnView` shown inside a :class:`SessionView`.

    It opens no channel of its own: its patches, snapshots and acks go through the session's (tagged with
    its key). Displayed on its own it opens one and renders like any TurnView.
    """

    def __init__(self, session: SessionView, key: str, *args: Any, **kwargs: Any) -> None:
        self._session_ref = session
        self._key = key
        with _no_host_comm():
            super().__init__(*args, **kwargs)
        self.observe(self._on_view_change, names="_view")

    def open(self) -> None:  # ipywidgets opens a comm in __init__: not before the turn is displayed
        if getattr(self, "_session_ref", None) is None:
            super().open()

    def _mimebundle(self) -> dict[str, Any]:
        if self.comm is None:
            super().open()
        return super()._mimebundle()

    def send(self, content: Any, buffers: Any = None) -> None:
        self._session_ref._forward(self._key, content, buffers)
        if self.comm is not None:
            super().send(content, buffers)

    def _on_view_change(self, change: dict[str, Any]) -> None:
        self._session_ref._on_turn_view(self._key, self, change["new"])


class SessionView(FramesFacade, anywidget.AnyWidget):
    """All turns of one session in one view, with a message box and actions for pauses.

    Build one with :func:`chat`. Turns are :class:`~tfwidget.widget.TurnView` s (``turns``, newest last);
    the view follows the newest one live.

    Args:
        client: the :class:`~tfwidget.client.GatewayClient` making every call (the key stays in it).
        session_id: the session.
        agent_name: shown in the controls.
        auto_resume: send the resume turn as soon as the last pending tool call got its decision
            (default). With ``False``, call :meth:`resume` yourself.
        flush_interval: passed to each :class:`~tfwidget.widget.TurnView`.
    """

    # the same bundle as TurnView (constructing a view without it raises the clear error)
    if _BUNDLE_OK:  # a loader and a reference to the kernel's bundle model, as TurnView (see _bundle.py)
        _esm = traitlets.Unicode().tag(sync=True)
        _css = traitlets.Unicode().tag(sync=True)
        _bundle = traitlets.Instance(FrontEndBundle, allow_none=True).tag(sync=True, **widget_serialization)

    #: turns (key, turn id, action state) and the controls; small, reassigned on every change
    _session = traitlets.Dict().tag(sync=True)
    #: the settled view of each turn, by key (reassigned when a turn settles, not per token)
    _views = traitlets.Dict().tag(sync=True)

    def __init__(
        self,
        client: GatewayClient,
        session_id: str,
        *,
        agent_name: str | None = None,
        auto_resume: bool = True,
        flush_interval: float = 0.05,
        own_client: bool = False,
        **kwargs: Any,
    ) -> None:
        if not _BUNDLE_OK:
            raise FileNotFoundError(_BUNDLE_MISSING)
        for key, value in front_end_traits().items():
            kwargs.setdefault(key, value)
        super().__init__(**kwargs)
        self.session_id = session_id
        self.agent_name = agent_name
        self.auto_resume = auto_resume
        self.flush_interval = flush_interval
        self._client = client
        self._own_client = own_client
        self._state = SessionState()
        self._lock = self._state.lock
        self._views_lock = threading.RLock()
        self._loop = _running_loop()
        self._loop_thread = threading.get_ident() if self._loop is not None else None
        self._notices: list[dict[str, str]] = []
        self._intents = IntentDispatcher(self._act, lambda text: self._notice("error", text))
        self.on_msg(self._on_custom_msg)
        self._sync_ui()

    # ------------------------------------------------------------------ reading

    @property
    def client(self) -> GatewayClient:
        return self._client

    @property
    def controls(self) -> SessionView:
        """The view itself (the message box and buttons are part of it); kept for older code."""
        return self

    @property
    def _controls(self) -> dict[str, Any]:
        """What the controls show (session, status, can_send, can_cancel, can_resume, pending, notices)."""
        return dict(self._session.get("controls") or {})

    @property
    def turns(self) -> list[TurnView]:
        """Every turn shown, oldest first."""
        with self._lock:
            return [r.view for r in self._state.runs]

    @property
    def latest(self) -> TurnView | None:
        """The newest turn, or ``None`` for an empty session."""
        run = self._state.latest
        return None if run is None else run.view

    @property
    def status(self) -> SessionStatus:
        """``empty``, or the newest turn's status (``connecting``, ``streaming``, ``paused``, ``done``, ...)."""
        return self._state.status()

    @property
    def busy(self) -> bool:
        """Whether a request (send, resume, cancel) is in flight."""
        return self._state.busy is not None

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called (no action is possible any more)."""
        return self._state.closed

    @property
    def notices(self) -> list[dict[str, str]]:
        """Notices shown under the view (errors from the gateway, ignored actions, ...)."""
        with self._lock:
            return [dict(n) for n in self._notices]

    @property
    def pending(self) -> list[PendingAction]:
        """What the paused newest turn waits on (empty unless it is paused and not yet resumed)."""
        return self._state.pending()

    @property
    def intents_handled(self) -> int:
        return self._intents.handled

    @property
    def intents_ignored(self) -> int:
        return self._intents.ignored

    def _frame(self, name: FrameName) -> pd.DataFrame:
        # df, messages_df, ... (FramesFacade) of every turn, with a leading turn_id column; each view's
        # state is read under its lock (a turn may be streaming), all held while the turns are stacked
        views = self.turns
        with contextlib.ExitStack() as held:
            for v in views:
                held.enter_context(v._lock)
            return stack_frames(((v.turn_id, v._state) for v in views), name)

    def __repr__(self) -> str:
        return (
            f"<SessionView session={self.session_id!r} turns={len(self._state.runs)} status={self.status} "
            f"pending={len(self.pending)}>"
        )

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = super()._repr_mimebundle_(**kwargs)
        if isinstance(bundle, tuple):
            data, meta = bundle
            return data, {**_repr_metadata(), **(meta or {})}
        return bundle

    # ------------------------------------------------------------------ the Python API

    def send(self, text: Any, buffers: Any = None, *, timeout: float = _CREATE_TIMEOUT) -> Any:
        """Send a user message: creates a turn and streams it into the view (in the background).

        Returns the new turn's :class:`~tfwidget.widget.TurnView` once the gateway created it. Like the
        Send button, it refuses (and sends nothing) while a turn runs, while the paused turn waits on
        actions, while another request is in flight and after :meth:`close`.

        Raises:
            SessionError: the message cannot be sent now (the error says why and what to do), or the
                gateway refused the turn.
            ValueError: the message is empty.
        """
        if isinstance(text, dict):  # a custom message (ipywidgets' Widget.send), never a chat message
            self._send_msg(text, buffers)
            return None
        if isinstance(text, str):
            if not text.strip():
                raise ValueError("the message is empty")
            items: list[dict[str, Any]] = [{"type": "user.message", "content": text}]
        elif isinstance(text, list) and text:
            items = list(text)
        else:
            raise ValueError(f"send() takes a non-empty message or a list of input items, not {text!r}")
        run = self._begin_turn(items, kind="message")
        return self._await_created(run, timeout)

    def approve(self, call_id: str | None = None) -> TurnView | None:
        """Allow a pending tool call. Returns the resume turn when this was the last decision, else ``None``."""
        return self._decide_and_maybe_resume(call_id, "approval", {"kind": "approval", "status": "allow"})

    def deny(self, call_id: str | None = None, reason: str | None = None) -> TurnView | None:
        """Deny a pending tool call (with an optional reason). Returns the resume turn when this was the last
        decision, else ``None``."""
        decision: dict[str, Any] = {"kind": "approval", "status": "deny"}
        if reason and str(reason).strip():
            decision["reason"] = str(reason).strip()
        return self._decide_and_maybe_resume(call_id, "approval", decision)

    def answer(self, call_id: str | None, text: str) -> TurnView | None:
        """Answer a pending ``ask_user_question`` (free text or one of its options). Returns the resume turn
        when this was the last decision, else ``None``."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError("the answer is empty")
        return self._decide_and_maybe_resume(call_id, "question", {"kind": "question", "text": text})

    def clear_decision(self, call_id: str) -> None:
        """Forget a collected, not yet sent decision."""
        self._state.clear_decision(call_id)
        self._request_sync()

    def resume(self, *, timeout: float = _CREATE_TIMEOUT) -> TurnView:
        """Send the resume turn: every collected decision at once, or empty input after an MCP sign-in.

        Raises:
            PendingActionsError: some tool call still has no decision (the error names them).
            SessionError: nothing is paused, or the gateway refused the resume.
        """
        run = self._begin_resume()
        return self._await_created(run, timeout)

    def cancel(self, *, wait: float | None = 10.0) -> bool:
        """Cancel the running turn (it ends ``cancelled``). Returns ``True`` once the gateway took the cancel.

        ``wait``: seconds to wait for the turn's cancelled ``turn.done`` (``None``: do not wait).

        Raises:
            SessionError: no turn is running (nothing was sent to the gateway; a notice says so too), a
                cancel is already in flight, the view is closed, or the gateway refused the cancel.
        """
        with self._lock:
            self._state.check_open()
            run = self._state.latest
            running = run is not None and (run.view.status in LIVE_STATUSES or not run.created.is_set())
            if self._state.busy == "cancel":
                raise SessionError("A cancel request is already in flight.")
            if not running or run is None:
                status = self.status
                text = f"Nothing to cancel: no turn is running (the newest turn is {status})."
                self._notice("info", text)
                raise SessionError(text)
            if self._state.busy is None:
                self._state.busy = "cancel"
        self._request_sync()
        try:
            self._client.cancel(self.session_id)
        except Exception as exc:
            err = _gateway_error(exc, f"cancel the running turn of session {self.session_id!r}")
            self._notice("error", err.message)
            raise err from exc
        finally:
            with self._lock:
                if self._state.busy == "cancel":
                    self._state.busy = None
            self._request_sync()
        if wait is not None:
            run.finished.wait(wait)
        return True

    def wait(self, timeout: float | None = None) -> TurnView | None:
        """Block until the newest turn stops streaming (done, paused, cancelled or error); returns it.

        In a notebook this blocks the kernel (the view catches up afterwards); ``await view.latest.wait()``
        does not.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            run = self._state.latest
            if run is None:
                return None
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not run.finished.wait(left):
                raise TimeoutError(f"turn {run.view.turn_id!r} still {run.view.status} after {timeout} s")
            if self._state.latest is run:
                return run.view

    def close(self, *, cancel: bool = False) -> None:
        """Stop following every turn (with ``cancel=True`` also cancel a running one) and close the widget.

        Afterwards every action raises :class:`SessionError`.
        """
        if self._state.closed:
            return
        if cancel and self.status in LIVE_STATUSES:
            try:
                self.cancel(wait=5.0)
            except SessionError:
                pass
        with self._lock:
            self._state.closed = True
        for view in self.turns:
            view.stop()
            view.close()
        if self._own_client:
            self._client.close()
        self._sync_ui()
        super().close()

    # ------------------------------------------------------------------ decisions

    def _decide_and_maybe_resume(
        self, call_id: str | None, kind: PauseKind, decision: dict[str, Any]
    ) -> TurnView | None:
        complete = self._state.decide(call_id, kind, decision)
        self._request_sync()
        if complete and self.auto_resume:
            return self.resume()
        return None

    def _begin_resume(self) -> Run:
        with self._lock:
            paused, items = self._state.resume_items()
            return self._begin_turn(items, kind="resume", resumes=paused.view.turn_id or "")

    # ------------------------------------------------------------------ turns

    def _new_run(self, kind: RunKind, items: Iterable[StreamItem] | None = None, status: ViewStatus | None = None,
                 resumes: str | None = None) -> Run:  # fmt: skip
        key = self._state.new_key()
        view = SessionTurnView(self, key, items, session_id=self.session_id, flush_interval=self.flush_interval,
                               status=status)  # fmt: skip
        view._intent_handler = self._intents.handle
        view.gateway_client = self._client  # sandbox files; the sandbox may come from an earlier turn:
        view.sandbox_source = lambda: next(
            filter(None, (sandbox_id_of(v.state) for v in reversed(self.turns))), None
        )
        run = Run(view=view, key=key, kind=kind, resumes=resumes)
        return run

    def _begin_turn(self, items: list[dict[str, Any]], *, kind: RunKind, resumes: str | None = None) -> Run:
        with self._lock:
            if kind == "message":
                why = self._state.why_not_send()
                if why is not None:
                    self._notice("error", why)
                    raise SessionError(why)
            run = self._new_run(kind, status="connecting", resumes=resumes)
            self._state.start(run, "resume" if kind == "resume" else "send")
        self._request_sync()
        try:
            stream = self._client.create_turn(self.session_id, items, stream=True)
        except BaseException as exc:
            self._creation_failed(run, exc)
            raise run.error or exc from exc
        run.stream = stream
        run.view._closer = stream.close
        new_thread(self._follow_guarded, "tfwidget-session-turn", (run, stream)).start()
        return run

    def _await_created(self, run: Run, timeout: float) -> TurnView:
        if not run.created.wait(timeout):
            raise SessionError(f"The gateway did not start the turn within {timeout} s.")
        if run.error is not None:
            raise run.error
        return run.view

    def _follow_guarded(self, run: Run, stream: Iterable[StreamItem]) -> None:
        """:meth:`_follow` on a thread of its own: whatever ends it, the run finishes and says why."""
        try:
            self._follow(run, stream)
        except BaseException as exc:
            if not run.created.is_set():
                self._creation_failed(run, exc)
            else:
                run.view._fail(f"{type(exc).__name__}: {exc}")
        finally:
            if not run.finished.is_set():
                run.finished.set()
                self._request_sync()

    def _follow(self, run: Run, stream: Iterable[StreamItem]) -> None:
        view = run.view
        try:
            for item in stream:
                if view._stopped.is_set():
                    break
                # before feeding (the fold releases a delta's parsed event); a delta the decoder checked by
                # its strict schema (``_fast``) is neither of the events asked about: it is not parsed
                ev = item.event if item._fast is None else None
                view.feed(item)
                if isinstance(ev, TurnCreatedEvent) and not run.created.is_set():
                    self._created(run)
                if isinstance(ev, TurnDoneEvent):
                    break
        except Exception as exc:
            if not run.created.is_set():
                self._creation_failed(run, exc)
                return
            view._fail(str(exc) or type(exc).__name__)
        finally:
            close = getattr(stream, "close", None)
            if callable(close):
                try:
                    close()
                except Exception:
                    pass
        if not run.created.is_set():  # ended (or stopped) before turn.created
            self._creation_failed(run, SessionError("The stream ended before the turn was created."))
            return
        view._end_of_source("the stream ended before turn.done")
        run.finished.set()
        self._request_sync()

    def _created(self, run: Run) -> None:
        self._state.created(run)
        run.created.set()
        self._request_sync()

    def _creation_failed(self, run: Run, exc: BaseException) -> None:
        if run.created.is_set() and run.error is not None:
            return
        self._state.creation_failed(run)
        doing = "resume the paused turn" if run.kind == "resume" else "send the message"
        err = _gateway_error(exc, doing)
        if err is not exc:
            err.__cause__ = exc
        run.error = err
        run.view._stopped.set()
        self._notice("error", err.message)
        run.created.set()
        run.finished.set()

    # ------------------------------------------------------------------ loading

    def _load(self, latest_hint: dict[str, Any] | None = None) -> None:
        """Show the session's finished turns (from its events) and follow its newest turn if still live."""
        history = load_history(self._client, self.session_id, latest_hint)
        with self._lock:
            for items in history.turns.values():
                run = self._new_run("loaded", items)
                run.created.set()
                run.finished.set()
                self._state.runs.append(run)
        if history.follow is not None:
            self._follow_existing(history.follow)
        self._request_sync()

    def _follow_existing(self, turn_id: str) -> None:
        run = self._new_run("follow", status="connecting")
        run.created.set()
        with self._lock:
            self._state.runs.append(run)
        stream = self._client.subscribe(self.session_id, turn_id)
        run.stream = stream
        run.view._closer = stream.close
        new_thread(self._follow_guarded, "tfwidget-session-follow", (run, stream)).start()

    # ------------------------------------------------------------------ intents and messages

    def _on_custom_msg(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if not isinstance(content, dict):
            return
        key = content.get("turn")
        if key is not None:
            run = self._state.run_by_key(str(key))
            if run is None:
                return
            inner = {k: v for k, v in content.items() if k != "turn"}
            if inner.get("type") == "hello":
                run.view._on_custom_msg(run.view, inner, None)
                self._forward(run.key, {"type": "snapshot", "view": run.view._view})
            elif inner.get("type") == "intent":
                self._intents.handle(run.view, inner)
            elif inner.get("type") == "artifact":  # a sandbox file for the turn's cards
                run.view._on_custom_msg(run.view, inner, None)
            return
        if content.get("type") == "intent":
            self._intents.handle(self, content)
        elif content.get("type") == "hello":
            self._sync_ui()

    def _act(self, source: Any, action: Any, content: dict[str, Any]) -> tuple[bool, str | None]:
        return act(self, source, action, content)

    def _send_msg(self, content: dict[str, Any], buffers: Any = None) -> None:
        """A custom message to the front end (what ``Widget.send`` does; ``send`` is the chat API here)."""
        super().send(content, buffers)

    def _forward(self, key: str, content: Any, buffers: Any = None) -> None:
        """A turn's message (patch, snapshot, ack, sandbox file) to the front end, tagged with the turn's key."""
        self._send_msg({"type": "turn", "key": key, "msg": content}, buffers)

    def _on_turn_view(self, key: str, view: TurnView, snapshot: dict[str, Any]) -> None:
        """A turn's settled view changed: keep ``_views`` current when it settles or changes status.

        Called under the turn's lock: it takes only ``_views_lock`` (never the session's lock, which is
        held while turns are read), so the two cannot wait on each other."""
        with self._views_lock:
            old = self._views.get(key)
            live = snapshot.get("status") in LIVE_STATUSES
            if old is not None and live and old.get("status") == snapshot.get("status"):
                self._forward(key, {"type": "snapshot", "view": snapshot})
                return
            self._views = {**self._views, key: snapshot}

    # ------------------------------------------------------------------ UI state

    def _notice(self, level: str, text: str) -> None:
        with self._lock:
            self._notices.append({"level": level, "text": text})
            del self._notices[:-_MAX_NOTICES]
        self._request_sync()

    def _request_sync(self) -> None:
        """Bring the traits up to date (on the kernel's loop when there is one)."""
        loop = self._loop
        if loop is not None and loop.is_running() and threading.get_ident() != self._loop_thread:
            try:
                loop.call_soon_threadsafe(self._sync_ui)
                return
            except RuntimeError:
                pass
        self._sync_ui()

    def _sync_ui(self) -> None:
        try:
            self._sync_ui_now()
        except Exception as exc:  # never let a sync error go unseen (it would freeze the view)
            with self._lock:
                self._notices.append({"level": "error", "text": f"tfwidget: {type(exc).__name__}: {exc}"})
            raise

    def _sync_ui_now(self) -> None:
        with self._lock:
            turns = _session_ui.turn_entries(self._state)
            controls = _session_ui.controls(self._state, self.session_id, self.agent_name, self._notices)
            runs = list(self._state.runs)
            for run, entry in zip(runs, turns, strict=True):
                if run.view._actions != entry["actions"]:
                    run.view._actions = entry["actions"]
            state = {"turns": turns, "controls": controls}
            if state != self._session:
                self._session = state
        with self._views_lock:
            keys = {r.key for r in runs}
            views = {k: v for k, v in self._views.items() if k in keys}
            for run in runs:
                if run.key not in views:
                    views[run.key] = run.view._view
            if views != self._views:
                self._views = views
        refresh_session_static(self)

    def _ipython_display_(self, **kwargs: Any) -> None:
        """The static transcript (shown where the live view cannot render), then the live view."""
        display_session(self)

    def _static_bundle(self) -> dict[str, Any]:
        """The static transcript's output (also used when the view is displayed inside a container)."""
        return session_static_bundle(self)


def chat(
    agent_name: str | None = None,
    *,
    session_id: str | None = None,
    client: GatewayClient | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    auto_resume: bool = True,
    flush_interval: float = 0.05,
) -> SessionView:
    """Open a session (``session_id``) or create one for ``agent_name`` and show it as a :class:`SessionView`.

    Earlier turns are loaded from the session's events; a turn still running is followed live. Without
    ``client``, one is built from ``base_url`` / ``api_key`` (default: ``TFY_GATEWAY_URL`` and ``TFY_API_KEY``).
    ``agent_name`` defaults to ``TFY_AGENT_NAME``.

    Raises:
        ValueError: neither a session id nor an agent name was given.
        SessionError: the gateway refused to create or list the session.
    """
    own = client is None
    if client is None:
        from .client import GatewayClient

        client = GatewayClient(base_url, api_key)
    try:
        if session_id is None:
            agent_name = agent_name or os.environ.get(AGENT_VARIABLE) or None
            if not agent_name:
                raise ValueError(
                    f"chat() needs an agent_name (or {AGENT_VARIABLE}) to create a session, or a session_id"
                )
            try:
                session = client.create_session(agent_name)
            except GatewayError as exc:
                raise _gateway_error(exc, f"create a session for agent {agent_name!r}") from exc
            return SessionView(client, str(session["id"]), agent_name=agent_name, auto_resume=auto_resume,
                               flush_interval=flush_interval, own_client=own)  # fmt: skip
        view = SessionView(client, session_id, agent_name=agent_name, auto_resume=auto_resume,
                           flush_interval=flush_interval, own_client=own)  # fmt: skip
        try:
            view._load()
        except GatewayError as exc:
            raise _gateway_error(exc, f"load session {session_id!r}") from exc
        return view
    except BaseException:
        if own:
            client.close()
        raise
