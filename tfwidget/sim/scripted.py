"""A scripted gateway on loopback: each answer is written by a function, byte for byte.

Where :class:`~tfwidget.sim.Simulator` is a faithful gateway, :class:`ScriptedGateway` is a hostile or
broken one, for tests and benchmarks of the client: endless lines, endless error bodies, gzip bombs,
corrupt compression, wrong charsets, ids that jump, deep JSON, servers that never answer. It serves one
session ``s1`` with one turn ``t1``::

    def answer(req: Exchange) -> None:
        req.start(200, {"Content-Type": "text/event-stream"})
        req.write(b'id: 1\\ndata: {...}\\n\\n')

    with ScriptedGateway(subscribe=answer, turn={"id": "t1", "state": {"status": "running"}}) as gw:
        GatewayClient(gw.base_url, gw.api_key).subscribe("s1", "t1")

A body without ``Content-Length`` is delimited by closing the connection, so a writer can stream for as
long as it likes (JSON answers keep the connection alive); :meth:`Exchange.write` returns ``False`` once the client went away. ``requests`` records every request
(method, path, JSON body, headers) and ``bytes_sent`` what each answer wrote before the client stopped
reading.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Exchange", "ScriptedGateway", "sse_answer"]

SESSION_ID = "s1"
TURN_ID = "t1"


class Exchange:
    """One request and the means to answer it."""

    def __init__(self, handler: BaseHTTPRequestHandler, body: Any, index: int) -> None:
        self._h = handler
        self.method = handler.command
        self.path = handler.path
        self.headers = dict(handler.headers)
        self.body = body
        self.index = index  # 0 for the first request on this route, then 1, 2, ...
        self.sent = 0
        self.closed = False

    def start(self, status: int, headers: dict[str, str] | None = None) -> None:
        """Send the status line and headers. Without a ``Content-Length`` the body ends when the connection
        does (``Connection: close``); with one the connection is kept for the next request."""
        h = self._h
        h.send_response(status)
        headers = headers or {}
        for k, v in headers.items():
            h.send_header(k, v)
        if not any(k.lower() == "content-length" for k in headers):
            h.send_header("Connection", "close")
            h.close_connection = True
        h.end_headers()

    def write(self, data: bytes) -> bool:
        """Write body bytes; ``False`` when the client has gone away."""
        if self.closed:
            return False
        try:
            self._h.wfile.write(data)
            self._h.wfile.flush()
        except OSError:
            self.closed = True
            return False
        self.sent += len(data)
        return True

    def json(self, status: int, obj: Any) -> None:
        data = json.dumps(obj).encode()
        self.start(status, {"Content-Type": "application/json", "Content-Length": str(len(data))})
        self.write(data)


Answer = Callable[[Exchange], None]


def sse_answer(*chunks: bytes, headers: dict[str, str] | None = None, status: int = 200) -> Answer:
    """An answer writing these chunks as an event stream, then closing the connection."""

    def answer(ex: Exchange) -> None:
        ex.start(status, {"Content-Type": "text/event-stream", **(headers or {})})
        for chunk in chunks:
            if not ex.write(chunk):
                return

    return answer


class ScriptedGateway:
    """A loopback server for session ``s1`` / turn ``t1`` whose answers are scripted.

    Args:
        subscribe: answers ``POST .../turns/t1/subscribe`` (and ``POST .../turns``, turn creation): one
            function, or a list used in order (the last one repeats).
        turn: the ``Turn`` object for ``GET .../turns/t1`` (``{"data": turn}``), or a function answering it.
        events: the merged events for ``GET .../turns/t1/events`` (one page), or a function answering it.
        turns: the ``Turn`` objects for ``GET .../turns`` (default: ``[turn]``).
    """

    api_key = "scripted-key-0123456789"
    session_id = SESSION_ID
    turn_id = TURN_ID

    def __init__(
        self,
        *,
        subscribe: Answer | list[Answer],
        turn: dict[str, Any] | Answer | None = None,
        events: list[dict[str, Any]] | Answer | None = None,
        turns: list[dict[str, Any]] | None = None,
    ) -> None:
        self._subscribe = subscribe if isinstance(subscribe, list) else [subscribe]
        self._turn = turn if turn is not None else {"id": TURN_ID, "state": {"status": "running"}}
        self._events = events if events is not None else []
        self._turns = turns
        self.requests: list[tuple[str, str, Any, dict[str, str]]] = []
        self.bytes_sent: list[int] = []
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                gateway._handle(self)

            def do_POST(self) -> None:
                gateway._handle(self)

        self.stopping = threading.Event()  # set on exit: a writer that waits should wait on it
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="scripted-gateway", daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def count(self, route: str) -> int:
        """How many requests reached ``route`` (``"subscribe"``, ``"turn"``, ``"events"``, ``"turns"``)."""
        with self._lock:
            return self._counts.get(route, 0)

    def __enter__(self) -> ScriptedGateway:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def _route(self, method: str, path: str) -> str:
        path = path.split("?", 1)[0]
        base = f"/v1/agents/sessions/{SESSION_ID}/turns"
        if method == "POST" and (path == base or path.endswith("/subscribe")):
            return "subscribe"
        if path == f"{base}/{TURN_ID}":
            return "turn"
        if path == f"{base}/{TURN_ID}/events":
            return "events"
        if path == base:
            return "turns"
        return "other"

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length > 0 else b""
        body = json.loads(raw) if raw else None
        route = self._route(h.command, h.path)
        with self._lock:
            index = self._counts.get(route, 0)
            self._counts[route] = index + 1
            self.requests.append((h.command, h.path, body, dict(h.headers)))
        ex = Exchange(h, body, index)
        if route == "subscribe":
            answers = self._subscribe
            answers[min(index, len(answers) - 1)](ex)
        elif route in ("turn", "events", "turns"):
            value: Any = {"turn": self._turn, "events": self._events, "turns": self._turns}[route]
            if callable(value):
                value(ex)
            elif route == "turns":
                ex.json(200, {"data": value if value is not None else [self._turn], "pagination": {}})
            else:
                ex.json(200, {"data": value, "pagination": {}})
        else:
            ex.json(404, {"error": {"message": f"no route {h.command} {h.path}"}})
        with self._lock:
            self.bytes_sent.append(ex.sent)


def frames(events: Iterable[dict[str, Any]], start: int = 1) -> bytes:
    """SSE frames ``id: n`` + ``data: <event JSON>`` for events numbered from ``start``."""
    return b"".join(
        f"id: {i}\ndata: {json.dumps(ev)}\n\n".encode() for i, ev in enumerate(events, start=start)
    )
