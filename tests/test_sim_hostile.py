"""The embedded gateway against hostile or overloading clients, over real loopback sockets.

Every malformed request gets a clear 4xx JSON answer, every read is bounded, idle connections are timed out
and 200 concurrent subscribers are all served (no connection reset)."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time

import pytest

from tfwidget.sim import Simulator, serve

pytestmark = pytest.mark.timeout(180)


def _connect(sim: Simulator) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", sim.port), timeout=30)
    s.settimeout(30)
    return s


def _head(sim: Simulator, method: str, path: str, extra: str = "") -> bytes:
    return (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {sim.api_key}\r\n{extra}\r\n"
    ).encode()


def _read_response(s: socket.socket, limit: int = 1 << 20) -> tuple[int, dict[str, str], bytes]:
    """Read one response (status, headers, body up to ``limit`` bytes or EOF)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError(f"connection closed without an HTTP answer (got {buf[:200]!r})")
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
    n = int(headers.get("content-length", "-1"))
    while (n < 0 or len(body) < n) and len(body) < limit:
        chunk = s.recv(65536)
        if not chunk:
            break
        body += chunk
    return status, headers, body if n < 0 else body[:n]


def _ask(sim: Simulator, raw: bytes) -> tuple[int, dict]:
    s = _connect(sim)
    try:
        s.sendall(raw)
        status, _, body = _read_response(s)
        return status, json.loads(body)
    finally:
        s.close()


def _subscribe_path(sim: Simulator) -> str:
    return f"/api/llm/v1/agents/sessions/{sim.session_id}/turns/{sim.turn_id}/subscribe"


@pytest.fixture
def sim():
    with serve("plain_answer", speed=0, idle_timeout=2.0) as s:
        s.wait(timeout=30)
        yield s


def _post(sim: Simulator, body: bytes, headers: str = "") -> bytes:
    return _head(sim, "POST", _subscribe_path(sim), f"Content-Type: application/json\r\n{headers}") + body


def test_a_5000_digit_cursor_is_a_400(sim) -> None:
    big = "9" * 5000
    status, body = _ask(
        sim, _head(sim, "POST", _subscribe_path(sim), f"Last-Event-Id: {big}\r\nContent-Length: 0\r\n")
    )
    assert status == 400 and "Last-Event-Id" in body["error"]["message"]
    raw = b'{"after_sequence_number": ' + big.encode() + b"}"
    status, body = _ask(sim, _post(sim, raw, f"Content-Length: {len(raw)}\r\n"))
    assert status == 400, body
    assert "after_sequence_number" in body["error"]["message"] or "JSON" in body["error"]["message"]


def test_deep_json_body_is_a_400(sim) -> None:
    raw = b"[" * 100_000 + b"]" * 100_000
    status, body = _ask(sim, _post(sim, raw, f"Content-Length: {len(raw)}\r\n"))
    assert status == 400 and "nested too deeply" in body["error"]["message"]


@pytest.mark.parametrize("length", ["-1", "-99999999", "abc", "1e3", " 12x"])
def test_bad_content_length_is_a_400(sim, length: str) -> None:
    s = _connect(sim)
    try:
        s.sendall(_post(sim, b"", f"Content-Length: {length}\r\n") + b"{}" + b"x" * 10000)
        status, headers, body = _read_response(s)
        assert status == 400 and "Content-Length" in json.loads(body)["error"]["message"]
        assert headers.get("connection") == "close"
    finally:
        s.close()


@pytest.mark.parametrize("size_line", [b"zz", b"-5", b"", b"1" * 5000, b"4000000000000000000000000"])
def test_bad_chunk_size_is_a_400(sim, size_line: bytes) -> None:
    raw = _post(sim, b"", "Transfer-Encoding: chunked\r\n") + size_line + b"\r\n{}\r\n0\r\n\r\n"
    status, body = _ask(sim, raw)
    assert status in (400, 413) and "chunk" in body["error"]["message"].lower(), body


def test_a_chunk_declared_as_1_gib_is_refused_without_reading_it(sim) -> None:
    import psutil

    before = psutil.Process().memory_info().rss
    raw = _post(sim, b"", "Transfer-Encoding: chunked\r\n") + b"40000000\r\n" + b"x" * 1000
    started = time.monotonic()
    status, body = _ask(sim, raw)
    assert status == 413 and "too large" in body["error"]["message"]
    assert psutil.Process().memory_info().rss - before < 200 * 1024 * 1024
    assert time.monotonic() - started < 30


