"""Small contracts that the static types lean on."""

from __future__ import annotations

import sys
import types
import typing

from tfwidget import events, widget


def test_the_event_union_lists_every_modelled_type() -> None:
    known = typing.get_args(events._KnownEvent)
    assert known == tuple(events._MODELS.values())
    assert typing.get_args(events.Event) == (*known, events.UnknownEvent)


def test_display_metadata_names_colabs_widget_manager(monkeypatch) -> None:
    monkeypatch.delitem(sys.modules, "google.colab.output", raising=False)
    assert widget._repr_metadata() == {}
    output = types.ModuleType("google.colab.output")
    output._widgets = types.SimpleNamespace(_installed_url=None)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "google.colab.output", output)
    assert widget._repr_metadata() == {}  # the manager is not installed
    output._widgets._installed_url = "https://example.test/manager.js"  # type: ignore[attr-defined]
    assert widget._repr_metadata() == {
        "application/vnd.jupyter.widget-view+json": {
            "colab": {"custom_widget_manager": {"url": "https://example.test/manager.js"}}
        }
    }
