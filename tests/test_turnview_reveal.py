"""``watch(..., reveal=True)`` and the model id the front end uses to adopt a re-rendered view."""

from __future__ import annotations

import tfwidget
from tfwidget.sim import Simulator
from tfwidget.widget import TurnView


def test_watch_reveal_is_synced_to_the_front_end() -> None:
    with Simulator("plain_answer", speed=0).start() as sim:
        quiet = tfwidget.watch(sim.session_id, sim.turn_id, base_url=sim.base_url, api_key=sim.api_key)
        shown = tfwidget.watch(
            sim.session_id, sim.turn_id, base_url=sim.base_url, api_key=sim.api_key, reveal=True
        )
        try:
            assert quiet.reveal is False and shown.reveal is True
            state = shown.get_state()
            assert state["reveal"] is True
        finally:
            quiet.stop()
            shown.stop()


def test_every_view_has_its_own_model_uid() -> None:
    a, b = TurnView(), TurnView()
    assert a._uid and b._uid and a._uid != b._uid
    assert a.get_state()["_uid"] == a._uid
