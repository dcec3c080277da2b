"""Comparing turns: the steps of two turns aligned side by side, with text diffs and deltas.

>>> import tfwidget
>>> d = tfwidget.diff("before.jsonl", "after.jsonl")     # doctest: +SKIP
>>> d                                                      # doctest: +SKIP  (side-by-side HTML)
>>> d.steps_df[d.steps_df.status != "same"]                # doctest: +SKIP
>>> d.summary()                                            # doctest: +SKIP

A turn is read as a sequence of **steps**: model calls, tool calls (name and arguments), sub-agents and
pauses. Sub-agent steps follow the tool call that started them (depth first), so two runs whose sub-agents
interleaved differently still line up. The two sequences are aligned by a longest-common-subsequence
alignment on ``(kind, name, agent)``, preferring pairs whose content is equal, so one inserted step does not
shift everything after it. Each aligned pair is ``same`` or ``changed`` (what differs is listed in
``changes``); unmatched steps are ``only_a`` (removed) or ``only_b`` (inserted).

Deltas are ``b - a``. Per-step tokens come from each model call's usage (a sub-agent step sums its
thread's calls); durations, time to first token and per-call cost from :mod:`tfwidget.timing` and
:mod:`tfwidget.pricing` (a sub-agent step carries its thread's total cost), ``NA`` where the recording does
not tell (a tool call without a response, a model the price table does not know). The turn's totals are in
:meth:`TurnDiff.summary`.
"""

from __future__ import annotations

import difflib
import html
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

from ._content import content_text
from .analysis import TurnCollection, as_state, concat
from .state import TurnState

__all__ = ["Step", "StepPair", "TurnDiff", "TurnDiffs", "diff", "steps_of", "text_diff_html"]

StepKind = Literal["model", "tool", "sub_agent", "pause"]
PairStatus = Literal["same", "changed", "only_a", "only_b"]

STEPS_COLUMNS = [
    "step", "kind", "agent", "name_a", "name_b", "status", "changes", "id_a", "id_b",
    "tokens_a", "tokens_b", "delta_tokens", "cost_a", "cost_b", "delta_cost_usd",
    "duration_a_s", "duration_b_s", "delta_duration_s", "ttft_a_s", "ttft_b_s", "delta_ttft_s",
]  # fmt: skip
_INT_COLS = ("step", "tokens_a", "tokens_b", "delta_tokens")
_FLOAT_COLS = (
    "cost_a", "cost_b", "delta_cost_usd", "duration_a_s", "duration_b_s", "delta_duration_s",
    "ttft_a_s", "ttft_b_s", "delta_ttft_s",
)  # fmt: skip


# ------------------------------------------------------------------------------------------ steps


@dataclass(slots=True)
class Step:
    """One step of a turn.

    Attributes:
        kind: ``model`` (a model call), ``tool`` (a tool call), ``sub_agent`` or ``pause``.
        name: the agent's name for a model call (``main`` for the main thread), the tool's name, the
            sub-agent's name, or ``approval`` / ``question`` / ``sign-in`` for a pause.
        agent: the path of agents the step ran in, e.g. ``main`` or ``main/qdrant-research``.
        id: the message, tool call, thread or pause event id.
        content: what is compared for ``same`` / ``changed`` (field name -> value).
        text: the assistant text of a model call (``""`` otherwise).
        input_tokens, output_tokens: a model call's usage (summed over a sub-agent's calls), else ``None``.
        duration_s: the step's duration from :mod:`tfwidget.timing` (``None`` when unknown).
        ttft_s: a model call's time to first token (:mod:`tfwidget.timing`).
        cost_usd: a model call's own cost, a sub-agent's total (:mod:`tfwidget.pricing`; ``None`` when
            unknown).
    """

    kind: StepKind
    name: str
    agent: str
    id: str
    content: dict[str, Any] = field(default_factory=dict)
    text: str = ""
    input_tokens: int | None = None
    output_tokens: int | None = None
    duration_s: float | None = None
    ttft_s: float | None = None
    cost_usd: float | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.name, self.agent)

    @property
    def tokens(self) -> int | None:
        if self.input_tokens is None and self.output_tokens is None:
            return None
        return (self.input_tokens or 0) + (self.output_tokens or 0)

    def label(self) -> str:
        """A one-line description, e.g. ``tool search({"q": "x"})``."""
        if self.kind == "tool":
            return f"{self.name}({_short(self.content.get('arguments') or '', 80)})"
        if self.kind == "model":
            model = self.content.get("model")
            calls = self.content.get("tool_calls") or []
            bits = [f"model call · {self.name}" + (f" · {model}" if model else "")]
            if calls:
                bits.append("→ " + ", ".join(calls))
            return " ".join(bits)
        if self.kind == "sub_agent":
            model = self.content.get("model")
            return f"sub-agent {self.name}" + (f" · {model}" if model else "")
        return f"pause: {self.name}" + (f" {self.content.get('tool')}" if self.content.get("tool") else "")


