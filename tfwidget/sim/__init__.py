"""An embedded, simulated TrueFoundry gateway for demos, tests and benchmarks.

A real HTTP/1.1 server on ``127.0.0.1`` that speaks the Agent Harness turn-event protocol: the
same paths, JSON bodies, statuses, error bodies and SSE framing as the gateway, so any client
(including the official ``truefoundry_gateway_sdk``) pointed at :attr:`Simulator.base_url` with
:attr:`Simulator.api_key` works unchanged. Standard library only.

Quick start::

    import tfwidget.sim

    with tfwidget.sim.serve("approval_pause", speed=2) as sim:
        print(sim.base_url, sim.session_id, sim.turn_id)

    # or, in a notebook
    sim = tfwidget.sim.Simulator("sub_agents").start()
    ...
    sim.stop()

From a shell: ``python -m tfwidget.sim --scenario sub_agents --speed 1 --port 0``.

Public API:

- :func:`serve` / :class:`Simulator`: run the server (``base_url``, ``api_key``,
  ``session_id``, ``turn_id``, ``faults``, ``speed``, ``stop()``).
- :class:`Scenario`: scripted timelines; :data:`SCENARIO_NAMES` lists the built-in ones, and any
  ``.sse`` / ``.jsonl`` recording path is accepted too.
- :class:`Faults`: dropped connections, stalls, error statuses, malformed frames, ``retry:`` and
  comment lines.
- :func:`main`: the command-line entry point.
"""

from .cli import main
from .faults import Faults
from .scenarios import FIXTURE_NAMES, SCENARIO_NAMES, Scenario
from .server import SimTurn, Simulator, serve

__all__ = ["FIXTURE_NAMES", "SCENARIO_NAMES", "Faults", "Scenario", "SimTurn", "Simulator", "main", "serve"]
