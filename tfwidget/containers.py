"""Views inside ipywidgets containers keep their transcripts without a kernel.

A :class:`~tfwidget.widget.TurnView` or :class:`~tfwidget.session.SessionView` displayed on its own shows
two outputs: its static transcript, then the live view (see :func:`tfwidget.widget.display_pair`). Inside an
``HBox`` / ``VBox`` / ``GridBox`` / ``Tab`` / ``Accordion`` (any ``ipywidgets.Box``) the container is the
output and the views' own display hooks never run, so a notebook reopened without a kernel would show only
"model not found" where the transcripts were.

:func:`install` registers a display hook for ``ipywidgets.Box`` in the running IPython shell (only when no
other hook is registered for it). A container that holds a tfwidget view, at any depth, is displayed as the
same pair: one static output with the transcripts of every view in it (in order), then the container. The
static output is refreshed when any of those views refreshes its own. A container without tfwidget views is
displayed exactly as before.
"""

from __future__ import annotations

from typing import Any

__all__ = ["container_static_bundle", "display_container", "install", "views_in"]

# The text/html of the container's own output: where the container cannot render (nbconvert or GitHub
# without widget state), the static output before it is the transcript, and the container's repr is not.
_PLACEHOLDER = "<!-- tfwidget: the static transcript is the output above -->"


def _is_view(widget: Any) -> bool:
    return callable(getattr(widget, "_static_bundle", None)) and hasattr(widget, "model_id")


def views_in(widget: Any) -> list[Any]:
    """The tfwidget views inside ``widget`` (an ipywidgets container), depth first, each once."""
    out: list[Any] = []
    seen: set[int] = set()

    def walk(w: Any) -> None:
        if id(w) in seen:
            return
        seen.add(id(w))
        if _is_view(w):
            out.append(w)
            return
        for child in getattr(w, "children", None) or ():
            walk(child)

    walk(widget)
    return out


def container_static_bundle(views: list[Any]) -> dict[str, Any]:
    """One ``text/html`` output with the static transcript of every view, in order."""
    return {"text/html": "".join(view._static_bundle()["text/html"] for view in views)}


class _ContainerHandle:
    """Stands in a view's ``_display_handles``: whatever the view refreshes, the whole container's static
    output is re-rendered (it holds the other views' transcripts too)."""

    def __init__(self, handle: Any, views: list[Any]) -> None:
        self.handle = handle
        self.views = views

    def update(self, _bundle: Any = None, **_kwargs: Any) -> None:
        self.handle.update(container_static_bundle(self.views), raw=True)


def _mimebundle(widget: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    bundle = widget._repr_mimebundle_()
    data, metadata = bundle if isinstance(bundle, tuple) else (bundle, {})
    return dict(data or {"text/plain": repr(widget)}), dict(metadata or {})


def display_container(widget: Any) -> None:
    """Display an ipywidgets container: the static transcripts of its tfwidget views first (when it holds
    any), then the container itself."""
    from IPython.display import display

    views = views_in(widget)
    if not views:
        own = getattr(type(widget), "_ipython_display_", None)
        if callable(own):
            own(widget)
            return
        data, metadata = _mimebundle(widget)
        display(data, metadata=metadata, raw=True)
        return
    handle = display(container_static_bundle(views), raw=True, display_id=True)
    if handle is not None:
        group = _ContainerHandle(handle, views)
        for view in views:
            handles = getattr(view, "_display_handles", None)
            if not isinstance(handles, list):
                handles = view._display_handles = []
            handles.append(group)
    data, metadata = _mimebundle(widget)
    data.setdefault("text/html", _PLACEHOLDER)
    display(data, metadata=metadata, raw=True)


def install(shell: Any = None) -> bool:
    """Register :func:`display_container` for ``ipywidgets.Box`` in ``shell`` (default: the running IPython
    shell). Returns whether the hook is in place; it is not when there is no shell or another hook for
    containers is already registered."""
    try:
        import ipywidgets
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - both are dependencies of the widget
        return False
    shell = shell if shell is not None else get_ipython()
    formatter = getattr(getattr(shell, "display_formatter", None), "ipython_display_formatter", None)
    if formatter is None:
        return False
    try:
        existing = formatter.lookup_by_type(ipywidgets.Box)
    except KeyError:
        existing = None
    if existing is display_container:
        return True
    if existing is not None:
        return False
    formatter.for_type(ipywidgets.Box, display_container)
    return True
