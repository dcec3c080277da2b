"""Interactive sessions in a notebook: chat, approve, answer, sign in, cancel.

:func:`chat` opens (or creates) a session and shows all its turns in one :class:`SessionView`: the earlier
turns loaded from the session's events, the newest one followed live, and an input box. Sending a message
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

The front end sends *intents* (``{"type": "intent", "id", "action", ...}`` custom messages); Python makes
the gateway calls, so the API key never reaches the browser. Each intent carries an id: a repeated id is
ignored, and so is a second request while one is in flight.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anywidget
import ipywidgets
import traitlets

from .errors import GatewayError
from .events import TurnCreatedEvent, TurnDoneEvent
from .sse import StreamItem
from .view import LIVE_STATUSES, pauses_view
from .widget import _CSS_PATH, _ESM_PATH, TurnView

if TYPE_CHECKING:
    import pandas as pd

    from .client import GatewayClient

__all__ = ["PendingAction", "PendingActionsError", "SessionError", "SessionView", "chat"]

AGENT_VARIABLE = "TFY_AGENT_NAME"
_CREATE_TIMEOUT = 60.0  # seconds to wait for a new turn's turn.created
_MAX_INTENT_IDS = 2048
_MAX_NOTICES = 20


class SessionError(GatewayError):
    """A session action failed: the gateway refused it, or it is not possible in the session's state.

    ``status`` and ``body_snippet`` are those of the gateway's answer when there was one; ``cause`` is the
    client's typed error (also the ``__cause__``).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        body_snippet: str | None = None,
        cause: BaseException | None = None,
    ) -> None:
        super().__init__(message, status=status, body_snippet=body_snippet)
        self.cause = cause


class PendingActionsError(SessionError):
    """The paused turn still waits on actions (``pending`` lists them), so it cannot be resumed yet."""

    def __init__(self, message: str, pending: list[PendingAction]) -> None:
        super().__init__(message)
        self.pending = pending


@dataclass(frozen=True)
class PendingAction:
    """One thing a paused turn waits on.

    Attributes:
        kind: ``"approval"``, ``"question"`` or ``"mcp_auth"``.
        tool_call_id: the tool call (``None`` for an MCP sign-in).
        thread_id: the thread the call belongs to (``"main"`` or a sub-agent thread).
        tool_name: the tool's name (approvals and questions).
        arguments: the call's arguments (JSON text).
        question / options: for ``ask_user_question``.
        servers: for ``mcp_auth``: ``[{"id", "name", "auth_url"}]``.
        decision: the decision collected for it and not yet sent, or ``None``.
    """

    kind: str
    tool_call_id: str | None
    thread_id: str | None
    tool_name: str | None = None
    arguments: str | None = None
    question: str | None = None
    options: tuple[Any, ...] = ()
    servers: tuple[dict[str, Any], ...] = ()
    decision: dict[str, Any] | None = None

    def describe(self) -> str:
        """A short human description, e.g. ``approval of process_refund (call_1, thread main)``."""
        if self.kind == "mcp_auth":
            names = ", ".join(str(s.get("name") or s.get("id")) for s in self.servers) or "an MCP server"
            return f"sign-in to {names} (then resume())"
        what = "approval of" if self.kind == "approval" else "an answer to"
        return f"{what} {self.tool_name or 'a tool call'} ({self.tool_call_id}, thread {self.thread_id})"


@dataclass
class _Run:
    """One turn the view follows: its stream and how far it got."""

    view: TurnView
    created: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None
    stream: Any = None
    kind: str = "message"  # "message" | "resume" | "follow" | "loaded"
    resumes: str | None = None  # the paused turn a resume turn answers


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


