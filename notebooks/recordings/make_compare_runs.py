"""Writes the ``research_*.jsonl`` recordings used by ``notebooks/compare_runs.ipynb``.

Four runs of the same question, made with the simulator's scripted-turn builder (deterministic):

- ``research_baseline``: the main agent starts two sub-agents (Qdrant, Milvus) and writes the answer;
- ``research_extra_tool``: the same, with one ``web_search`` call before the sub-agents;
- ``research_other_model``: the sub-agents run on another model (their texts and tokens differ);
- ``research_third_agent``: a third sub-agent (Weaviate) joins.

Run ``python notebooks/recordings/make_compare_runs.py`` from the repository root to write them again.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tfwidget import StreamItem, parse_event, save
from tfwidget.sim.scenarios import _Builder, _user_message

HERE = Path(__file__).resolve().parent
QUESTION = "Compare Qdrant and Milvus licensing"
START = 1_796_000_000.0
SUB = {"type": "truefoundry-system", "name": "create_sub_agent"}
SEARCH = {"type": "mcp", "server_id": "mcp-web", "server_name": "web", "name": "web_search"}

FINDINGS = {
    "qdrant": "Qdrant is licensed under Apache 2.0: permissive, patent grant, commercial use allowed.",
    "milvus": "Milvus is licensed under Apache 2.0 as well; Zilliz Cloud is the managed offering.",
    "weaviate": "Weaviate is BSD-3-Clause: permissive, no patent grant clause.",
}
OTHER_FINDINGS = {
    "qdrant": "Qdrant: Apache License 2.0. Use, modify and sell freely; keep the notice.",
    "milvus": "Milvus: Apache License 2.0 (an LF AI & Data project). Same terms as Qdrant.",
}


def build(*, extra_tool: bool = False, model: str = "openai-main/gpt-5-mini", agents: tuple[str, ...] = (
          "qdrant", "milvus"), findings: dict[str, str] | None = None, seed: int = 3) -> _Builder:  # fmt: skip
    """One scripted run of the research question."""
    findings = {**FINDINGS, **(findings or {})}
    b = _Builder([_user_message(QUESTION)], seed=seed)
    if extra_tool:
        b.message(
            "main",
            content="Let me look up the current licenses first.",
            tool_calls=[
                {
                    "id": "call_search",
                    "name": "web_search",
                    "tool_info": SEARCH,
                    "arguments": json.dumps({"query": "qdrant milvus license"}),
                }
            ],
        )
        b.tool_response(
            "main", "call_search", json.dumps([{"title": "Qdrant LICENSE", "url": "https://example.org"}])
        )
    calls = [
        {"id": f"call_sub_{a}", "name": "create_sub_agent", "tool_info": SUB,
         "arguments": json.dumps({"name": f"{a}-research", "input": f"Summarize {a.title()} licensing"})}
        for a in agents
    ]  # fmt: skip
    b.message("main", content="I'll research each database in parallel.", tool_calls=calls)
    outputs = {}
    for a in agents:
        b.event({
            "type": "thread.created", "thread_id": f"th-{a}", "title": f"{a}-research",
            "parent": {"thread_id": "main", "tool_call_id": f"call_sub_{a}"},
            "agent_info": {"type": "dynamic", "name": f"{a}-research", "input": f"Summarize {a.title()} licensing",
                           "model": model},
        })  # fmt: skip
    for a in agents:
        outputs[a] = b.message(f"th-{a}", content=findings[a])
    for a in agents:
        b.event({"type": "thread.done", "thread_id": f"th-{a}", "title": f"{a}-research",
                 "parent": {"thread_id": "main", "tool_call_id": f"call_sub_{a}"},
                 "state": {"status": "done", "output": outputs[a]}})  # fmt: skip
        b.tool_response("main", f"call_sub_{a}", findings[a])
    names = " and ".join(a.title() for a in agents)
    same = "all permissive" if "weaviate" in agents else "both Apache 2.0"
    b.message("main", content=f"**{names}** are {same}: you can use them commercially.")
    b.done()
    return b


def to_items(b: _Builder, turn_id: str) -> list[StreamItem]:
    items = []
    t = START
    for seq, (delay, ev) in enumerate(zip(b.delays, b.events, strict=True), 1):
        t += delay
        ev = dict(ev)
        ev["created_at"] = datetime.fromtimestamp(t, tz=timezone.utc).isoformat().replace("+00:00", "Z")
        if ev["type"] == "turn.created":
            ev["turn_id"] = turn_id
        raw = json.dumps(ev, ensure_ascii=False)
        items.append(StreamItem(seq, parse_event(raw), round(t, 6), raw))
    return items


RUNS: dict[str, dict[str, Any]] = {
    "research_baseline": {},
    "research_extra_tool": {"extra_tool": True},
    "research_other_model": {
        "model": "anthropic-main/claude-sonnet-4",
        "findings": OTHER_FINDINGS,
        "seed": 5,
    },
    "research_third_agent": {"agents": ("qdrant", "milvus", "weaviate")},
}


def main() -> None:
    for name, options in RUNS.items():
        path = save(to_items(build(**options), f"turn-{name}"), HERE / f"{name}.jsonl")
        print(path.name)


if __name__ == "__main__":
    main()
