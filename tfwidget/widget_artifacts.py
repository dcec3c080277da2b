"""The TurnView's sandbox files: ``w.artifacts``, ``w.artifacts_df``, ``w.download()`` and the page's buttons.

The page never sees the API key. Its Download / Open / "load" buttons send an intent
(``{"type": "artifact", "action": "fetch", "req", "path"}``); Python checks that the path is one the turn
lists (an artifact or an offloaded tool result), downloads it with the view's gateway client and answers
with ``artifact_progress`` messages and one ``artifact_data`` message whose buffer holds the bytes (or an
``artifact_error`` message saying what went wrong).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._threads import new_thread
from .artifacts import (
    DEFAULT_MAX_BYTES,
    SandboxFile,
    artifacts_frame,
    check_sandbox_path,
    find_offloaded,
    fmt_bytes,
    sandbox_id_of,
    turn_artifacts,
)
from .errors import GatewayError

if TYPE_CHECKING:
    import pandas as pd

    from .client import GatewayClient
    from .state import TurnState

__all__ = ["PAGE_MAX_BYTES", "ArtifactsMixin"]

PAGE_MAX_BYTES = 50 * 1024 * 1024
"""Largest file handed to the page by the Download / Open buttons (bigger ones: ``w.download(path, to=...)``)."""

_PROGRESS_EVERY = 0.1  # seconds between progress messages


class ArtifactsMixin:
    """Sandbox file access for :class:`tfwidget.TurnView` (mixed in; uses its state, lock and ``send``)."""

    _state: TurnState
    _lock: Any
    #: the gateway client used to download sandbox files (set by :func:`tfwidget.watch`; assign your own).
    gateway_client: GatewayClient | None = None
    #: the sandbox to download from; default: the turn's last ``sandbox.created``.
    sandbox_id: str | None = None
    #: called for the sandbox id when the turn has no ``sandbox.created`` (a session's later turns).
    sandbox_source: Callable[[], str | None] | None = None
    #: the size limit of the page's buttons (bytes).
    page_max_bytes: int = PAGE_MAX_BYTES
    send: Any  # the widget's custom message sender (ipywidgets' Widget.send)

    @property
    def artifacts(self) -> list[dict[str, Any]]:
        """The files the turn's messages list in ``sandbox_artifacts`` blocks: ``path, label, message_id,
        thread_id`` (and ``error`` for a refused path)."""
        with self._lock:
            return [
                {
                    "path": a.path,
                    "label": a.label,
                    "message_id": a.message_id,
                    "thread_id": a.thread_id,
                    "error": a.error,
                }
                for a in turn_artifacts(self._state)
            ]

    @property
    def artifacts_df(self) -> pd.DataFrame:
        """:attr:`artifacts` as a DataFrame (columns ``path, label, name, message_id, thread_id, error``)."""
        with self._lock:
            return artifacts_frame(self._state)

    def _sandbox(self) -> str:
        with self._lock:
            sid = self.sandbox_id or sandbox_id_of(self._state)
        if not sid and self.sandbox_source is not None:
            sid = self.sandbox_source()
        if not sid:
            raise ValueError(
                "This turn has no sandbox.created event: set view.sandbox_id to download its files."
            )
        return sid

    def _client(self) -> GatewayClient:
        if self.gateway_client is None:
            raise ValueError(
                "This view has no gateway client to download with: build it with tfwidget.watch(...) or set "
                "view.gateway_client = GatewayClient(...)."
            )
        return self.gateway_client

    def _known_paths(self) -> set[str]:
        with self._lock:
            paths = {a.path for a in turn_artifacts(self._state) if a.error is None}
            for info in self._state.tool_calls.values():
                found = find_offloaded(info.response)
                if found:
                    paths.add(found["path"])
        return paths

    def download(
        self,
        path: str,
        to: str | os.PathLike[str] | None = None,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> SandboxFile:
        """Download a sandbox file of this turn (any absolute path; usually one of :attr:`artifacts`).

        With ``to`` (a file or a folder) the file is saved there; else its bytes are in ``.data``.
        Raises the typed errors of :meth:`tfwidget.client.GatewayClient.download_sandbox_file`.
        """
        check_sandbox_path(path)
        return self._client().download_sandbox_file(self._sandbox(), path, to=to, max_bytes=max_bytes)

    # ------------------------------------------------------------------ the page's intents

    def _on_artifact_msg(self, content: dict[str, Any]) -> None:
        req = content.get("req")
        path = content.get("path")
        if content.get("action") != "fetch":
            return

        def fail(message: str) -> None:
            self.send({"type": "artifact_error", "req": req, "path": path, "message": message})

        if not isinstance(path, str):
            fail("no path")
            return
        try:
            check_sandbox_path(path)
        except ValueError as exc:
            fail(f"Refused: {exc}.")
            return
        if path not in self._known_paths():
            fail(f"Refused: {path!r} is not a file this turn lists.")
            return
        new_thread(self._fetch_for_page, "tfwidget-artifact-fetch", (req, path, fail)).start()

    def _fetch_for_page(self, req: Any, path: str, fail: Any) -> None:
        last = [0.0]

        def progress(received: int, total: int | None) -> None:
            now = time.monotonic()
            if now - last[0] >= _PROGRESS_EVERY:
                last[0] = now
                self.send(
                    {
                        "type": "artifact_progress",
                        "req": req,
                        "path": path,
                        "received": received,
                        "total": total,
                    }
                )

        try:
            f = self._client().download_sandbox_file(
                self._sandbox(), path, max_bytes=self.page_max_bytes, on_progress=progress
            )
        except GatewayError as exc:
            msg = exc.message
            if exc.status is None and "over the limit" in msg:
                msg = (
                    f"{path} is too large to open here (over {fmt_bytes(self.page_max_bytes)}): "
                    f"use view.download({path!r}, to='...') in Python."
                )
            fail(msg)
            return
        except (ValueError, OSError) as exc:
            fail(str(exc))
            return
        data = f.data or b""
        self.send(
            {
                "type": "artifact_data",
                "req": req,
                "path": path,
                "name": f.name,
                "size": len(data),
                "content_type": f.content_type,
            },
            [data],
        )
