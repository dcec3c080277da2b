"""The simulated gateway: a real HTTP/1.1 server on loopback speaking the turn-event protocol."""

from __future__ import annotations

import base64
import hmac
import json
import math
import os
import re
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from .faults import Faults, FaultState
from .sandbox import SandboxStore, serve_file
from .scenarios import SUBJECT, Scenario, continuation, merge_turn_events, new_id, story_for_input

__all__ = ["SimTurn", "Simulator", "serve"]

BASE_PATH = "/api/llm"
_MAX_BODY = 10 * 1024 * 1024
_MAX_CHUNK_LINE = 1024  # a chunk-size line longer than this is malformed
_READ_PIECE = 1 << 20  # request bodies are read in pieces of at most this size
_BATCH = 512
_INPUT_TYPES = ("user.message", "user.tool_approval", "user.tool_response")


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ApiError(Exception):
    """An error answered with the gateway's ``{"error": {...}}`` body."""

    def __init__(
        self, status: int, message: str, type_: str, code: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_
        self.code = code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "code": self.code}}


def _bad(message: str, code: str = "invalid_request", status: int = 400) -> ApiError:
    return ApiError(status, message, "invalid_request_error", code)


def _not_found(message: str) -> ApiError:
    return ApiError(404, message, "not_found_error", "not_found")


def _conflict(message: str, code: str) -> ApiError:
    return ApiError(409, message, "conflict_error", code)


# ---------------------------------------------------------------------- store


class SimTurn:
    """One turn: its full event log (sequence numbers 1..N) and the producer filling it."""

    def __init__(
        self,
        sim: Simulator,
        session: _Session,
        steps: list[tuple[float, dict[str, Any]]],
        previous_turn_id: str | None,
        input: list[dict[str, Any]],
    ) -> None:
        self.sim = sim
        self.session = session
        created = steps[0][1]
        self.id: str = created["turn_id"]
        self.previous_turn_id = previous_turn_id
        self.input = input
        self.created_at = _now_iso()
        self.created_by = created.get("created_by") or dict(SUBJECT)
        self.cond = threading.Condition()
        self.events: list[dict[str, Any]] = []
        self.frames: list[bytes] = []
        self.finished = False
        self.state: dict[str, Any] = {"status": "running"}
        self.interrupt = threading.Event()
        self.resumed_by: str | None = None
        self._steps = steps
        self._timestamps: dict[str, str] = {}
        self._merged: list[dict[str, Any]] | None = None
        self.thread = threading.Thread(
            target=self._produce, name=f"tfwidget-sim-turn-{self.id[-6:]}", daemon=True
        )

    # -- producer
    def _prepare(self, event: dict[str, Any]) -> dict[str, Any]:
        now = _now_iso()
        etype = event.get("type")
        eid = event.get("id")
        if "created_at" in event or etype != "model.message.delta":
            event["created_at"] = now
        if etype == "turn.created":
            event["created_at"] = self.created_at
        if isinstance(eid, str) and eid not in self._timestamps:
            self._timestamps[eid] = event["created_at"] if "created_at" in event else now
        state = event.get("state")
        if isinstance(state, dict) and etype in ("turn.done", "thread.done"):
            if etype == "turn.done":
                state["completed_at"] = now
            for key in ("output",):
                out = state.get(key)
                if isinstance(out, dict) and out.get("id") in self._timestamps:
                    out["created_at"] = self._timestamps[out["id"]]
            for action in state.get("required_actions") or []:
                if isinstance(action, dict) and action.get("id") in self._timestamps:
                    action["created_at"] = self._timestamps[action["id"]]
        return event

    def _produce(self) -> None:
        batch: list[dict[str, Any]] = []
        next_t = time.monotonic()
        try:
            for delay, event in self._steps:
                speed = self.sim.speed
                wait = 0.0
                if speed and math.isfinite(speed) and delay > 0:
                    next_t += delay / speed
                    wait = next_t - time.monotonic()
                else:
                    next_t = time.monotonic()
                if wait > 0.001 or len(batch) >= _BATCH:
                    if batch and not self.append(batch):
                        return
                    batch = []
                    if wait > 0.001 and self.interrupt.wait(wait):
                        return
                if self.interrupt.is_set():
                    return
                batch.append(self._prepare(event))
            if batch:
                self.append(batch)
        finally:
            self._steps = []

    def append(self, events: list[dict[str, Any]]) -> bool:
        """Append events to the log; False once the turn has finished (nothing appended then)."""
        frames = []
        with self.cond:
            if self.finished:
                return False
            seq = len(self.events)
            for event in events:
                seq += 1
                text = json.dumps(event, ensure_ascii=False, separators=(", ", ": "))
                frames.append(b"id: %d\ndata: %s\n\n" % (seq, text.encode("utf-8")))
            self.events.extend(events)
            self.frames.extend(frames)
            last = events[-1] if events else {}
            if last.get("type") == "turn.done":
                self.finished = True
                self.state = last.get("state") or {"status": "done"}
                self.interrupt.set()
            self.cond.notify_all()
        return True

    def cancel(self, reason: str) -> bool:
        """End the running turn with ``turn.done`` status cancelled; False if already finished."""
        self.interrupt.set()
        now = _now_iso()
        done = {
            "type": "turn.done",
            "id": new_id(),
            "thread_id": None,
            "created_at": now,
            "state": {"status": "cancelled", "reason": reason, "completed_at": now},
        }
        return self.append([done])

    # -- views
    @property
    def status(self) -> str:
        return str(self.state.get("status", "running"))

    @property
    def paused(self) -> bool:
        return self.finished and self.status == "done" and bool(self.state.get("required_actions"))

    def as_dict(self) -> dict[str, Any]:
        """The ``Turn`` object of the API."""
        with self.cond:
            state = json.loads(json.dumps(self.state))
        return {
            "id": self.id,
            "session_id": self.session.id,
            "previous_turn_id": self.previous_turn_id,
            "input": self.input,
            "state": state,
            "created_by_subject": self.created_by,
            "created_at": self.created_at,
        }

    def snapshot(self) -> list[dict[str, Any]]:
        with self.cond:
            return list(self.events)

    def merged(self) -> list[dict[str, Any]]:
        """Listed form of a finished turn: merged events, no deltas, no ``turn.*``."""
        with self.cond:
            if self._merged is None or not self.finished:
                merged = merge_turn_events(self.events)
                if not self.finished:
                    return merged
                self._merged = merged
            return self._merged

    def pending(self) -> list[dict[str, Any]]:
        """What a paused turn waits for (see :func:`tfwidget.sim.scenarios.continuation`)."""
        if not self.paused:
            return []
        calls: dict[str, dict[str, Any]] = {}
        threads = {str(ev.get("thread_id")): ev for ev in self.merged() if ev.get("type") == "thread.created"}
        for ev in self.merged():
            if ev.get("type") == "model.message":
                for tc in ev.get("tool_calls") or []:
                    if isinstance(tc, dict):
                        calls[str(tc.get("id"))] = tc
        out: list[dict[str, Any]] = []
        for action in self.state.get("required_actions") or []:
            atype = action.get("type")
            if atype == "mcp.auth_required":
                out.append(
                    {
                        "kind": "mcp_auth",
                        "thread_id": action.get("thread_id"),
                        "tool_call_id": None,
                        "servers": action.get("mcp_servers") or [],
                    }
                )
                continue
            kind = "approval" if atype == "tool.approval_required" else "question"
            for ref in action.get("tool_calls") or []:
                call = calls.get(str(ref.get("id")), {})
                fn = call.get("function") or {}
                out.append(
                    {
                        "kind": kind,
                        "thread_id": action.get("thread_id") or "main",
                        "tool_call_id": ref.get("id"),
                        "name": fn.get("name"),
                        "arguments": fn.get("arguments"),
                        "thread_info": threads.get(str(action.get("thread_id"))),
                    }
                )
        return out


