"""Command line of the simulated gateway (``python -m tfwidget.sim``)."""

from __future__ import annotations

import argparse
import math
import sys
import threading
import time
from typing import Any

from .faults import Faults
from .scenarios import SCENARIO_NAMES

__all__ = ["build_parser", "main"]


def build_parser(prog: str = "python -m tfwidget.sim") -> argparse.ArgumentParser:
    """The argument parser of :func:`main` (reusable by a parent command)."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Run a simulated TrueFoundry gateway on 127.0.0.1 serving scripted agent turns.",
    )
    parser.add_argument(
        "--scenario",
        default="sub_agents",
        help=f"one of {', '.join(SCENARIO_NAMES)}, or a .sse/.jsonl recording path (default: sub_agents)",
    )
    parser.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="timeline speed factor; 0 or inf: as fast as possible (default: 1)",
    )
    parser.add_argument(
        "--port", type=int, default=0, help="TCP port on 127.0.0.1 (default: 0, any free port)"
    )
    parser.add_argument("--deltas", type=int, default=None, help="number of deltas for --scenario large")
    parser.add_argument(
        "--duration",
        type=float,
        default=None,
        help="stop after this many seconds (default: serve until Ctrl-C)",
    )
    faults = parser.add_argument_group("fault injection (subscribe responses)")
    faults.add_argument("--seed", type=int, default=0, help="random seed for faults")
    faults.add_argument(
        "--drop-after",
        type=int,
        default=None,
        metavar="N",
        help="drop the connection after N events of each response",
    )
    faults.add_argument(
        "--drop-probability",
        type=float,
        default=0.0,
        metavar="P",
        help="drop the connection before each event with probability P",
    )
    faults.add_argument("--max-drops", type=int, default=None, metavar="N", help="drop at most N responses")
    faults.add_argument(
        "--stall",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="send nothing for SECONDS at the start of each response",
    )
    faults.add_argument(
        "--fail-status",
        type=int,
        default=None,
        choices=(412, 500, 502, 503, 504),
        help="answer this status to the first --fail-count subscribe requests",
    )
    faults.add_argument("--fail-count", type=int, default=1, metavar="K")
    faults.add_argument(
        "--malformed-every",
        type=int,
        default=None,
        metavar="N",
        help="send a malformed frame after every N events",
    )
    return parser


def faults_from_args(args: argparse.Namespace) -> Faults | None:
    """The :class:`Faults` described by parsed arguments, or None when none is asked for."""
    f = Faults(
        seed=args.seed,
        drop_after_events=args.drop_after,
        drop_probability=args.drop_probability,
        max_drops=args.max_drops,
        stall_seconds=args.stall,
        fail_status=args.fail_status,
        fail_count=args.fail_count if args.fail_status else 0,
        malformed_every=args.malformed_every,
    )
    return None if f == Faults(seed=args.seed) else f


def _sleep_interruptibly(seconds: float | None) -> None:
    """Sleep ``seconds`` (``None``: forever) in short waits, so Ctrl-C stops it at once. One long blocking
    wait is not enough: when the kernel hands SIGINT to a server thread, the main thread's wait is not
    interrupted and the handler runs only when that wait ends, which for "forever" is never."""
    end = None if seconds is None else time.monotonic() + seconds
    done = threading.Event()
    while True:
        left = 0.2 if end is None else min(0.2, end - time.monotonic())
        if left <= 0 or done.wait(left):
            return


def main(argv: list[str] | None = None) -> int:
    """Run the simulator from the command line; print how to connect; serve until Ctrl-C.

    Prints the base URL, the generated API key, the session id and the running turn's id, plus
    ``export`` lines for ``TFY_GATEWAY_URL`` and ``TFY_API_KEY``. Returns the exit status.
    """
    from .server import Simulator

    parser = build_parser()
    args = parser.parse_args(argv)
    options: dict[str, Any] = {}
    if args.deltas is not None:
        if args.scenario != "large":
            parser.error("--deltas only applies to --scenario large")
        options["deltas"] = args.deltas
    speed = math.inf if args.speed == 0 else args.speed
    try:
        sim = Simulator(args.scenario, speed=speed, port=args.port, faults=faults_from_args(args), **options)
    except (ValueError, TypeError) as exc:
        parser.error(str(exc))
    try:
        sim.start()
    except OSError as exc:
        print(f"error: cannot listen on 127.0.0.1:{args.port}: {exc}", file=sys.stderr)
        return 1
    try:
        print(f"tfwidget simulated gateway ({sim.scenario.name}, speed {args.speed:g})")
        print(f"base URL:   {sim.base_url}")
        print(f"API key:    {sim.api_key}")
        print(f"session id: {sim.session_id}")
        print(f"turn id:    {sim.turn_id}")
        print()
        print(f"export TFY_GATEWAY_URL={sim.base_url}")
        print(f"export TFY_API_KEY={sim.api_key}")
        print("\nServing; press Ctrl-C to stop.", flush=True)
        _sleep_interruptibly(args.duration)
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
    return 0
