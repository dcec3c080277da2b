"""Scenarios for the simulated gateway: scripted turn timelines built from plain dicts.

A :class:`Scenario` is the ordered list of turn events one turn emits (``turn.created`` first,
``turn.done`` last) together with the delay, in seconds at ``speed=1``, that precedes each event.
The simulator serves a scenario by assigning fresh event ids, the simulator's own turn id and
emission-time timestamps; everything else (content, tool call ids, thread ids, usage) is served
exactly as written.

Built-in scenarios:

- the recorded stories shipped as data: ``plain_answer``, ``approval_pause``, ``sub_agents``,
  ``ask_user``, ``cancelled``, ``error_mcp_auth``. Their deltas are served exactly as recorded
  (they are *not* re-split into smaller pieces), so the merged messages equal the recording's;
- ``long_markdown``: a long markdown answer (headings, lists, a table, several fenced code blocks)
  streamed as token-sized deltas;
- ``large``: ``Scenario.large(deltas=N)``, a generated answer of ``N`` token-sized deltas (for
  benchmarks);
- ``xss``: model content, reasoning, tool arguments and a tool response carrying HTML and script
  payloads (for sanitizer tests);
- ``mcp_auth``: an ``mcp.auth_required`` pause (resumed by a turn with empty input);
- ``echo``: a short plain answer echoing a user message.

Any ``.sse`` capture or ``.jsonl`` recording (one ``{"seq", "t", "event"}`` object per line) can
also be loaded with :meth:`Scenario.from_file`.

Timing: token-sized deltas are 20-40 ms apart, tool calls and pauses take 0.3-1 s, the first
token of an LLM call arrives after a short think time. ``.jsonl`` recordings keep their recorded
inter-arrival times (each gap capped at 5 s).
"""

from __future__ import annotations

import copy
import json
import os
import random
import re
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from . import artifacts_scenario as _art
from .sandbox import SandboxFile

__all__ = [
    "FIXTURE_NAMES",
    "SCENARIO_NAMES",
    "Scenario",
    "continuation",
    "merge_turn_events",
    "new_id",
    "story_for_input",
]

FIXTURE_NAMES: tuple[str, ...] = (
    "plain_answer",
    "approval_pause",
    "sub_agents",
    "ask_user",
    "cancelled",
    "error_mcp_auth",
)
SCENARIO_NAMES: tuple[str, ...] = (
    *FIXTURE_NAMES,
    "long_markdown",
    "large",
    "xss",
    "mcp_auth",
    "multi_pause",
    "echo",
    "artifacts",
)

SUBJECT: dict[str, str] = {
    "subject_id": "u-sim",
    "subject_type": "user",
    "subject_slug": "sim-user@example.com",
}

# Delay (seconds at speed 1) before an event of each type; deltas get jitter on top.
_BASE_DELAY: dict[str, float] = {
    "turn.created": 0.0,
    "sandbox.created": 0.25,
    "mcp.initialize": 0.3,
    "model.message": 0.35,
    "model.message.delta": 0.03,
    "tool.response": 0.6,
    "thread.created": 0.15,
    "thread.done": 0.1,
    "tool.approval_required": 0.3,
    "tool.response_required": 0.3,
    "mcp.auth_required": 0.4,
    "turn.done": 0.1,
}
_MAX_RECORDED_GAP = 5.0

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_id_lock = threading.Lock()
_id_last: list[int] = [0, 0]


def new_id() -> str:
    """Return a fresh, time-ordered 26-character ULID-style identifier."""
    with _id_lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _id_last[0]:
            ms = _id_last[0]
            rand = (_id_last[1] + 1) & ((1 << 80) - 1)
        else:
            rand = int.from_bytes(os.urandom(10), "big")
        _id_last[0], _id_last[1] = ms, rand
    value = (ms << 80) | rand
    return "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in reversed(range(26)))


def _jitter_delay(event_type: str, rng: random.Random) -> float:
    if event_type == "model.message.delta":
        return rng.uniform(0.02, 0.04)
    if event_type == "tool.response":
        return rng.uniform(0.3, 1.0)
    return _BASE_DELAY.get(event_type, 0.1)


def tokenize(text: str) -> list[str]:
    """Split ``text`` into token-sized pieces (1-6 visible characters each) that join back to it."""
    return re.findall(r"\s*\S{1,6}|\s+", text)


