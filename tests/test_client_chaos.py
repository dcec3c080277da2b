"""GatewayClient resume under injected faults: drops, stalls, 5xx, 412, Retry-After, giving up."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from typing import Any

import httpx
import pytest

from tfwidget.client import GatewayClient, ReconnectInfo
from tfwidget.errors import ReconnectError, ServerError
from tfwidget.sim import Faults, Scenario, Simulator, serve
from tfwidget.sse import StreamItem
from tfwidget.state import TurnState

from .conftest import drop_none
from .test_client import assert_complete, full_log_items, no_leaks, summary  # noqa: F401  (autouse fixture)

pytestmark = pytest.mark.timeout(90)

SHORT = httpx.Timeout(2.0, read=0.25)


def fast_client(sim: Simulator, **kw: Any) -> GatewayClient:
    kw.setdefault("timeout", SHORT)
    kw.setdefault("backoff", 0.002)
    kw.setdefault("max_backoff", 0.02)
    return GatewayClient(sim.base_url, sim.api_key, **kw)


def assert_complete_or_rebuilt(items: list[StreamItem], sim: Simulator, sub: Any) -> None:
    """The turn arrived whole. While every resume re-subscribed, the items are exactly the log 1..N. A
    resume that found the turn already over (a loaded machine reconnects late) rebuilds the rest from the
    turn's event list (``mode="rebuild"``, events without sequence numbers): then the items up to it are the
    log's, and everything folds to what the full log folds to."""
    if all(r.mode == "subscribe" for r in sub.reconnects):
        assert_complete(items, sim)
        return
    numbered = [it.sequence_number for it in items if it.sequence_number is not None]
    assert numbered == list(range(1, len(numbered) + 1))
    assert items[-1].type == "turn.done"
    assert summary(TurnState.from_items(items)) == summary(TurnState.from_items(full_log_items(sim)))


class ChaosMonkey(threading.Thread):
    """Swaps the simulator's faults every few milliseconds until ``target`` failures were observed.

    Every configuration keeps dropping connections at random (``drop_probability``), and some also fail
    the next subscribe with a 5xx or stall a response longer than the client's read timeout. Injection
    stops once the client saw ``target`` failures, or when the turn is close to its end (so the tail of
    the turn is still streamed live and every sequence number can be checked).
    """

    def __init__(self, sim: Simulator, failures: list[BaseException], target: int, total_events: int) -> None:
        super().__init__(name="chaos-monkey")
        self.sim = sim
        self.failures = failures
        self.target = target
        self.total = total_events
        self.rng = random.Random(1234)
        self.stop_event = threading.Event()
        self.configs: dict[str, int] = {"5xx": 0, "stall": 0, "drop-only": 0}

    def run(self) -> None:
        i = 0
        fast = self.sim.speed
        while not self.stop_event.is_set():
            produced = len(self.sim.turn().events)
            if len(self.failures) >= self.target:
                break
            # a slow (loaded) machine sees fewer failures per event: past 70 % of the turn the timeline slows
            # down until the target is reached, so the tail is still streamed live afterwards
            self.sim.speed = fast if produced < 0.7 * self.total else min(fast, 2.0)
            i += 1
            kw: dict[str, Any] = {"seed": i, "drop_probability": self.rng.uniform(0.06, 0.2)}
            roll = self.rng.random()
            if roll < 0.3:
                kw.update(fail_status=self.rng.choice([500, 502, 503, 504]), fail_count=1)
                self.configs["5xx"] += 1
            elif roll < 0.4:
                kw.update(stall_seconds=0.6, stall_after_events=self.rng.randint(0, 6), max_stalls=1)
                self.configs["stall"] += 1
            else:
                self.configs["drop-only"] += 1
            self.sim.faults = Faults(**kw)
            self.stop_event.wait(self.rng.uniform(0.01, 0.05))
        self.sim.faults = Faults()
        self.sim.speed = fast


def test_long_turn_survives_200_random_faults() -> None:
    deltas = 4000
    with serve("large", speed=10, deltas=deltas) as sim, fast_client(sim, max_reconnects=25) as client:
        total = len(Scenario.large(deltas).events)
        calls: list[ReconnectInfo] = []
        sub = client.subscribe(sim.session_id, sim.turn_id, on_reconnect=calls.append)
        monkey = ChaosMonkey(sim, sub.failures, target=200, total_events=total)
        monkey.start()
        t0 = time.monotonic()
        try:
            items = list(sub)
        finally:
            monkey.stop_event.set()
            monkey.join()
        elapsed = time.monotonic() - t0
        assert len(sub.failures) >= 200, (len(sub.failures), monkey.configs)
        # nothing lost, nothing duplicated, same final state as the full log (and the official merge)
        assert_complete(items, sim)
        # every failure was followed by exactly one reported reconnect attempt
        assert calls == sub.reconnects and len(calls) == len(sub.failures)
        assert [c.attempt for c in calls] == list(range(1, len(calls) + 1))
        assert all(c.mode == "subscribe" for c in calls)
        reasons = {c.reason for c in calls}
        assert "stream ended before turn.done" in reasons or any("connection" in r for r in reasons)
        assert any(r.startswith("HTTP 5") for r in reasons), reasons
        assert "read timeout" in reasons, reasons
        # each successful resume continued right after the last delivered sequence number
        for c in calls:  # (None: the very first request failed, before any event)
            assert c.after_sequence_number is None or c.after_sequence_number >= 1
        assert elapsed < 85  # (a bound below the test's timeout: it must not hang between attempts)


