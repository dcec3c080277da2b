"""Remote media (images, video, audio) in model and tool output.

A markdown image or an ``<img>``, ``<video poster>``, ``<audio src>`` or ``srcset`` in what a model wrote is
fetched by the browser with no click: the remote server learns who reads the notebook and when, and a URL can
carry data out. Views therefore show a placeholder naming the host with a *load images* button (per view,
remembered in the view's ``remote_media`` trait); ``data:`` images render as they are.

>>> import tfwidget
>>> tfwidget.allow_remote_media()          # doctest: +SKIP
>>> view.remote_media = True               # doctest: +SKIP
"""

from __future__ import annotations

__all__ = ["allow_remote_media", "remote_media_allowed"]

_allowed = False


def allow_remote_media(allow: bool = True) -> None:
    """Set whether views created from now on load remote images, video and audio without asking."""
    if not isinstance(allow, bool):
        raise TypeError(f"allow must be True or False, not {allow!r}")
    global _allowed
    _allowed = allow


def remote_media_allowed() -> bool:
    """The default for new views (see :func:`allow_remote_media`); ``False`` unless changed."""
    return _allowed