def _short(text: str, n: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _canonical_json(text: str | None) -> str:
    if not text:
        return ""
    try:
        return json.dumps(json.loads(text), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    except ValueError:
        return text


def _times(state: TurnState) -> tuple[dict[str, list[float]], list[tuple[str | None, str, float, bool]]]:
    """Receive times per event id, and (thread, event id, time, has output) per item in order."""
    by_id: dict[str, list[float]] = {}
    seq: list[tuple[str | None, str, float, bool]] = []
    for it in state.items:
        ev = it.event
        by_id.setdefault(ev.id, []).append(it.received_at)
        output = ev.type == "model.message.delta" and bool(
            getattr(ev, "content", None)
            or getattr(ev, "reasoning_content", None)
            or getattr(ev, "tool_calls", None)
        )
        seq.append((ev.thread_id, ev.id, it.received_at, output))
    return by_id, seq


def _span(times: Sequence[float] | None) -> float | None:
    if not times or len(times) < 2:
        return None
    return max(times) - min(times)


def steps_of(state: TurnState) -> list[Step]:
    """The steps of a turn, sub-agents depth first after the tool call that started them."""
    by_id, _seq = _times(state)
    try:
        from .timing import spans

        span = {sp.id: sp for sp in spans(state)}
    except Exception:  # timing is best effort: never let it break a diff
        span = {}
    threads = state.threads
    calls_by_msg: dict[str, list[Any]] = {}
    for info in state.tool_calls.values():
        calls_by_msg.setdefault(info.message_id, []).append(info)
    for lst in calls_by_msg.values():
        lst.sort(key=lambda i: i.index)
    entries_by_thread: dict[str, list[Any]] = {}
    for e in state.timeline:
        if e.kind == "thread":
            parent = threads.get(e.id)
            owner = parent.parent_thread_id if parent is not None else None
            entries_by_thread.setdefault(owner or "main", []).append(e)
        elif e.kind in ("message", "pause"):
            entries_by_thread.setdefault(e.thread_id or "main", []).append(e)
    linked = {th.id for th in threads.values() if th.parent_tool_call_id in state.tool_calls}
    pauses = {p.id: p for p in state.pause_events}
    msgs = {m.id: m for m in state.merged_messages()}
    out: list[Step] = []
    visited: set[str] = set()

    def agent_name(tid: str) -> str:
        th = threads.get(tid)
        if tid == "main" or th is None:
            return "main"
        return th.agent_name or th.title or tid

    def thread_tokens(tid: str) -> tuple[int, int]:
        i = o = 0
        for m in msgs.values():
            owner = m.thread_id
            seen: set[str] = set()
            while owner is not None and owner != tid and owner not in seen:
                seen.add(owner)
                th = threads.get(owner)
                owner = th.parent_thread_id if th is not None else None
            if owner == tid and m.usage is not None:
                i += m.usage.input_tokens or 0
                o += m.usage.output_tokens or 0
        return i, o

    def emit_thread(tid: str, path: str) -> None:
        if tid in visited:
            return
        visited.add(tid)
        me = agent_name(tid)
        for e in entries_by_thread.get(tid, []):
            if e.kind == "message":
                emit_message(e.id, me, path)
            elif e.kind == "pause":
                emit_pause(e.id, path)
            elif e.kind == "thread" and e.id not in linked:
                emit_sub_agent(e.id, path)

    def emit_message(mid: str, me: str, path: str) -> None:
        m = msgs.get(mid)
        if m is None:
            return
        content, _reasoning, refusal = state.message_text(mid)
        calls = calls_by_msg.get(mid, [])
        th = threads.get(m.thread_id or "main")
        u = m.usage
        sp = span.get(mid)
        model = (th.model if th is not None else None) or (sp.attributes.get("model") if sp else None)
        out.append(
            Step(
                "model",
                me,
                path,
                mid,
                {
                    "text": content,
                    "refusal": refusal,
                    "tool_calls": [c.name for c in calls],
                    "model": model,
                },
                text=content,
                input_tokens=u.input_tokens if u is not None else None,
                output_tokens=u.output_tokens if u is not None else None,
                duration_s=sp.duration_s if sp is not None else _span(by_id.get(mid)),
                ttft_s=sp.ttft_s if sp is not None else None,
                cost_usd=sp.cost_usd if sp is not None else None,
            )
        )
        msg_end = max(by_id.get(mid) or [0.0])
        for c in calls:
            resp_t = by_id.get(c.response_event_id or "")
            csp = span.get(c.id)
            out.append(
                Step(
                    "tool",
                    c.name or "?",
                    path,
                    c.id,
                    {
                        "arguments": _canonical_json(c.arguments),
                        "response": _response_text(c.response),
                        "status": c.status,
                    },
                    duration_s=csp.duration_s
                    if csp is not None
                    else ((resp_t[0] - msg_end) if resp_t else None),
                )
            )
            if c.child_thread_id:
                emit_sub_agent(c.child_thread_id, path)

    def emit_sub_agent(tid: str, path: str) -> None:
        th = threads.get(tid)
        if th is None or tid in visited:
            return
        name = agent_name(tid)
        i, o = thread_tokens(tid)
        created = next((ev for ev in state.events_by_id.values()
                        if ev.type == "thread.created" and (ev.thread_id or ev.id) == tid), None)  # fmt: skip
        done = next((ev for ev in state.events_by_id.values()
                     if ev.type == "thread.done" and (ev.thread_id or ev.id) == tid), None)  # fmt: skip
        t0 = by_id.get(created.id) if created is not None else None
        t1 = by_id.get(done.id) if done is not None else None
        tsp = span.get(tid)
        duration = (t1[0] - t0[0]) if t0 and t1 else None
        out.append(
            Step(
                "sub_agent",
                name,
                path,
                tid,
                {
                    "model": th.model,
                    "input": (th.agent_info or {}).get("input"),
                    "status": th.status,
                    "output": _response_text(th.output),
                },
                input_tokens=i,
                output_tokens=o,
                duration_s=tsp.duration_s if tsp is not None and tsp.duration_s is not None else duration,
                cost_usd=tsp.total_cost_usd if tsp is not None else None,
            )
        )
        emit_thread(tid, f"{path}/{name}")

    def emit_pause(pid: str, path: str) -> None:
        p = pauses.get(pid)
        if p is None:
            return
        kind = {"tool.approval_required": "approval", "tool.response_required": "question"}.get(
            p.type, "sign-in"
        )
        tool_ids = [tc.id for tc in getattr(p, "tool_calls", None) or []]
        tools = [state.tool_calls[t].name for t in tool_ids if t in state.tool_calls]
        psp = span.get(pid)
        out.append(Step("pause", kind, path, pid, {"tool": ", ".join(tools)},
                        duration_s=psp.duration_s if psp is not None else None))  # fmt: skip

    emit_thread("main", "main")
    for tid in threads:  # threads never reached from main (an unknown parent)
        if tid not in visited and tid != "main":
            emit_sub_agent(tid, "main")
    return out


def _response_text(value: Any) -> str:
    if hasattr(value, "model_dump"):
        value = value.model_dump(mode="json", exclude_none=True)
    if isinstance(value, Mapping) and value.get("type") == "model.message":  # a sub-agent's output message
        value = value.get("content")
        if isinstance(value, list):
            value = content_text(value)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


# ------------------------------------------------------------------------------------------ alignment


def align(a: Sequence[Step], b: Sequence[Step]) -> list[tuple[int | None, int | None]]:
    """Pairs of indexes ``(i, j)`` aligning ``a`` and ``b`` (``None`` on the side a step is missing from).

    A longest common subsequence on the steps' keys, preferring pairs with equal content among alignments
    of the same length; unmatched steps keep their order, those of ``a`` first in each gap.
    """
    # trim the common prefix and suffix: recordings of the same question mostly agree there
    lo = 0
    while lo < len(a) and lo < len(b) and a[lo].key == b[lo].key and a[lo].content == b[lo].content:
        lo += 1
    hi_a, hi_b = len(a), len(b)
    while (
        hi_a > lo
        and hi_b > lo
        and a[hi_a - 1].key == b[hi_b - 1].key
        and a[hi_a - 1].content == b[hi_b - 1].content
    ):
        hi_a -= 1
        hi_b -= 1
    sa, sb = a[lo:hi_a], b[lo:hi_b]
    n, m = len(sa), len(sb)
    # score[i][j]: best (matches * 2 + exact matches) aligning sa[i:] with sb[j:]
    score = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        row, nxt = score[i], score[i + 1]
        ai = sa[i]
        for j in range(m - 1, -1, -1):
            best = nxt[j] if nxt[j] >= row[j + 1] else row[j + 1]
            if ai.key == sb[j].key:
                s = nxt[j + 1] + (3 if ai.content == sb[j].content else 2)
                if s > best:
                    best = s
            row[j] = best
    pairs: list[tuple[int | None, int | None]] = [(k, k) for k in range(lo)]
    i = j = 0
    while i < n and j < m:
        if sa[i].key == sb[j].key and score[i][j] == score[i + 1][j + 1] + (
            3 if sa[i].content == sb[j].content else 2
        ):
            pairs.append((lo + i, lo + j))
            i += 1
            j += 1
        elif score[i + 1][j] >= score[i][j + 1]:
            pairs.append((lo + i, None))
            i += 1
        else:
            pairs.append((None, lo + j))
            j += 1
    pairs.extend((lo + k, None) for k in range(i, n))
    pairs.extend((None, lo + k) for k in range(j, m))
    pairs.extend((hi_a + k, hi_b + k) for k in range(len(a) - hi_a))
    return pairs


# ------------------------------------------------------------------------------------------ text diff

_TOKEN = re.compile(r"\s+|\w+|[^\w\s]", re.UNICODE)


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text or "")


def text_diff_html(a: str, b: str) -> tuple[str, str]:
    """Word-level diff of two texts as escaped HTML: ``(a with deletions marked, b with insertions marked)``."""
    ta, tb = _tokens(a), _tokens(b)
    left: list[str] = []
    right: list[str] = []
    del_style = 'style="background:#ffd7d5;text-decoration:line-through"'
    ins_style = 'style="background:#ccffd8;text-decoration:none"'
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, ta, tb, autojunk=False).get_opcodes():
        sa, sb = html.escape("".join(ta[i1:i2])), html.escape("".join(tb[j1:j2]))
        if op == "equal":
            left.append(sa)
            right.append(sb)
            continue
        if sa:
            left.append(f'<del class="tfw-del" {del_style}>{sa}</del>')
        if sb:
            right.append(f'<ins class="tfw-ins" {ins_style}>{sb}</ins>')
    return "".join(left), "".join(right)


