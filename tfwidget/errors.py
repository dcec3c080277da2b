"""Typed exceptions raised by :mod:`tfwidget.client`.

Every exception subclasses :class:`GatewayError` and carries ``status`` (the HTTP status, or ``None`` when no
response was involved) and ``body_snippet`` (the start of the server's answer, API key scrubbed). Messages are
written for the person running the notebook: they say what went wrong and what to do about it.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = [
    "AuthenticationError",
    "ConfigurationError",
    "ConflictError",
    "GatewayConnectionError",
    "GatewayError",
    "NotAnEventStreamError",
    "NotFoundError",
    "ProtocolError",
    "RateLimitError",
    "ReconnectError",
    "ServerError",
    "StreamIdleError",
    "StreamLimitError",
    "error_from_response",
    "scrub",
]

SNIPPET_CHARS = 300


def secret_variants(secret: str) -> list[str]:
    """The forms a key can take in text: as is, stripped, repr-escaped, URL-encoded, JSON-escaped (longest first)."""
    from urllib.parse import quote

    forms = {secret, secret.strip(), repr(secret)[1:-1], repr(secret.encode("utf-8", "replace"))[2:-1],
             quote(secret, safe=""), json.dumps(secret)[1:-1]}  # fmt: skip
    return sorted((f for f in forms if len(f) >= 4), key=len, reverse=True)


def scrub(text: str, secret: str | None) -> str:
    """Replace every occurrence of ``secret`` (in any of its escaped forms) in ``text`` with ``***``."""
    if secret and text:
        for form in secret_variants(secret):
            if form in text:
                text = text.replace(form, "***")
    return text


class GatewayError(Exception):
    """Base class of every error talking to the gateway.

    Attributes:
        status: the HTTP status code, or ``None`` when the error did not come from a response.
        body_snippet: the start of the response body (secrets scrubbed), or ``None``.
    """

    def __init__(self, message: str, *, status: int | None = None, body_snippet: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.body_snippet = body_snippet
        self.retry_after: float | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status={self.status!r})"


class ConfigurationError(GatewayError):
    """The client is missing its gateway URL or API key (or they are unusable)."""


class AuthenticationError(GatewayError):
    """The gateway rejected the credentials (401) or the caller lacks permission (403)."""


class NotFoundError(GatewayError):
    """The session or turn does not exist (404)."""


class ConflictError(GatewayError):
    """The request conflicts with the resource's state (409), or the live stream is gone (412)."""


class RateLimitError(GatewayError):
    """Too many requests (429). ``retry_after`` is the server's hint in seconds, when it gave one."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        body_snippet: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status=status, body_snippet=body_snippet)
        self.retry_after = retry_after


class ServerError(GatewayError):
    """The gateway failed (5xx)."""


class NotAnEventStreamError(GatewayError):
    """A streaming call was answered with something other than ``text/event-stream``."""


class ProtocolError(GatewayError):
    """The gateway's answer does not follow the protocol (unexpected JSON shape, a bad stream)."""


class GatewayConnectionError(GatewayError):
    """The gateway could not be reached at all (connection refused, unknown host): check the URL.

    A stream that has connected once treats a later connection failure as a drop and resumes; only a gateway
    never reached fails at once with this error. ``__cause__`` holds the underlying ``httpx`` error.
    """


class StreamLimitError(GatewayError):
    """A gateway's answer went beyond one of the client's size limits (a line, an event, an error body, the
    decompression ratio). The message names the limit and how to raise it; ``limit`` is its name (a field of
    :class:`~tfwidget.client.StreamLimits`) and ``value`` its setting. Events delivered before it are kept."""

    def __init__(self, message: str, *, limit: str, value: float | None) -> None:
        super().__init__(message)
        self.limit = limit
        self.value = value


class StreamIdleError(GatewayError):
    """No event arrived for longer than the client's ``idle_timeout`` (only keep-alive comments, or
    nothing at all). ``last_event_at`` is the epoch time of the last event (``None``: none came)."""

    def __init__(self, message: str, *, last_event_at: float | None) -> None:
        super().__init__(message)
        self.last_event_at = last_event_at


