"""The text of a content value: the one rule for every reader of message, input and output content.

Content on the wire is a string, a list of parts, ``None`` or (for tool output) any JSON value. Every reader
(the fold, the view, the DataFrames, the diff, the CLI, the OpenTelemetry export) takes its text here; the
readers that show more than the text say so with the options of :func:`content_text`, so the differences
between them are named in one place instead of being separate rules that drift apart.

This module imports nothing from tfwidget, so any module may use it.

>>> content_text([{"type": "text", "text": "Hello"}, {"type": "image_url"}, " world"])
'Hello world'
>>> content_text([{"type": "file", "name": "a.csv"}, {"type": "text", "text": "see file"}], sep="\\n", files=True)
'[file a.csv]\\nsee file'
>>> content_text({"answer": 42})
'{"answer": 42}'
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["content_text"]


def content_text(content: Any, sep: str = "", *, refusals: bool = False, files: bool = False) -> str:
    """The text of ``content``.

    - ``None`` gives ``""``; a string is its own text.
    - A list gives the texts of its parts, joined with ``sep``; a part that gives no text (or an empty one)
      adds nothing, not even a separator. A part is a string (its own text), a mapping or an object with
      attributes (a content part model):

      - a ``refusal`` part gives its ``refusal`` text when ``refusals`` is true, else nothing;
      - a ``file`` part gives ``[file NAME]`` (``[file]`` without a name) when ``files`` is true, else
        nothing;
      - any other part gives its ``text`` when that is a string (so an image or an unknown part without
        text adds nothing).

    - Anything else (a tool's JSON output, a number) is shown as JSON (``str()`` when it is not JSON-able,
      a short placeholder when it is nested deeper than Python recurses).

    The options name what the readers show besides the text: ``refusals`` for a message's whole output
    (the OpenTelemetry export), ``files`` for a user's message as the view shows it. Whatever the options,
    a text part's text is always taken, and the result is always a string.
    """
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = (_part_text(part, refusals, files) for part in content)
        return sep.join(text for text in texts if text)
    return _json_text(content)


def _part_text(part: Any, refusals: bool, files: bool) -> str:
    if isinstance(part, str):
        return part
    kind = _field(part, "type")
    if kind == "refusal":
        refusal = _field(part, "refusal") if refusals else None
        return refusal if isinstance(refusal, str) else ""
    if kind == "file":
        if not files:
            return ""
        name = _field(part, "name")
        return f"[file {name}]" if name not in (None, "") else "[file]"
    text = _field(part, "text")
    return text if isinstance(text, str) else ""


def _field(part: Any, name: str) -> Any:
    if isinstance(part, Mapping):
        return part.get(name)
    return getattr(part, name, None)


def _json_text(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)
    except RecursionError:  # nested deeper than Python recurses: say so instead of raising
        return f"<{type(value).__name__} nested too deeply to show>"