def text_diff(a: str, b: str, *, labels: tuple[str, str] = ("a", "b")) -> str:
    """A unified diff of two texts (line by line), ``""`` when they are equal."""
    return "".join(
        difflib.unified_diff(
            (a or "").splitlines(keepends=True),
            (b or "").splitlines(keepends=True),
            fromfile=labels[0],
            tofile=labels[1],
        )
    )


# ------------------------------------------------------------------------------------------ the diff


@dataclass(slots=True)
class StepPair:
    """One row of the alignment: a step of ``a``, of ``b``, or of both."""

    index: int
    a: Step | None
    b: Step | None

    @property
    def status(self) -> PairStatus:
        if self.a is None:
            return "only_b"
        if self.b is None:
            return "only_a"
        return "same" if self.a.content == self.b.content else "changed"

    @property
    def kind(self) -> str:
        return (self.a or self.b).kind  # type: ignore[union-attr]

    @property
    def changes(self) -> list[str]:
        """The content fields that differ (``[]`` unless ``changed``)."""
        if self.a is None or self.b is None:
            return []
        keys = list(dict.fromkeys([*self.a.content, *self.b.content]))
        return [k for k in keys if self.a.content.get(k) != self.b.content.get(k)]

    def text_diff(self) -> str:
        """Unified diff of the two model calls' texts (``""`` when equal or not a model call)."""
        if self.a is None or self.b is None:
            return ""
        return text_diff(self.a.text, self.b.text)


