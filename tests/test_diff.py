"""tfwidget.diff: step alignment on constructed pairs (an inserted step, a removed step, a changed argument)
and on recordings of the same question that differ, text diffs, deltas, and many runs against a baseline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import tfwidget
from tfwidget import StreamItem, TurnState, parse_event
from tfwidget.sim.scenarios import _Builder, _user_message
from tfwidget.turndiff import STEPS_COLUMNS, TurnDiff, TurnDiffs, align, steps_of, text_diff_html

ROOT = Path(__file__).resolve().parent.parent
REC = ROOT / "notebooks" / "recordings"


def turn(calls: list[tuple[str, dict[str, Any]]], answer: str = "All done.", *, seed: int = 1) -> TurnState:
    """A turn that makes each call in its own model call, then answers."""
    b = _Builder([_user_message("question")], seed=seed)
    for k, (name, args) in enumerate(calls):
        cid = f"call_{k}_{name}"
        b.message("main", content=f"Calling {name}.",
                  tool_calls=[{"id": cid, "name": name, "arguments": json.dumps(args)}])  # fmt: skip
        b.tool_response("main", cid, f"result of {name}")
    b.message("main", content=answer)
    b.done()
    items, t = [], 1000.0
    for seq, (delay, ev) in enumerate(zip(b.delays, b.events, strict=True), 1):
        t += delay
        raw = json.dumps(ev)
        items.append(StreamItem(seq, parse_event(raw), t, raw))
    return TurnState.from_items(items)


BASE = [("search", {"q": "a"}), ("fetch", {"url": "u1"}), ("summarize", {"n": 3}), ("store", {"k": "x"})]


def statuses(d: TurnDiff) -> list[tuple[str, str | None, str | None, str]]:
    return [(p.kind, p.a.name if p.a else None, p.b.name if p.b else None, p.status) for p in d.pairs]


def test_identical_turns_are_all_same() -> None:
    d = tfwidget.diff(turn(BASE), turn(BASE))
    assert isinstance(d, TurnDiff)
    assert d.counts == {"same": 9, "changed": 0, "only_a": 0, "only_b": 0}
    assert [s.kind for s in d.steps_a] == ["model", "tool"] * 4 + ["model"]
    assert d.final_answer_diff() == ""


def test_an_inserted_step_does_not_shift_the_rest() -> None:
    b_calls = [*BASE[:2], ("translate", {"to": "fr"}), *BASE[2:]]
    d = tfwidget.diff(turn(BASE), turn(b_calls))
    got = statuses(d)
    assert got[:4] == [("model", "main", "main", "same"), ("tool", "search", "search", "same")] + [
        ("model", "main", "main", "same"), ("tool", "fetch", "fetch", "same")]  # fmt: skip
    assert got[4:6] == [("model", None, "main", "only_b"), ("tool", None, "translate", "only_b")]
    assert all(s == "same" for *_, s in got[6:]) and len(got) == 11
    df = d.steps_df
    assert list(df.columns) == STEPS_COLUMNS
    assert df.status.tolist().count("only_b") == 2 and df.loc[5, "name_b"] == "translate"
    assert pd.isna(df.loc[5, "name_a"]) and pd.isna(df.loc[5, "delta_tokens"])


def test_a_removed_step() -> None:
    d = tfwidget.diff(turn(BASE), turn([BASE[0], *BASE[2:]]))
    got = statuses(d)
    assert [g for g in got if g[3] != "same"] == [
        ("model", "main", None, "only_a"),
        ("tool", "fetch", None, "only_a"),
    ]
    assert [i for i, g in enumerate(got) if g[3] != "same"] == [2, 3]
    assert d.counts["same"] == 7


def test_a_changed_argument() -> None:
    changed = [BASE[0], ("fetch", {"url": "u2"}), *BASE[2:]]
    d = tfwidget.diff(turn(BASE), turn(changed), labels=("before", "after"))
    non_same = [p for p in d.pairs if p.status != "same"]
    assert len(non_same) == 1 and non_same[0].kind == "tool" and non_same[0].changes == ["arguments"]
    assert non_same[0].a.content["arguments"] == '{"url":"u1"}'
    assert non_same[0].b.content["arguments"] == '{"url":"u2"}'
    assert d.steps_df.loc[3, "changes"] == "arguments"
    assert list(d.summary().columns) == ["before", "after", "delta"]
    # key order or spacing in the arguments is not a change
    d2 = tfwidget.diff(turn([("f", {"a": 1, "b": 2})]), turn([("f", {"b": 2, "a": 1})]))
    assert d2.counts["changed"] == 0


def test_changed_answer_text_diff_and_html() -> None:
    d = tfwidget.diff(
        turn(BASE, "The answer is <b>42</b> today."), turn(BASE, "The answer is <b>43</b> today.")
    )
    last = d.pairs[-1]
    assert last.status == "changed" and last.changes == ["text"]
    assert "-The answer is <b>42</b> today." in last.text_diff()
    assert "+The answer is <b>43</b> today." in last.text_diff()
    page = d.to_html()
    assert "<b>42</b>" not in page and "&lt;b&gt;" in page  # escaped
    assert '<del class="tfw-del"' in page and ">42</del>" in page and ">43</ins>" in page
    assert page.count('data-status="changed"') == 1
    assert d.final_answer == ("The answer is <b>42</b> today.", "The answer is <b>43</b> today.")
    assert "-The answer is <b>42</b> today." in d.final_answer_diff()
    assert d._repr_html_() == page
    assert "+nan" not in page and ">nan<" not in page  # unknown values show as a dash


def test_text_diff_html_marks_words() -> None:
    left, right = text_diff_html("one two three", "one 2 three four")
    assert left.startswith("one ") and ">two</del>" in left and "four" not in left
    assert ">2</ins>" in right and "four</ins>" in right


def test_alignment_is_a_longest_common_subsequence() -> None:
    a = steps_of(turn([("x", {}), ("y", {}), ("z", {})]))
    b = steps_of(turn([("y", {}), ("z", {}), ("x", {})]))
    pairs = align(a, b)
    matched = [(i, j) for i, j in pairs if i is not None and j is not None]
    assert len(matched) == 5  # y, z tools and three model calls; x cannot be kept in both places
    assert sorted(i for i, _ in pairs if i is not None) == list(range(len(a)))
    assert sorted(j for _, j in pairs if j is not None) == list(range(len(b)))
    assert [i for i, _ in matched] == sorted(i for i, _ in matched)
    assert [j for _, j in matched] == sorted(j for _, j in matched)


def test_deltas_and_summary() -> None:
    a, b = turn(BASE), turn(BASE[:2])
    d = tfwidget.diff(a, b)
    s = d.summary()
    assert s.loc["tool_calls", "delta"] == -2
    assert s.loc["total_tokens", "delta"] == b.totals()["total_tokens"] - a.totals()["total_tokens"]
    assert s.loc["cost_usd", "delta"] == pytest.approx(b.totals()["cost_usd"] - a.totals()["cost_usd"])
    assert s.loc["status", "a"] == "done" and pd.isna(s.loc["status", "delta"])
    df = d.steps_df
    model = df[df.kind == "model"].iloc[0]
    assert model.delta_tokens == model.tokens_b - model.tokens_a
    tools = df[(df.kind == "tool") & (df.status == "same")]
    assert tools.tokens_a.isna().all() and tools.duration_a_s.notna().all()
    assert tools.cost_a.isna().all() and tools.ttft_a_s.isna().all()  # a tool call has no cost or TTFT
    models = df[(df.kind == "model") & (df.status == "same")]
    assert models.cost_a.notna().all() and models.ttft_a_s.notna().all()  # from tfwidget.timing / pricing
    assert (models.delta_cost_usd - (models.cost_b - models.cost_a)).abs().max() < 1e-12
    assert str(df.delta_tokens.dtype) == "Int64" and str(df.delta_duration_s.dtype) == "Float64"


# --------------------------------------------------------------------------------------- recordings


def test_recording_with_an_extra_tool_call() -> None:
    d = tfwidget.diff(REC / "research_baseline.jsonl", REC / "research_extra_tool.jsonl")
    assert d.labels == ("research_baseline", "research_extra_tool")
    only_b = [(p.kind, p.b.name) for p in d.pairs if p.status == "only_b"]
    assert only_b == [("model", "main"), ("tool", "web_search")]
    assert d.counts["only_a"] == 0 and d.counts["changed"] == 0
    assert d.summary().loc["tool_calls", "delta"] == 1


def test_recording_with_another_model() -> None:
    d = tfwidget.diff(REC / "research_baseline.jsonl", REC / "research_other_model.jsonl")
    assert d.counts["only_a"] == d.counts["only_b"] == 0
    subs = [p for p in d.pairs if p.kind == "sub_agent"]
    assert [p.status for p in subs] == ["changed", "changed"] and all("model" in p.changes for p in subs)
    sub_models = [p for p in d.pairs if p.kind == "model" and p.a.agent != "main"]
    assert all(set(p.changes) == {"text", "model"} for p in sub_models)
    assert d.summary().iloc[:, 1]["models"] == "anthropic-main/claude-sonnet-4"


def test_recording_with_one_more_sub_agent() -> None:
    d = tfwidget.diff(REC / "research_baseline.jsonl", REC / "research_third_agent.jsonl")
    only_b = [(p.kind, p.b.name, p.b.agent) for p in d.pairs if p.status == "only_b"]
    assert only_b == [("tool", "create_sub_agent", "main"), ("sub_agent", "weaviate-research", "main"),
                      ("model", "weaviate-research", "main/weaviate-research")]  # fmt: skip
    assert d.summary().loc["sub_agents", "delta"] == 1
    assert "Weaviate" in d.to_html()


def test_many_runs_against_a_baseline() -> None:
    names = ["research_baseline", "research_extra_tool", "research_other_model", "research_third_agent"]
    turns = tfwidget.concat([REC / f"{n}.jsonl" for n in names])
    ds = tfwidget.diff(turns, baseline="research_baseline")
    assert isinstance(ds, TurnDiffs) and list(ds) == names[1:]
    df = ds.summary_df
    assert df.turn_id.tolist() == names[1:]
    assert df.set_index("turn_id").loc["research_extra_tool", "delta_tool_calls"] == 1
    assert df.set_index("turn_id").loc["research_third_agent", "delta_sub_agents"] == 1
    assert df.set_index("turn_id").loc["research_other_model", "only_b"] == 0
    steps = ds.steps_df
    assert list(steps.columns) == ["turn_id", *STEPS_COLUMNS] and set(steps.turn_id) == set(names[1:])
    assert "research_baseline" in ds._repr_html_()
    # default baseline: the first turn
    assert tfwidget.diff(turns).baseline == "research_baseline"


def test_bad_input_is_a_clear_error() -> None:
    a = turn(BASE)
    with pytest.raises(TypeError, match="needs two turns"):
        tfwidget.diff(a)
    with pytest.raises(KeyError, match="baseline 'nope'"):
        tfwidget.diff(
            tfwidget.concat([REC / "research_baseline.jsonl", REC / "plain_answer.jsonl"]), baseline="nope"
        )
    with pytest.raises(TypeError, match="baseline= is for diff"):
        tfwidget.diff(a, a, baseline="x")
    with pytest.raises(TypeError, match="expected a TurnState"):
        tfwidget.diff(a, 42)


def test_views_and_states_are_accepted() -> None:
    path = REC / "research_baseline.jsonl"
    view = tfwidget.replay(REC / "research_third_agent.jsonl")
    player = tfwidget.replay(REC / "research_extra_tool.jsonl", controls=True)
    player.seek(3)  # a player is compared as the whole recording, wherever it stands
    d1 = tfwidget.diff(path, view)
    assert d1.labels == ("research_baseline", "b") and d1.counts["only_b"] == 3
    d2 = tfwidget.diff(tfwidget.concat([path]).states["research_baseline"], player, labels=("base", "search"))
    assert d2.labels == ("base", "search") and d2.counts["only_b"] == 2
    with pytest.raises(ValueError, match="labels must differ"):
        tfwidget.diff(path, view, labels=("x", "x"))


def test_every_pair_of_fixtures_and_recordings() -> None:
    """Any two turns compare without error; a turn against itself is all same; unknown values give NA."""
    paths = sorted((ROOT / "tests" / "fixtures").glob("*.sse")) + sorted(REC.glob("*.jsonl"))
    for a in paths:
        for b in paths:
            d = tfwidget.diff(a, b, labels=("a", "b"))
            assert len(d.steps_df) == len(d.pairs)
            d.to_html()
            s = d.summary()
            if a == b:
                assert d.counts["changed"] == d.counts["only_a"] == d.counts["only_b"] == 0
            for measure in ("cost_usd", "ttft_s", "duration_s"):
                va, vb, delta = s.loc[measure]
                assert (delta is pd.NA) == (va is pd.NA or vb is pd.NA), (a.name, b.name, measure)
    ds = tfwidget.diff(paths)
    assert len(ds.summary_df) == len(paths) - 1
    empty = tfwidget.diff(TurnState(), TurnState())
    assert empty.pairs == [] and empty.summary().loc["steps", "delta"] == 0
