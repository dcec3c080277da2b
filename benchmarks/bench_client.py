"""Benchmark GatewayClient against the simulated gateway (loopback HTTP).

Measures:

1. throughput: items/s through ``GatewayClient.subscribe`` replaying a large finished turn at full speed,
   against a bare ``httpx`` + ``httpx-sse`` loop (``json.loads`` per frame) over the same endpoint, in the
   same run (median of several runs, interleaved);
2. resume latency: milliseconds from a dropped connection to the first item after the resume, with the
   default backoff and with no backoff, for a running turn (live re-subscribe) and a finished one (rebuild
   from listed events).

Run: ``python benchmarks/bench_client.py [--deltas 100000] [--runs 5]``. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

import httpx
from httpx_sse import EventSource

from tfwidget.client import GatewayClient
from tfwidget.sim import Faults, Simulator, serve


def bench_client(sim: Simulator) -> tuple[int, float]:
    with GatewayClient(sim.base_url, sim.api_key) as client:
        t0 = time.perf_counter()
        n = 0
        for _ in client.subscribe(sim.session_id, sim.turn_id):
            n += 1
        return n, time.perf_counter() - t0


def bench_client_fold(sim: Simulator) -> tuple[int, float]:
    """``GatewayClient.subscribe`` with every item folded as it arrives (what a live view does)."""
    from tfwidget import TurnState

    with GatewayClient(sim.base_url, sim.api_key) as client:
        st = TurnState()
        apply = st.apply
        t0 = time.perf_counter()
        n = 0
        for item in client.subscribe(sim.session_id, sim.turn_id):
            apply(item)
            n += 1
        st.merged_messages()  # the merged text, as a reader of the fold would see it
        return n, time.perf_counter() - t0


def bench_bare(sim: Simulator) -> tuple[int, float]:
    url = f"{sim.base_url}/v1/agents/sessions/{sim.session_id}/turns/{sim.turn_id}/subscribe"
    headers = {"Authorization": f"Bearer {sim.api_key}", "Accept": "text/event-stream"}
    with httpx.Client(timeout=httpx.Timeout(10, read=300)) as http:
        t0 = time.perf_counter()
        n = 0
        with http.stream("POST", url, json={}, headers=headers) as response:
            for sse in EventSource(response).iter_sse():
                if not sse.data:
                    continue
                event = json.loads(sse.data)
                n += 1
                if event.get("type") == "turn.done":
                    break
        return n, time.perf_counter() - t0


def throughput(deltas: int, runs: int) -> dict[str, Any]:
    with serve("large", speed=0, deltas=deltas) as sim:
        sim.wait(timeout=120)
        total = len(sim.events())
        bench_bare(sim)  # warm up both paths (imports, pydantic schemas, connection setup)
        bench_client(sim)
        bench_client_fold(sim)
        client_rates, fold_rates, bare_rates = [], [], []
        for _ in range(runs):
            n, dt = bench_client(sim)
            assert n == total, (n, total)
            client_rates.append(n / dt)
            n, dt = bench_bare(sim)
            assert n == total, (n, total)
            bare_rates.append(n / dt)
            n, dt = bench_client_fold(sim)
            assert n == total, (n, total)
            fold_rates.append(n / dt)
    return {
        "items": total,
        "client": statistics.median(client_rates),
        "client_fold": statistics.median(fold_rates),
        "bare": statistics.median(bare_rates),
        "client_all": client_rates,
        "client_fold_all": fold_rates,
        "bare_all": bare_rates,
    }


def resume_latency(*, backoff: float, running: bool, drops: int = 8) -> list[float]:
    """Gaps (ms) between the last item before each drop and the first item after its resume."""
    faults = Faults(drop_after_events=150, max_drops=drops)
    speed = 10.0 if running else 0.0
    gaps: list[float] = []
    with serve("large", speed=speed, deltas=3000, faults=faults, keepalive=1.0) as sim:
        if not running:
            sim.wait(timeout=60)
        with GatewayClient(
            sim.base_url, sim.api_key, backoff=backoff, max_backoff=max(backoff, 0.001)
        ) as client:
            sub = client.subscribe(sim.session_id, sim.turn_id)
            prev_at = None
            seen = 0
            for item in sub:
                if len(sub.reconnects) > seen and prev_at is not None:
                    gaps.append((item.received_at - prev_at) * 1000)
                seen = len(sub.reconnects)
                prev_at = item.received_at
            modes = {r.mode for r in sub.reconnects}
    assert modes == {"subscribe" if running else "rebuild"}, modes
    return gaps


def drops_vs_clean(deltas: int = 10_000, every: int = 20) -> dict[str, Any]:
    """Seconds to follow the same running turn with no drops and with a drop every ``every`` frames.

    The turn is served from its backlog by :mod:`benchmarks._drop_server` in a child process (so the client
    measured here shares no GIL with the server); it stays ``running`` until ``turn.done``, so every drop is
    resumed by a get-turn and a subscribe after the cursor. The client uses its default backoff.
    """
    import subprocess
    import sys

    out: dict[str, Any] = {}
    for name, n in (("clean", 0), ("drops", every)):
        proc = subprocess.Popen([sys.executable, "-m", "benchmarks._drop_server", str(deltas), str(n)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip
        try:
            assert proc.stdout is not None
            base_url, key = proc.stdout.readline().split()
            with GatewayClient(base_url, key) as client:
                t0 = time.perf_counter()
                sub = client.subscribe("s1", "t1")
                out[f"{name}_items"] = sum(1 for _ in sub)
                out[name] = time.perf_counter() - t0
                out[f"{name}_reconnects"] = len(sub.reconnects)
                if not sub.done:
                    raise RuntimeError(f"{name}: the stream ended without turn.done")
        finally:
            if proc.stdin is not None:
                proc.stdin.close()
            proc.wait(30)
    return out


def bare_drops(deltas: int = 10_000, every: int = 20) -> dict[str, Any]:
    """The baseline for :func:`drops_vs_clean`: the same turn with a drop every ``every`` frames, followed by a
    bare resume loop (httpx + httpx-sse, ``json.loads`` per frame): after each drop a get-turn and a subscribe
    after the last id seen, until ``turn.done``; no typed events, no limits, no backoff."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "benchmarks._drop_server", str(deltas), str(every)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert proc.stdout is not None
        base_url, key = proc.stdout.readline().split()
        turn_url = f"{base_url}/v1/agents/sessions/s1/turns/t1"
        headers = {"Authorization": f"Bearer {key}"}
        items, resumes, cursor, done = 0, 0, 0, False
        with httpx.Client(timeout=httpx.Timeout(10, read=300)) as http:
            t0 = time.perf_counter()
            while not done:
                if cursor:
                    resumes += 1
                    http.get(turn_url, headers=headers).raise_for_status()
                body = {"after_sequence_number": cursor} if cursor else {}
                with http.stream("POST", f"{turn_url}/subscribe", json=body,
                                 headers={**headers, "Accept": "text/event-stream"}) as response:  # fmt: skip
                    for sse in EventSource(response).iter_sse():
                        if not sse.data:
                            continue
                        event = json.loads(sse.data)
                        items += 1
                        if sse.id:
                            cursor = int(sse.id)
                        if event.get("type") == "turn.done":
                            done = True
                            break
            seconds = time.perf_counter() - t0
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        proc.wait(30)
    return {"seconds": seconds, "items": items, "reconnects": resumes}