def _delta(a: float | None, b: float | None) -> float | None:
    if a is None or b is None:
        return None
    return b - a


def _signed(v: float | int | None, fmt: str) -> str:
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return "–"
    return format(v, "+" + fmt)


class TurnDiff:
    """Two turns compared step by step. Build one with :func:`diff`.

    Attributes:
        a, b: the two turns' states.
        labels: the names shown for ``a`` and ``b``.
        steps_a, steps_b: each turn's :class:`Step` list.
        pairs: the alignment, one :class:`StepPair` per row.
    """

    def __init__(self, a: TurnState, b: TurnState, *, labels: tuple[str, str] = ("a", "b")) -> None:
        self.a = a
        self.b = b
        self.labels = (str(labels[0]), str(labels[1]))
        if self.labels[0] == self.labels[1]:
            raise ValueError(f"the two labels must differ, both are {self.labels[0]!r}")
        self.steps_a = steps_of(a)
        self.steps_b = steps_of(b)
        self.pairs = [
            StepPair(
                k, self.steps_a[i] if i is not None else None, self.steps_b[j] if j is not None else None
            )
            for k, (i, j) in enumerate(align(self.steps_a, self.steps_b))
        ]

    # ------------------------------------------------------------------ tables

    @property
    def steps_df(self) -> pd.DataFrame:
        """One row per aligned pair: ``step, kind, agent, name_a, name_b, status`` (``same``, ``changed``,
        ``only_a``, ``only_b``), ``changes`` (the fields that differ), ``id_a, id_b``, and the token, cost,
        duration and TTFT of each side with their ``delta_*`` (``b - a``; ``NA`` where unknown)."""
        rows = []
        for p in self.pairs:
            a, b = p.a, p.b
            ref = a or b
            assert ref is not None
            ta, tb = (a.tokens if a else None), (b.tokens if b else None)
            da, db = (a.duration_s if a else None), (b.duration_s if b else None)
            fa, fb = (a.ttft_s if a else None), (b.ttft_s if b else None)
            ca, cb = (a.cost_usd if a else None), (b.cost_usd if b else None)
            rows.append({
                "step": p.index, "kind": ref.kind, "agent": ref.agent,
                "name_a": a.name if a else None, "name_b": b.name if b else None,
                "status": p.status, "changes": ", ".join(p.changes),
                "id_a": a.id if a else None, "id_b": b.id if b else None,
                "tokens_a": ta, "tokens_b": tb, "delta_tokens": _delta(ta, tb),
                "cost_a": ca, "cost_b": cb, "delta_cost_usd": _delta(ca, cb),
                "duration_a_s": da, "duration_b_s": db, "delta_duration_s": _delta(da, db),
                "ttft_a_s": fa, "ttft_b_s": fb, "delta_ttft_s": _delta(fa, fb),
            })  # fmt: skip
        df = pd.DataFrame(rows, columns=STEPS_COLUMNS)
        for c in _INT_COLS:
            df[c] = df[c].astype("Int64")
        for c in _FLOAT_COLS:
            df[c] = df[c].astype("Float64")
        for c in ("kind", "agent", "name_a", "name_b", "status", "changes", "id_a", "id_b"):
            df[c] = df[c].astype("string")
        return df

    @property
    def counts(self) -> dict[str, int]:
        """How many pairs are ``same``, ``changed``, ``only_a`` and ``only_b``."""
        out = {"same": 0, "changed": 0, "only_a": 0, "only_b": 0}
        for p in self.pairs:
            out[p.status] += 1
        return out

    def summary(self) -> pd.DataFrame:
        """The two turns side by side: one row per measure (status, steps by kind, tokens, cost, duration,
        time to first token, final answer length), columns ``a``, ``b`` (named by :attr:`labels`) and
        ``delta`` (``b - a`` for numbers)."""
        ma, mb = _measures(self.a, self.steps_a), _measures(self.b, self.steps_b)
        rows = []
        for key in ma:
            va, vb = ma[key], mb[key]
            d: Any = None
            if va is None or vb is None:
                d = None  # unknown on one side: no delta
            elif isinstance(va, (int, float)) and isinstance(vb, (int, float)):
                d = vb - va
            elif va != vb:
                d = "changed"
            rows.append((key, va, vb, d))
        na = pd.NA
        data = {
            self.labels[0]: [na if r[1] is None else r[1] for r in rows],
            self.labels[1]: [na if r[2] is None else r[2] for r in rows],
            "delta": [na if r[3] is None else r[3] for r in rows],
        }
        index = pd.Index([r[0] for r in rows], name="measure")
        df = pd.DataFrame({k: pd.Series(v, index=index, dtype=object) for k, v in data.items()})
        return df

    @property
    def final_answer(self) -> tuple[str, str]:
        """The final answer text of ``a`` and ``b``."""
        return _final_answer(self.a), _final_answer(self.b)

    def final_answer_diff(self) -> str:
        """A unified diff of the two final answers (``""`` when equal)."""
        fa, fb = self.final_answer
        return text_diff(fa, fb, labels=self.labels)

    def __repr__(self) -> str:
        c = self.counts
        ta, tb = self.a.totals(), self.b.totals()
        return (
            f"<TurnDiff {self.labels[0]!r} vs {self.labels[1]!r}: {len(self.pairs)} steps, same={c['same']} "
            f"changed={c['changed']} only_a={c['only_a']} only_b={c['only_b']}, tokens "
            f"{ta['total_tokens']} -> {tb['total_tokens']}>"
        )

    # ------------------------------------------------------------------ display

    def _repr_html_(self) -> str:
        return self.to_html()

    def to_html(self) -> str:
        """The side-by-side view as one self-contained HTML fragment (inline styles, no script)."""
        e = html.escape
        la, lb = e(self.labels[0]), e(self.labels[1])
        bg = {"same": "", "changed": "#fff8c5", "only_a": "#ffebe9", "only_b": "#dafbe1"}
        mark = {"same": "=", "changed": "~", "only_a": "−", "only_b": "+"}
        out = [
            '<div class="tfw-diff" style="font-family:sans-serif;font-size:13px;line-height:1.4;'
            "color:#1f2328;background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:8px 12px;"
            'max-width:100%;overflow-x:auto">'
        ]
        c = self.counts
        out.append(
            f"<div><strong>{la}</strong> vs <strong>{lb}</strong> · {len(self.pairs)} aligned steps · "
            f"{c['same']} same · {c['changed']} changed · {c['only_a']} only in {la} · "
            f"{c['only_b']} only in {lb}</div>"
        )
        out.append(_summary_html(self.summary()))
        cell = "vertical-align:top;padding:4px 6px;border-top:1px solid #d0d7de"
        out.append(
            '<table class="tfw-diff-steps" style="border-collapse:collapse;width:100%;margin-top:8px">'
            f'<thead><tr><th style="{cell}">#</th><th style="{cell};text-align:left;width:44%">{la}</th>'
            f'<th style="{cell}"></th><th style="{cell};text-align:left;width:44%">{lb}</th>'
            f'<th style="{cell}">Δ tokens</th><th style="{cell}">Δ time</th></tr></thead><tbody>'
        )
        for p in self.pairs:
            st = p.status
            left, right = _step_html(p.a), _step_html(p.b)
            if st == "changed" and p.a is not None and p.b is not None and p.a.text != p.b.text:
                da, db = text_diff_html(p.a.text, p.b.text)
                left = _step_html(p.a, text_html=da)
                right = _step_html(p.b, text_html=db)
            ta, tb = (p.a.tokens if p.a else None), (p.b.tokens if p.b else None)
            dd = _delta(p.a.duration_s if p.a else None, p.b.duration_s if p.b else None)
            changes = f' title="changed: {e(", ".join(p.changes))}"' if p.changes else ""
            out.append(
                f'<tr class="tfw-diff-{st}" data-status="{st}" style="background:{bg[st]}">'
                f'<td style="{cell};color:#656d76">{p.index}</td><td style="{cell}">{left}</td>'
                f'<td style="{cell};font-weight:bold;text-align:center"{changes}>{mark[st]}</td>'
                f'<td style="{cell}">{right}</td>'
                f'<td style="{cell};text-align:right">{_signed(_delta(ta, tb), ",")}</td>'
                f'<td style="{cell};text-align:right">{_signed(dd, ".2f")}</td></tr>'
            )
        out.append("</tbody></table>")
        fa, fb = self.final_answer
        if fa or fb:
            da, db = text_diff_html(fa, fb)
            pre = "white-space:pre-wrap;overflow-wrap:anywhere;margin:0"
            out.append(
                '<div style="margin-top:8px"><strong>Final answer</strong>'
                + (" (same)" if fa == fb else "")
                + '<table style="width:100%;border-collapse:collapse"><tr>'
                f'<td style="{cell};width:50%"><div class="tfw-answer-a" style="{pre}">{da}</div></td>'
                f'<td style="{cell};width:50%"><div class="tfw-answer-b" style="{pre}">{db}</div></td>'
                "</tr></table></div>"
            )
        out.append("</div>")
        return "".join(out)


