"""The turn's waterfall outside the live view: :func:`plot_timeline` (matplotlib) and :func:`timeline_svg`
(inline SVG for static HTML, no JavaScript).

Both draw what the view's Timeline tab draws (``js/src/timeline.js``), from :func:`tfwidget.timing.spans`:
one lane per thread, a sub-agent's lane right after (and indented under) the lane of the tool call that
spawned it; model calls as bars with the time to first token shaded, tool calls and waits for a person as
bars below them when they overlap.

>>> import tfwidget
>>> fig = tfwidget.plot_timeline("notebooks/recordings/sub_agents.jsonl")      # doctest: +SKIP
>>> html = tfwidget.timeline.timeline_svg(state)                            # doctest: +SKIP
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .state import TurnState
from .timing import Span, spans

__all__ = ["Bar", "Lane", "layout_timeline", "plot_timeline", "spans_from_view", "timeline_svg"]

_PLOT_EXTRA = "plot_timeline() needs matplotlib, which is not installed: pip install 'tfwidget[plot]'"
_KIND_ORDER = {"model_call": 0, "tool_call": 1, "pause": 2}


@dataclass(frozen=True, slots=True)
class Bar:
    """One drawn span: ``start`` / ``end`` in seconds since the turn started; ``open`` when it never ended
    (drawn to the end of the timeline)."""

    span: Span
    start: float
    end: float
    open: bool

    @property
    def first_token(self) -> float | None:
        s = self.span
        if s.first_token_at is None or s.started_at is None:
            return None
        return self.start + (s.first_token_at - s.started_at)


@dataclass(slots=True)
class Lane:
    """A thread's lane: ``depth`` 0 for main, 1 for its sub-agents, ...; ``via`` the spawning tool call."""

    thread: Span
    depth: int
    via: Span | None
    rows: list[list[Bar]] = field(default_factory=list)


def spans_from_view(rows: Iterable[Mapping[str, Any]]) -> list[Span]:
    """:class:`Span` records back from the view model's ``spans`` (epoch ms dicts, see
    :func:`tfwidget.timing.spans_view`): what a static renderer has when it holds only a view snapshot."""

    def sec(v: Any) -> float | None:
        return None if v is None else float(v) / 1000.0

    out = []
    for r in rows:
        out.append(
            Span(
                r["kind"], r["id"], r.get("parent_id"), r.get("thread_id"), r.get("name") or r["id"],
                sec(r.get("start_ms")), sec(r.get("end_ms")), r.get("time_source") or "received",
                r.get("status"), sec(r.get("first_ms")), r.get("input_tokens"), r.get("output_tokens"),
                r.get("cache_read_tokens"), None, r.get("cost_usd"), r.get("cost_source"),
                r.get("total_cost_usd"), None,
            )
        )  # fmt: skip
    return out


def _as_spans(source: Any) -> list[Span]:
    if isinstance(source, TurnState):
        return spans(source)
    if isinstance(source, (list, tuple)) and all(isinstance(x, Span) for x in source):
        return list(source)
    if isinstance(source, (list, tuple)) and all(isinstance(x, Mapping) for x in source):
        return spans_from_view(source)
    raise TypeError(
        f"expected a TurnState, a list of Span or the view's spans (list of dicts), not {type(source).__name__}"
    )