def test_a_body_larger_than_declared_chunks_is_bounded(sim) -> None:
    """Many small chunks adding up past the cap: refused once the cap is passed, not read to the end."""
    chunk = b"%x\r\n%s\r\n" % (1 << 20, b" " * (1 << 20))
    s = _connect(sim)
    try:
        s.sendall(_post(sim, b"", "Transfer-Encoding: chunked\r\n"))
        sent = 0
        try:
            for _ in range(64):
                s.sendall(chunk)
                sent += 1
        except OSError:
            pass  # the server answered and closed: it stopped reading
        status, _, _ = _read_response(s)
        assert status == 413
        assert sent < 64
    finally:
        s.close()


def test_idle_connections_are_closed_and_their_threads_end(sim) -> None:
    base = threading.active_count()
    socks = [_connect(sim) for _ in range(100)]
    try:
        # half say nothing, half send half a request line
        for s in socks[::2]:
            s.sendall(b"GET /api/llm/v1/agents/sess")
        deadline = time.monotonic() + 60
        closed = 0
        for s in socks:
            s.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                data = s.recv(65536)
                while data:
                    data = s.recv(65536)
                closed += 1
            except (TimeoutError, OSError):
                pass
        assert closed == len(socks)
    finally:
        for s in socks:
            s.close()
    deadline = time.monotonic() + 30
    while threading.active_count() > base + 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() <= base + 2


def test_an_idle_keep_alive_connection_between_requests_is_closed(sim) -> None:
    s = _connect(sim)
    try:
        s.sendall(_head(sim, "GET", f"/api/llm/v1/agents/sessions/{sim.session_id}", ""))
        status, _, _ = _read_response(s)
        assert status == 200
        s.settimeout(30)
        assert s.recv(65536) == b""  # closed by the server after idle_timeout, no answer needed
    finally:
        s.close()


def test_200_concurrent_subscribers_are_all_served(sim) -> None:
    n = 200
    path = _subscribe_path(sim)
    expected = len(sim.events())
    barrier = threading.Barrier(n, timeout=60)
    results: list[object] = [None] * n

    def one(i: int) -> None:
        try:
            barrier.wait()
            s = socket.create_connection(("127.0.0.1", sim.port), timeout=60)
            try:
                s.settimeout(60)
                s.sendall(_head(sim, "POST", path, "Content-Length: 0\r\n"))
                buf = b""
                while not buf.endswith(b"0\r\n\r\n"):
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    buf += chunk
                results[i] = buf.count(b"\ndata: ")
            finally:
                s.close()
        except Exception as exc:  # recorded and asserted below
            results[i] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    errors = [r for r in results if not isinstance(r, int)]
    assert not errors, f"{len(errors)} of {n} failed: {errors[:3]}"
    assert all(r == expected for r in results), set(results)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "token",
    [
        base64.urlsafe_b64encode(b"[" * 15_000 + b"]" * 15_000).decode(),
        base64.urlsafe_b64encode(b'{"offset": ' + b"9" * 5000 + b"}").decode(),
        "%%%not-base64",
    ],
)
def test_a_hostile_page_token_is_a_400(sim, token: str) -> None:
    path = f"/api/llm/v1/agents/sessions/{sim.session_id}/turns/{sim.turn_id}/events?page_token={token}"
    status, body = _ask(sim, _head(sim, "GET", path))
    assert status == 400 and "page_token" in body["error"]["message"]


def test_a_request_trickled_byte_by_byte_is_cut_off(sim) -> None:
    """Each byte comes before the idle timeout, but the whole request must arrive within twice that."""
    s = _connect(sim)
    started = time.monotonic()
    try:
        request = _head(sim, "GET", f"/api/llm/v1/agents/sessions/{sim.session_id}") * 50
        closed = False
        for byte in request:
            try:
                s.sendall(bytes([byte]))
            except OSError:
                closed = True
                break
            s.settimeout(0.5)
            try:
                if s.recv(65536) == b"":
                    closed = True
                    break
            except TimeoutError:
                pass
            if time.monotonic() - started > 60:
                break
        assert closed, "the server kept reading a trickled request"
    finally:
        s.close()
