"""tfwidget: watch and analyse TrueFoundry Agent Harness turns live in Jupyter.

>>> import tfwidget
>>> state = tfwidget.TurnState.from_items(tfwidget.load("turn.sse"))   # doctest: +SKIP
>>> state.usage_df                                                   # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .events import EVENT_TYPES, Event, EventParseError, UnknownEvent, parse_event
from .frames import events_frame, messages_frame, tool_calls_frame, usage_frame
from .media import allow_remote_media
from .pricing import ModelPrice, Pricing, set_pricing
from .recording import load, save
from .sse import MalformedFrame, MalformedFrameWarning, SSEDecoder, StreamItem, iter_sse
from .state import TurnState

__version__ = "0.1.0"

__all__ = [
    "EVENT_TYPES",
    "AsyncGatewayClient",
    "AuthenticationError",
    "ConfigurationError",
    "ConflictError",
    "Event",
    "EventParseError",
    "GatewayClient",
    "GatewayConnectionError",
    "GatewayError",
    "MalformedFrame",
    "MalformedFrameWarning",
    "ModelPrice",
    "NotAnEventStreamError",
    "NotFoundError",
    "Pricing",
    "ProtocolError",
    "RateLimitError",
    "ReconnectError",
    "ReconnectInfo",
    "SSEDecoder",
    "ServerError",
    "SessionView",
    "StreamIdleError",
    "StreamItem",
    "StreamLimitError",
    "StreamLimits",
    "TurnCollection",
    "TurnDiff",
    "TurnState",
    "TurnView",
    "UnknownEvent",
    "__version__",
    "allow_remote_media",
    "chat",
    "concat",
    "diff",
    "events_frame",
    "iter_sse",
    "load",
    "messages_frame",
    "parse_event",
    "plot_timeline",
    "plot_usage",
    "replay",
    "save",
    "set_pricing",
    "spans_frame",
    "to_arrow",
    "to_parquet",
    "to_polars",
    "tool_calls_frame",
    "usage_frame",
    "watch",
]

_LAZY = {
    "GatewayClient": ("tfwidget.client", "GatewayClient"),
    "AsyncGatewayClient": ("tfwidget.client", "AsyncGatewayClient"),
    "TurnView": ("tfwidget.widget", "TurnView"),
    "watch": ("tfwidget.widget", "watch"),
    "replay": ("tfwidget.player", "replay"),
    "chat": ("tfwidget.session", "chat"),
    "SessionView": ("tfwidget.session", "SessionView"),
    "concat": ("tfwidget.analysis", "concat"),
    "diff": ("tfwidget.turndiff", "diff"),
    "TurnDiff": ("tfwidget.turndiff", "TurnDiff"),
    "plot_usage": ("tfwidget.analysis", "plot_usage"),
    "plot_timeline": ("tfwidget.timeline", "plot_timeline"),
    "TurnCollection": ("tfwidget.analysis", "TurnCollection"),
    "to_arrow": ("tfwidget.analysis", "to_arrow"),
    "spans_frame": ("tfwidget.timing", "spans_frame"),
    "to_parquet": ("tfwidget.analysis", "to_parquet"),
    "to_polars": ("tfwidget.analysis", "to_polars"),
    "ReconnectInfo": ("tfwidget.client", "ReconnectInfo"),
    "GatewayError": ("tfwidget.errors", "GatewayError"),
    "GatewayConnectionError": ("tfwidget.errors", "GatewayConnectionError"),
    "AuthenticationError": ("tfwidget.errors", "AuthenticationError"),
    "ConfigurationError": ("tfwidget.errors", "ConfigurationError"),
    "ConflictError": ("tfwidget.errors", "ConflictError"),
    "NotFoundError": ("tfwidget.errors", "NotFoundError"),
    "NotAnEventStreamError": ("tfwidget.errors", "NotAnEventStreamError"),
    "ProtocolError": ("tfwidget.errors", "ProtocolError"),
    "RateLimitError": ("tfwidget.errors", "RateLimitError"),
    "ReconnectError": ("tfwidget.errors", "ReconnectError"),
    "ServerError": ("tfwidget.errors", "ServerError"),
    "StreamIdleError": ("tfwidget.errors", "StreamIdleError"),
    "StreamLimitError": ("tfwidget.errors", "StreamLimitError"),
    "StreamLimits": ("tfwidget.client", "StreamLimits"),
}

if TYPE_CHECKING:  # what the lazy names are, for type checkers and IDEs
    from .analysis import TurnCollection, concat, plot_usage, to_arrow, to_parquet, to_polars
    from .client import AsyncGatewayClient, GatewayClient, ReconnectInfo, StreamLimits
    from .errors import (
        AuthenticationError,
        ConfigurationError,
        ConflictError,
        GatewayConnectionError,
        GatewayError,
        NotAnEventStreamError,
        NotFoundError,
        ProtocolError,
        RateLimitError,
        ReconnectError,
        ServerError,
        StreamIdleError,
        StreamLimitError,
    )
    from .player import replay
    from .session import SessionView, chat
    from .timeline import plot_timeline
    from .timing import spans_frame
    from .turndiff import TurnDiff, diff
    from .widget import TurnView, watch


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | {"otel"})


def __getattr__(name: str) -> Any:
    # the client and the widget import httpx / anywidget: load them on first use
    if name == "otel":  # the OpenTelemetry export: tfwidget.otel.export(...) without importing it first
        import importlib

        return importlib.import_module("tfwidget.otel")
    if name in _LAZY:
        import importlib

        mod, attr = _LAZY[name]
        return getattr(importlib.import_module(mod), attr)
    raise AttributeError(f"module 'tfwidget' has no attribute {name!r}")