def layout_timeline(source: Any) -> tuple[float, list[Lane]]:
    """``(duration in seconds, lanes)`` of a turn's waterfall (the same layout as the view's Timeline).

    ``source``: a TurnState, a list of :class:`Span`, or the view model's ``spans``.
    """
    out = _as_spans(source)
    turn = next((s for s in out if s.kind == "turn"), None)
    times = [t for s in out for t in (s.started_at, s.first_token_at, s.ended_at) if t is not None]
    if not times:
        return 0.0, []
    t0 = turn.started_at if turn is not None and turn.started_at is not None else min(times)
    t1 = max(times)
    if turn is not None and turn.ended_at is not None:
        t1 = max(t1, turn.ended_at)
    duration = max(t1 - t0, 1e-3)
    by_id = {s.id: s for s in out}
    threads = [s for s in out if s.kind == "thread"]
    children_of_tool: dict[str, list[Span]] = {}
    for th in threads:
        parent = by_id.get(th.parent_id or "")
        if parent is not None and parent.kind == "tool_call":
            children_of_tool.setdefault(parent.id, []).append(th)
    bars_of: dict[str, list[Bar]] = {th.id: [] for th in threads}
    for s in out:
        if s.kind not in _KIND_ORDER or s.started_at is None:
            continue
        lane = s.thread_id if s.thread_id in bars_of else (threads[0].id if threads else None)
        if lane is None:
            continue
        start = s.started_at - t0
        is_open = s.ended_at is None
        end = duration if is_open else s.ended_at - t0  # type: ignore[operator]
        bars_of[lane].append(Bar(s, start, max(end, start), is_open))
    lanes: list[Lane] = []
    seen: set[str] = set()

    def visit(th: Span, depth: int, via: Span | None) -> None:
        if th.id in seen:
            return
        seen.add(th.id)
        bars = sorted(bars_of.get(th.id, []), key=lambda b: (b.start, _KIND_ORDER[b.span.kind]))
        rows: list[list[Bar]] = []
        for bar in bars:
            row = next((r for r in rows if not r or r[-1].end <= bar.start + 5e-4), None)
            if row is None:
                row = []
                rows.append(row)
            row.append(bar)
        lanes.append(Lane(th, depth, via, rows or [[]]))
        for bar in bars:
            if bar.span.kind == "tool_call":
                for child in children_of_tool.get(bar.span.id, []):
                    visit(child, depth + 1, bar.span)

    main = next((th for th in threads if th.id == "main"), None)
    if main is not None:
        visit(main, 0, None)
    for th in threads:
        if th.id not in seen:
            visit(th, 0, None)
    return duration, lanes


def _secs(v: float | None) -> str:
    if v is None:
        return "–"
    return f"{v * 1000:.0f} ms" if v < 1 else f"{v:.2f} s"


def _cost(v: float | None) -> str | None:
    if v is None:
        return None
    return f"${v:.4f}" if v < 0.01 else f"${v:.3f}"


def _title(bar: Bar) -> str:
    s = bar.span
    what = {"model_call": "model call", "tool_call": "tool call", "pause": "waiting for a person"}[s.kind]
    lines = [f"{what}: {s.name}"]
    lines.append(f"{'open for' if bar.open else 'took'} {_secs(bar.end - bar.start)}")
    if s.kind == "model_call":
        if s.ttft_s is not None:
            lines.append(f"time to first token {_secs(s.ttft_s)}")
        if s.input_tokens is not None or s.output_tokens is not None:
            lines.append(f"tokens in {s.input_tokens or 0:,} · out {s.output_tokens or 0:,}")
        c = _cost(s.cost_usd)
        if c:
            lines.append(f"cost {c} ({s.cost_source})")
    else:
        c = _cost(s.total_cost_usd)
        if c:
            lines.append(f"cost {c}")
    if s.status:
        lines.append(f"status {s.status}")
    return "\n".join(lines)


_SVG_STYLE = """
.tfw-tls text { font: 11px system-ui, -apple-system, "Segoe UI", sans-serif; fill: #303030; }
.tfw-tls .lab { font-weight: 600; } .tfw-tls .sub { fill: #6e7781; }
.tfw-tls .grid { stroke: #d0d7de; stroke-width: 1; } .tfw-tls .model { fill: #5b8def; }
.tfw-tls .ttft { fill: #ffffff; fill-opacity: 0.45; } .tfw-tls .tool { fill: #f2a93b; }
.tfw-tls .pause { fill: #e8607a; fill-opacity: 0.75; } .tfw-tls .open { stroke: #303030; stroke-dasharray: 3 2; }
@media (prefers-color-scheme: dark) {
  .tfw-tls text { fill: #e6e6e6; } .tfw-tls .sub { fill: #a0a0a0; } .tfw-tls .grid { stroke: #444c56; }
  .tfw-tls .open { stroke: #e6e6e6; }
}
"""


