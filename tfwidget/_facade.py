"""The DataFrame properties shared by a turn's state, its view, a session's view and a collection of turns.

:class:`FramesFacade` writes the five public properties (``df``, ``messages_df``, ``tool_calls_df``,
``usage_df``, ``spans_df``) once; a class says how to build one frame in ``_frame(name)``. One turn's frames
come from :func:`turn_frame`; several turns' are stacked by :func:`stack_frames`, with a leading ``turn_id``
column (pandas ``string``) and the same columns whether there are turns or not.

This module imports the frame builders only when a frame is asked for, and never the fold: the fold
(:mod:`tfwidget.state`) inherits from it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import pandas as pd

    from .state import TurnState

__all__ = ["FRAME_NAMES", "FrameName", "FramesFacade", "stack_frames", "turn_frame"]

FrameName = Literal["df", "messages_df", "tool_calls_df", "usage_df", "spans_df"]
FRAME_NAMES: tuple[FrameName, ...] = ("df", "messages_df", "tool_calls_df", "usage_df", "spans_df")


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


def stack_frames(
    turns: Iterable[tuple[str | None, FramesFacade, TurnState]], name: FrameName, empty: FramesFacade
) -> pd.DataFrame:
    """The frame ``name`` of every turn, stacked, with a leading ``turn_id`` column (``string``).

    ``turns`` gives ``(turn_id, source, state)`` (a ``None`` id is missing: a turn not created yet): the frame is read from ``source`` (a state, or a view that
    locks its state), the pauses are linked across the turns' ``state`` for ``spans_df``. With no turns the
    result has no rows and the columns and dtypes of ``empty``'s frame (an empty state), after ``turn_id``.
    """
    import pandas as pd

    turns = list(turns)
    if name == "spans_df":
        from .timing import link_pauses

        link_pauses(state for _, _, state in turns)
    parts = [(key, source._frame(name)) for key, source, _ in turns] or [
        (None, empty._frame(name).iloc[:0].copy())
    ]
    frames = []
    for key, frame in parts:
        frame.insert(0, "turn_id", pd.array([key] * len(frame), dtype="string"))
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)