@dataclass
class Scenario:
    """One turn's scripted timeline.

    Attributes:
        name: a short label (shown in reprs and the CLI).
        events: the turn events as plain dicts, ``turn.created`` first and ``turn.done`` last.
        delays: seconds (at ``speed=1``) to wait before each event; same length as ``events``.
        description: one line saying what the scenario shows.
        files: sandbox files ``{absolute path: bytes}`` served for the ``sandbox_id`` of the scenario's
            ``sandbox.created`` event (``GET v1/agents/sandbox/{sandbox_id}/file?path=``).
    """

    name: str
    events: list[dict[str, Any]]
    delays: list[float] = field(default_factory=list)
    description: str = ""
    files: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.delays:
            rng = random.Random(len(self.events))
            self.delays = [_jitter_delay(str(e.get("type")), rng) for e in self.events]
        if len(self.delays) != len(self.events):
            raise ValueError("delays and events must have the same length")

    def __repr__(self) -> str:
        return f"Scenario(name={self.name!r}, events={len(self.events)})"

    def __len__(self) -> int:
        return len(self.events)

    @property
    def duration(self) -> float:
        """Total scripted duration in seconds at ``speed=1``."""
        return float(sum(self.delays))

    # ------------------------------------------------------------------ constructors
    @classmethod
    def names(cls) -> tuple[str, ...]:
        """Names accepted by :meth:`load`."""
        return SCENARIO_NAMES

    @classmethod
    def load(cls, scenario: str | os.PathLike[str] | Scenario, **options: Any) -> Scenario:
        """Resolve a scenario name, a recording path or a :class:`Scenario`.

        Options are passed to the generator of the named scenario (``deltas`` for ``large``,
        ``text`` for ``echo``); unknown options raise ``TypeError``.
        """
        if isinstance(scenario, Scenario):
            if options:
                raise TypeError(f"unexpected scenario options: {sorted(options)}")
            return scenario
        name = os.fspath(scenario)
        generators = {
            "large": cls.large,
            "long_markdown": cls.long_markdown,
            "xss": cls.xss,
            "mcp_auth": cls.mcp_auth,
            "multi_pause": cls.multi_pause,
            "echo": cls.echo,
            "artifacts": cls.artifacts,
        }
        if name in generators:
            return generators[name](**options)
        if options:
            raise TypeError(f"unexpected scenario options for {name!r}: {sorted(options)}")
        if name in FIXTURE_NAMES:
            return cls.fixture(name)
        path = Path(name)
        if path.suffix in (".sse", ".jsonl") and path.is_file():
            return cls.from_file(path)
        raise ValueError(
            f"unknown scenario {name!r}: use one of {', '.join(SCENARIO_NAMES)} "
            "or the path of an existing .sse or .jsonl recording"
        )

    @classmethod
    def fixture(cls, name: str) -> Scenario:
        """Load one of the recorded stories shipped with the package."""
        if name not in FIXTURE_NAMES:
            raise ValueError(f"unknown fixture {name!r}")
        text = resources.files("tfwidget.sim").joinpath("data").joinpath(f"{name}.sse").read_text("utf-8")
        return cls.from_sse_text(text, name=name)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Scenario:
        """Load a ``.sse`` capture or a ``.jsonl`` recording."""
        p = Path(path)
        text = p.read_text("utf-8")
        if p.suffix == ".jsonl":
            return cls.from_jsonl_text(text, name=p.stem)
        return cls.from_sse_text(text, name=p.stem)

    @classmethod
    def from_sse_text(cls, text: str, *, name: str = "recording") -> Scenario:
        """Build a scenario from SSE text (frames without valid JSON data are skipped)."""
        events: list[dict[str, Any]] = []
        seen: set[int] = set()
        for sse_id, data in _parse_sse(text):
            try:
                event = json.loads(data)
            except json.JSONDecodeError:
                continue
            if not isinstance(event, dict):
                continue
            seq = _int_or_none(sse_id)
            if seq is not None:
                if seq in seen:
                    continue
                seen.add(seq)
            events.append(event)
        return cls(name=name, events=_complete(events), description=f"recorded stream {name}")

    @classmethod
    def from_jsonl_text(cls, text: str, *, name: str = "recording") -> Scenario:
        """Build a scenario from a ``.jsonl`` recording, keeping its recorded timing."""
        events: list[dict[str, Any]] = []
        times: list[float | None] = []
        seen: set[int] = set()
        for line in text.splitlines():
            line = line.strip()
            if not line:
                continue
            row = json.loads(line)
            event = row.get("event")
            if not isinstance(event, dict):
                continue
            seq = row.get("seq")
            if isinstance(seq, int):
                if seq in seen:
                    continue
                seen.add(seq)
            events.append(event)
            t = row.get("t")
            times.append(float(t) if isinstance(t, (int, float)) else None)
        completed = _complete(events)
        rng = random.Random(len(events))
        delays: list[float] = []
        offset = 1 if completed and events and completed[0] is not events[0] else 0
        prev: float | None = None
        for i, event in enumerate(completed):
            j = i - offset
            t = times[j] if 0 <= j < len(times) else None
            if t is not None and prev is not None:
                delays.append(min(max(t - prev, 0.0), _MAX_RECORDED_GAP))
            else:
                delays.append(0.0 if i == 0 else _jitter_delay(str(event.get("type")), rng))
            if t is not None:
                prev = t
        return cls(name=name, events=completed, delays=delays, description=f"recording {name}")

    @classmethod
    def large(cls, deltas: int = 10_000) -> Scenario:
        """A generated answer streamed as ``deltas`` token-sized content deltas."""
        if deltas < 1:
            raise ValueError("deltas must be >= 1")
        b = _Builder([_user_message("Stream a very long answer")], seed=deltas)
        words = ("stream", "token", "delta", "merge", "widget", "render", "buffer", "frame")
        pieces = [
            f"{words[i % len(words)]}{i} " if i % 50 else f"\n\n## Part {i // 50}\n\n" for i in range(deltas)
        ]
        b.message("main", content_tokens=pieces, reasoning="Generating a long benchmark answer.")
        b.done()
        return b.scenario("large", f"a generated answer of {deltas} content deltas")

    @classmethod
    def long_markdown(cls) -> Scenario:
        """A long markdown answer (headings, lists, a table, code blocks) in token-sized deltas."""
        text = (
            resources.files("tfwidget.sim").joinpath("data").joinpath("long_markdown.md").read_text("utf-8")
        )
        b = _Builder([_user_message("Write a long markdown guide to migrating to SSE")], seed=7)
        b.message("main", content=text, reasoning="The user wants a long, well-structured markdown guide.")
        b.done()
        return b.scenario("long_markdown", "a long markdown answer streamed as token-sized deltas")

    @classmethod
    def xss(cls) -> Scenario:
        """Model content, tool arguments and a tool response carrying HTML/script payloads."""
        b = _Builder([_user_message('Summarize <img src=x onerror="alert(1)">')], seed=11)
        server = {
            "type": "mcp",
            "server_id": "mcp-web",
            "server_name": "web<script>alert(2)</script>",
            "name": "fetch_page",
        }
        b.event(
            {
                "type": "mcp.initialize",
                "thread_id": "main",
                "mcp_servers": [{"id": "mcp-web", "name": "web<script>alert(2)</script>"}],
            }
        )
        call_id = "call_xss_1"
        b.message(
            "main",
            content="Fetching <b onmouseover=alert(3)>the page</b>…",
            reasoning="<script>alert('reasoning')</script>",
            tool_calls=[
                {
                    "id": call_id,
                    "name": "fetch_page",
                    "tool_info": server,
                    "arguments": json.dumps({"url": "javascript:alert(4)", "note": "<svg onload=alert(5)>"}),
                }
            ],
        )
        b.tool_response(
            "main",
            call_id,
            '<script>alert("tool")</script><img src=x onerror=alert(6)>'
            '{"title": "<iframe src=javascript:alert(7)>"}',
        )
        b.message(
            "main",
            content=(
                "Here is the summary.\n\n"
                "<img src=x onerror=alert(1)>\n\n"
                '<script>alert("xss")</script>\n\n'
                "[click me](javascript:alert(1)) and [data](data:text/html;base64,PHNjcmlwdD4=)\n\n"
                '<a href="javascript:alert(8)" onclick="alert(9)">link</a>\n\n'
                "```html\n<script>alert('in a code block is fine')</script>\n```\n\n"
                "**bold** <style>body{display:none}</style> done."
            ),
        )
        b.done()
        return b.scenario("xss", "HTML and script payloads in content, arguments and tool responses")

    @classmethod
    def multi_pause(cls) -> Scenario:
        """Two pending actions in two threads: an approval in ``main`` and a sub-agent's question.

        Resuming needs both answers in one turn (a ``user.tool_approval`` for ``call_multi_refund``
        in ``main`` and a ``user.tool_response`` for ``call_multi_ask`` in ``th-finance-01``).
        """
        b = _Builder([_user_message("Refund ORD-7 and check with finance about several items")], seed=19)
        orders = {"type": "mcp", "server_id": "mcp-7f", "server_name": "orders-api", "name": "process_refund"}
        sub = {"type": "truefoundry-system", "name": "create_sub_agent"}
        ask = {"type": "truefoundry-system", "name": "ask_user_question"}
        main_msg = b.message(
            "main",
            content="I'll start the refund and ask a finance sub-agent to double-check.",
            tool_calls=[
                {
                    "id": "call_multi_refund",
                    "name": "process_refund",
                    "tool_info": orders,
                    "arguments": json.dumps({"order_id": "ORD-7", "amount": 99.5}),
                },
                {
                    "id": "call_multi_sub",
                    "name": "create_sub_agent",
                    "tool_info": sub,
                    "arguments": json.dumps({"name": "finance-check", "input": "Check the refund policy"}),
                },
            ],
        )
        thread = "th-finance-01"
        b.event(
            {
                "type": "thread.created",
                "thread_id": thread,
                "title": "finance-check",
                "parent": {"thread_id": "main", "tool_call_id": "call_multi_sub"},
                "agent_info": {
                    "type": "dynamic",
                    "name": "finance-check",
                    "input": "Check the refund policy",
                    "model": "openai-main/gpt-5-mini",
                },
            }
        )
        sub_msg = b.message(
            thread,
            tool_calls=[
                {
                    "id": "call_multi_ask",
                    "name": "ask_user_question",
                    "tool_info": ask,
                    "arguments": json.dumps(
                        {
                            "question": "Refund to the card or as store credit?",
                            "options": ["card", "store credit"],
                        }
                    ),
                }
            ],
        )
        approval = b.event(
            {
                "type": "tool.approval_required",
                "thread_id": "main",
                "tool_calls": [{"id": "call_multi_refund", "source_event_id": main_msg["id"]}],
            }
        )
        question = b.event(
            {
                "type": "tool.response_required",
                "thread_id": thread,
                "tool_calls": [{"id": "call_multi_ask", "source_event_id": sub_msg["id"]}],
            }
        )
        b.done(required_actions=[approval, question])
        return b.scenario("multi_pause", "an approval in main and a sub-agent question, both pending")

    @classmethod
    def mcp_auth(cls, server: str = "github") -> Scenario:
        """A turn that pauses on ``mcp.auth_required`` (resume with an empty-input turn)."""
        b = _Builder([_user_message(f"List my {server} repositories")], seed=13)
        pause = b.event(
            {
                "type": "mcp.auth_required",
                "thread_id": None,
                "mcp_servers": [
                    {
                        "id": f"mcp-{server[:8]}",
                        "name": server,
                        "auth_url": f"https://auth.example.com/authorize?server={server}&client=tfwidget-sim",
                    }
                ],
            }
        )
        b.done(required_actions=[pause])
        return b.scenario("mcp_auth", "an MCP server needs sign-in; the turn pauses")

    @classmethod
    def echo(cls, text: str = "Hello!") -> Scenario:
        """A short plain answer that echoes ``text``."""
        b = _Builder([_user_message(text)], seed=len(text))
        b.message(
            "main",
            reasoning="A plain message; answer briefly.",
            content=f"You said: “{text.strip()}”. This is a simulated answer: no model was called.",
        )
        b.done()
        return b.scenario("echo", "a short plain answer")

    @classmethod
    def artifacts(cls, hostile: bool = False) -> Scenario:
        """An input file, an image in content, sandbox artifacts and an offloaded tool result (the files are
        :mod:`tfwidget.sim.artifacts_scenario`); ``hostile=True`` adds refused links (``javascript:``,
        ``../``), a 1 GiB file, a non-image data URI and a remote image."""
        user_content: list[dict[str, Any]] = [
            {"type": "text", "text": "Chart the monthly revenue in this CSV and save a summary."},
            {
                "type": "file",
                "name": "revenue.csv",
                "data": _art.data_uri("text/csv", _art.INPUT_CSV.encode()),
            },
            {"type": "file", "name": "logo.png", "data": _art.data_uri("image/png", _art.thumb_png())},
        ]
        b = _Builder([{"type": "user.message", "content": user_content}], seed=23)
        b.event({"type": "sandbox.created", "sandbox_id": _art.SANDBOX_ID, "thread_id": None})
        b.message(
            "main",
            reasoning="Load the CSV in the sandbox and compute month-over-month changes.",
            content="Loading the CSV in the sandbox.",
            tool_calls=[
                {
                    "id": "call_run_1",
                    "name": "run_python",
                    "tool_info": {"type": "truefoundry-system", "name": "run_python"},
                    "arguments": '{"code": "import pandas as pd; df = pd.read_csv(\'revenue.csv\'); print(df.to_string())"}',
                }
            ],
        )
        preview = "".join(_art.OFFLOADED_TEXT.splitlines(keepends=True)[:5])
        b.tool_response(
            "main",
            "call_run_1",
            f"The tool output was too large ({len(_art.OFFLOADED_TEXT):,} bytes, about {len(_art.OFFLOADED_TEXT) // 4:,} "
            f"tokens) and was saved to {_art.OFFLOADED_PATH}\n\nPreview:\n{preview}...",
        )
        links = [
            "[Revenue summary (CSV)](/workspace/out/summary.csv)",
            "[Revenue chart](/workspace/out/chart.png)",
            "[Notes](/workspace/out/notes.txt)",
        ]
        files: dict[str, Any] = dict(_art.ARTIFACT_FILES)
        images: list[dict[str, Any]] = [
            {"type": "image_url", "image_url": {"url": _art.data_uri("image/png", _art.chart_png())}}
        ]
        if hostile:
            links += [
                "[Everything (1 GiB)](/workspace/out/huge.bin)",
                "[click me](javascript:alert(1))",
                "[secrets](../../etc/passwd)",
            ]
            files["/workspace/out/huge.bin"] = SandboxFile(
                size=1 << 30, content_type="application/octet-stream"
            )
            images += [
                {
                    "type": "image_url",
                    "image_url": {"url": "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="},
                },
                {"type": "image_url", "image_url": {"url": "https://images.example.com/chart.png"}},
            ]
        text_before = "Revenue rose every month except March. Here is the chart:\n\n"
        text_after = "I saved these files:\n\n```sandbox_artifacts\n" + "\n".join(links) + "\n```\n"
        content = [{"type": "text", "text": text_before}, *images, {"type": "text", "text": text_after}]
        usage = {
            "input_tokens": 9800,
            "output_tokens": 96,
            "cache_read_tokens": 7824,
            "cache_write_tokens": 0,
            "input_tokens_breakdown": {
                "harness": 7824,
                "skills": 0,
                "instructions": 42,
                "tool_definitions": 400,
                "messages": 1534,
            },
        }
        final = b.event(
            {
                "type": "model.message",
                "thread_id": "main",
                "content": content,
                "finish_reason": "stop",
                "usage": usage,
            }
        )
        b.usages.append(usage)
        b.last_message = {k: v for k, v in final.items()}
        b.done()
        scenario = b.scenario(
            "artifacts",
            "an input file, an image in content, sandbox artifacts (CSV, PNG, text) and an offloaded tool result",
        )
        scenario.files = files
        return scenario

    # ------------------------------------------------------------------ serving
    def instantiate(
        self,
        *,
        turn_id: str,
        previous_turn_id: str | None,
        input: list[dict[str, Any]] | None = None,
    ) -> list[tuple[float, dict[str, Any]]]:
        """Copy the timeline for one served turn: fresh event ids and the given turn identity.

        Every event ``id`` (and every reference to one: ``source_event_id``, the copies in
        ``required_actions``, thread and turn outputs) is replaced by a fresh id, consistently,
        so deltas keep sharing their base's id. Timestamps are filled in when served.
        """
        mapping: dict[str, str] = {}
        for event in self.events:
            eid = event.get("id")
            if isinstance(eid, str) and eid not in mapping:
                mapping[eid] = new_id()
        out: list[tuple[float, dict[str, Any]]] = []
        for delay, event in zip(self.delays, self.events, strict=True):
            ev = _remap_ids(copy.deepcopy(event), mapping)
            if "id" not in ev:
                ev["id"] = new_id()
            if ev.get("type") == "turn.created":
                ev["turn_id"] = turn_id
                ev["previous_turn_id"] = previous_turn_id
                if input is not None:
                    ev["input"] = input
                ev.setdefault("state", {"status": "running"})
                ev.setdefault("created_by", dict(SUBJECT))
            out.append((delay, ev))
        return out

    @property
    def input(self) -> list[dict[str, Any]]:
        """The input items of the scenario's ``turn.created``."""
        first = self.events[0] if self.events else {}
        value = first.get("input") if first.get("type") == "turn.created" else None
        return list(value) if isinstance(value, list) else []


