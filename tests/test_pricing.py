"""Cost per call, reconciliation with the turn's reported total, context fill, and breakdowns that do not
add up (tfwidget.pricing, usage_df), plus the static and matplotlib waterfalls (tfwidget.timeline)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import tfwidget
from tfwidget import Pricing, TurnState, load
from tfwidget.pricing import DEFAULT_PRICES, DEFAULT_PRICES_DATE, ModelPrice, reconcile, set_pricing
from tfwidget.sim import SCENARIO_NAMES, Scenario
from tfwidget.sse import StreamItem
from tfwidget.timeline import layout_timeline, plot_timeline, timeline_svg

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
RECORDINGS = ROOT / "notebooks" / "recordings"


@pytest.fixture(autouse=True)
def _default_pricing():
    set_pricing()
    yield
    set_pricing()


def _fixture(name: str) -> TurnState:
    return TurnState.from_items(load(FIXTURES / f"{name}.sse"))


def _events_state(events: list[dict[str, Any]]) -> TurnState:
    return TurnState.from_items(
        StreamItem(i, tfwidget.parse_event(e), 1000.0 + i * 0.1, json.dumps(e))
        for i, e in enumerate(events, 1)
    )


def test_default_table_is_documented_and_dated() -> None:
    p = Pricing()
    assert p.date == DEFAULT_PRICES_DATE and len(DEFAULT_PRICES) >= 5
    # a gateway's model name matches the table by its last part, a dated variant by its prefix
    assert p.price("openai-main/gpt-5-mini") is DEFAULT_PRICES["gpt-5-mini"]
    assert p.price("gpt-5-mini-2025-08-07") is DEFAULT_PRICES["gpt-5-mini"]
    assert p.price("no-such-model") is None
    # uncached input, cache reads, output: per million tokens
    price = ModelPrice(2.0, 8.0, cache_read=0.5)
    assert price.cost(input_tokens=1_000_000, output_tokens=0) == pytest.approx(2.0)
    assert price.cost(input_tokens=1_000_000, cache_read_tokens=1_000_000) == pytest.approx(0.5)
    assert price.cost(output_tokens=500_000) == pytest.approx(4.0)


def test_bad_prices_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        ModelPrice(-1.0, 2.0)
    with pytest.raises(ValueError, match="needs 'input' and 'output'"):
        Pricing({"m": {"input": 1.0}})
    with pytest.raises(ValueError, match="unknown keys"):
        Pricing({"m": {"input": 1.0, "output": 2.0, "cached": 0.1}})
    with pytest.raises(TypeError, match=r"tfwidget\.Pricing"):
        reconcile(_fixture("plain_answer"), pricing={"m": 1})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="context_window"):
        tfwidget.usage_frame(_fixture("plain_answer"), context_window=-5)


def test_sub_agents_priced_from_agent_info_and_main_allocated_from_the_reported_total() -> None:
    st = _fixture("sub_agents")
    u = st.usage_df
    assert list(u.call_index) == [1, 2, 3, 4]
    subs = u[u.thread_id != "main"]
    main = u[u.thread_id == "main"]
    # sub-agents name their model (agent_info): priced from the table
    assert (subs.cost_source == "priced").all() and (subs.model_source == "agent_info").all()
    price = DEFAULT_PRICES["gpt-5-mini"]
    for row in subs.itertuples():
        expected = price.cost(
            input_tokens=row.input_tokens,
            output_tokens=row.output_tokens,
            cache_read_tokens=0 if row.cache_read_tokens is pd_na else row.cache_read_tokens,
        )
        assert row.cost_usd == pytest.approx(expected)
    # the main thread's model is not on the events: what the priced calls leave of total_cost_in_usd is
    # allocated to its calls by their tokens
    assert (main.cost_source == "allocated").all() and main.model.isna().all()
    rec = reconcile(st)
    assert rec.reported_usd == 0.051
    assert u.cost_usd.sum() == pytest.approx(0.051)
    assert rec.gap_usd == pytest.approx(0.0, abs=1e-12)
    weights = (main.input_tokens + main.output_tokens).astype(float)
    shares = main.cost_usd.astype(float) / main.cost_usd.sum()
    assert list(shares) == pytest.approx(list(weights / weights.sum()))
    # per thread and per tool roll-ups: the spawning tool call carries its sub-agent's cost
    spans = st.spans_df.set_index("id")
    for th in ("th-qdrant-01", "th-milvus-02"):
        call = st.threads[th].parent_tool_call_id
        assert spans.loc[call, "total_cost_usd"] == pytest.approx(u[u.thread_id == th].cost_usd.sum())
    assert spans.loc["main", "total_cost_usd"] == pytest.approx(0.051)


pd_na = __import__("pandas").NA


def test_all_priced_calls_are_shown_with_the_gap_to_the_reported_total() -> None:
    st = _fixture("sub_agents")
    rec = reconcile(st, model="gpt-5")  # the main thread runs gpt-5: every call is priced
    assert {c.cost_source for c in rec.calls.values()} == {"priced"}
    assert rec.allocated_usd == 0.0
    assert rec.gap_usd == pytest.approx(0.051 - rec.priced_usd)
    u = tfwidget.usage_frame(st, model="gpt-5")
    assert (u[u.thread_id == "main"].model_source == "argument").all()
    assert u.cost_usd.sum() == pytest.approx(rec.priced_usd)
    # set_pricing makes it the default of every frame
    set_pricing(
        Pricing({"house-model": {"input": 1.0, "output": 1.0, "context_window": 20_000}}), model="house-model"
    )
    u2 = st.usage_df
    main = u2[u2.thread_id == "main"]
    assert (main.model == "house-model").all() and (main.cost_source == "priced").all()
    assert list(main.context_window) == [20_000, 20_000]
    assert list(main.context_fill) == pytest.approx(list(main.input_tokens / 20_000))


def test_unknown_without_price_or_reported_total() -> None:
    st = _fixture("ask_user")  # no metrics cost, no model
    u = st.usage_df
    assert len(u) and (u.cost_source == "unknown").all() and u.cost_usd.isna().all()
    assert reconcile(st).total_usd is None
    u = tfwidget.usage_frame(st, pricing=Pricing(default_model="gpt-4o"))
    assert (u.cost_source == "priced").all() and (u.model_source == "default").all()
    assert (u.context_window == 128_000).all()


def test_a_breakdown_that_does_not_add_up_is_flagged() -> None:
    base = {"type": "model.message", "id": "m1", "thread_id": "main"}
    usage = {
        "input_tokens": 1000,
        "output_tokens": 10,
        "input_tokens_breakdown": {
            "harness": 300,
            "skills": 0,
            "instructions": 50,
            "tool_definitions": 100,
            "messages": 400,
        },
    }
    st = _events_state(
        [
            {"type": "turn.created", "id": "t0", "turn_id": "t"},
            base,
            {"type": "model.message.delta", "id": "m1", "thread_id": "main", "content": "hi"},
            {
                "type": "model.message.delta",
                "id": "m1",
                "thread_id": "main",
                "finish_reason": "stop",
                "usage": usage,
            },
            {"type": "turn.done", "id": "d", "state": {"status": "done"}},
        ]
    )
    u = st.usage_df
    assert u.breakdown_gap.tolist() == [150]  # 1000 - 850: flagged, not drawn as if it added up
    # the fixtures' breakdowns add up
    for name in ("plain_answer", "sub_agents", "approval_pause"):
        gaps = _fixture(name).usage_df.breakdown_gap
        assert (gaps.dropna() == 0).all()
    # plot_usage keeps the unexplained part visible as plain input
    fig = tfwidget.plot_usage(st, cumulative=False)
    tops = max(p.get_y() + p.get_height() for p in fig.axes[0].patches)
    assert tops == pytest.approx(1010)


@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_timing_and_cost_columns_on_every_simulator_scenario(name: str) -> None:
    kwargs = {"deltas": 200} if name == "large" else {}
    sc = Scenario.load(name, **kwargs)
    events = [e for _, e in sc.instantiate(turn_id=f"t-{name}", previous_turn_id=None)]
    t = 1000.0
    items = []
    for i, ((delay, _e), e) in enumerate(
        zip(sc.instantiate(turn_id="x", previous_turn_id=None), events, strict=True), 1
    ):
        t += delay
        items.append(StreamItem(i, tfwidget.parse_event(e), t, json.dumps(e)))
    st = TurnState.from_items(items)
    m, u, tc, sp = st.messages_df, st.usage_df, st.tool_calls_df, st.spans_df
    assert (m.time_source == "received").all()
    finished = m[m.finish_reason.notna()]
    assert (finished.duration_s >= 0).all() and (finished.ttft_s.dropna() >= 0).all()
    # known gaps: each finished call's duration is the sum of the scripted delays from its base to its end
    starts = {e["id"]: i for i, e in enumerate(events) if e["type"] == "model.message"}
    ends = {
        e["id"]: i
        for i, e in enumerate(events)
        if e["type"] == "model.message.delta" and e.get("finish_reason")
    }
    for row in finished.itertuples():
        if row.id in starts and row.id in ends:
            scripted = sum(sc.delays[starts[row.id] + 1 : ends[row.id] + 1])
            assert row.duration_s == pytest.approx(scripted, abs=1e-6)
    assert set(u.cost_source) <= {"priced", "allocated", "unknown"}
    assert list(u.call_index) == list(range(1, len(u) + 1))
    done = tc[tc.status == "completed"]
    assert (done.duration_s >= 0).all()
    assert list(sp.kind[sp.parent_id.isna()]) == ["turn"]


def test_static_svg_and_plot_timeline() -> None:
    st = TurnState.from_items(load(RECORDINGS / "sub_agents.jsonl"))
    duration, lanes = layout_timeline(st)
    assert duration > 0 and [lane.thread.id for lane in lanes][0] == "main"
    assert {lane.depth for lane in lanes} == {0, 1}
    svg = timeline_svg(st)
    assert svg.startswith("<svg") and svg.endswith("</svg>") and "<script" not in svg
    for th in st.threads:
        assert f'data-thread="{th}"' in svg
    assert svg.count('data-kind="model_call"') == len(st.message_ids())
    assert "time to first token" in svg
    assert timeline_svg(TurnState()) == ""
    with pytest.raises(TypeError, match="TurnState"):
        timeline_svg("x")  # type: ignore[arg-type]
    # hostile names are escaped
    evil = _events_state(
        [
            {"type": "turn.created", "id": "t0", "turn_id": "t"},
            {
                "type": "thread.created",
                "id": "c",
                "thread_id": "<b>x</b>",
                "title": "<script>alert(1)</script>",
            },
            {"type": "model.message", "id": "m", "thread_id": "<b>x</b>"},
            {
                "type": "model.message.delta",
                "id": "m",
                "thread_id": "<b>x</b>",
                "content": "a",
                "finish_reason": "stop",
            },
        ]
    )
    out = timeline_svg(evil)
    assert "<script>" not in out and "&lt;script&gt;" in out
    fig = plot_timeline(st)
    ax = fig.axes[0]
    assert len(ax.get_yticklabels()) == len(lanes)
    assert "s," in ax.get_title()
    fig2 = tfwidget.plot_usage(st, cost=True, context_fill=True)
    labels = [a.get_ylabel() for a in fig2.axes]
    assert "cumulative cost (USD)" in labels and "context fill (% of window)" in labels


def test_the_static_transcript_shows_the_waterfall_without_javascript() -> None:
    from tfwidget.view import build_view
    from tfwidget.widget import transcript_html

    st = TurnState.from_items(load(RECORDINGS / "sub_agents.jsonl"))
    page = transcript_html(build_view(st))
    assert '<svg class="tfw-tls"' in page and "<script" not in page
    for th in st.threads:
        assert f'data-thread="{th}"' in page
    # the SVG from the view's spans draws the same lanes and bars as the SVG from the state
    import re

    def drawn(svg: str) -> list[str]:
        return re.findall(r'data-(?:thread|id)="([^"]*)"', svg)

    assert drawn(timeline_svg(build_view(st)["spans"])) == drawn(timeline_svg(st))