def test_stall_longer_than_the_read_timeout_resumes() -> None:
    faults = Faults(stall_seconds=1.5, stall_after_events=6, max_stalls=1)
    with serve("sub_agents", speed=6, faults=faults) as sim, fast_client(sim) as client:
        sub = client.subscribe(sim.session_id, sim.turn_id)
        t0 = time.monotonic()
        items = list(sub)
        assert time.monotonic() - t0 < 10
        assert_complete(items, sim)
        assert len(sub.reconnects) == 1
        info = sub.reconnects[0]
        assert info.reason == "read timeout" and info.mode == "subscribe" and info.after_sequence_number == 6
        assert isinstance(sub.failures[0], httpx.ReadTimeout)


def test_412_on_first_subscribe_rebuilds_from_listed_events() -> None:
    with serve("sub_agents", speed=0) as sim, fast_client(sim) as client:
        sim.wait(timeout=10)
        sim.faults = Faults(fail_status=412, fail_count=1)
        sub = client.subscribe(sim.session_id, sim.turn_id)
        items = list(sub)
        assert len(sub.reconnects) == 1
        info = sub.reconnects[0]
        assert info.mode == "rebuild" and info.replayed == len(items) and "412" in info.reason
        # no deltas, no sequence numbers; turn.created and turn.done made up from the turn object
        assert all(it.sequence_number is None for it in items)
        assert all(it.type != "model.message.delta" for it in items)
        assert items[0].type == "turn.created" and items[0].synthesized
        done = items[-1]
        assert done.type == "turn.done" and done.synthesized
        turn = client.get_turn(sim.session_id, sim.turn_id)
        assert done.event.state.model_dump(mode="json", exclude_none=True) == drop_none(turn["state"])
        assert [it.event.id for it in items[1:-1]] == [e["id"] for e in sim.turn().merged()]
        rebuilt = TurnState.from_items(items)
        assert summary(rebuilt) == summary(TurnState.from_items(full_log_items(sim)))
        assert rebuilt.created is not None and rebuilt.created.turn_id == sim.turn_id


def test_drop_after_the_turn_finished_rebuilds_once_with_merged_messages() -> None:
    """Cut inside two streaming messages of a finished turn: the rebuild sends what is missing, nothing twice."""
    with serve("sub_agents", speed=0, faults=Faults(drop_after_events=14, max_drops=1)) as sim:
        sim.wait(timeout=10)
        with fast_client(sim) as client:
            sub = client.subscribe(sim.session_id, sim.turn_id)
            items = list(sub)
        log = full_log_items(sim)
        live = [it for it in items if it.sequence_number is not None]
        rebuilt = [it for it in items if it.sequence_number is None]
        assert [it.sequence_number for it in live] == list(range(1, 15))
        (info,) = sub.reconnects
        assert info.mode == "rebuild" and info.ok and info.replayed == len(rebuilt)
        assert info.after_sequence_number == 14
        assert info.reason == "connection error (RemoteProtocolError)"  # cut mid-body (no final chunk)
        assert rebuilt[-1].type == "turn.done" and rebuilt[-1].synthesized
        assert not any(it.synthesized for it in rebuilt[:-1])  # turn.created came live
        # the two sub-agent messages (bases at 11 and 12) were cut mid-delta: their merged versions are
        # delivered again; the main thread's first message (complete at 8) and every other event are not
        cut = {
            it.event.id
            for it in rebuilt
            if it.type == "model.message" and it.event.id in {e.event.id for e in live}
        }
        assert cut == {log[10].event.id, log[11].event.id}
        non_delta = [it.event.id for it in items if it.type != "model.message.delta"]
        assert len(non_delta) - len(set(non_delta)) == len(cut)
        merged_ids = {e["id"] for e in sim.turn().merged()}
        assert set(non_delta) == merged_ids | {log[0].event.id, rebuilt[-1].event.id}
        assert summary(TurnState.from_items(items)) == summary(TurnState.from_items(log))


def test_412_while_running_retries_and_resumes_live() -> None:
    """412 on a resubscribe while the turn runs: listing answers 409, so the client tries again later."""
    with serve("sub_agents", speed=4, keepalive=0.05) as sim, fast_client(sim, max_reconnects=50) as client:
        sim.faults = Faults(drop_after_events=5, max_drops=1)
        sub = client.subscribe(sim.session_id, sim.turn_id)
        items: list[StreamItem] = []
        for it in sub:
            items.append(it)
            if it.sequence_number == 2:
                sim.faults = Faults(fail_status=412, fail_count=1)  # for the next subscribe
        assert_complete(items, sim)
        first, second = sub.reconnects
        assert first.mode == "rebuild" and not first.ok and "409" in (first.error or "")
        assert second.mode == "subscribe" and second.ok and second.after_sequence_number == 5
        assert [type(f).__name__ for f in sub.failures] == [
            "RemoteProtocolError",
            "ConflictError",
            "ConflictError",
        ]