class ReconnectError(GatewayError):
    """Resuming a stream failed too many times in a row; ``__cause__`` / ``cause`` holds the last failure."""

    def __init__(self, message: str, *, cause: BaseException | None = None, attempts: int = 0) -> None:
        status = getattr(cause, "status", None)
        snippet = getattr(cause, "body_snippet", None)
        super().__init__(message, status=status, body_snippet=snippet)
        self.cause = cause
        self.attempts = attempts


# --------------------------------------------------------------------------- mapping responses to errors


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), or ``None``."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if seconds == seconds and seconds != float("inf") else None
    try:
        import email.utils
        import time

        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def server_message(body: str) -> str | None:
    """The ``error.message`` of a ``{"error": {"message": ...}}`` body (or a top-level ``message``)."""
    try:
        obj: Any = json.loads(body)
    except (ValueError, TypeError):
        return None
    if isinstance(obj, dict):
        err = obj.get("error")
        if isinstance(err, dict) and isinstance(msg := err.get("message"), str):
            return msg
        if isinstance(err, str):
            return err
        for key in ("message", "detail"):
            if isinstance(msg := obj.get(key), str):
                return msg
    return None


def snippet_of(body: str, secret: str | None, limit: int = SNIPPET_CHARS) -> str:
    body = scrub(body, secret)
    return body if len(body) <= limit else body[:limit] + "..."


def error_from_response(
    status: int,
    body: str,
    *,
    secret: str | None,
    what: str,
    headers: Any = None,
) -> GatewayError:
    """Build the typed error for a non-2xx answer.

    Args:
        status: the HTTP status.
        body: the response text (it is scrubbed of ``secret`` before use).
        secret: the API key, scrubbed from everything.
        what: what was requested, e.g. ``"turn 'abc' of session 'xyz'"`` (used in messages).
        headers: the response headers (for ``Retry-After``).
    """
    snippet = snippet_of(body, secret)
    quoted = server_message(body)
    quoted = scrub(quoted, secret) if quoted else None
    said = f' The gateway said: "{quoted}".' if quoted else (f" Response: {snippet!r}." if snippet else "")
    retry_after = parse_retry_after(headers.get("retry-after") if headers is not None else None)
    kw: dict[str, Any] = {"status": status, "body_snippet": snippet}
    if status == 401:
        return AuthenticationError(
            f"The gateway rejected the API key (HTTP 401) while requesting {what}. Check TFY_API_KEY "
            f"(or the api_key argument of GatewayClient).{said}",
            **kw,
        )
    if status == 403:
        return AuthenticationError(
            f"Access denied (HTTP 403) while requesting {what}. Check TFY_API_KEY (or the api_key argument "
            f"of GatewayClient) and that this key has permission to use the agent and session.{said}",
            **kw,
        )
    if status == 404:
        return NotFoundError(
            f"Not found (HTTP 404): {what} does not exist or is not visible to this key.{said}", **kw
        )
    if status == 409:
        return ConflictError(f"Conflict (HTTP 409) while requesting {what}.{said}", **kw)
    if status == 412:
        return ConflictError(
            f"The live stream of {what} is gone or expired (HTTP 412); its events can still be listed.{said}",
            **kw,
        )
    if status == 429:
        hint = f" Retry after {retry_after:g} s." if retry_after is not None else " Wait a moment and retry."
        return RateLimitError(
            f"Rate limited (HTTP 429) while requesting {what}.{hint}{said}", retry_after=retry_after, **kw
        )
    err: GatewayError
    if status >= 500:
        err = ServerError(f"The gateway failed (HTTP {status}) while requesting {what}.{said}", **kw)
    else:
        err = GatewayError(f"Request for {what} failed (HTTP {status}).{said}", **kw)
    err.retry_after = retry_after
    return err
