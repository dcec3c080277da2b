"""The session state machine behind :class:`~tfwidget.session.SessionView`: no I/O, no widgets.

It holds the turns a session view follows (:class:`Run`, oldest first), what request is in flight
(``busy``), the decisions collected for the paused turn, and which paused turns were resumed. It answers
the questions every action asks first (may a message be sent now? what does the paused turn wait on? which
input resumes it?) with one rule each, so the Python API and the buttons behave the same.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .contracts import LIVE_STATUSES, Busy, McpServerView, PauseKind, RunKind, SessionStatus
from .errors import GatewayError
from .view import pauses_view

if TYPE_CHECKING:
    from .widget import TurnView

__all__ = ["Busy", "PendingAction", "PendingActionsError", "Run", "RunKind", "SessionError", "SessionState"]


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

    kind: PauseKind
    tool_call_id: str | None
    thread_id: str | None
    tool_name: str | None = None
    arguments: str | None = None
    question: str | None = None
    options: tuple[Any, ...] = ()
    servers: tuple[McpServerView, ...] = ()
    decision: dict[str, Any] | None = None

    def describe(self) -> str:
        """A short human description, e.g. ``approval of process_refund (call_1, thread main)``."""
        if self.kind == "mcp_auth":
            names = ", ".join(str(s.get("name") or s.get("id")) for s in self.servers) or "an MCP server"
            return f"sign-in to {names} (then resume())"
        what = "approval of" if self.kind == "approval" else "an answer to"
        return f"{what} {self.tool_name or 'a tool call'} ({self.tool_call_id}, thread {self.thread_id})"


@dataclass(eq=False)
class Run:
    """One turn the view follows: its stream and how far it got."""

    view: TurnView
    key: str
    kind: RunKind = "message"
    resumes: str | None = None  # the paused turn a resume turn answers
    created: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None
    stream: Any = None


class SessionState:
    """Turns, the request in flight, collected decisions and resumed pauses of one session view.

    Every method takes the state's lock itself (it is re-entrant): callers may hold it across calls.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.runs: list[Run] = []
        self.busy: Busy | None = None
        self.closed = False
        self.decisions: dict[str, dict[str, dict[str, Any]]] = {}  # paused turn id -> call id -> decision
        self.resumed: dict[str, str | None] = {}  # paused turn id -> its resume turn (None: in flight)
        self._keys = 0

    def new_key(self) -> str:
        with self.lock:
            self._keys += 1
            return f"t{self._keys}"

    # ------------------------------------------------------------------ reading

    @property
    def latest(self) -> Run | None:
        with self.lock:
            return self.runs[-1] if self.runs else None

    def status(self) -> SessionStatus:
        latest = self.latest
        return "empty" if latest is None else latest.view.status

    def run_by_key(self, key: str) -> Run | None:
        with self.lock:
            return next((r for r in self.runs if r.key == key), None)

    def paused_run(self) -> Run | None:
        """The newest turn when it is paused and not resumed yet."""
        with self.lock:
            run = self.latest
            if run is None:
                return None
            tid = run.view.turn_id
            if run.view.status != "paused" or tid is None or tid in self.resumed:
                return None
            return run

    def pending(self) -> list[PendingAction]:
        """What the paused newest turn waits on, with the decisions collected so far."""
        with self.lock:
            run = self.paused_run()
            if run is None:
                return []
            decisions = self.decisions.get(run.view.turn_id or "", {})
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

    # ------------------------------------------------------------------ rules

    def why_not_send(self) -> str | None:
        """Why a new message cannot be sent now (``None``: it can). The same rule for Python and the box."""
        with self.lock:
            if self.closed:
                return (
                    "This session view is closed; open the session again with tfwidget.chat(session_id=...)."
                )
            if self.busy is not None:
                return f"Another request ({self.busy}) is in flight; try again when it finished."
            latest = self.latest
            if latest is not None and (latest.view.status in LIVE_STATUSES or not latest.created.is_set()):
                return (
                    f"A turn is still running ({latest.view.status}): wait() for it, or cancel() it first. "
                    "The message was not sent."
                )
            pending = self.pending()
            if pending:
                return (
                    "The session's turn is paused and waits for "
                    + "; ".join(p.describe() for p in pending)
                    + ". Answer with approve() / deny() / answer() (or resume() after signing in) first."
                )
            return None

    def check_open(self) -> None:
        if self.closed:
            raise SessionError("This session view is closed; open the session again with tfwidget.chat().")

    def find_pending(self, call_id: str | None, kind: PauseKind) -> tuple[Run, PendingAction]:
        """The paused run and its pending action ``call_id`` of ``kind`` (the only one when ``None``)."""
        with self.lock:
            self.check_open()
            pending = self.pending()
            run = self.paused_run()
            if run is None or not pending:
                latest = self.latest
                state = "empty" if latest is None else latest.view.status
                if latest is not None and latest.view.turn_id in self.resumed:
                    raise SessionError(
                        f"Turn {latest.view.turn_id!r} was already resumed; its actions cannot be changed any more."
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

    def decide(self, call_id: str | None, kind: PauseKind, decision: dict[str, Any]) -> bool:
        """Record a decision; returns True when every pending tool call now has one."""
        with self.lock:
            run, action = self.find_pending(call_id, kind)
            self.decisions.setdefault(run.view.turn_id or "", {})[action.tool_call_id or ""] = dict(decision)
            pending = self.pending()
        return bool(pending) and all(p.kind != "mcp_auth" and p.decision is not None for p in pending)

    def clear_decision(self, call_id: str) -> None:
        with self.lock:
            run = self.paused_run()
            if run is not None:
                self.decisions.get(run.view.turn_id or "", {}).pop(call_id, None)

    def resume_items(self) -> tuple[Run, list[dict[str, Any]]]:
        """The paused run and the input of the turn that resumes it (every decision at once)."""
        with self.lock:
            self.check_open()
            pending = self.pending()
            run = self.paused_run()
            if run is None or not pending:
                latest = self.latest
                if latest is not None and latest.view.turn_id in self.resumed:
                    raise SessionError(f"Turn {latest.view.turn_id!r} was already resumed.")
                state = "empty" if latest is None else latest.view.status
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

    # ------------------------------------------------------------------ transitions

    def start(self, run: Run, busy: Busy) -> None:
        """A request creating ``run`` starts (raises when another is in flight)."""
        with self.lock:
            self.check_open()
            if self.busy is not None:
                raise SessionError(f"Another request ({self.busy}) is in flight; try again when it finished.")
            self.busy = busy
            if run.resumes is not None:
                self.resumed[run.resumes] = None
            self.runs.append(run)

    def created(self, run: Run) -> None:
        with self.lock:
            if self.busy in ("send", "resume"):
                self.busy = None
            if run.resumes is not None:
                self.resumed[run.resumes] = run.view.turn_id

    def creation_failed(self, run: Run) -> None:
        with self.lock:
            if run in self.runs:
                self.runs.remove(run)
            if self.busy in ("send", "resume"):
                self.busy = None
            if run.resumes is not None and self.resumed.get(run.resumes) is None:
                self.resumed.pop(run.resumes, None)