class SessionControls(anywidget.AnyWidget):
    """The input box, Send / Cancel / Resume buttons and the notices under a :class:`SessionView`."""

    _esm = _ESM_PATH if _ESM_PATH.is_file() else "export default { render() {} };"
    if _CSS_PATH.is_file():
        _css = _CSS_PATH
    _controls = traitlets.Dict().tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._intent_handler: Callable[[Any, dict[str, Any]], None] | None = None
        self.on_msg(self._on_custom_msg)

    def _on_custom_msg(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "intent" and self._intent_handler is not None:
            self._intent_handler(self, content)


class SessionView(ipywidgets.VBox):
    """All turns of one session in one view, with an input box and actions for pauses.

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
        super().__init__(**kwargs)
        self.add_class("tfw-session")
        self.session_id = session_id
        self.agent_name = agent_name
        self.auto_resume = auto_resume
        self.flush_interval = flush_interval
        self._client = client
        self._own_client = own_client
        self._lock = threading.RLock()
        self._loop = _running_loop()
        self._loop_thread = threading.get_ident() if self._loop is not None else None
        self._runs: list[_Run] = []
        self._busy: str | None = None  # what is in flight ("send", "resume", "cancel") or None
        self._decisions: dict[str, dict[str, dict[str, Any]]] = {}  # paused turn id -> call id -> decision
        self._resumed: dict[str, str | None] = {}  # paused turn id -> the turn resuming it (None: in flight)
        self._seen_intents: OrderedDict[str, None] = OrderedDict()
        self._notices: list[dict[str, str]] = []
        self.intents_handled = 0
        self.intents_ignored = 0
        self._controls_widget = SessionControls()
        self._controls_widget._intent_handler = self._handle_intent
        self._sync_ui()

    # ------------------------------------------------------------------ reading

    @property
    def client(self) -> GatewayClient:
        return self._client

    @property
    def controls(self) -> SessionControls:
        """The widget holding the input box and buttons."""
        return self._controls_widget

    @property
    def turns(self) -> list[TurnView]:
        """Every turn shown, oldest first."""
        with self._lock:
            return [r.view for r in self._runs]

    @property
    def latest(self) -> TurnView | None:
        """The newest turn, or ``None`` for an empty session."""
        with self._lock:
            return self._runs[-1].view if self._runs else None

    @property
    def status(self) -> str:
        """``empty``, or the newest turn's status (``connecting``, ``streaming``, ``paused``, ``done``, ...)."""
        latest = self.latest
        return "empty" if latest is None else latest.status

    @property
    def busy(self) -> bool:
        """Whether a request (send, resume, cancel) is in flight."""
        return self._busy is not None

    @property
    def notices(self) -> list[dict[str, str]]:
        """Notices shown under the view (errors from the gateway, ignored actions, ...)."""
        with self._lock:
            return [dict(n) for n in self._notices]

    @property
    def pending(self) -> list[PendingAction]:
        """What the paused newest turn waits on (empty unless it is paused and not yet resumed)."""
        with self._lock:
            run = self._paused_run()
            if run is None:
                return []
            decisions = self._decisions.get(run.view.turn_id or "", {})
            out = []
            for p in pauses_view(run.view.state):
                if not p.get("pending"):
                    continue
                call_id = p.get("tool_call_id")
                out.append(
                    PendingAction(
                        kind=p["kind"],
                        tool_call_id=call_id,
                        thread_id=p.get("thread_id") or ("main" if call_id else None),
                        tool_name=p.get("tool_name"),
                        arguments=p.get("arguments"),
                        question=p.get("question"),
                        options=tuple(p.get("options") or ()),
                        servers=tuple(p.get("servers") or ()),
                        decision=dict(decisions[call_id]) if call_id in decisions else None,
                    )
                )
            return out

    def _paused_run(self) -> _Run | None:
        if not self._runs:
            return None
        run = self._runs[-1]
        tid = run.view.turn_id
        if run.view.status != "paused" or tid is None or tid in self._resumed:
            return None
        return run

    def _frame(self, attr: str) -> pd.DataFrame:
        import pandas as pd

        frames = []
        for view in self.turns:
            df = getattr(view, attr).copy()
            df.insert(0, "turn_id", view.turn_id)
            frames.append(df)
        if not frames:
            return pd.DataFrame({"turn_id": pd.Series([], dtype=object)})
        return pd.concat(frames, ignore_index=True)

    @property
    def df(self) -> pd.DataFrame:
        """Every event of every turn (see :attr:`TurnState.df`), with a leading ``turn_id`` column."""
        return self._frame("df")

    @property
    def messages_df(self) -> pd.DataFrame:
        """Merged messages of every turn, with a leading ``turn_id`` column."""
        return self._frame("messages_df")

    @property
    def tool_calls_df(self) -> pd.DataFrame:
        """Tool calls of every turn, with a leading ``turn_id`` column."""
        return self._frame("tool_calls_df")

    @property
    def usage_df(self) -> pd.DataFrame:
        """Usage of every model call of every turn, with a leading ``turn_id`` column."""
        return self._frame("usage_df")

    @property
    def spans_df(self) -> pd.DataFrame:
        """Spans of every turn, with a leading ``turn_id`` column; a paused turn's waits end when the turn
        that resumed it started (see :func:`tfwidget.timing.link_pauses`)."""
        from .timing import link_pauses

        link_pauses(view.state for view in self.turns)
        return self._frame("spans_df")

    def __repr__(self) -> str:
        return (
            f"<SessionView session={self.session_id!r} turns={len(self._runs)} status={self.status} "
            f"pending={len(self.pending)}>"
        )

    # ------------------------------------------------------------------ the Python API

    def send(self, text: str | list[dict[str, Any]], *, timeout: float = _CREATE_TIMEOUT) -> TurnView:
        """Send a user message: creates a turn and streams it into the view (in the background).

        Returns the new turn's :class:`~tfwidget.widget.TurnView` once the gateway created it.

        Raises:
            SessionError: the gateway refused the turn (e.g. the session's turn is paused: answer it with
                :meth:`approve` / :meth:`deny` / :meth:`answer`, or :meth:`resume` after signing in), or
                another request is in flight.
        """
        if isinstance(text, str):
            if not text.strip():
                raise ValueError("the message is empty")
            items: list[dict[str, Any]] = [{"type": "user.message", "content": text}]
        else:
            items = list(text)
        run = self._begin_turn(items, kind="message")
        return self._await_created(run, timeout)

    def approve(self, call_id: str | None = None) -> TurnView | None:
        """Allow a pending tool call. Returns the resume turn when this was the last decision, else ``None``."""
        return self._decide_and_maybe_resume(call_id, "approval", {"kind": "approval", "status": "allow"})

    def deny(self, call_id: str | None = None, reason: str | None = None) -> TurnView | None:
        """Deny a pending tool call (with an optional reason). Returns the resume turn when this was the last
        decision, else ``None``."""
        decision: dict[str, Any] = {"kind": "approval", "status": "deny"}
        if reason:
            decision["reason"] = str(reason)
        return self._decide_and_maybe_resume(call_id, "approval", decision)

    def answer(self, call_id: str | None, text: str) -> TurnView | None:
        """Answer a pending ``ask_user_question`` (free text or one of its options). Returns the resume turn
        when this was the last decision, else ``None``."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError("the answer is empty")
        return self._decide_and_maybe_resume(call_id, "question", {"kind": "question", "text": text})

    def clear_decision(self, call_id: str) -> None:
        """Forget a collected, not yet sent decision."""
        with self._lock:
            run = self._paused_run()
            if run is not None:
                self._decisions.get(run.view.turn_id or "", {}).pop(call_id, None)
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
        """Cancel the running turn (it ends ``cancelled``). Returns ``False`` when nothing was running
        (the gateway treats that as a no-op; a notice says so).

        ``wait``: seconds to wait for the turn's cancelled ``turn.done`` (``None``: do not wait).

        Raises:
            SessionError: the gateway refused the cancel.
        """
        with self._lock:
            run = self._runs[-1] if self._runs else None
            running = run is not None and (run.view.status in LIVE_STATUSES or not run.created.is_set())
            if self._busy == "cancel":
                raise SessionError("A cancel request is already in flight.")
            prev_busy = self._busy
            if prev_busy is None:
                self._busy = "cancel"
        self._request_sync()
        try:
            self._client.cancel(self.session_id)
        except Exception as exc:
            err = _gateway_error(exc, f"cancel the running turn of session {self.session_id!r}")
            self._notice("error", err.message)
            raise err from exc
        finally:
            with self._lock:
                if self._busy == "cancel":
                    self._busy = None
            self._request_sync()
        if not running or run is None:
            self._notice("info", "Nothing to cancel: no turn is running.")
            return False
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
            with self._lock:
                run = self._runs[-1] if self._runs else None
            if run is None:
                return None
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not run.finished.wait(left):
                raise TimeoutError(f"turn {run.view.turn_id!r} still {run.view.status} after {timeout} s")
            with self._lock:
                if self._runs and self._runs[-1] is run:
                    return run.view

    def close(self, *, cancel: bool = False) -> None:
        """Stop following every turn (with ``cancel=True`` also cancel a running one) and close the widgets."""
        if cancel and self.status in LIVE_STATUSES:
            try:
                self.cancel(wait=5.0)
            except SessionError:
                pass
        for view in self.turns:
            view.stop()
            view.close()
        self._controls_widget.close()
        if self._own_client:
            self._client.close()
        super().close()

    # ------------------------------------------------------------------ decisions

    def _find_pending(self, call_id: str | None, kind: str) -> tuple[_Run, PendingAction]:
        pending = self.pending
        with self._lock:
            run = self._paused_run()
        if run is None or not pending:
            latest = self.latest
            state = "empty" if latest is None else latest.status
            if latest is not None and latest.turn_id in self._resumed:
                raise SessionError(
                    f"Turn {latest.turn_id!r} was already resumed; its actions cannot be changed any more."
                )
            raise SessionError(f"No turn is waiting for a decision (the newest turn is {state}).")
        calls = [p for p in pending if p.tool_call_id is not None]
        if not calls:
            waits = "; ".join(p.describe() for p in pending)
            raise SessionError(f"No tool call waits for a decision: the turn waits for {waits}.")
        if call_id is None:
            of_kind = [p for p in calls if p.kind == kind]
            if len(of_kind) != 1:
                names = "; ".join(p.describe() for p in calls) or "none"
                raise SessionError(f"Say which tool call: {len(of_kind)} pending {kind}s. Pending: {names}.")
            return run, of_kind[0]
        for p in calls:
            if p.tool_call_id == call_id:
                if p.kind != kind:
                    verb = "approve() or deny()" if p.kind == "approval" else "answer()"
                    raise SessionError(f"Tool call {call_id!r} waits for {p.describe()}: use {verb}.")
                return run, p
        names = "; ".join(p.describe() for p in calls) or "none (only an MCP sign-in: call resume())"
        raise SessionError(f"Tool call {call_id!r} is not pending. Pending: {names}.")

    def _decide(self, call_id: str | None, kind: str, decision: dict[str, Any]) -> bool:
        """Record a decision; returns True when every pending tool call now has one."""
        run, action = self._find_pending(call_id, kind)
        with self._lock:
            tid = run.view.turn_id or ""
            self._decisions.setdefault(tid, {})[action.tool_call_id or ""] = dict(decision)
        self._request_sync()
        pending = self.pending
        return bool(pending) and all(p.kind != "mcp_auth" and p.decision is not None for p in pending)

    def _decide_and_maybe_resume(
        self, call_id: str | None, kind: str, decision: dict[str, Any]
    ) -> TurnView | None:
        complete = self._decide(call_id, kind, decision)
        if complete and self.auto_resume:
            return self.resume()
        return None

    def _resume_items(self) -> tuple[_Run, list[dict[str, Any]]]:
        pending = self.pending
        with self._lock:
            run = self._paused_run()
        if run is None or not pending:
            latest = self.latest
            if latest is not None and latest.turn_id in self._resumed:
                raise SessionError(f"Turn {latest.turn_id!r} was already resumed.")
            state = "empty" if latest is None else latest.status
            raise SessionError(f"Nothing to resume: no turn is paused (the newest turn is {state}).")
        missing = [p for p in pending if p.kind != "mcp_auth" and p.decision is None]
        if missing:
            names = "; ".join(p.describe() for p in missing)
            decided = len([p for p in pending if p.decision is not None])
            raise PendingActionsError(
                f"Cannot resume turn {run.view.turn_id!r} yet: the gateway needs every pending action answered "
                f"in one turn ({decided} of {len(pending)} decided). Still pending: {names}. Use approve(), "
                "deny() or answer() for each.",
                missing,
            )
        items: list[dict[str, Any]] = []
        for p in pending:
            d = p.decision
            if p.kind == "mcp_auth" or d is None:
                continue
            base = {"thread_id": p.thread_id or "main", "tool_call_id": p.tool_call_id}
            if p.kind == "approval":
                approval: dict[str, Any] = {"status": d["status"]}
                if d.get("reason"):
                    approval["reason"] = d["reason"]
                items.append({"type": "user.tool_approval", **base, "approval": approval})
            else:
                items.append({"type": "user.tool_response", **base, "content": d["text"]})
        return run, items

    def _begin_resume(self) -> _Run:
        with self._lock:
            paused, items = self._resume_items()
            tid = paused.view.turn_id or ""
            if self._busy is not None:
                raise SessionError(
                    f"Another request ({self._busy}) is in flight; try again when it finished."
                )
            self._resumed[tid] = None
            try:
                return self._begin_turn(items, kind="resume", resumes=tid)
            except BaseException:
                self._resumed.pop(tid, None)
                raise

    # ------------------------------------------------------------------ turns

    def _new_view(self, items: Iterable[StreamItem] | None = None, status: str | None = None) -> TurnView:
        view = TurnView(items, session_id=self.session_id, flush_interval=self.flush_interval, status=status)
        view._intent_handler = self._handle_intent
        return view

    def _begin_turn(self, items: list[dict[str, Any]], *, kind: str, resumes: str | None = None) -> _Run:
        with self._lock:
            if self._busy is not None:
                raise SessionError(
                    f"Another request ({self._busy}) is in flight; try again when it finished."
                )
            self._busy = "resume" if kind == "resume" else "send"
            view = self._new_view(status="connecting")
            run = _Run(view=view, kind=kind, resumes=resumes)
            self._runs.append(run)
        self._request_sync()
        try:
            stream = self._client.create_turn(self.session_id, items, stream=True)
        except BaseException as exc:
            self._creation_failed(run, exc)
            raise
        run.stream = stream
        view._closer = stream.close
        threading.Thread(
            target=self._follow_guarded, args=(run, stream), name="tfwidget-session-turn", daemon=True
        ).start()
        return run

    def _await_created(self, run: _Run, timeout: float) -> TurnView:
        if not run.created.wait(timeout):
            raise SessionError(f"The gateway did not start the turn within {timeout} s.")
        if run.error is not None:
            raise run.error
        return run.view

    def _follow_guarded(self, run: _Run, stream: Iterable[StreamItem]) -> None:
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

    def _follow(self, run: _Run, stream: Iterable[StreamItem]) -> None:
        view = run.view
        try:
            for item in stream:
                if view._stopped.is_set():
                    break
                view.feed(item)
                if isinstance(item.event, TurnCreatedEvent) and not run.created.is_set():
                    self._created(run)
                if isinstance(item.event, TurnDoneEvent):
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

    def _created(self, run: _Run) -> None:
        with self._lock:
            if self._busy in ("send", "resume"):
                self._busy = None
            if run.resumes is not None:
                self._resumed[run.resumes] = run.view.turn_id
        run.created.set()
        self._request_sync()

    def _creation_failed(self, run: _Run, exc: BaseException) -> None:
        with self._lock:
            if run in self._runs:
                self._runs.remove(run)
            if self._busy in ("send", "resume"):
                self._busy = None
            if run.resumes is not None and self._resumed.get(run.resumes) is None:
                self._resumed.pop(run.resumes, None)
        hint = ""
        if run.kind == "resume":
            doing = "resume the paused turn"
        else:
            doing = "send the message"
            pending = self.pending
            if pending:
                hint = (
                    "The session's turn is paused and waits for "
                    + "; ".join(p.describe() for p in pending)
                    + ". Answer with approve() / deny() / answer() (or resume() after signing in) first."
                )
        err = _gateway_error(exc, doing, hint)
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
        events = self._client.list_session_events(self.session_id)
        groups: OrderedDict[str, list[StreamItem]] = OrderedDict()
        now = time.time()
        for entry in reversed(events):  # the API lists newest first
            groups.setdefault(entry.turn_id, []).append(StreamItem(None, entry.event, now))
        for items in groups.values():
            run = _Run(view=self._new_view(items), kind="loaded")
            run.created.set()
            run.finished.set()
            self._runs.append(run)
        newest = latest_hint or self._newest_turn()
        if newest is not None and newest.get("id") not in groups:
            self._follow_existing(str(newest["id"]))
        self._request_sync()

    def _newest_turn(self) -> dict[str, Any] | None:
        """The session's newest turn (it may still be running, so not in the session's events)."""
        try:
            data = self._client.list_turns(self.session_id, limit=1)
        except GatewayError:
            return None
        if isinstance(data, list) and data and isinstance(data[0], dict) and data[0].get("id"):
            return data[0]
        return None

    def _follow_existing(self, turn_id: str) -> None:
        view = self._new_view(status="connecting")
        run = _Run(view=view, kind="follow")
        run.created.set()
        self._runs.append(run)
        stream = self._client.subscribe(self.session_id, turn_id)
        run.stream = stream
        view._closer = stream.close
        threading.Thread(
            target=self._follow_guarded, args=(run, stream), name="tfwidget-session-follow", daemon=True
        ).start()

    # ------------------------------------------------------------------ intents from the front end

    def _handle_intent(self, source: Any, content: dict[str, Any]) -> None:
        """One intent from a card or the controls: act on it and acknowledge it to ``source``."""
        iid = str(content.get("id") or "")
        action = content.get("action")
        with self._lock:
            duplicate = not iid or iid in self._seen_intents
            if not duplicate:
                self._seen_intents[iid] = None
                while len(self._seen_intents) > _MAX_INTENT_IDS:
                    self._seen_intents.popitem(last=False)
        if duplicate:
            self.intents_ignored += 1
            self._ack(source, iid, False, "duplicate intent ignored")
            return
        try:
            ok, why = self._act(source, action, content)
        except Exception as exc:
            text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            if not isinstance(exc, SessionError) or exc.cause is None:  # gateway errors are noticed already
                self._notice("error", text)
            self._ack(source, iid, False, text)
            return
        if ok:
            self.intents_handled += 1
        else:
            self.intents_ignored += 1
        self._ack(source, iid, ok, why)

    def _act(self, source: Any, action: Any, content: dict[str, Any]) -> tuple[bool, str | None]:
        call_id = content.get("call_id")
        call_id = str(call_id) if call_id else None
        if action in ("approve", "deny", "answer", "clear"):
            if self._busy is not None:
                return False, f"{self._busy} in flight"
            with self._lock:
                paused = self._paused_run()
            if paused is None or (isinstance(source, TurnView) and source is not paused.view):
                return False, "this turn no longer waits for a decision"
            if action == "approve":
                complete = self._decide(call_id, "approval", {"kind": "approval", "status": "allow"})
            elif action == "deny":
                decision: dict[str, Any] = {"kind": "approval", "status": "deny"}
                reason = content.get("reason")
                if isinstance(reason, str) and reason.strip():
                    decision["reason"] = reason.strip()
                complete = self._decide(call_id, "approval", decision)
            else:
                text = content.get("text")
                if not isinstance(text, str) or not text.strip():
                    raise ValueError("The answer is empty.")
                complete = self._decide(call_id, "question", {"kind": "question", "text": text})
            if complete and self.auto_resume:
                self._begin_resume()
            return True, None
        if action == "clear":
            if call_id:
                self.clear_decision(call_id)
            return True, None
        if action == "resume":
            if self._busy is not None:
                return False, f"{self._busy} in flight"
            self._begin_resume()
            return True, None
        if action == "send":
            if self._busy is not None:
                return False, f"{self._busy} in flight"
            if self.status in LIVE_STATUSES:
                return False, "a turn is running (cancel it first)"
            if self.pending:
                return False, "the turn waits for actions; answer them first"
            text = content.get("text")
            if not isinstance(text, str) or not text.strip():
                raise ValueError("The message is empty.")
            self._begin_turn([{"type": "user.message", "content": text}], kind="message")
            return True, None
        if action == "cancel":
            if self._busy == "cancel":
                return False, "cancel in flight"

            def run() -> None:
                try:
                    self.cancel(wait=None)
                except SessionError:
                    pass  # noticed already

            threading.Thread(target=run, name="tfwidget-session-cancel", daemon=True).start()
            return True, None
        raise ValueError(f"Unknown action {action!r}.")

    def _ack(self, source: Any, iid: str, ok: bool, why: str | None) -> None:
        try:
            source.send({"type": "ack", "id": iid, "ok": ok, "error": why})
        except Exception:
            pass

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
        with self._lock:
            runs = list(self._runs)
            paused = self._paused_run()
            pending = self.pending
            busy = self._busy
            latest = runs[-1].view if runs else None
            status = "empty" if latest is None else latest.status
            for run in runs:
                tid = run.view.turn_id or ""
                decisions = self._decisions.get(tid, {})
                if run is paused:
                    actions = {
                        "enabled": True,
                        "busy": busy is not None,
                        "decisions": decisions,
                        "sent": False,
                    }
                elif tid in self._resumed or decisions:
                    actions = {
                        "enabled": False,
                        "busy": False,
                        "decisions": decisions,
                        "sent": tid in self._resumed,
                    }
                else:
                    actions = {}
                if run.view._actions != actions:
                    run.view._actions = actions
            waiting = [p for p in pending if p.kind == "mcp_auth" or p.decision is None]
            controls = {
                "session_id": self.session_id,
                "agent_name": self.agent_name,
                "status": status,
                "turns": len(runs),
                "busy": busy,
                "can_send": busy is None and not pending and status not in LIVE_STATUSES,
                "can_cancel": busy != "cancel" and status in LIVE_STATUSES,
                "can_resume": busy is None
                and paused is not None
                and bool(pending)
                and all(p.kind == "mcp_auth" or p.decision is not None for p in pending),
                "pending": [p.describe() for p in waiting],
                "decided": sum(1 for p in pending if p.decision is not None),
                "notices": [dict(n) for n in self._notices],
            }
            children = (*(r.view for r in runs), self._controls_widget)
        if self._controls_widget._controls != controls:
            self._controls_widget._controls = controls
        if tuple(self.children) != children:
            self.children = children


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
            view = SessionView(client, str(session["id"]), agent_name=agent_name, auto_resume=auto_resume,
                               flush_interval=flush_interval, own_client=own)  # fmt: skip
            return view
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
