"""The intent protocol between a session view's front end and Python.

The front end sends ``{"type": "intent", "id", "action", ...}`` (``action``: ``send``, ``approve``,
``deny``, ``answer``, ``clear``, ``resume``, ``cancel``; ``turn``: the key of the turn whose card was
clicked, absent for the controls). Python acts on it and answers ``{"type": "ack", "id", "ok", "error"}``
to the same turn (or the controls). A repeated id is ignored (and acknowledged as such), so a double click
or a re-sent message acts once.

The page is not trusted: each intent is checked against :class:`tfwidget.contracts.Intent` (no other key,
each value of its type, strings of bounded length) before anything else. An intent that does not fit gets
an error ack naming the field (``invalid intent: action: ...``) and nothing else happens: it acts on
nothing, notices nothing and does not use up its id.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import ConfigDict, TypeAdapter, ValidationError, with_config

from ._session_state import SessionError
from ._threads import new_thread
from .contracts import Ack, Intent, PauseKind
from .widget import TurnView

if TYPE_CHECKING:
    from .session import SessionView

MAX_INTENT_IDS = 2048
#: The longest ``id``, ``turn`` or ``call_id`` an intent may carry (the page's ids are UUIDs).
MAX_ID_CHARS = 256
#: The longest ``text`` or ``reason`` (a message typed or pasted into the page).
MAX_TEXT_CHARS = 1_000_000
_ID_FIELDS = ("id", "turn", "call_id")


class _CheckedIntent(Intent):
    """The contract's Intent as pydantic checks it: strict types, no other key, bounded strings."""


_INTENT = TypeAdapter(
    with_config(ConfigDict(strict=True, extra="forbid", str_max_length=MAX_TEXT_CHARS))(_CheckedIntent)
)


def invalid_intent(content: Any) -> str | None:
    """Why ``content`` is not an :class:`~tfwidget.contracts.Intent` (the field and what is wrong with it,
    e.g. ``"action: Input should be 'send', ..."``), or ``None`` when it is one."""
    try:
        _INTENT.validate_python(content)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        first = errors[0]
        where = ".".join(_short(str(part)) for part in first["loc"]) or "intent"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        return f"{where}: {first['msg']}{more}"
    for name in _ID_FIELDS:
        value = content.get(name)
        if isinstance(value, str) and len(value) > MAX_ID_CHARS:
            return f"{name}: String should have at most {MAX_ID_CHARS} characters"
    return None


def _short(text: str, limit: int = 64) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


#: ``act(source, action, content) -> (ok, why)``; raising means "refused" (the error's text is the why).
Act = Callable[[Any, Any, dict[str, Any]], tuple[bool, str | None]]


class IntentDispatcher:
    """Deduplicates intents, runs them through ``act`` and acknowledges each to its source.

    ``notice(text)`` is called for errors the user has not seen yet (anything but a gateway error the
    session already noticed, i.e. a :class:`~tfwidget.session.SessionError` with a ``cause``).
    """

    def __init__(self, act: Act, notice: Callable[[str], None]) -> None:
        self._act = act
        self._notice = notice
        self._seen: OrderedDict[str, None] = OrderedDict()
        self.handled = 0
        self.ignored = 0

    def handle(self, source: Any, content: dict[str, Any]) -> None:
        why = invalid_intent(content)
        if why is not None:  # from the page, which is not trusted: act on nothing, keep no id
            self.ignored += 1
            iid = content.get("id") if isinstance(content, dict) else None
            ack(
                source,
                iid if isinstance(iid, str) and len(iid) <= MAX_ID_CHARS else "",
                False,
                f"invalid intent: {why}",
            )
            return
        iid = content["id"]
        duplicate = not iid or iid in self._seen
        if not duplicate:
            self._seen[iid] = None
            while len(self._seen) > MAX_INTENT_IDS:
                self._seen.popitem(last=False)
        if duplicate:
            self.ignored += 1
            ack(source, iid, False, "duplicate intent ignored")
            return
        try:
            ok, why = self._act(source, content.get("action"), content)
        except Exception as exc:
            text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            if getattr(exc, "cause", None) is None:  # gateway errors are noticed where they happen
                self._notice(text)
            self.ignored += 1
            ack(source, iid, False, text)
            return
        if ok:
            self.handled += 1
        else:
            self.ignored += 1
        ack(source, iid, ok, why)


def ack(source: Any, iid: str, ok: bool, why: str | None) -> None:
    """Acknowledge intent ``iid`` to the widget it came from."""
    send = getattr(source, "_send_msg", None) or source.send  # a SessionView's own send() is its API
    message: Ack = {"type": "ack", "id": iid, "ok": ok, "error": why}
    try:
        send(message)
    except Exception:
        pass


def act(view: SessionView, source: Any, action: Any, content: dict[str, Any]) -> tuple[bool, str | None]:
    """Act on one intent of ``view`` with the same rules as the Python API (the same errors, as the ack's
    text). Returns ``(ok, why)``; raising means refused."""
    call_id = content.get("call_id")
    call_id = str(call_id) if call_id else None
    if action in ("approve", "deny", "answer", "clear"):
        view._state.check_open()
        if view._state.busy is not None:
            return False, f"{view._state.busy} in flight"
        paused = view._state.paused_run()
        if paused is None or (isinstance(source, TurnView) and source is not paused.view):
            return False, "this turn no longer waits for a decision"
        if action == "clear":
            if call_id:
                view.clear_decision(call_id)
            return True, None
        if action == "approve":
            decision: dict[str, Any] = {"kind": "approval", "status": "allow"}
            kind: PauseKind = "approval"
        elif action == "deny":
            decision = {"kind": "approval", "status": "deny"}
            reason = content.get("reason")
            if isinstance(reason, str) and reason.strip():
                decision["reason"] = reason.strip()
            kind = "approval"
        else:
            text = content.get("text")
            if not isinstance(text, str) or not text.strip():
                raise ValueError("The answer is empty.")
            decision, kind = {"kind": "question", "text": text}, "question"
        complete = view._state.decide(call_id, kind, decision)
        view._request_sync()
        if complete and view.auto_resume:
            view._begin_resume()
        return True, None
    if action == "resume":
        if view._state.busy is not None:
            return False, f"{view._state.busy} in flight"
        view._begin_resume()
        return True, None
    if action == "send":
        why = view._state.why_not_send()
        if why is not None:
            view._notice("error", why)  # as for send() from Python
            return False, why
        text = content.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ValueError("The message is empty.")
        view._begin_turn([{"type": "user.message", "content": text}], kind="message")
        return True, None
    if action == "cancel":
        view._state.check_open()
        if view._state.busy == "cancel":
            return False, "cancel in flight"

        def run() -> None:
            try:
                view.cancel(wait=None)
            except SessionError:
                pass  # noticed already

        new_thread(run, "tfwidget-session-cancel").start()
        return True, None
    raise ValueError(f"Unknown action {action!r}.")
