"""What agents produce besides text: images, input files, sandbox artifacts and offloaded tool results.

Pure helpers (no I/O) that read them out of turn events, plus the request logic of the gateway's sandbox
file endpoint (``GET v1/agents/sandbox/{sandbox_id}/file?path=<absolute path>``) used by
:meth:`tfwidget.client.GatewayClient.download_sandbox_file` and the TurnView's Download / Open buttons.

- **Images** in ``model.message.content`` parts (``{"type": "image_url", "image_url": {"url"}}``) and in
  streamed content blocks are shown only when they are ``data:`` URIs of a raster image type (png, jpeg,
  gif, webp); an ``http(s)`` image is reported with its host name and never loaded by tfwidget itself;
  anything else (``javascript:``, ``data:text/html``, SVG) is refused.
- **Input files**: ``{"type": "file", "name", "data"}`` parts of a ``user.message`` (``data`` a data URI).
- **Artifacts**: a fenced block whose info string is ``sandbox_artifacts``, one markdown link per file,
  ``[label](/absolute/path)``. Paths must be absolute, without ``..`` segments or control characters.
- **Offloaded tool results**: a ``tool.response`` whose content says where the full result was saved
  (``... saved to /path``, or a JSON object with ``path`` / ``file_path`` and ``offloaded`` or ``preview``).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from .errors import (
    GatewayError,
    NotFoundError,
    error_from_response,
    scrub,
    server_message,
    snippet_of,
)

if TYPE_CHECKING:
    import pandas as pd

    from .client import GatewayClient, _ClientBase
    from .state import TurnState

__all__ = [
    "ARTIFACTS_COLUMNS",
    "DEFAULT_MAX_BYTES",
    "Artifact",
    "FileTooLargeError",
    "SandboxFile",
    "SandboxFileError",
    "SandboxFileNotFoundError",
    "SandboxGoneError",
    "SandboxUnavailableError",
    "artifacts_frame",
    "check_sandbox_path",
    "classify_image_url",
    "content_images",
    "find_offloaded",
    "input_files",
    "parse_sandbox_artifacts",
    "sandbox_id_of",
    "turn_artifacts",
]

DEFAULT_MAX_BYTES = 100 * 1024 * 1024
"""Default size limit of :meth:`GatewayClient.download_sandbox_file` (100 MiB)."""

MAX_IMAGE_URI = 8 * 1024 * 1024
"""Longest ``data:`` image URI shown inline (characters); a larger one is refused (it would ride in every
snapshot of the view)."""

IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
_DATA_IMAGE = re.compile(r"^data:(image/(?:png|jpeg|gif|webp));base64,([A-Za-z0-9+/=\s]*)$", re.I)
_DATA_URI = re.compile(r"^data:([^;,]*)((?:;[^;,]*)*),(.*)$", re.S | re.I)
_MAX_PATH = 4096
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

# ------------------------------------------------------------------------------------------ images


def classify_image_url(url: Any) -> dict[str, Any]:
    """What may be shown of an image URL: ``{"kind": "data", "src"}``, ``{"kind": "remote", "host", "url"}``
    or ``{"kind": "refused", "reason"}``.

    Only ``data:`` URIs of png, jpeg, gif or webp (base64) are ``data``; ``http(s)`` URLs are ``remote``
    (to be shown only after the user's consent); everything else is refused with a reason.
    """
    if not isinstance(url, str) or not url.strip():
        return {"kind": "refused", "reason": "no image URL"}
    u = url.strip()
    if u[:5].lower() == "data:":
        if len(u) > MAX_IMAGE_URI:
            return {"kind": "refused", "reason": f"image too large to show ({fmt_bytes(len(u) * 3 // 4)})"}
        m = _DATA_IMAGE.match(u)
        if m:
            return {"kind": "data", "src": u, "mime": m.group(1).lower()}
        mime = _DATA_URI.match(u)
        what = (mime.group(1) or "text/plain") if mime else "malformed"
        return {"kind": "refused", "reason": f"not an image data URI ({what[:60]})"}
    parts = urlsplit(u)
    if parts.scheme.lower() in ("http", "https") and parts.hostname:
        return {"kind": "remote", "host": parts.hostname, "url": u}
    scheme = parts.scheme.lower() or "relative"
    return {"kind": "refused", "reason": f"{scheme[:20]} URLs are not shown"}


def _image_url_of(part: Any) -> Any:
    iu = part.get("image_url") if isinstance(part, Mapping) else getattr(part, "image_url", None)
    if iu is None and not isinstance(part, Mapping):
        iu = (getattr(part, "model_extra", None) or {}).get("image_url")
    if isinstance(iu, Mapping):
        return iu.get("url")
    return iu


def _part_type(part: Any) -> Any:
    return part.get("type") if isinstance(part, Mapping) else getattr(part, "type", None)


def content_images(content: Any) -> list[dict[str, Any]]:
    """The ``image_url`` parts of a list content, each classified by :func:`classify_image_url`."""
    if not isinstance(content, list):
        return []
    return [classify_image_url(_image_url_of(p)) for p in content if _part_type(p) == "image_url"]


# ------------------------------------------------------------------------------------- input files


def _decoded_size(b64: str) -> int:
    s = re.sub(r"\s+", "", b64)
    return max(0, len(s) * 3 // 4 - s[-2:].count("="))


def input_files(content: Any) -> list[dict[str, Any]]:
    """The ``{"type": "file", "name", "data"}`` parts of a user message's content.

    Each: ``name``, ``mime`` (from the data URI), ``size`` (decoded bytes, or ``None``) and ``thumbnail``
    (the data URI itself when it is a raster image, else ``None``).
    """
    if not isinstance(content, list):
        return []
    out = []
    for p in content:
        if _part_type(p) != "file":
            continue
        get = p.get if isinstance(p, Mapping) else (lambda k, _p=p: getattr(_p, k, None))
        f = get("file")
        name = get("name") or get("filename")
        data = get("data") or get("file_data")
        if isinstance(f, Mapping):  # the OpenAI shape {"type": "file", "file": {"filename", "file_data"}}
            name = name or f.get("filename") or f.get("name")
            data = data or f.get("file_data") or f.get("data")
        mime, size = None, None
        if isinstance(data, str):
            m = _DATA_URI.match(data.strip())
            if m:
                mime = (m.group(1) or "text/plain").lower()[:100]
                size = _decoded_size(m.group(3)) if "base64" in m.group(2).lower() else len(m.group(3))
        thumb = classify_image_url(data) if isinstance(data, str) else {"kind": "refused"}
        out.append(
            {
                "name": str(name or "file")[:200],
                "mime": mime,
                "size": size,
                "thumbnail": thumb["src"] if thumb["kind"] == "data" else None,
            }
        )
    return out


# --------------------------------------------------------------------------------------- artifacts


def check_sandbox_path(path: Any) -> str:
    """Return ``path`` if it is a usable sandbox file path, else raise ``ValueError`` saying why.

    A sandbox path is absolute (starts with ``/``), has no ``..`` segment, no control characters, no
    URL scheme and at most 4096 characters.
    """
    if not isinstance(path, str) or not path:
        raise ValueError("a sandbox file path must be a non-empty string")
    if len(path) > _MAX_PATH:
        raise ValueError(f"the sandbox file path is too long ({len(path)} characters, at most {_MAX_PATH})")
    if _CONTROL.search(path):
        raise ValueError(f"the sandbox file path {path[:80]!r} contains control characters")
    if not path.startswith("/"):
        raise ValueError(f"the sandbox file path {path[:80]!r} is not absolute (it must start with '/')")
    if any(seg == ".." for seg in path.split("/")):
        raise ValueError(f"the sandbox file path {path[:80]!r} contains a '..' segment")
    return path


@dataclass(frozen=True)
class Artifact:
    """A file an assistant message lists in a ``sandbox_artifacts`` block.

    ``error`` is set (and the file is never requested) when the link's target is not a usable sandbox path.
    """

    path: str
    label: str
    message_id: str | None = None
    thread_id: str | None = None
    error: str | None = None

    @property
    def name(self) -> str:
        """The file name (last path segment)."""
        return self.path.rstrip("/").rsplit("/", 1)[-1] or self.path

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "label": self.label,
            "name": self.name,
            "message_id": self.message_id,
            "thread_id": self.thread_id,
            "error": self.error,
        }


_FENCE = re.compile(
    r"^ {0,3}(`{3,}|~{3,})[ \t]*sandbox_artifacts\b[^\n]*\n(.*?)(?:^ {0,3}\1[ \t]*$|\Z)", re.M | re.S
)
_LINK = re.compile(r"\[((?:[^\[\]\\]|\\.)*)\]\(\s*<?([^()<>\s]*(?:\([^()\s]*\)[^()<>\s]*)*)>?\s*\)")


def parse_sandbox_artifacts(
    text: str | None, *, message_id: str | None = None, thread_id: str | None = None
) -> list[Artifact]:
    """The files listed in the ``sandbox_artifacts`` fenced blocks of ``text`` (in order, duplicates once)."""
    if not text or "sandbox_artifacts" not in text:
        return []
    out: list[Artifact] = []
    seen: set[str] = set()
    for block in _FENCE.finditer(text):
        for m in _LINK.finditer(block.group(2)):
            label, target = m.group(1).strip(), m.group(2).strip()
            if target in seen:
                continue
            seen.add(target)
            try:
                check_sandbox_path(target)
                error = None
            except ValueError as exc:
                error = str(exc)
            out.append(Artifact(target, label or target, message_id, thread_id, error))
    return out


def sandbox_id_of(state: TurnState) -> str | None:
    """The ``sandbox_id`` of the last ``sandbox.created`` event of the turn, or ``None``."""
    found = None
    for ev in state.events_by_id.values():
        sid = getattr(ev, "sandbox_id", None) if ev.type == "sandbox.created" else None
        if isinstance(sid, str) and sid:
            found = sid
    return found


def turn_artifacts(state: TurnState) -> list[Artifact]:
    """Every artifact listed by the turn's messages, in message order."""
    out: list[Artifact] = []
    for mid in state.message_ids():
        content, _, _ = state.message_text(mid)
        if "sandbox_artifacts" in content:
            out.extend(
                parse_sandbox_artifacts(content, message_id=mid, thread_id=state.message(mid).thread_id)
            )
    return out


ARTIFACTS_COLUMNS = ["path", "label", "name", "message_id", "thread_id", "error"]


def artifacts_frame(state: TurnState) -> pd.DataFrame:
    """One row per listed artifact. Columns: :data:`ARTIFACTS_COLUMNS` (``error``: why a path is refused)."""
    import pandas as pd

    rows = [a.as_dict() for a in turn_artifacts(state)]
    return pd.DataFrame(
        {c: pd.array([r[c] for r in rows], dtype="string") for c in ARTIFACTS_COLUMNS},
        columns=ARTIFACTS_COLUMNS,
    )


# ---------------------------------------------------------------------------- offloaded tool results

_OFFLOAD_TEXT = re.compile(
    r"(?:saved|written|stored|offloaded|moved)\s+(?:\w+\s+){0,3}?(?:to|at|in)\s+(?:the\s+)?(?:sandbox\s+)?"
    r"(?:file\s+)?[`'\"]?(/[^\s`'\"]+?)[`'\".,;:)]*(?:\s|$)",
    re.I,
)
_SIZE = re.compile(r"(\d[\d,]*(?:\.\d+)?)\s*(bytes|B|KB|KiB|MB|MiB|characters|chars|tokens)\b", re.I)
_UNITS = {"b": 1, "bytes": 1, "kb": 1000, "kib": 1024, "mb": 1_000_000, "mib": 1024 * 1024}


def find_offloaded(content: Any) -> dict[str, Any] | None:
    """If a tool response says its full result was moved to a sandbox file: ``{"path", "size", "unit"}``.

    ``size``/``unit`` are what the preview states (``None`` when it states nothing). Returns ``None`` for
    an ordinary response.
    """
    path: str | None = None
    text = ""
    if isinstance(content, Mapping):
        p = content.get("path") or content.get("file_path") or content.get("full_result_path")
        if isinstance(p, str) and (
            "offloaded" in content or "preview" in content or "full_result_path" in content
        ):
            path = p
        text = str(content.get("preview") or content.get("message") or "")
    elif isinstance(content, str):
        text = content
        m = _OFFLOAD_TEXT.search(content[:20_000])
        if m:
            path = m.group(1)
    if not path:
        return None
    try:
        check_sandbox_path(path)
    except ValueError:
        return None
    size: float | None = None
    unit: str | None = None
    if isinstance(content, Mapping) and isinstance(content.get("size_bytes"), int):
        size, unit = float(content["size_bytes"]), "bytes"
    else:
        s = _SIZE.search(text[:20_000])
        if s:
            size, unit = float(s.group(1).replace(",", "")), s.group(2).lower()
    return {"path": path, "size": size, "unit": unit}


# ------------------------------------------------------------------------------------ downloading


class SandboxFileError(GatewayError):
    """A sandbox file could not be downloaded. ``path`` and ``sandbox_id`` say which."""

    path: str | None = None
    sandbox_id: str | None = None


class SandboxFileNotFoundError(SandboxFileError, NotFoundError):
    """HTTP 404: no such sandbox or no such file in it."""


class SandboxGoneError(SandboxFileError):
    """HTTP 410: the sandbox no longer exists (sandboxes are removed some time after a session ends)."""


class FileTooLargeError(SandboxFileError):
    """HTTP 413 from the gateway, or the file is over the caller's ``max_bytes`` limit."""


class SandboxUnavailableError(SandboxFileError):
    """HTTP 424: the sandbox infrastructure failed to serve the file; retrying later may work."""


@dataclass
class SandboxFile:
    """A downloaded sandbox file: ``data`` (``None`` when it was written to ``saved_to``)."""

    sandbox_id: str
    path: str
    size: int
    content_type: str | None
    data: bytes | None = None
    saved_to: Path | None = None

    @property
    def name(self) -> str:
        return self.path.rstrip("/").rsplit("/", 1)[-1] or "file"

    def text(self, encoding: str = "utf-8") -> str:
        """The content decoded as text (``errors="replace"``)."""
        data = self.data if self.data is not None else (self.saved_to.read_bytes() if self.saved_to else b"")
        return data.decode(encoding, errors="replace")

    def __repr__(self) -> str:
        where = f", saved_to={str(self.saved_to)!r}" if self.saved_to else ""
        return f"SandboxFile(path={self.path!r}, size={self.size}, content_type={self.content_type!r}{where})"


def fmt_bytes(n: float) -> str:
    """``1536`` -> ``"1.5 KB"`` (powers of 1024)."""
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def sandbox_file_request(sandbox_id: str, path: str) -> tuple[str, dict[str, str]]:
    """The relative URL path and query of the sandbox file endpoint; validates both arguments."""
    if (
        not isinstance(sandbox_id, str)
        or not sandbox_id.strip()
        or "/" in sandbox_id
        or _CONTROL.search(sandbox_id)
    ):
        raise ValueError(f"sandbox_id must be a non-empty id without '/', got {sandbox_id!r}")
    check_sandbox_path(path)
    return f"v1/agents/sandbox/{quote(sandbox_id, safe='')}/file", {"path": path}


def sandbox_error(status: int, body: str, *, sandbox_id: str, path: str, secret: str | None) -> GatewayError:
    """The typed error for a non-2xx answer of the sandbox file endpoint."""
    what = f"file {path!r} of sandbox {sandbox_id!r}"
    base = error_from_response(status, body, secret=secret, what=what)
    quoted = server_message(body)
    said = f' The gateway said: "{scrub(quoted, secret)}".' if quoted else ""
    kw: dict[str, Any] = {"status": status, "body_snippet": snippet_of(body, secret)}
    err: SandboxFileError
    if status == 404:
        err = SandboxFileNotFoundError(f"Not found (HTTP 404): {what} does not exist.{said}", **kw)
    elif status == 410:
        err = SandboxGoneError(
            f"The sandbox {sandbox_id!r} is gone (HTTP 410): its files can no longer be downloaded.{said}",
            **kw,
        )
    elif status == 413:
        err = FileTooLargeError(f"The gateway refused {what}: too large to download (HTTP 413).{said}", **kw)
    elif status == 424:
        err = SandboxUnavailableError(
            f"The sandbox infrastructure failed to serve {what} (HTTP 424); try again later.{said}", **kw
        )
    else:
        return base
    err.path, err.sandbox_id = path, sandbox_id
    return err


def _too_large(sandbox_id: str, path: str, size: int, max_bytes: int, exact: bool) -> FileTooLargeError:
    how = "is" if exact else "is over"
    err = FileTooLargeError(
        f"The file {path!r} {how} {fmt_bytes(size)}, over the limit of {fmt_bytes(max_bytes)}: "
        "pass a larger max_bytes= to download it.",
        status=None,
    )
    err.path, err.sandbox_id = path, sandbox_id
    return err


Progress = Callable[[int, "int | None"], Any]


class _Sink:
    """Collects a streamed body in memory or in a file, enforcing the size limit."""

    def __init__(
        self,
        sandbox_id: str,
        path: str,
        total: int | None,
        max_bytes: int,
        to: Path | None,
        progress: Progress | None,
    ) -> None:
        if total is not None and total > max_bytes:  # (a compressed length is a lower bound: still over)
            raise _too_large(sandbox_id, path, total, max_bytes, True)
        self.sandbox_id, self.path, self.total, self.max_bytes = sandbox_id, path, total, max_bytes
        self.progress = progress
        self.received = 0
        self.decoded = False
        self.chunks: list[bytes] = []
        self.to = to
        self.tmp = to.with_name(to.name + ".part") if to is not None else None
        self.fh = open(self.tmp, "wb") if self.tmp is not None else None

    def add(self, chunk: bytes) -> None:
        self.received += len(chunk)
        if self.received > self.max_bytes:
            self.abort()
            raise _too_large(self.sandbox_id, self.path, self.received, self.max_bytes, False)
        if self.fh is not None:
            self.fh.write(chunk)
        else:
            self.chunks.append(chunk)
        if self.progress is not None:  # a compressed body's length is not the size of what is received
            self.progress(self.received, None if self.decoded else self.total)

    def abort(self) -> None:
        if self.fh is not None:
            self.fh.close()
            self.fh = None
            if self.tmp is not None:
                self.tmp.unlink(missing_ok=True)

    def finish(self, content_type: str | None) -> SandboxFile:
        f = SandboxFile(self.sandbox_id, self.path, self.received, content_type)
        if self.fh is not None and self.tmp is not None and self.to is not None:
            self.fh.close()
            self.fh = None
            os.replace(self.tmp, self.to)
            f.saved_to = self.to
        else:
            f.data = b"".join(self.chunks)
        return f


def _target(to: str | os.PathLike[str] | None, path: str) -> Path | None:
    if to is None:
        return None
    p = Path(to)
    if str(to).endswith(("/", os.sep)):  # a folder, created when missing
        p.mkdir(parents=True, exist_ok=True)
    if p.is_dir():
        name = path.rstrip("/").rsplit("/", 1)[-1] or "file"
        p = p / name
    return p


def _length(headers: Any) -> int | None:
    try:
        n = int(headers.get("content-length", ""))
    except ValueError:
        return None
    return n if n >= 0 else None


class _Download:
    """What :func:`download` and :func:`adownload` share: the request, the error of a failed response or
    transport, and the sink of a good response (only the reading differs, with or without ``await``)."""

    def __init__(
        self,
        client: _ClientBase,
        sandbox_id: str,
        path: str,
        max_bytes: int,
        to: str | os.PathLike[str] | None,
        on_progress: Progress | None,
    ) -> None:
        self.client, self.sandbox_id, self.path = client, sandbox_id, path
        self.max_bytes, self.on_progress = max_bytes, on_progress
        rel, self.params = sandbox_file_request(sandbox_id, path)
        self.url = client._url(rel)
        self.target = _target(to, path)

    def request(self, http: Any) -> dict[str, Any]:
        """The keyword arguments of ``http.stream("GET", self.url, ...)``."""
        c = self.client
        return {
            "params": self.params,
            "headers": c._headers(),
            "auth": c._auth,
            "timeout": c._timeout_for(http),
        }

    def failed(self, status: int, body: bytes) -> Exception:
        """The error of a response with status ``status`` (``body``: its first few KB)."""
        text = body.decode("utf-8", "replace")
        return sandbox_error(
            status, text, sandbox_id=self.sandbox_id, path=self.path, secret=self.client._api_key
        )

    def sink(self, headers: Mapping[str, str]) -> _Sink:
        sink = _Sink(
            self.sandbox_id, self.path, _length(headers), self.max_bytes, self.target, self.on_progress
        )
        sink.decoded = bool(headers.get("content-encoding", "identity") != "identity")
        return sink

    def transport_error(self, exc: Exception) -> Exception:
        import httpx

        if isinstance(exc, httpx.ConnectError):
            return self.client._unreachable(exc)
        why = scrub(str(exc) or type(exc).__name__, self.client._api_key)
        return SandboxFileError(f"The download of {self.path!r} failed: {why}")


_ERROR_BODY = 4096  # bytes of a failed response's body read for its message


def download(
    client: GatewayClient,
    sandbox_id: str,
    path: str,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    to: str | os.PathLike[str] | None = None,
    on_progress: Progress | None = None,
) -> SandboxFile:
    """Implementation of :meth:`GatewayClient.download_sandbox_file` (see there)."""
    import httpx

    d = _Download(client, sandbox_id, path, max_bytes, to, on_progress)
    http = client._sync_http()
    try:
        with http.stream("GET", d.url, **d.request(http)) as response:
            if response.status_code >= 300:
                body = b""
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > _ERROR_BODY:
                        break
                raise d.failed(response.status_code, body)
            sink = d.sink(response.headers)
            try:
                for chunk in response.iter_bytes():
                    sink.add(chunk)
            except BaseException:
                sink.abort()
                raise
            return sink.finish(response.headers.get("content-type"))
    except httpx.TransportError as exc:
        raise d.transport_error(exc) from exc


async def adownload(
    client: _ClientBase,
    sandbox_id: str,
    path: str,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    to: str | os.PathLike[str] | None = None,
    on_progress: Progress | None = None,
) -> SandboxFile:
    """Async twin of :func:`download`."""
    import httpx

    d = _Download(client, sandbox_id, path, max_bytes, to, on_progress)
    http = client._async_http()
    try:
        async with http.stream("GET", d.url, **d.request(http)) as response:
            if response.status_code >= 300:
                body = b""
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > _ERROR_BODY:
                        break
                raise d.failed(response.status_code, body)
            sink = d.sink(response.headers)
            try:
                async for chunk in response.aiter_bytes():
                    sink.add(chunk)
            except BaseException:
                sink.abort()
                raise
            return sink.finish(response.headers.get("content-type"))
    except httpx.TransportError as exc:
        raise d.transport_error(exc) from exc


def iter_image_blocks(blocks: Iterable[Any]) -> Iterable[tuple[int, str]]:
    """``(index, url piece)`` of the ``image_url`` content blocks of a delta (malformed ones skipped)."""
    for b in blocks:
        if not isinstance(b, Mapping):
            continue
        idx, d = b.get("index"), b.get("delta")
        if (
            not isinstance(idx, int)
            or isinstance(idx, bool)
            or idx < 0
            or idx > 10_000
            or not isinstance(d, Mapping)
        ):
            continue
        if d.get("type") != "image_url":
            continue
        url = _image_url_of(d)
        if isinstance(url, str):
            yield idx, url


def b64decode_data_uri(uri: str) -> bytes | None:
    """Bytes of a base64 data URI, or ``None`` when it is not one."""
    m = _DATA_URI.match(uri.strip())
    if not m or "base64" not in m.group(2).lower():
        return None
    try:
        return base64.b64decode(re.sub(r"\s+", "", m.group(3)), validate=True)
    except (binascii.Error, ValueError):
        return None


# ------------------------------------------------------------------------------------ view fields


def _image_view(img: Mapping[str, Any]) -> dict[str, Any]:
    """What the page gets for an image: the data URI, or only the host of a remote one, or why not."""
    if img["kind"] == "data":
        return {"kind": "data", "src": img["src"]}
    if img["kind"] == "remote":
        return {"kind": "remote", "host": img["host"], "url": img["url"]}
    return {"kind": "refused", "reason": img.get("reason", "refused")}


def media_fields(state: TurnState, message_id: str, content: str, thread_id: str | None) -> dict[str, Any]:
    """Extra fields of a message's view: ``images`` and ``artifacts``, present only when non-empty."""
    out: dict[str, Any] = {}
    images = state.message_images(message_id)
    if images:
        out["images"] = [_image_view(i) for i in images]
    arts = parse_sandbox_artifacts(content, message_id=message_id, thread_id=thread_id)
    if arts:
        out["artifacts"] = [
            {"path": a.path, "label": a.label, "name": a.name, "error": a.error} for a in arts
        ]
    return out


def offload_fields(response: Any) -> dict[str, Any]:
    """Extra field of a tool's view: ``offloaded`` ``{path, size, unit}`` when its result was moved to a file."""
    found = find_offloaded(response)
    return {"offloaded": found} if found else {}


def input_media(content: Any) -> dict[str, Any]:
    """Extra fields of a user message's view: ``files`` and ``images``, present only when non-empty."""
    out: dict[str, Any] = {}
    files = input_files(content)
    if files:
        out["files"] = files
    images = content_images(content)
    if images:
        out["images"] = [_image_view(i) for i in images]
    return out


# ------------------------------------------------------------------------------- static transcript


def static_media_html(item: Mapping[str, Any]) -> str:
    """Escaped HTML for the images, input files and artifacts of a message or input view (no links, no
    scripts): data-URI images inline, other images and files as text."""
    import html

    def e(v: Any) -> str:
        return html.escape("" if v is None else str(v), quote=True)

    out = []
    for f in item.get("files") or []:
        meta = ", ".join(
            x for x in (f.get("mime"), fmt_bytes(f["size"]) if f.get("size") is not None else None) if x
        )
        thumb = f.get("thumbnail")
        img = (
            f'<img src="{e(thumb)}" alt="{e(f.get("name"))}" height="20" align="middle"> '
            if isinstance(thumb, str) and _DATA_IMAGE.match(thumb)
            else ""
        )
        out.append(f'<div class="tfws-media">{img}file <strong>{e(f.get("name"))}</strong> ({e(meta)})</div>')
    for i in item.get("images") or []:
        if i.get("kind") == "data" and _DATA_IMAGE.match(i.get("src") or ""):
            out.append(
                f'<div><img src="{e(i["src"])}" alt="image" style="max-width:min(480px,100%);max-height:360px"></div>'
            )
        elif i.get("kind") == "remote":
            out.append(f'<div class="tfws-media">[image from {e(i.get("host"))}, not loaded]</div>')
        else:
            out.append(f'<div class="tfws-media">[image not shown: {e(i.get("reason"))}]</div>')
    for a in item.get("artifacts") or []:
        state = f" (refused: {e(a['error'])})" if a.get("error") else ""
        out.append(
            f'<div class="tfws-media">sandbox file <strong>{e(a.get("label"))}</strong> '
            f"<code>{e(a.get('path'))}</code>{state}</div>"
        )
    return "".join(out)