def timeline_svg(state: TurnState | list[Span] | list[Mapping[str, Any]], *, width: int = 720) -> str:
    """The turn's waterfall as one inline ``<svg>`` element (no JavaScript; hover titles on every bar).

    ``state``: a TurnState, a list of :class:`Span`, or a view snapshot's ``spans``. For static pages
    (exported transcripts): every text is escaped; colours follow ``prefers-color-scheme``. Returns ``""``
    when nothing in the turn is timed.
    """
    if not isinstance(width, int) or width < 200:
        raise ValueError(f"width must be an int of at least 200 (pixels), not {width!r}")
    try:
        spans_list = _as_spans(state)
    except TypeError:
        raise TypeError(
            f"timeline_svg() needs a TurnState (or its spans), not {type(state).__name__}"
        ) from None
    duration, lanes = layout_timeline(spans_list)
    if not lanes:
        return ""
    label_w, row_h, axis_h, pad = 140, 16, 18, 6
    track_w = width - label_w - 24
    esc = html.escape

    def x(t: float) -> float:
        return label_w + (t / duration) * track_w

    parts: list[str] = []
    y = axis_h
    step = _tick_step(duration)
    ticks = []
    t = 0.0
    while t <= duration + 1e-9:
        ticks.append(f'<text class="sub" x="{x(t):.1f}" y="12" text-anchor="middle">{esc(_secs(t))}</text>')
        t += step
    for lane in lanes:
        h = max(max(1, len(lane.rows)) * (row_h + 2) + pad, 32)
        cost = _cost(lane.thread.total_cost_usd)
        indent = 4 + lane.depth * 12
        name = ("↳ " if lane.depth else "") + lane.thread.name
        via = f" (spawned by {lane.via.name} {lane.via.id})" if lane.via is not None else ""
        parts.append(
            f'<g class="lane" data-thread="{esc(lane.thread.id)}" data-depth="{lane.depth}">'
            f"<title>{esc('thread ' + lane.thread.name + via)}</title>"
            f'<line class="grid" x1="0" x2="{width}" y1="{y + h:.1f}" y2="{y + h:.1f}"/>'
            f'<text class="lab" x="{indent}" y="{y + 13}">{esc(name[:22])}</text>'
            + (f'<text class="sub" x="{indent}" y="{y + 26}">{esc(cost)}</text>' if cost else "")
            + "</g>"
        )
        for r, row in enumerate(lane.rows):
            by = y + pad / 2 + r * (row_h + 2)
            for bar in row:
                bx, bw = x(bar.start), max(3.0, x(bar.end) - x(bar.start))
                cls = {"model_call": "model", "tool_call": "tool", "pause": "pause"}[bar.span.kind]
                inner = f"<title>{esc(_title(bar))}</title>"
                # a bar is a path: two attributes (a host that sanitizes the output parses every one)
                inner += f'<path class="{cls}" d="M{bx:.1f} {by:.1f}h{bw:.1f}v{row_h - 2}h-{bw:.1f}z"/>'
                ft = bar.first_token
                if bar.span.kind == "model_call" and ft is not None and ft > bar.start:
                    tw = min(bw, x(ft) - bx)
                    inner += f'<path class="ttft" d="M{bx:.1f} {by:.1f}h{tw:.1f}v{row_h - 2}h-{tw:.1f}z"/>'
                if bar.open:
                    inner += f'<line class="open" x1="{bx + bw:.1f}" x2="{bx + bw:.1f}" y1="{by:.1f}" y2="{by + row_h - 2:.1f}"/>'
                parts.append(
                    f'<g class="bar" data-kind="{bar.span.kind}" data-id="{esc(bar.span.id)}">{inner}</g>'
                )
        y += h
    height = y + 4
    grid = f'<line class="grid" x1="{label_w}" x2="{label_w}" y1="{axis_h}" y2="{height - 4}"/>'
    return (
        f'<svg class="tfw-tls" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" data-width="{width}" role="img" aria-label="timeline of the turn">'
        f'<style>svg.tfw-tls[data-width="{width}"]{{max-width:{width}px}}{_SVG_STYLE}</style>'
        f"{''.join(ticks)}{grid}{''.join(parts)}</svg>"
    )