class _Session:
    def __init__(self, agent_name: str) -> None:
        self.id = new_id().lower()
        self.agent_name = agent_name
        self.created_at = _now_iso()
        self.updated_at = self.created_at
        self.turns: list[SimTurn] = []

    def as_dict(self) -> dict[str, Any]:
        return {
            "type": "session",
            "id": self.id,
            "agent_name": self.agent_name,
            "title": None,
            "created_by_subject": dict(SUBJECT),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }

    def turn(self, turn_id: str) -> SimTurn:
        for t in self.turns:
            if t.id == turn_id:
                return t
        raise _not_found(f"Turn {turn_id!r} not found in session {self.id!r}")


# ---------------------------------------------------------------------- HTTP


class _Server(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True
    # the listen backlog: a burst of hundreds of concurrent subscribers must queue, not be reset (was 5)
    request_queue_size = 1024

    def __init__(self, sim: Simulator, port: int) -> None:
        self.sim = sim
        self.connections: set[socket.socket] = set()
        self.conn_lock = threading.Lock()
        super().__init__(("127.0.0.1", port), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.conn_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.conn_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:  # quiet on client drops
        pass

    def close_connections(self) -> None:
        with self.conn_lock:
            conns = list(self.connections)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Abort(Exception):
    """The connection was dropped (by the client, a fault or shutdown)."""


_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    (m, re.compile("^" + p + "$"), h)
    for m, p, h in [
        ("POST", r"/v1/agents/sessions", "create_session"),
        ("GET", r"/v1/agents/sessions", "list_sessions"),
        ("GET", r"/v1/agents/sessions/(?P<sid>[^/]+)", "get_session"),
        ("POST", r"/v1/agents/sessions/(?P<sid>[^/]+)/cancel", "cancel"),
        ("GET", r"/v1/agents/sessions/(?P<sid>[^/]+)/events", "list_session_events"),
        ("GET", r"/v1/agents/sessions/(?P<sid>[^/]+)/turns", "list_turns"),
        ("POST", r"/v1/agents/sessions/(?P<sid>[^/]+)/turns", "create_turn"),
        ("GET", r"/v1/agents/sessions/(?P<sid>[^/]+)/turns/(?P<tid>[^/]+)", "get_turn"),
        ("POST", r"/v1/agents/sessions/(?P<sid>[^/]+)/turns/(?P<tid>[^/]+)/subscribe", "subscribe"),
        ("GET", r"/v1/agents/sessions/(?P<sid>[^/]+)/turns/(?P<tid>[^/]+)/events", "list_turn_events"),
        ("GET", r"/v1/agents/sandbox/(?P<sbx>[^/]+)/file", "sandbox_file"),
    ]
]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # small SSE frames and JSON answers go out at once (no ~40 ms delay)
    server: _Server
    server_version = "tfwidget-sim"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        # every blocking read or write of this connection gives up after the simulator's idle timeout: an idle
        # keep-alive connection, a half-sent request or a client that stopped reading frees its thread
        self.request.settimeout(self.server.sim.idle_timeout or None)
        self._request_timer: threading.Timer | None = None
        super().setup()

    def handle_one_request(self) -> None:
        # a client trickling a request byte by byte never trips the per-read timeout: the whole request (line,
        # headers, body) must arrive within twice the idle timeout, or the connection is closed
        timeout = self.server.sim.idle_timeout
        if timeout:
            self._request_timer = threading.Timer(2 * timeout, self._request_too_slow)
            self._request_timer.daemon = True
            self._request_timer.start()
        try:
            super().handle_one_request()
        finally:
            self._request_read()

    def _request_read(self) -> None:
        timer, self._request_timer = self._request_timer, None
        if timer is not None:
            timer.cancel()
            # its thread ends right away once cancelled; joined here so that stop(), which joins the
            # connection threads, leaves no timer thread behind
            timer.join()

    def _request_too_slow(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # -- plumbing
    def _send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        try:
            self.close_connection = True
            err = ApiError(code, message or "Bad request", "invalid_request_error", "bad_request")
            self._send_json(code, err.body(), {"Connection": "close"})
        except OSError:
            pass

    def _read_raw(self) -> bytes:
        length = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._read_chunked()
        if not length:
            return b""
        length = length.strip()
        if not (length.isdigit() and length.isascii() and len(length) <= 20):
            self.close_connection = True
            raise _bad(f"Invalid Content-Length header {length[:40]!r}: expected a non-negative integer")
        n = int(length)
        if n > _MAX_BODY:
            self.close_connection = True
            raise ApiError(
                413,
                f"Request body too large ({n} bytes; at most {_MAX_BODY})",
                "invalid_request_error",
                "body_too_large",
            )
        return self._read_exactly(n)

    def _read_exactly(self, n: int) -> bytes:
        """Read ``n`` body bytes in bounded pieces (a short read means the client went away)."""
        out = bytearray()
        while len(out) < n:
            piece = self.rfile.read(min(_READ_PIECE, n - len(out)))
            if not piece:
                self.close_connection = True
                raise _Abort()
            out += piece
        return bytes(out)

    @staticmethod
    def _parse_json(raw: bytes) -> Any:
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except RecursionError:
            raise _bad("Request body is not valid JSON: nested too deeply", "invalid_json") from None
        except ValueError as exc:  # also UnicodeDecodeError and integers with too many digits
            raise _bad(f"Request body is not valid JSON: {str(exc)[:200]}", "invalid_json") from None

    def _read_chunked(self) -> bytes:
        out = bytearray()
        for _ in range(_MAX_BODY):  # bounded: every round reads at least one byte or ends
            line = self.rfile.readline(_MAX_CHUNK_LINE + 1)
            if not line:
                self.close_connection = True
                raise _Abort()
            text = line.split(b";")[0].strip()
            if (
                len(line) > _MAX_CHUNK_LINE
                or not text
                or len(text) > 16
                or text.strip(b"0123456789abcdefABCDEF")
            ):
                self.close_connection = True
                raise _bad(f"Invalid chunk size line {line[:40]!r}", "invalid_chunk")
            size = int(text, 16)
            if size == 0:
                for _ in range(100):  # trailer lines, bounded
                    if self.rfile.readline(_MAX_CHUNK_LINE) in (b"\r\n", b"\n", b""):
                        break
                return bytes(out)
            if len(out) + size > _MAX_BODY:
                self.close_connection = True
                raise ApiError(
                    413,
                    f"Request body too large (a chunk of {size} bytes; at most {_MAX_BODY} in all)",
                    "invalid_request_error",
                    "body_too_large",
                )
            out += self._read_exactly(size)
            self.rfile.readline(_MAX_CHUNK_LINE)
        raise _bad("Too many chunks", "invalid_chunk")

    def _dispatch(self, method: str) -> None:
        sim = self.server.sim
        try:
            raw = self._read_raw()
            self._request_read()  # the request is in: what follows (a stream) may take as long as it takes
            if not self._authorized():
                raise ApiError(
                    401,
                    "Invalid or missing API key: send 'Authorization: Bearer <token>'",
                    "authentication_error",
                    "unauthorized",
                )
            parts = urlsplit(self.path)
            path = parts.path
            if not path.startswith(BASE_PATH + "/"):
                raise _not_found(f"No route for {method} {path}")
            sub = path[len(BASE_PATH) :].rstrip("/") or "/"
            allowed = False
            for m, pattern, handler in _ROUTES:
                match = pattern.match(sub)
                if not match:
                    continue
                allowed = True
                if m != method:
                    continue
                params = {k: unquote(v) for k, v in match.groupdict().items()}
                query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
                body = self._parse_json(raw) if method == "POST" else None
                getattr(sim, "_h_" + handler)(self, params, query, body)
                return
            if allowed:
                raise ApiError(
                    405,
                    f"Method {method} not allowed on {sub}",
                    "invalid_request_error",
                    "method_not_allowed",
                )
            raise _not_found(f"No route for {method} {sub}")
        except ApiError as err:
            try:
                headers = dict(err.headers or {})
                if self.close_connection:  # the rest of the request was not read: say so, then close
                    headers["Connection"] = "close"
                self._send_json(err.status, err.body(), headers)
            except OSError:
                self.close_connection = True
        except (_Abort, OSError):
            self.close_connection = True

    def _authorized(self) -> bool:
        header = self.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return False
        return hmac.compare_digest(token.strip().encode(), self.server.sim.api_key.encode())

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    # -- streaming
    def _write(self, data: bytes) -> None:
        if not data:
            return
        try:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        except OSError as exc:
            raise _Abort() from exc

    def _abort_connection(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        raise _Abort()

    def stream_turn(self, turn: SimTurn, after: int, faults: FaultState | None) -> None:
        """Answer with the turn's SSE from ``after`` (exclusive), following it live to turn.done."""
        sim = self.server.sim
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("X-Accel-Buffering", "no")
        self.end_headers()
        if faults is not None and not faults.active:
            faults = None
        sent = 0
        cursor = after
        if faults is not None and faults.faults.retry_ms is not None:
            self._write(b"retry: %d\n\n" % faults.faults.retry_ms)
        last_write = time.monotonic()
        while True:
            with turn.cond:
                while len(turn.frames) <= cursor and not turn.finished and not sim._stopping.is_set():
                    idle = time.monotonic() - last_write
                    if sim.keepalive and idle >= sim.keepalive:
                        break
                    turn.cond.wait(0.5 if not sim.keepalive else min(0.5, sim.keepalive - idle))
                frames = turn.frames[cursor : cursor + _BATCH]
                finished = turn.finished
                total = len(turn.frames)
            if sim._stopping.is_set():
                self._abort_connection()
            if not frames:
                if finished and cursor >= total:
                    break
                self._write(b": keep-alive\n\n")
                last_write = time.monotonic()
                continue
            if faults is None:
                self._write(b"".join(frames))
                sent += len(frames)
            else:
                buf = bytearray()
                for frame in frames:
                    stall = faults.should_stall(sent)
                    if stall:
                        self._write(bytes(buf))
                        buf.clear()
                        if sim._stopping.wait(stall):
                            self._abort_connection()
                    if faults.should_drop(sent):
                        self._write(bytes(buf))
                        self._abort_connection()
                    buf += frame
                    sent += 1
                    bad = faults.malformed_frame(sent)
                    if bad:
                        buf += bad
                    every = faults.faults.comment_every
                    if every and sent % every == 0:
                        buf += b": simulator comment\n\n"
                self._write(bytes(buf))
            cursor += len(frames)
            last_write = time.monotonic()
        try:
            self.wfile.write(b"0\r\n\r\n")
        except OSError as exc:
            raise _Abort() from exc


# ---------------------------------------------------------------------- simulator


def _ensure_int(value: Any, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    if isinstance(value, str) and re.fullmatch(r"-?\d{1,30}", value.strip()):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(f"{name} must be an integer, got {value!r}", "invalid_parameter")
    if minimum is not None and value < minimum:
        raise _bad(f"{name} must be >= {minimum}, got {value}", "invalid_parameter")
    if maximum is not None and value > maximum:
        raise _bad(f"{name} must be <= {maximum}, got {value}", "invalid_parameter")
    return value


def _encode_token(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _decode_token(token: str, **expected: Any) -> int:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(data, dict) or any(data.get(k) != v for k, v in expected.items()):
            raise ValueError
        offset = data["offset"]
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise ValueError
        return offset
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, RecursionError):
        raise _bad(f"Invalid page_token {token[:80]!r}", "invalid_page_token") from None


def _page(
    items: list[Any], query: dict[str, str], *, default_limit: int, max_limit: int, **token_fields: Any
) -> dict[str, Any]:
    limit = _ensure_int(query.get("limit", default_limit), "limit", minimum=1, maximum=max_limit)
    offset = 0
    if query.get("page_token"):
        offset = _decode_token(query["page_token"], **token_fields)
    page = items[offset : offset + limit]
    pagination: dict[str, Any] = {"limit": limit}
    if offset + limit < len(items):
        pagination["next_page_token"] = _encode_token({**token_fields, "offset": offset + limit})
    return {"data": page, "pagination": pagination}


class Simulator:
    """A simulated TrueFoundry gateway on ``127.0.0.1``, serving scripted agent turns.

    It implements the agent-session endpoints of the gateway (create session, create turn,
    subscribe, get turn, list turn events, list session events, list turns, cancel) with the
    same paths, JSON bodies, statuses, ``{"error": {"message", "type", "code"}}`` error bodies
    and SSE framing (``id: N`` then ``data: {json}`` then a blank line), so the official client
    pointed at :attr:`base_url` with :attr:`api_key` works unchanged.

    On :meth:`start` it creates a session (agent ``agent_name``) and a first turn playing
    ``scenario``, already running. Each turn's events are produced by a background thread on the
    scenario's timeline (delays divided by ``speed``; ``0`` or ``inf`` means as fast as possible)
    and kept in a full log, so subscribers can replay from any cursor and then follow live.
    New turns (``POST .../turns``) run a scripted agent: see
    :func:`tfwidget.sim.scenarios.story_for_input` and
    :func:`tfwidget.sim.scenarios.continuation`.

    Args:
        scenario: a name from :data:`tfwidget.sim.SCENARIO_NAMES`, the path of a ``.sse`` or
            ``.jsonl`` recording, or a :class:`Scenario`.
        speed: time scale of the timeline; adjustable while running via :attr:`speed`.
        port: TCP port on 127.0.0.1 (0 picks a free one).
        faults: a :class:`Faults` configuration; adjustable while running via :attr:`faults`.
        agent_name: agent name of the first session.
        keepalive: seconds of silence after which a ``:`` keep-alive comment is sent on open
            streams (``None`` or 0 disables them).
        idle_timeout: seconds a connection may stay silent (no request byte while one is expected, no
            progress writing to a client that stopped reading) before it is closed and its thread ends;
            ``None`` waits forever.
        **scenario_options: passed to the scenario generator, e.g. ``deltas=100_000`` for
            ``"large"``.

    Usable as a context manager, or with :meth:`start` and :meth:`stop`.
    """

    def __init__(
        self,
        scenario: str | os.PathLike[str] | Scenario = "sub_agents",
        *,
        speed: float = 1.0,
        port: int = 0,
        faults: Faults | None = None,
        agent_name: str = "sim-agent",
        keepalive: float | None = 15.0,
        idle_timeout: float | None = 60.0,
        **scenario_options: Any,
    ) -> None:
        self.scenario = Scenario.load(scenario, **scenario_options)
        self.speed = speed
        self.keepalive = keepalive or 0.0
        if idle_timeout is not None and not idle_timeout > 0:
            raise ValueError(
                f"idle_timeout must be a positive number of seconds or None, not {idle_timeout!r}"
            )
        self.idle_timeout = idle_timeout
        self.agent_name = agent_name
        self._port = port
        self._api_key = "tfy-sim-" + secrets.token_urlsafe(24)
        self._fault_state = FaultState(faults)
        self._lock = threading.RLock()
        self._sessions: dict[str, _Session] = {}
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.session_id: str | None = None
        self.turn_id: str | None = None
        self.sandbox = SandboxStore()
        """The sandboxes' files (``sim.sandbox.put(sandbox_id, path, data)``, ``.gone``, ``.failing``)."""

    # -- public properties
    @property
    def speed(self) -> float:
        """Time scale of all timelines (read by producers at every step)."""
        return self._speed

    @speed.setter
    def speed(self, value: float) -> None:
        value = float(value)
        if value < 0 or math.isnan(value):
            raise ValueError("speed must be >= 0 (0 or inf: as fast as possible)")
        self._speed = value if value > 0 else math.inf

    @property
    def api_key(self) -> str:
        """The bearer token every request must carry (generated per simulator)."""
        return self._api_key

    @property
    def faults(self) -> Faults:
        """The active fault configuration; assign a new :class:`Faults` to change it live."""
        return self._fault_state.faults

    @faults.setter
    def faults(self, value: Faults | None) -> None:
        self._fault_state = FaultState(value)

    @property
    def fault_stats(self) -> dict[str, int]:
        """How many drops, stalls, failures and malformed frames were injected so far."""
        s = self._fault_state
        return {"drops": s.drops, "stalls": s.stalls, "failures": s.failures, "malformed": s.malformed}

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the simulator is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (the server root)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """The gateway base URL clients append ``v1/agents/...`` to."""
        return self.url + BASE_PATH

    @property
    def running(self) -> bool:
        return self._server is not None

    def env(self) -> dict[str, str]:
        """``TFY_GATEWAY_URL`` and ``TFY_API_KEY`` for this simulator."""
        return {"TFY_GATEWAY_URL": self.base_url, "TFY_API_KEY": self.api_key}

    def __repr__(self) -> str:
        if self._server is None:
            return f"<Simulator scenario={self.scenario.name!r} speed={self.speed:g} stopped>"
        return (
            f"<Simulator scenario={self.scenario.name!r} speed={self.speed:g} base_url={self.base_url!r} "
            f"session_id={self.session_id!r} turn_id={self.turn_id!r}>"
        )

    # -- lifecycle
    def start(self) -> Simulator:
        """Start serving in a background thread and create the first session and turn."""
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server(self, self._port)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="tfwidget-sim-server",
            daemon=True,
        )
        self._thread.start()
        session = self.create_session(self.agent_name)
        turn = self._start_turn(session, self.scenario, previous=None, input=None)
        self.session_id, self.turn_id = session.id, turn.id
        return self

    def stop(self) -> None:
        """Stop serving: close the listening socket and every connection, join all threads."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()
        with self._lock:
            turns = [t for s in self._sessions.values() for t in s.turns]
        for t in turns:
            t.interrupt.set()
            with t.cond:
                t.cond.notify_all()
        server.shutdown()
        server.close_connections()
        server.server_close()
        if thread is not None:
            thread.join()
        for t in turns:
            if t.thread.is_alive():
                t.thread.join()
        self._server = None
        self._thread = None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- direct access (tests, notebooks)
    def create_session(self, agent_name: str = "sim-agent") -> _Session:
        session = _Session(agent_name)
        with self._lock:
            self._sessions[session.id] = session
        return session

    def turn(self, turn_id: str | None = None, session_id: str | None = None) -> SimTurn:
        """The served turn ``turn_id`` (default: the first turn)."""
        session = self._session(session_id or self.session_id or "")
        return session.turn(turn_id or self.turn_id or "")

    def events(self, turn_id: str | None = None) -> list[dict[str, Any]]:
        """A copy of a turn's event log so far (index i holds sequence number i + 1)."""
        return self.turn(turn_id).snapshot()

    def wait(self, turn_id: str | None = None, timeout: float | None = None) -> bool:
        """Block until the turn has finished; False on timeout."""
        t = self.turn(turn_id)
        with t.cond:
            return t.cond.wait_for(lambda: t.finished, timeout)

    def _session(self, session_id: str) -> _Session:
        with self._lock:
            session = self._sessions.get(session_id)
        if session is None:
            raise _not_found(f"Session {session_id!r} not found")
        return session

    def _start_turn(
        self,
        session: _Session,
        scenario: Scenario,
        previous: SimTurn | None,
        input: list[dict[str, Any]] | None,
    ) -> SimTurn:
        turn_id = f"{session.id}.t{secrets.token_hex(4)}"
        steps = scenario.instantiate(
            turn_id=turn_id, previous_turn_id=previous.id if previous else None, input=input
        )
        if scenario.files:
            for _, ev in steps:
                if ev.get("type") == "sandbox.created" and isinstance(ev.get("sandbox_id"), str):
                    self.sandbox.add_all(ev["sandbox_id"], scenario.files)
        turn = SimTurn(
            self,
            session,
            steps,
            previous.id if previous else None,
            input if input is not None else scenario.input,
        )
        with self._lock:
            session.turns.append(turn)
            session.updated_at = turn.created_at
        turn.thread.start()
        return turn

    # -- handlers
    def _h_sandbox_file(self, h: _Handler, params: dict[str, str], query: dict[str, str], body: Any) -> None:
        serve_file(self.sandbox, h, params["sbx"], query.get("path"), ApiError)

    def _h_create_session(
        self, h: _Handler, params: dict[str, str], query: dict[str, str], body: Any
    ) -> None:
        if not isinstance(body, dict):
            raise _bad("Request body must be a JSON object with 'agent_name'", "validation_error", 422)
        name = body.get("agent_name")
        if not isinstance(name, str) or not name.strip():
            raise ApiError(
                422,
                "agent_name is required and must be a non-empty string",
                "invalid_request_error",
                "validation_error",
            )
        h._send_json(200, {"data": self.create_session(name).as_dict()})

    def _h_list_sessions(self, h: _Handler, params: dict[str, str], query: dict[str, str], body: Any) -> None:
        name = query.get("agent_name")
        if not name:
            raise ApiError(
                422, "agent_name query parameter is required", "invalid_request_error", "validation_error"
            )
        with self._lock:
            sessions = [s.as_dict() for s in self._sessions.values() if s.agent_name == name]
        if query.get("order", "desc") == "desc":
            sessions.reverse()
        h._send_json(200, _page(sessions, query, default_limit=10, max_limit=100, kind="sessions"))

    def _h_get_session(self, h: _Handler, params: dict[str, str], query: dict[str, str], body: Any) -> None:
        h._send_json(200, {"data": self._session(params["sid"]).as_dict()})

    def _h_cancel(self, h: _Handler, params: dict[str, str], query: dict[str, str], body: Any) -> None:
        session = self._session(params["sid"])
        with self._lock:
            running = [t for t in session.turns if not t.finished]
        for t in running:
            t.cancel("client-cancelled")
        h._send_json(200, {})

    def _h_get_turn(self, h: _Handler, params: dict[str, str], query: dict[str, str], body: Any) -> None:
        turn = self._session(params["sid"]).turn(params["tid"])
        h._send_json(200, {"data": turn.as_dict()})

    def _h_list_turns(self, h: _Handler, params: dict[str, str], query: dict[str, str], body: Any) -> None:
        session = self._session(params["sid"])
        with self._lock:
            turns = [t.as_dict() for t in reversed(session.turns)]
        h._send_json(200, _page(turns, query, default_limit=10, max_limit=25, session=session.id))

    def _h_list_turn_events(
        self, h: _Handler, params: dict[str, str], query: dict[str, str], body: Any
    ) -> None:
        turn = self._session(params["sid"]).turn(params["tid"])
        order = query.get("order", "asc")
        if order not in ("asc", "desc"):
            raise _bad(f"order must be 'asc' or 'desc', got {order!r}", "invalid_parameter")
        _ensure_int(query.get("limit", 25), "limit", minimum=1, maximum=25)
        if not turn.finished:
            raise _conflict(
                f"Turn {turn.id!r} is still running: subscribe to it for live events", "turn_running"
            )
        events = list(turn.merged())
        if order == "desc":
            events.reverse()
        h._send_json(200, _page(events, query, default_limit=25, max_limit=25, turn=turn.id, order=order))

    def _h_list_session_events(
        self, h: _Handler, params: dict[str, str], query: dict[str, str], body: Any
    ) -> None:
        session = self._session(params["sid"])
        with self._lock:
            by_id = {t.id: t for t in session.turns}
            anchor_id = query.get("last_turn_id") or (session.turns[-1].id if session.turns else None)
        anchor = by_id.get(anchor_id) if anchor_id else None
        if anchor_id and anchor is None:
            raise _not_found(f"Turn {anchor_id!r} not found in session {session.id!r}")
        if anchor is not None and not anchor.finished:
            anchor = by_id.get(anchor.previous_turn_id or "")
        chain: list[SimTurn] = []
        while anchor is not None and anchor not in chain:
            if anchor.finished:
                chain.append(anchor)
            anchor = by_id.get(anchor.previous_turn_id or "")
        items: list[dict[str, Any]] = []
        for t in reversed(chain):
            log = t.snapshot()
            events = [log[0], *t.merged(), log[-1]]
            items.extend({"turn_id": t.id, "event": e} for e in events)
        items.reverse()
        h._send_json(
            200,
            _page(
                items,
                query,
                default_limit=100,
                max_limit=100,
                session=session.id,
                anchor=chain[0].id if chain else None,
            ),
        )

    def _h_subscribe(self, h: _Handler, params: dict[str, str], query: dict[str, str], body: Any) -> None:
        session = self._session(params["sid"])
        turn = session.turn(params["tid"])
        if body is not None and not isinstance(body, dict):
            raise _bad("Request body must be a JSON object")
        after = (body or {}).get("after_sequence_number")
        if after is None:
            header = h.headers.get("Last-Event-Id") or h.headers.get("Last-Event-ID")
            after = header.strip() if header and header.strip() else 0
            name = "Last-Event-Id"
        else:
            name = "after_sequence_number"
        after = _ensure_int(after, name, minimum=0)
        state = self._fault_state
        failure = state.take_failure()
        if failure is not None:
            status, message, retry_after = failure
            headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
            types = {412: "precondition_failed", 504: "gateway_timeout"}
            raise ApiError(
                status, message, types.get(status, "server_error"), types.get(status, "server_error"), headers
            )
        h.stream_turn(turn, after, state)

    def _h_create_turn(self, h: _Handler, params: dict[str, str], query: dict[str, str], body: Any) -> None:
        session = self._session(params["sid"])
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise _bad("Request body must be a JSON object")
        items = body.get("input")
        if items is None:
            items = []
        if not isinstance(items, list):
            raise _bad("input must be a list of input items", "invalid_input")
        stream = body.get("stream", False)
        if not isinstance(stream, bool):
            raise _bad("stream must be a boolean", "invalid_parameter")
        for i, item in enumerate(items):
            _validate_item(i, item)
        prev_param = body.get("previous_turn_id", "auto")
        if prev_param is None:
            prev_param = "auto"
        if not isinstance(prev_param, str):
            raise _bad("previous_turn_id must be 'auto', 'none' or a turn id", "invalid_parameter")
        with self._lock:
            if prev_param == "auto":
                previous = session.turns[-1] if session.turns else None
            elif prev_param == "none":
                previous = None
            else:
                previous = session.turn(prev_param)
            scenario = self._plan_turn(previous, items)
            if previous is not None and not previous.finished:
                previous.cancel("cancelled-for-next-turn")
            turn = self._start_turn(session, scenario, previous, items)
            if previous is not None and previous.paused and scenario.name == "continuation":
                previous.resumed_by = turn.id
        if stream:
            h.stream_turn(turn, 0, self._fault_state if self._fault_state.faults.apply_to_create else None)
        else:
            h._send_json(200, {"data": turn.as_dict()})

    def _plan_turn(self, previous: SimTurn | None, items: list[dict[str, Any]]) -> Scenario:
        """Validate the input against the previous turn's pause and pick what the new turn plays."""
        messages = [i for i in items if i["type"] == "user.message"]
        results = [i for i in items if i["type"] != "user.message"]
        pending = previous.pending() if previous is not None else []
        if pending and previous is not None and previous.resumed_by:
            if results or not messages:
                raise _conflict(
                    f"Turn {previous.id!r} was already resumed by turn {previous.resumed_by!r}",
                    "already_resumed",
                )
            pending = []

        def describe(p: dict[str, Any]) -> str:
            if p["kind"] == "mcp_auth":
                names = ", ".join(str(s.get("name")) for s in p.get("servers", []))
                return f"sign-in to MCP server(s) {names} (then send empty input)"
            what = "a user.tool_approval" if p["kind"] == "approval" else "a user.tool_response"
            return f"{what} for tool call {p['tool_call_id']!r} (thread {p['thread_id']!r})"

        if messages and results:
            raise _bad(
                "A turn's input cannot mix user.message with tool approvals or tool responses", "mixed_input"
            )
        if not pending:
            if results:
                raise _conflict("No paused turn is waiting for tool approvals or responses", "not_paused")
            if not messages:
                raise _bad("input must contain a user.message", "empty_input")
            return story_for_input(items)
        assert previous is not None  # a pause is always a previous turn's
        if messages:
            raise _conflict(
                f"Turn {previous.id!r} is paused and waits for: "
                + "; ".join(describe(p) for p in pending)
                + ". Resume it before sending a new user.message.",
                "turn_paused",
            )
        if any(p["kind"] == "mcp_auth" for p in pending):
            if items:
                raise _bad("After an MCP sign-in pause, resume with empty input", "invalid_resume")
            return continuation(pending, [])
        wanted = {p["tool_call_id"]: p for p in pending}
        seen: set[str] = set()
        for item in results:
            call_id = item["tool_call_id"]
            p = wanted.get(call_id)
            if p is None:
                raise _bad(
                    f"Tool call {call_id!r} is not waiting for input in turn {previous.id!r}",
                    "unknown_tool_call",
                )
            if call_id in seen:
                raise _bad(f"Tool call {call_id!r} appears more than once", "duplicate_tool_call")
            seen.add(call_id)
            expected = "user.tool_approval" if p["kind"] == "approval" else "user.tool_response"
            if item["type"] != expected:
                raise _bad(f"Tool call {call_id!r} needs {expected}, got {item['type']}", "wrong_resume_type")
            if item["thread_id"] != p["thread_id"]:
                raise _bad(
                    f"Tool call {call_id!r} belongs to thread {p['thread_id']!r}, not {item['thread_id']!r}",
                    "wrong_thread",
                )
        missing = [p for p in pending if p["tool_call_id"] not in seen]
        if missing:
            raise _bad(
                "Partial resume: every pending action must be answered in one turn. Missing: "
                + "; ".join(describe(p) for p in missing),
                "incomplete_resume",
            )
        return continuation(pending, results)


def _validate_item(index: int, item: Any) -> None:
    where = f"input[{index}]"
    if not isinstance(item, dict):
        raise _bad(f"{where} must be an object", "invalid_input")
    itype = item.get("type")
    if itype not in _INPUT_TYPES:
        raise _bad(
            f"{where}: unknown input item type {itype!r} (expected one of {', '.join(_INPUT_TYPES)})",
            "invalid_input_type",
        )
    if itype == "user.message":
        content = item.get("content")
        if isinstance(content, str):
            return
        if not isinstance(content, list) or not all(
            isinstance(p, dict) and p.get("type") in ("text", "file") for p in content
        ):
            raise _bad(f"{where}.content must be a string or a list of text/file parts", "invalid_input")
        return
    for key in ("thread_id", "tool_call_id"):
        if not isinstance(item.get(key), str) or not item[key]:
            raise _bad(f"{where}.{key} is required", "invalid_input")
    if itype == "user.tool_approval":
        approval = item.get("approval")
        if not isinstance(approval, dict) or approval.get("status") not in ("allow", "deny"):
            raise _bad(
                f"{where}.approval must be {{'status': 'allow'}} or {{'status': 'deny', 'reason'?}}",
                "invalid_input",
            )
    elif "content" not in item:
        raise _bad(f"{where}.content is required", "invalid_input")


@contextmanager
def serve(
    scenario: str | os.PathLike[str] | Scenario = "sub_agents",
    *,
    speed: float = 1.0,
    port: int = 0,
    faults: Faults | None = None,
    **options: Any,
) -> Iterator[Simulator]:
    """Run a :class:`Simulator` for the duration of a ``with`` block.

    Yields the running simulator: ``base_url``, ``api_key``, ``session_id`` and ``turn_id`` (the
    scenario's turn, already running). Extra keyword arguments go to :class:`Simulator` (e.g.
    ``keepalive``, ``agent_name``) or to the scenario generator (e.g. ``deltas`` for ``"large"``).

    Example::

        with serve("approval_pause", speed=0) as sim:
            client = GatewayClient(sim.base_url, sim.api_key)
    """
    sim = Simulator(scenario, speed=speed, port=port, faults=faults, **options)
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()
