"""The DataFrame properties shared by a turn's state, its view, a session's view and a collection of turns.

:class:`FramesFacade` writes the five public properties (``df``, ``messages_df``, ``tool_calls_df``,
``usage_df``, ``spans_df``) once; a class says how to build one frame in ``_frame(name)``. One turn's frames
come from :func:`turn_frame`; several turns' are stacked by :func:`stack_frames` (the one stacking path, in
one pass over plain columns), with a leading ``turn_id`` column (pandas ``string``) and the same columns
whether there are turns or not.

This module imports the frame builders only when a frame is asked for, and never the fold: the fold
(:mod:`tfwidget.state`) inherits from it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import pandas as pd

    from .state import TurnState

__all__ = ["FRAME_NAMES", "Columns", "FrameName", "FramesFacade", "stack_frames", "turn_frame"]

FrameName = Literal["df", "messages_df", "tool_calls_df", "usage_df", "spans_df"]
FRAME_NAMES: tuple[FrameName, ...] = ("df", "messages_df", "tool_calls_df", "usage_df", "spans_df")
#: One turn's columns of one frame as plain lists, before they are typed (see :func:`stack_frames`).
Columns = dict[str, list[Any]]


class FramesFacade:
    """The five DataFrame properties, each a fresh frame built by ``self._frame(name)``."""

    __slots__ = ()

    def _frame(self, name: FrameName) -> pd.DataFrame:
        raise NotImplementedError

    @property
    def df(self) -> pd.DataFrame:
        """One row per stream item, deltas included (see :func:`tfwidget.frames.events_frame`)."""
        return self._frame("df")

    @property
    def messages_df(self) -> pd.DataFrame:
        """One row per merged model message (see :func:`tfwidget.frames.messages_frame`)."""
        return self._frame("messages_df")

    @property
    def tool_calls_df(self) -> pd.DataFrame:
        """One row per tool call (see :func:`tfwidget.frames.tool_calls_frame`)."""
        return self._frame("tool_calls_df")

    @property
    def usage_df(self) -> pd.DataFrame:
        """One row per model call with usage (see :func:`tfwidget.frames.usage_frame`)."""
        return self._frame("usage_df")

    @property
    def spans_df(self) -> pd.DataFrame:
        """One row per span: turn, threads, model calls, tool calls, pauses (see :mod:`tfwidget.timing`).
        Over several turns, a paused turn's waits end when the turn that resumed it started (see
        :func:`tfwidget.timing.link_pauses`)."""
        return self._frame("spans_df")


def turn_frame(state: TurnState, name: FrameName) -> pd.DataFrame:
    """One turn's frame ``name``."""
    if name == "df":
        from .frames import events_frame

        return events_frame(state.items)
    if name == "messages_df":
        from .frames import messages_frame

        return messages_frame(state)
    if name == "tool_calls_df":
        from .frames import tool_calls_frame

        return tool_calls_frame(state)
    if name == "usage_df":
        from .frames import usage_frame

        return usage_frame(state)
    if name == "spans_df":
        from .timing import spans_frame

        return spans_frame(state)
    raise ValueError(f"unknown frame {name!r}; one of {', '.join(FRAME_NAMES)}")


def stack_frames(turns: Iterable[tuple[str | None, TurnState | Columns]], name: FrameName) -> pd.DataFrame:
    """The frame ``name`` of every turn, stacked, with a leading ``turn_id`` column (pandas ``string``).

    The one stacking path (a :class:`~tfwidget.analysis.TurnCollection`'s and a session view's frames): the
    turns' rows are gathered as plain column lists and typed once, one DataFrame in all rather than one per
    turn. ``turns`` gives ``(turn_id, state)`` in order, each read once (a ``None`` id is missing: a turn not
    created yet); for ``messages_df``, ``tool_calls_df`` and ``usage_df`` the second item may instead be
    that turn's columns already built (:data:`Columns`, as ``tfwidget.frames.messages_columns`` and its
    siblings give them). ``spans_df`` holds every state while it links the pauses across the turns
    (:func:`tfwidget.timing.link_pauses`). With no turns the frame has no rows and the columns and dtypes
    of one turn's, after ``turn_id``.
    """
    import pandas as pd

    from . import frames

    keys: list[str | None] = []
    if name == "df":
        rows = frames.EventRows()
        for key, state in turns:
            if isinstance(state, dict):
                raise TypeError("df is stacked from states, not from built columns")
            items = state.items
            keys += [key] * len(items)
            rows.add(items)
        return rows.frame({"turn_id": pd.array(keys, dtype="string")})
    if name == "spans_df":
        from .timing import Span, link_pauses, spans, spans_to_frame

        held = []
        for key, state in turns:
            if isinstance(state, dict):
                raise TypeError("spans_df is stacked from states, not from built columns")
            held.append((key, state))
        link_pauses(state for _, state in held)
        every: list[Span] = []
        for key, state in held:
            turn_spans = spans(state)
            keys += [key] * len(turn_spans)
            every += turn_spans
        frame = spans_to_frame(every)
        frame.insert(0, "turn_id", pd.array(keys, dtype="string"))
        return frame
    small = {
        "messages_df": (frames.messages_columns, frames.MESSAGES_KINDS),
        "tool_calls_df": (frames.tool_calls_columns, frames.TOOL_CALLS_KINDS),
        "usage_df": (frames.usage_columns, frames.USAGE_KINDS),
    }
    if name not in small:
        raise ValueError(f"unknown frame {name!r}; one of {', '.join(FRAME_NAMES)}")
    build, kinds = small[name]
    cols: dict[str, list[Any]] = {c: [] for c in kinds}
    first = next(iter(kinds))
    for key, part in turns:
        one = part if isinstance(part, dict) else build(part)
        for c, values in one.items():
            cols[c] += values
        keys += [key] * len(one[first])
    return frames.typed_frame(cols, kinds, {"turn_id": pd.array(keys, dtype="string")})