def test_retry_after_is_honoured() -> None:
    faults = Faults(fail_status=503, fail_count=1, retry_after=1.2)
    with serve("long_markdown", speed=1, faults=faults, keepalive=0.05) as sim, fast_client(sim) as client:
        sub = client.subscribe(sim.session_id, sim.turn_id)
        t0 = time.monotonic()
        it = iter(sub)
        first = next(it)
        waited = time.monotonic() - t0
        sub.close()
        assert first.sequence_number == 1 and list(it) == []
        assert 1.2 <= waited < 3.0
        assert sub.reconnects[0].delay >= 1.2 and sub.reconnects[0].reason == "HTTP 503"


def test_stream_retry_field_sets_the_backoff() -> None:
    faults = Faults(retry_ms=400, drop_after_events=4, max_drops=1)
    with serve("sub_agents", speed=2, faults=faults, keepalive=0.05) as sim, fast_client(sim) as client:
        sub = client.subscribe(sim.session_id, sim.turn_id)
        items = list(sub)
        assert_complete(items, sim)
        (info,) = sub.reconnects
        assert 0.2 <= info.delay <= 0.4  # retry: 400 ms with jitter, instead of the 2 ms backoff


def test_giving_up_after_max_reconnects() -> None:
    faults = Faults(fail_status=502, fail_count=50)
    with serve("long_markdown", speed=1, faults=faults) as sim, fast_client(sim, max_reconnects=3) as client:
        calls: list[ReconnectInfo] = []
        sub = client.subscribe(sim.session_id, sim.turn_id, on_reconnect=calls.append)
        with pytest.raises(ReconnectError) as info:
            list(sub)
        err = info.value
        assert isinstance(err.cause, ServerError) and err.cause.status == 502
        assert isinstance(err.__cause__, ServerError) and err.status == 502
        assert "max_reconnects" in str(err) and sim.api_key not in str(err)
        assert len(calls) == 3 and all(not c.ok for c in calls) and sim.fault_stats["failures"] == 4


def test_progress_resets_the_reconnect_budget() -> None:
    # 6 drops, each after some progress: more than max_reconnects=2 in total, never 3 in a row. (A read
    # timeout of its own would count as a failure without progress: the client waits as long as it takes.)
    faults = Faults(drop_after_events=3, max_drops=6)
    with (
        serve("sub_agents", speed=1, faults=faults, keepalive=0.05) as sim,
        fast_client(sim, max_reconnects=2, timeout=httpx.Timeout(30.0)) as client,
    ):
        sub = client.subscribe(sim.session_id, sim.turn_id)
        items = list(sub)
        assert_complete_or_rebuilt(items, sim, sub)
        # one reconnect per drop; the stream stays live as long as the turn runs, so all 6 drops happen unless
        # a resume found the turn over (then the rest came from the event list and no more drops could)
        assert len(sub.reconnects) == sim.fault_stats["drops"]
        if all(r.mode == "subscribe" for r in sub.reconnects):
            assert len(sub.reconnects) == 6


def test_async_resume_under_faults_and_giving_up() -> None:
    async def run(sim: Simulator, **kw: Any) -> tuple[list[StreamItem], Any]:
        async with fast_client(sim, **kw) as client:
            sub = client.asubscribe(sim.session_id, sim.turn_id)
            return [it async for it in sub], sub

    faults = Faults(drop_probability=0.1, max_drops=15, stall_seconds=0.8, stall_after_events=3, max_stalls=1)
    with serve("large", speed=10, deltas=600, faults=faults) as sim:
        items, sub = asyncio.run(run(sim))
        stats = sim.fault_stats
        # nothing lost or duplicated, whatever the timing; every failure is followed by one reported attempt
        assert_complete_or_rebuilt(items, sim, sub)
        assert len(sub.reconnects) == len(sub.failures) >= min(1, stats["drops"] + stats["stalls"])
        reasons = {r.reason for r in sub.reconnects}
        # a loaded machine can add read timeouts of its own (read=0.25 s), never other kinds of failure
        assert reasons <= {"stream ended before turn.done", "read timeout"} | {
            r for r in reasons if r.startswith("connection error")
        }, reasons
        if stats["stalls"]:  # a 0.8 s stall always outlasts the 0.25 s read timeout
            assert "read timeout" in reasons

    with serve("long_markdown", speed=1, faults=Faults(fail_status=504, fail_count=9)) as sim:
        with pytest.raises(ReconnectError) as info:
            asyncio.run(run(sim, max_reconnects=2))
        assert info.value.status == 504

    with serve("sub_agents", speed=0, faults=Faults(fail_status=412, fail_count=1)) as sim:
        sim.wait(timeout=10)
        items, sub = asyncio.run(run(sim))
        assert items[-1].synthesized and sub.reconnects[0].mode == "rebuild"
        assert summary(TurnState.from_items(items)) == summary(TurnState.from_items(full_log_items(sim)))