# ---------------------------------------------------------------------- helpers


def _parse_sse(text: str) -> Iterable[tuple[str | None, str]]:
    sse_id: str | None = None
    data: list[str] = []
    for raw in [*text.splitlines(), ""]:
        if raw == "":
            if data:
                yield sse_id, "\n".join(data)
            sse_id, data = None, []
            continue
        if raw.startswith(":"):
            continue
        name, _, value = raw.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "id":
            sse_id = value
        elif name == "data":
            data.append(value)


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _complete(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Make sure a recorded stream starts with turn.created and ends with one turn.done."""
    out = [e for e in events]
    if not out or out[0].get("type") != "turn.created":
        created = next((e for e in out if e.get("type") == "turn.created"), None)
        if created is not None:
            out.remove(created)
        else:
            created = {
                "type": "turn.created",
                "id": new_id(),
                "turn_id": "",
                "previous_turn_id": None,
                "input": [],
                "state": {"status": "running"},
                "created_by": dict(SUBJECT),
                "created_at": "",
                "thread_id": None,
            }
        out.insert(0, created)
    dones = [e for e in out if e.get("type") == "turn.done"]
    out = [e for e in out if e.get("type") != "turn.done"]
    if dones:
        out.append(dones[-1])
    else:
        out.append(
            {
                "type": "turn.done",
                "id": new_id(),
                "thread_id": None,
                "created_at": "",
                "state": {
                    "status": "error",
                    "message": "the recording ended without turn.done",
                    "completed_at": "",
                },
            }
        )
    return out


_ID_KEYS = frozenset({"id", "source_event_id"})


def _remap_ids(value: Any, mapping: dict[str, str]) -> Any:
    if isinstance(value, dict):
        for key, item in value.items():
            if key in _ID_KEYS and isinstance(item, str) and item in mapping:
                value[key] = mapping[item]
            else:
                _remap_ids(item, mapping)
    elif isinstance(value, list):
        for item in value:
            _remap_ids(item, mapping)
    return value


def _user_message(text: str) -> dict[str, Any]:
    return {"type": "user.message", "content": text}


class _Builder:
    """Builds generated timelines: token-sized deltas, usage and turn metrics."""

    def __init__(self, input: list[dict[str, Any]], *, seed: int = 0) -> None:
        self.rng = random.Random(seed)
        self.events: list[dict[str, Any]] = []
        self.delays: list[float] = []
        self.usages: list[dict[str, Any]] = []
        self.last_message: dict[str, Any] | None = None
        self._n = 0
        self.event(
            {
                "type": "turn.created",
                "turn_id": "",
                "previous_turn_id": None,
                "input": input,
                "state": {"status": "running"},
                "created_by": dict(SUBJECT),
                "thread_id": None,
            },
            delay=0.0,
        )

    def _eid(self) -> str:
        self._n += 1
        return f"ev-{self._n}"

    def event(self, event: dict[str, Any], *, delay: float | None = None) -> dict[str, Any]:
        event = {"type": event["type"], "id": event.get("id") or self._eid(), **event}
        event.setdefault("created_at", "")
        event.setdefault("thread_id", None)
        self.events.append(event)
        self.delays.append(_jitter_delay(event["type"], self.rng) if delay is None else delay)
        return event

    def delta(self, msg_id: str, thread_id: str, **fields: Any) -> None:
        event = {"type": "model.message.delta", "id": msg_id, "thread_id": thread_id, **fields}
        self.events.append(event)
        self.delays.append(_jitter_delay("model.message.delta", self.rng))

    def message(
        self,
        thread_id: str,
        *,
        content: str | None = None,
        content_tokens: Sequence[str] | None = None,
        reasoning: str | None = None,
        tool_calls: Sequence[dict[str, Any]] = (),
        finish_reason: str | None = None,
    ) -> dict[str, Any]:
        """Emit a base model.message and its deltas; return the merged message."""
        base = self.event({"type": "model.message", "thread_id": thread_id})
        msg_id = base["id"]
        first = True
        output_tokens = 0

        def first_fields() -> dict[str, Any]:
            nonlocal first
            if first:
                first = False
                return {"created_at": ""}
            return {}

        for piece in tokenize(reasoning or ""):
            self.delta(msg_id, thread_id, reasoning_content=piece, **first_fields())
            output_tokens += 1
        pieces = list(content_tokens) if content_tokens is not None else tokenize(content or "")
        for piece in pieces:
            self.delta(msg_id, thread_id, content=piece, **first_fields())
            output_tokens += 1
        merged_calls = []
        for index, call in enumerate(tool_calls):
            self.delta(
                msg_id,
                thread_id,
                tool_calls=[
                    {
                        "index": index,
                        "id": call["id"],
                        "type": "function",
                        "function": {"name": call["name"], "arguments": ""},
                        "tool_info": call.get("tool_info"),
                    }
                ],
                **first_fields(),
            )
            args = call.get("arguments", "")
            for k in range(0, len(args), 12):
                self.delta(
                    msg_id,
                    thread_id,
                    tool_calls=[{"index": index, "function": {"arguments": args[k : k + 12]}}],
                )
                output_tokens += 1
            merged_calls.append(
                {
                    "id": call["id"],
                    "type": "function",
                    "function": {"name": call["name"], "arguments": args},
                    "tool_info": call.get("tool_info"),
                }
            )
        finish = finish_reason or ("tool_calls" if tool_calls else "stop")
        messages = 1200 + 350 * len(self.usages) + self.rng.randint(0, 300)
        usage = {
            "input_tokens": 7824 + 42 + 400 + messages,
            "output_tokens": max(output_tokens, 1),
            "input_tokens_breakdown": {
                "harness": 7824,
                "skills": 0,
                "instructions": 42,
                "tool_definitions": 400,
                "messages": messages,
            },
        }
        if self.usages:
            usage["cache_read_tokens"] = 7824
            usage["cache_write_tokens"] = 0
        self.usages.append(usage)
        self.delta(msg_id, thread_id, finish_reason=finish, usage=usage, **first_fields())
        merged: dict[str, Any] = {
            "type": "model.message",
            "id": msg_id,
            "thread_id": thread_id,
            "created_at": "",
        }
        if reasoning:
            merged["reasoning_content"] = reasoning
        if pieces:
            merged["content"] = "".join(pieces)
        if merged_calls:
            merged["tool_calls"] = merged_calls
        merged["finish_reason"] = finish
        merged["usage"] = usage
        self.last_message = merged
        return merged

    def tool_response(self, thread_id: str, call_id: str, content: str) -> dict[str, Any]:
        return self.event(
            {"type": "tool.response", "thread_id": thread_id, "tool_call_id": call_id, "content": content}
        )

    def done(self, *, required_actions: Sequence[dict[str, Any]] = ()) -> None:
        total_in = sum(u["input_tokens"] for u in self.usages)
        total_out = sum(u["output_tokens"] for u in self.usages)
        state: dict[str, Any] = {
            "status": "done",
            "output": None if required_actions else copy.deepcopy(self.last_message),
            "required_actions": [copy.deepcopy(a) for a in required_actions],
            "completed_at": "",
        }
        if self.usages:
            state["metrics"] = {
                "total_input_tokens": total_in,
                "total_output_tokens": total_out,
                "total_tokens": total_in + total_out,
                "total_cost_in_usd": round(total_in * 2.5e-6 + total_out * 1e-5, 6),
            }
        self.event({"type": "turn.done", "thread_id": None, "state": state})

    def scenario(self, name: str, description: str) -> Scenario:
        return Scenario(name=name, events=self.events, delays=self.delays, description=description)


# ---------------------------------------------------------------------- scripted agent


def _input_text(items: Sequence[dict[str, Any]]) -> str:
    texts: list[str] = []
    for item in items:
        if item.get("type") != "user.message":
            continue
        content = item.get("content")
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and part.get("type") == "text":
                    texts.append(str(part.get("text", "")))
                elif isinstance(part, dict) and part.get("type") == "file":
                    texts.append(f"[file {part.get('name', '')}]")
    return " ".join(texts)


_STORIES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("several", "multi"), "multi_pause"),
    (("refund",), "approval_pause"),
    (("github", "sign in", "sign-in", "login"), "mcp_auth"),
    (("research", "sub-agent", "sub agent", "subagent", "parallel"), "sub_agents"),
    (("ask", "question"), "ask_user"),
    (("long", "markdown"), "long_markdown"),
    (("xss", "<script", "html"), "xss"),
    (("error", "fail"), "error_mcp_auth"),
)


def _mentions(text: str, keyword: str) -> bool:
    if not keyword[0].isalnum():
        return keyword in text
    return re.search(r"\b" + re.escape(keyword), text) is not None


def story_for_input(items: Sequence[dict[str, Any]]) -> Scenario:
    """Pick the scripted story for a new turn's user message by keywords.

    ``several`` / ``multi`` -> two pending actions in two threads; ``refund`` -> MCP tool call
    and an approval pause; ``github`` / ``sign in`` -> an MCP sign-in
    pause; ``research`` / ``sub-agent`` -> parallel sub-agents; ``ask`` / ``question`` -> an
    ``ask_user_question`` pause; ``long`` / ``markdown`` -> a long markdown answer; ``xss`` /
    ``html`` -> HTML payloads; ``error`` / ``fail`` -> a turn that ends in error; anything else ->
    a short answer echoing the message.
    """
    text = _input_text(items)
    low = text.lower()
    for keywords, name in _STORIES:
        if any(_mentions(low, k) for k in keywords):
            return Scenario.load(name)
    return Scenario.echo(text or "(empty message)")


def _fake_tool_result(name: str, arguments: str) -> str:
    try:
        args = json.loads(arguments) if arguments else {}
    except json.JSONDecodeError:
        args = {}
    if not isinstance(args, dict):
        args = {}
    if name == "process_refund":
        return json.dumps(
            {
                "refund_id": "rf_" + new_id()[-8:].lower(),
                "order_id": args.get("order_id"),
                "amount": args.get("amount"),
                "status": "processed",
            }
        )
    return json.dumps({"ok": True, "tool": name, "arguments": args})


def continuation(
    pending: Sequence[dict[str, Any]],
    inputs: Sequence[dict[str, Any]],
) -> Scenario:
    """The scripted continuation of a paused turn.

    ``pending`` describes what the paused turn waits for: dicts with ``kind`` ("approval",
    "question" or "mcp_auth"), ``thread_id``, ``tool_call_id``, ``name``, ``arguments`` and, for
    MCP sign-in, ``servers``. ``inputs`` are the validated resume items. Approved calls run and
    return a result; denied calls get a tool response saying so; answered questions return the
    user's answer; after an MCP sign-in the agent uses the server. A final answer follows.
    """
    b = _Builder(list(inputs), seed=len(pending) + 17)
    by_call = {str(i.get("tool_call_id")): i for i in inputs}
    lines: list[str] = []
    for p in pending:
        kind = p["kind"]
        if kind == "mcp_auth":
            for server in p.get("servers", []):
                name = str(server.get("name", "server"))
                sid = str(server.get("id", "mcp"))
                b.event(
                    {
                        "type": "mcp.initialize",
                        "thread_id": "main",
                        "mcp_servers": [{"id": sid, "name": name, "transport_type": "streamable-http"}],
                    }
                )
                call_id = "call_" + new_id()[-10:].lower()
                b.message(
                    "main",
                    content=f"Signed in to {name}; fetching your repositories.",
                    tool_calls=[
                        {
                            "id": call_id,
                            "name": "list_repositories",
                            "tool_info": {
                                "type": "mcp",
                                "server_id": sid,
                                "server_name": name,
                                "name": "list_repositories",
                            },
                            "arguments": json.dumps({"visibility": "all"}),
                        }
                    ],
                )
                b.tool_response(
                    "main",
                    call_id,
                    json.dumps([{"name": "tfwidget", "stars": 42}, {"name": "notebooks", "stars": 7}]),
                )
                lines.append(
                    f"You have **2** repositories on {name}: `tfwidget` (42 stars) and `notebooks` (7 stars)."
                )
            continue
        item = by_call[p["tool_call_id"]]
        thread = p["thread_id"]
        name = p.get("name") or "tool"
        if kind == "approval":
            approval = item.get("approval") or {}
            if approval.get("status") == "allow":
                result = _fake_tool_result(name, p.get("arguments") or "")
                b.tool_response(thread, p["tool_call_id"], result)
                lines.append(f"Done: `{name}` ran and returned `{result}`.")
            else:
                reason = approval.get("reason")
                b.tool_response(
                    thread,
                    p["tool_call_id"],
                    "The user denied this tool call." + (f" Reason: {reason}" if reason else ""),
                )
                lines.append(
                    f"Understood: I did not run `{name}`"
                    + (f" ({reason})" if reason else "")
                    + ". Nothing was changed."
                )
        else:
            content = item.get("content")
            answer = content if isinstance(content, str) else json.dumps(content)
            b.tool_response(thread, p["tool_call_id"], answer)
            lines.append(f"Thanks, going with **{answer}**. All set.")
    finished_threads: set[str] = set()
    for p in pending:
        info = p.get("thread_info")
        thread = p.get("thread_id")
        if not isinstance(info, dict) or thread in finished_threads or thread == "main":
            continue
        finished_threads.add(str(thread))
        out = b.message(str(thread), content=f"{info.get('title') or 'The sub-agent'} has what it needs.")
        parent = info.get("parent") or {}
        b.event(
            {
                "type": "thread.done",
                "thread_id": thread,
                "title": info.get("title"),
                "parent": parent,
                "state": {"status": "done", "output": copy.deepcopy(out)},
            }
        )
        if parent.get("tool_call_id"):
            b.tool_response(
                str(parent.get("thread_id") or "main"), str(parent["tool_call_id"]), out["content"]
            )
    b.message("main", content="\n\n".join(lines) or "Continuing.")
    b.done()
    return b.scenario("continuation", "the continuation of a paused turn")


# ---------------------------------------------------------------------- merging


def _merge_delta(base: dict[str, Any], delta: dict[str, Any]) -> None:
    """Merge one model.message.delta into its base in place (the official client's rules)."""
    content = delta.get("content")
    if content:
        current = base.get("content")
        if current is None or isinstance(current, str):
            base["content"] = (current or "") + content
        else:
            if current and isinstance(current[-1], dict) and current[-1].get("type") == "text":
                current[-1]["text"] = current[-1].get("text", "") + content
            else:
                current.append({"type": "text", "text": content})
    for key in ("refusal", "reasoning_content"):
        if delta.get(key):
            base[key] = (base.get(key) or "") + delta[key]
    chunks = delta.get("tool_calls")
    if chunks:
        calls = base.get("tool_calls")
        if calls is None:
            calls = base["tool_calls"] = []
        for chunk in chunks:
            index = int(chunk["index"])
            while len(calls) <= index:
                calls.append(None)
            fn = chunk.get("function") or {}
            tc = calls[index]
            if tc is None:
                tc = calls[index] = {
                    "id": chunk.get("id") or "",
                    "type": chunk.get("type") or "function",
                    "function": {"name": fn.get("name") or "", "arguments": ""},
                    "tool_info": chunk.get("tool_info"),
                    "provider_specific_fields": None,
                }
            if chunk.get("id"):
                tc["id"] = chunk["id"]
            if chunk.get("type"):
                tc["type"] = chunk["type"]
            if fn.get("name"):
                tc["function"]["name"] = fn["name"]
            if fn.get("arguments"):
                tc["function"]["arguments"] = (tc["function"].get("arguments") or "") + fn["arguments"]
            if chunk.get("tool_info"):
                tc["tool_info"] = chunk["tool_info"]
            if chunk.get("provider_specific_fields"):
                tc["provider_specific_fields"] = {
                    **(tc.get("provider_specific_fields") or {}),
                    **chunk["provider_specific_fields"],
                }
    if delta.get("finish_reason"):
        base["finish_reason"] = delta["finish_reason"]
    if delta.get("usage"):
        base["usage"] = delta["usage"]


def merge_turn_events(
    events: Iterable[dict[str, Any]], *, include_turn_events: bool = False
) -> list[dict[str, Any]]:
    """Fold a turn's live events into its listed form: deltas merged into their bases.

    Deltas are dropped after merging; ``turn.*`` events are dropped unless
    ``include_turn_events``. Events keep the position of their first appearance.
    """
    out: list[dict[str, Any]] = []
    bases: dict[str, dict[str, Any]] = {}
    for event in events:
        etype = event.get("type")
        if etype == "model.message.delta":
            eid = str(event.get("id"))
            base = bases.get(eid)
            if base is None:
                base = {
                    "type": "model.message",
                    "id": eid,
                    "thread_id": event.get("thread_id"),
                    "created_at": event.get("created_at"),
                }
                bases[eid] = base
                out.append(base)
            _merge_delta(base, event)
            continue
        if etype in ("turn.created", "turn.done") and not include_turn_events:
            continue
        copied = copy.deepcopy(event)
        if etype == "model.message":
            eid = str(event.get("id"))
            if eid in bases:
                continue
            bases[eid] = copied
        out.append(copied)
    return out