def _final_answer(state: TurnState) -> str:
    out = state.output
    if out is not None:
        return out.text
    for m in reversed(state.merged_messages()):
        if (m.thread_id or "main") == "main" and m.text:
            return m.text
    return ""


def _measures(state: TurnState, steps: Sequence[Step]) -> dict[str, Any]:
    t = state.totals()
    items = state.items
    duration = (items[-1].received_at - items[0].received_at) if len(items) > 1 else None
    first_out = next((s.ttft_s for s in steps if s.kind == "model" and s.ttft_s is not None), None)
    kinds = {k: sum(1 for s in steps if s.kind == k) for k in ("model", "tool", "sub_agent", "pause")}
    return {
        "status": state.status,
        "steps": len(steps),
        "model_calls": kinds["model"],
        "tool_calls": kinds["tool"],
        "sub_agents": kinds["sub_agent"],
        "pauses": kinds["pause"],
        "models": ", ".join(sorted({str(s.content.get("model")) for s in steps if s.content.get("model")})),
        "input_tokens": t["input_tokens"],
        "output_tokens": t["output_tokens"],
        "total_tokens": t["total_tokens"],
        "cost_usd": t["cost_usd"],
        "duration_s": duration,
        "ttft_s": first_out,
        "final_answer_chars": len(_final_answer(state)),
    }


