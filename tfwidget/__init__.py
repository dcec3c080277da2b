"""tfwidget: watch and analyse TrueFoundry Agent Harness turns live in Jupyter.

>>> import tfwidget
>>> state = tfwidget.TurnState.from_items(tfwidget.load("turn.sse"))   # doctest: +SKIP
>>> state.usage_df                                                   # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from .events import EVENT_TYPES, Event, EventParseError, UnknownEvent, parse_event
from .frames import events_frame, messages_frame, tool_calls_frame, usage_frame
from .recording import load, save
from .sse import MalformedFrame, MalformedFrameWarning, SSEDecoder, StreamItem, iter_sse
from .state import TurnState

__version__ = "0.1.0"

__all__ = [
    "EVENT_TYPES",
    "Event",
    "EventParseError",
    "MalformedFrame",
    "MalformedFrameWarning",
    "SSEDecoder",
    "StreamItem",
    "TurnState",
    "UnknownEvent",
    "__version__",
    "events_frame",
    "iter_sse",
    "load",
    "messages_frame",
    "parse_event",
    "save",
    "tool_calls_frame",
    "usage_frame",
]

_LAZY = {
    "GatewayClient": ("tfwidget.client", "GatewayClient"),
    "AsyncGatewayClient": ("tfwidget.client", "AsyncGatewayClient"),
    "TurnView": ("tfwidget.widget", "TurnView"),
    "watch": ("tfwidget.widget", "watch"),
    "replay": ("tfwidget.widget", "replay"),
    "chat": ("tfwidget.session", "chat"),
    "SessionView": ("tfwidget.session", "SessionView"),
    "concat": ("tfwidget.analysis", "concat"),
    "plot_usage": ("tfwidget.analysis", "plot_usage"),
    "TurnCollection": ("tfwidget.analysis", "TurnCollection"),
}


def __getattr__(name: str) -> Any:
    # the client and the widget import httpx / anywidget: load them on first use
    if name in _LAZY:
        import importlib

        mod, attr = _LAZY[name]
        return getattr(importlib.import_module(mod), attr)
    raise AttributeError(f"module 'tfwidget' has no attribute {name!r}")