def live_drops(deltas: int = 10_000, every: int = 100, rate: float = 1_000.0) -> dict[str, Any]:
    """Follow the same live turn (``deltas`` deltas appearing at ``rate`` per second) with no drops and with the
    connection dropped after every ``every`` frames, folding each item as it arrives (what a live view does).

    Returns seconds from the first subscribe to ``turn.done`` for each, and how many of the turn's deltas were
    delivered one by one as they streamed (rather than merged into a message rebuilt from listed events).
    """
    import subprocess
    import sys

    from tfwidget import TurnState
    from tfwidget.events import ModelMessageDeltaEvent

    out: dict[str, Any] = {"deltas": deltas}
    for name, n in (("clean", 0), ("drops", every)):
        proc = subprocess.Popen([sys.executable, "-m", "benchmarks._drop_server", str(deltas), str(n), str(rate)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip
        try:
            assert proc.stdout is not None
            base_url, key = proc.stdout.readline().split()
            with GatewayClient(base_url, key) as client:
                st = TurnState()
                live = 0
                t0 = time.perf_counter()
                sub = client.subscribe("s1", "t1")
                for item in sub:
                    if type(item.event) is ModelMessageDeltaEvent:
                        live += 1
                    st.apply(item)
                out[name] = time.perf_counter() - t0
                out[f"{name}_live"] = live
                out[f"{name}_reconnects"] = len(sub.reconnects)
                out[f"{name}_text_ok"] = st.message_text("m1")[0] == "".join(f"t{i} " for i in range(deltas))
                if not sub.done:
                    raise RuntimeError(f"{name}: the stream ended without turn.done")
        finally:
            if proc.stdin is not None:
                proc.stdin.close()
            proc.wait(30)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deltas", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--sim-nodelay",
        action="store_true",
        help="set TCP_NODELAY on the simulator's sockets (its small writes otherwise meet delayed ACKs: ~40 ms)",
    )
    args = parser.parse_args()
    if args.sim_nodelay:
        from tfwidget.sim import server

        server._Handler.disable_nagle_algorithm = True

    tp = throughput(args.deltas, args.runs)
    print(
        f"\nThroughput: replaying a finished turn of {tp['items']:,} items over loopback, median of {args.runs}"
    )
    print(f"{'path':<44}{'items/s':>12}{'ratio':>8}")
    print(f"{'bare httpx + httpx-sse + json.loads':<44}{tp['bare']:>12,.0f}{1.0:>8.2f}")
    print(
        f"{'GatewayClient.subscribe (typed StreamItems)':<44}{tp['client']:>12,.0f}{tp['client'] / tp['bare']:>8.2f}"
    )

    nodelay = "on" if args.sim_nodelay else "off"
    print(
        "\nResume after a dropped connection: ms from the last item before the drop to the first after it"
        f" (simulator TCP_NODELAY {nodelay})"
    )
    print(f"{'case':<52}{'median':>9}{'min':>9}{'max':>9}")
    for running, backoff in ((True, 0.5), (True, 0.0), (False, 0.5), (False, 0.0)):
        if running:
            gaps = resume_latency(backoff=backoff, running=True, drops=8)
        else:  # a rebuild ends the stream: one drop per run
            gaps = [g for _ in range(5) for g in resume_latency(backoff=backoff, running=False, drops=1)]
        label = (
            f"{'running turn, re-subscribe' if running else 'finished turn, rebuild'}, backoff={backoff:g}s"
        )
        print(f"{label:<52}{statistics.median(gaps):>9.1f}{min(gaps):>9.1f}{max(gaps):>9.1f}")


if __name__ == "__main__":
    main()
