"""AsyncGatewayClient and AsyncSubscription against the simulated gateway over loopback HTTP."""

from __future__ import annotations

import asyncio
import time

import pytest

from tfwidget.client import AsyncGatewayClient, AsyncSubscription, GatewayClient
from tfwidget.sim import Faults, serve
from tfwidget.state import TurnState

from .test_client import assert_complete, full_log_items, no_leaks, summary  # noqa: F401  (autouse fixture)

pytestmark = pytest.mark.timeout(90)


async def _poll(cond, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


def test_aclose_ends_a_subscription_waiting_in_backoff_at_once() -> None:
    faults = Faults(fail_status=503, fail_count=100)

    async def run(sim) -> tuple[float, AsyncSubscription]:  # type: ignore[no-untyped-def]
        async with AsyncGatewayClient(sim.base_url, sim.api_key, backoff=30.0, max_backoff=30.0) as client:
            sub = client.asubscribe(sim.session_id, sim.turn_id)
            got: list[object] = []

            async def consume() -> None:
                async for item in sub:
                    got.append(item)

            task = asyncio.create_task(consume())
            await _poll(lambda: len(sub.failures) >= 1)  # the first 503: now waiting 15-30 s in backoff
            await asyncio.sleep(0.05)
            assert sub.state == "reconnecting"
            t0 = time.monotonic()
            await sub.aclose()
            await asyncio.wait_for(task, 20)
            return time.monotonic() - t0, sub

    with serve("long_markdown", speed=1, faults=faults) as sim:
        elapsed, sub = asyncio.run(run(sim))
    assert sub.closed and not sub.done
    assert elapsed < 2.0, f"aclose() took {elapsed:.2f} s to end a subscription waiting in backoff"


def test_sync_close_ends_a_subscription_waiting_in_backoff_at_once() -> None:
    import threading

    faults = Faults(fail_status=503, fail_count=100)
    with serve("long_markdown", speed=1, faults=faults) as sim:
        with GatewayClient(sim.base_url, sim.api_key, backoff=30.0, max_backoff=30.0) as client:
            sub = client.subscribe(sim.session_id, sim.turn_id)
            thread = threading.Thread(target=lambda: list(sub))
            thread.start()
            deadline = time.monotonic() + 30
            while not sub.failures:
                assert time.monotonic() < deadline
                time.sleep(0.01)
            t0 = time.monotonic()
            sub.close()
            thread.join(20)
            assert not thread.is_alive() and time.monotonic() - t0 < 2.0


def test_async_client_streams_lists_and_closes_its_connections() -> None:
    async def run(sim):  # type: ignore[no-untyped-def]
        client = AsyncGatewayClient(sim.base_url, sim.api_key)
        async with client:
            session = await client.acreate_session("agent-x")
            sub = await client.acreate_turn(session["id"], "hello")
            items = [it async for it in sub]
            turns = await client.alist_turns(session["id"])
            newest = await client.alist_turns(session["id"], limit=1)
            turn = await client.aget_turn(session["id"], sub.turn_id)
            http = client._ahttp
            assert http is not None and not http.is_closed
        assert http.is_closed and client._ahttp is None  # aclose() closed the client's own connections
        return items, turns, newest, turn

    with serve("sub_agents", speed=0) as sim:
        items, turns, newest, turn = asyncio.run(run(sim))
    assert items[0].type == "turn.created" and items[-1].type == "turn.done"
    assert [t["id"] for t in newest] == [turn["id"]] and turn["id"] in [t["id"] for t in turns]
    assert not hasattr(AsyncGatewayClient, "subscribe") and not hasattr(AsyncGatewayClient, "get_turn")


def test_list_turns_is_public_and_newest_first() -> None:
    with serve("sub_agents", speed=0) as sim, GatewayClient(sim.base_url, sim.api_key) as client:
        sim.wait(timeout=10)
        second = client.create_turn(sim.session_id, "again", stream=False)
        turns = client.list_turns(sim.session_id)
        assert [t["id"] for t in turns][:1] == [second["id"]] and sim.turn_id in [t["id"] for t in turns]
        assert [t["id"] for t in client.list_turns(sim.session_id, limit=1)] == [second["id"]]
        with pytest.raises(ValueError):
            client.list_turns(sim.session_id, limit=0)


def test_async_resume_after_drops_is_complete() -> None:
    async def run(sim):  # type: ignore[no-untyped-def]
        async with AsyncGatewayClient(sim.base_url, sim.api_key, backoff=0.01) as client:
            sub = client.asubscribe(sim.session_id, sim.turn_id)
            return [it async for it in sub], sub

    with serve("sub_agents", speed=3, faults=Faults(drop_after_events=5, max_drops=4)) as sim:
        items, sub = asyncio.run(run(sim))
        assert_complete(items, sim)
        assert summary(TurnState.from_items(items)) == summary(TurnState.from_items(full_log_items(sim)))
        assert len(sub.reconnects) == 4 and all(r.delay == 0.0 for r in sub.reconnects)