def _summary_html(df: pd.DataFrame) -> str:
    e = html.escape
    cell = "padding:2px 8px;border-bottom:1px solid #eaeef2;text-align:right"
    head = "".join(f'<th style="{cell}">{e(str(c))}</th>' for c in df.columns)
    rows = []
    for measure, row in df.iterrows():
        vals = []
        for k, v in enumerate(row.tolist()):
            if v is None or (isinstance(v, (float, type(pd.NA))) and pd.isna(v)):
                vals.append("–")
            elif isinstance(v, float):
                vals.append(f"{v:+.4g}" if k == 2 else f"{v:.4g}")
            elif isinstance(v, int) and not isinstance(v, bool):
                vals.append(f"{v:+,}" if k == 2 else f"{v:,}")
            else:
                vals.append(str(v))
        tds = "".join(f'<td style="{cell}">{e(x)}</td>' for x in vals)
        rows.append(f'<tr><th style="{cell};text-align:left">{e(str(measure))}</th>{tds}</tr>')
    return (
        '<table class="tfw-diff-summary" style="border-collapse:collapse;margin-top:6px">'
        f'<thead><tr><th style="{cell}"></th>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


def _step_html(step: Step | None, *, text_html: str | None = None) -> str:
    if step is None:
        return ""
    e = html.escape
    pre = "white-space:pre-wrap;overflow-wrap:anywhere;margin:2px 0;font-size:12px"
    kind_color = {"model": "#0969da", "tool": "#8250df", "sub_agent": "#9a6700", "pause": "#bc4c00"}
    head = (
        f'<span style="color:{kind_color.get(step.kind, "#000")};font-weight:600">{e(step.kind)}</span> '
        f'<span style="color:#656d76">{e(step.agent)}</span>'
    )
    body = [f"<div>{head}</div>"]
    if step.kind == "model":
        bits = [str(step.content.get("model") or "")]
        if step.content.get("tool_calls"):
            bits.append("→ " + ", ".join(step.content["tool_calls"]))
        label = " ".join(b for b in bits if b)
        if label:
            body.append(f"<div>{e(label)}</div>")
        text = text_html if text_html is not None else e(step.text)
        if text:
            body.append(f'<div style="{pre};font-family:inherit">{text}</div>')
    elif step.kind == "tool":
        body.append(f"<div><code>{e(step.name)}</code></div>")
        args = step.content.get("arguments") or ""
        body.append(f'<div style="{pre};font-family:monospace">{e(_short(args, 400))}</div>')
        resp = step.content.get("response") or ""
        if resp:
            body.append(f'<div style="{pre};color:#656d76">→ {e(_short(resp, 200))}</div>')
    else:
        body.append(f"<div>{e(step.label())}</div>")
    if step.tokens is not None:
        body.append(f'<div style="color:#656d76;font-size:11px">{step.tokens:,} tokens</div>')
    return "".join(body)


# ------------------------------------------------------------------------------------------ many runs


class TurnDiffs(Mapping[str, TurnDiff]):
    """Many turns each compared to one baseline: ``{turn_id: TurnDiff}``. Build one with :func:`diff`.

    Attributes:
        baseline: the key of the baseline turn in the collection.
    """

    def __init__(self, collection: TurnCollection, baseline: str) -> None:
        if baseline not in collection.states:
            raise KeyError(f"baseline {baseline!r} is not in the collection: {list(collection.states)}")
        self.baseline = baseline
        base = collection.states[baseline]
        self.diffs: dict[str, TurnDiff] = {
            key: TurnDiff(base, st, labels=(baseline, key))
            for key, st in collection.states.items()
            if key != baseline
        }

    def __getitem__(self, key: str) -> TurnDiff:
        return self.diffs[key]

    def __iter__(self) -> Any:
        return iter(self.diffs)

    def __len__(self) -> int:
        return len(self.diffs)

    @property
    def summary_df(self) -> pd.DataFrame:
        """One row per turn compared to the baseline: ``turn_id, status, same, changed, only_a, only_b``
        and the deltas of steps, tool calls, sub-agents, tokens, cost and duration (``b - baseline``)."""
        rows = []
        for key, d in self.diffs.items():
            s = d.summary()
            delta = s["delta"]
            rows.append({
                "turn_id": key, "status": d.b.status, **d.counts,
                "delta_steps": delta["steps"], "delta_tool_calls": delta["tool_calls"],
                "delta_sub_agents": delta["sub_agents"], "delta_total_tokens": delta["total_tokens"],
                "delta_cost_usd": delta["cost_usd"], "delta_duration_s": delta["duration_s"],
            })  # fmt: skip
        cols = ["turn_id", "status", "same", "changed", "only_a", "only_b", "delta_steps", "delta_tool_calls",
                "delta_sub_agents", "delta_total_tokens", "delta_cost_usd", "delta_duration_s"]  # fmt: skip
        df = pd.DataFrame(rows, columns=cols)
        for c in cols[2:10]:
            df[c] = pd.array([None if v is pd.NA else v for v in df[c]], dtype="Int64")
        for c in cols[10:]:
            df[c] = pd.array([None if v is pd.NA else v for v in df[c]], dtype="Float64")
        for c in cols[:2]:
            df[c] = df[c].astype("string")
        return df

    @property
    def steps_df(self) -> pd.DataFrame:
        """Every diff's :attr:`TurnDiff.steps_df` stacked, with a leading ``turn_id`` column."""
        frames = [d.steps_df.assign(turn_id=key) for key, d in self.diffs.items()]
        if not frames:
            return pd.DataFrame(columns=["turn_id", *STEPS_COLUMNS])
        df = pd.concat(frames, ignore_index=True)
        df["turn_id"] = df["turn_id"].astype("string")
        return df[["turn_id", *STEPS_COLUMNS]]

    def __repr__(self) -> str:
        return f"<TurnDiffs baseline={self.baseline!r} turns={list(self.diffs)}>"

    def _repr_html_(self) -> str:
        table = self.summary_df.to_html(index=False, na_rep="–", classes="tfw-diffs", border=0)
        return (
            '<div class="tfw-diffs-wrap" style="font-family:sans-serif;font-size:13px">'
            f"<div>Compared to <strong>{html.escape(self.baseline)}</strong></div>{table}</div>"
        )


# ------------------------------------------------------------------------------------------ entry point


def _label(obj: Any, default: str) -> str:
    if isinstance(obj, (str, os.PathLike)):
        return os.path.splitext(os.path.basename(os.fspath(obj)))[0] or default
    return default


def diff(
    a: Any,
    b: Any = None,
    *,
    baseline: str | None = None,
    labels: tuple[str, str] | None = None,
) -> TurnDiff | TurnDiffs:
    """Compare two turns, or many turns to a baseline.

    - ``diff(a, b)``: ``a`` and ``b`` are views, states, lists of stream items or recording paths; returns
      a :class:`TurnDiff` (displayed in a notebook: the side-by-side view). ``labels`` names the two sides
      (default: the recordings' file names, else ``a`` / ``b``).
    - ``diff(turns, baseline=name)``: ``turns`` is a :class:`~tfwidget.analysis.TurnCollection` (or anything
      :func:`~tfwidget.analysis.concat` takes: a folder, a dict, a list); returns a :class:`TurnDiffs`
      comparing every other turn to the baseline (default: the first turn).
    """
    if b is None:
        if isinstance(a, (TurnState,)) or getattr(a, "state", None) is not None:
            raise TypeError("diff() needs two turns, or a collection of turns (and a baseline)")
        coll = a if isinstance(a, TurnCollection) else concat(a)
        if len(coll) < 2:
            raise ValueError(f"diff() over a collection needs at least two turns, got {len(coll)}")
        return TurnDiffs(coll, baseline if baseline is not None else next(iter(coll)))
    if baseline is not None:
        raise TypeError("baseline= is for diff() over a collection: diff(turns, baseline=name)")
    if labels is None:
        labels = (_label(a, "a"), _label(b, "b"))
        if labels[0] == labels[1]:
            labels = (f"{labels[0]} (a)", f"{labels[1]} (b)")
    elif len(labels) != 2:
        raise ValueError(f"labels must be two names, not {labels!r}")
    return TurnDiff(as_state(a), as_state(b), labels=labels)