def _tick_step(duration: float) -> float:
    for s in (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600):
        if duration / s <= 8:
            return float(s)
    return 3600.0


def plot_timeline(obj: Any, *, ax: Any = None, title: str | None = None) -> Any:
    """The turn's waterfall with matplotlib: lanes per thread, bars per model call / tool call / wait.

    Args:
        obj: a TurnState, a TurnView, a recording path or a list of StreamItem.
        ax: a matplotlib Axes to draw into.
        title: the Axes title (default: the turn's duration and cost).

    Returns:
        The new Figure (closed in pyplot: it shows as a cell's last expression), or ``ax`` when given.

    Raises:
        ImportError: matplotlib is not installed (``pip install 'tfwidget[plot]'``).
    """
    try:
        import matplotlib
        from matplotlib.patches import Patch
    except ImportError as exc:  # pragma: no cover - exercised with matplotlib absent
        raise ImportError(_PLOT_EXTRA) from exc
    from .analysis import as_state

    state = as_state(obj)
    duration, lanes = layout_timeline(state)
    n_rows = sum(len(lane.rows) for lane in lanes) or 1
    own = ax is None
    if own:
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(9.0, 1.0 + 0.32 * n_rows), dpi=80, layout="constrained")
        plt.close(fig)
    else:
        fig = ax.figure
    colors = {"model_call": "#5b8def", "tool_call": "#f2a93b", "pause": "#e8607a"}
    yticks, ylabels = [], []
    y = 0.0
    for lane in lanes:
        top = y
        for row in lane.rows:
            for bar in row:
                kind = bar.span.kind
                ax.barh(y, max(bar.end - bar.start, duration / 400), left=bar.start, height=0.7,
                        color=colors[kind], hatch="///" if kind == "pause" else None,
                        edgecolor="#333333" if bar.open else "none", linestyle="--" if bar.open else "-")  # fmt: skip
                ft = bar.first_token
                if kind == "model_call" and ft is not None and ft > bar.start:
                    ax.barh(y, ft - bar.start, left=bar.start, height=0.7, color="white", alpha=0.45,
                            hatch="..", edgecolor="none")  # fmt: skip
            y += 1
        yticks.append((top + y - 1) / 2)
        cost = _cost(lane.thread.total_cost_usd)
        label = ("  " * lane.depth + ("↳ " if lane.depth else "")) + lane.thread.name
        ylabels.append(f"{label}\n{cost}" if cost else label)
        ax.axhline(y - 0.5, color="#d0d7de", linewidth=0.8)
    ax.set_yticks(yticks)
    ax.set_yticklabels(ylabels, fontsize=8)
    ax.set_ylim(y - 0.5, -0.5)
    ax.set_xlim(0, duration * 1.01)
    ax.set_xlabel("seconds since the turn started")
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    handles = [
        Patch(color=colors["model_call"], label="model call"),
        Patch(facecolor=colors["model_call"], alpha=0.5, hatch="..", label="waiting for the first token"),
        Patch(color=colors["tool_call"], label="tool call"),
        Patch(facecolor=colors["pause"], hatch="///", label="waiting for a person"),
    ]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    if title is None:
        turn = next((s for s in spans(state) if s.kind == "turn"), None)
        cost = _cost(turn.total_cost_usd) if turn is not None else None
        title = (
            f"{duration:.2f} s"
            + (f", {cost}" if cost else "")
            + f", {len(lanes)} thread{'s' * (len(lanes) != 1)}"
        )
    ax.set_title(title, fontsize=10)
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _p: f"{v:g}"))
    return fig if own else ax
