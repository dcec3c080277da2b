"""JSON text of untrusted depth -> Python values, never a ``RecursionError``.

``json.loads`` recurses once per nesting level: a hostile answer nested a few thousand levels deep raises
``RecursionError`` (which is not a ``ValueError``, so it escapes every ``except ValueError``). :func:`loads`
parses normally and, only when that fails for depth, replaces every container nested deeper than
``max_depth`` by its JSON text (a string): the rest of the document is kept.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["MAX_DEPTH", "loads"]

MAX_DEPTH = 200
"""Containers nested deeper than this are kept as their JSON text when a document is too deep to parse."""

_TOKENS = re.compile(r'["\\\[\]{}]')


def _flatten_deep(text: str, max_depth: int) -> str:
    """``text`` with every container deeper than ``max_depth`` replaced by a JSON string of its text."""
    out: list[str] = []
    depth = 0
    in_string = False
    escaped_at = -2
    start = -1  # where the current too-deep container starts
    pos = 0  # copied up to here
    for m in _TOKENS.finditer(text):
        i = m.start()
        ch = text[i]
        if in_string:
            if ch == "\\":
                if escaped_at != i - 1:
                    escaped_at = i
                else:
                    escaped_at = -2
            elif ch == '"' and escaped_at != i - 1:
                in_string = False
            continue
        if ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth == max_depth + 1:
                start = i
        elif ch in "]}":
            if depth == max_depth + 1 and start >= 0:
                out.append(text[pos:start])
                out.append(json.dumps(text[start : i + 1]))
                pos = i + 1
                start = -1
            depth -= 1
    out.append(text[pos:])
    return "".join(out)


def loads(text: str | bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads``, except that a document too deep to parse keeps its too-deep parts as text.

    Raises ``ValueError`` for text that is not JSON (as ``json.loads`` does), never ``RecursionError``.
    """
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8", "replace")
    try:
        return json.loads(text)
    except RecursionError:
        pass
    try:
        return json.loads(_flatten_deep(text, max_depth))
    except RecursionError as exc:  # not reachable for well-formed text; be safe for malformed text
        raise ValueError("JSON nested too deeply to parse") from exc
