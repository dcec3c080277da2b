"""Static HTML of a turn or a session: what shows where no JavaScript runs.

One renderer serves every place the transcript must be readable without a kernel or without the widget's
front end: the ``text/html`` output next to each live view in a notebook (shown when the notebook is
reopened without a kernel), the ``text/html`` fallback of ``TurnView._repr_mimebundle_``, the no-JavaScript
part of :meth:`TurnView.to_html`, nbconvert's HTML export (with or without widget state, online or off),
``tfwidget show --html`` and GitHub's notebook preview.

The output has no scripts and loads nothing from outside: model markdown is rendered in Python
(markdown-it-py) and sanitized (nh3) with the allow-list of the front end (``js/src/markdown.js``); remote
images become links. Sub-agent threads sit under the tool card that started them; the usage chart is inline
SVG. Styles are one ``<style>`` sheet per transcript and class names (only the root box has a style
attribute; where a host drops ``<style>`` elements the transcript reads as plain HTML), plus one small rule set
that lets a live view hide its static twin (see :func:`static_output_html`).

>>> from tfwidget.static_html import render_turn_html
>>> html = render_turn_html(view.snapshot())      # doctest: +SKIP
"""

from __future__ import annotations

import html as _html
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

import nh3
from markdown_it import MarkdownIt

from .artifacts import static_media_html

__all__ = [
    "STATIC_CLASS",
    "markdown_html",
    "render_session_html",
    "render_turn_html",
    "static_output_html",
    "static_page",
    "usage_chart_svg",
]

#: Class of the outermost element of every static transcript (never a class of the live front end).
STATIC_CLASS = "tfws-static"

_MAX_RESPONSE = 4000  # characters of one tool response shown in full

# ------------------------------------------------------------------------------------------- markdown

# The front end's allow-list (DOMPurify's html profile without style, form, input, button, textarea,
# select, iframe, object, embed and the style attribute), less what would load something from outside
# (img, audio, video, source, picture, track: a remote image becomes a link here).
ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "acronym", "address", "article", "aside", "b", "bdi", "bdo", "big", "blockquote",
        "br", "caption", "center", "cite", "code", "col", "colgroup", "data", "dd", "del", "details",
        "dfn", "div", "dl", "dt", "em", "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5",
        "h6", "header", "hgroup", "hr", "i", "ins", "kbd", "li", "main", "mark", "nav", "ol", "p", "pre",
        "q", "rp", "rt", "ruby", "s", "samp", "section", "small", "span", "strike", "strong", "sub",
        "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "time", "tr", "tt", "u", "ul",
        "var", "wbr",
    }
)  # fmt: skip
_GLOBAL_ATTRS = {"title", "lang", "dir"}
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "*": _GLOBAL_ATTRS,
    "a": {"href", "hreflang"},
    "code": {"class"},
    "ol": {"start", "reversed"},
    "li": {"value"},
    "td": {"align", "colspan", "rowspan"},
    "th": {"align", "colspan", "rowspan", "scope"},
    "details": {"open"},
    "time": {"datetime"},
    "data": {"value"},
    "q": {"cite"},
    "blockquote": {"cite"},
    "del": {"cite", "datetime"},
    "ins": {"cite", "datetime"},
}
_SAFE_HREF = re.compile(r"^(https?:|mailto:|#)", re.IGNORECASE)
_CODE_CLASS = re.compile(r"^language-[\w+#.-]{1,40}$")


def _attribute_filter(tag: str, attr: str, value: str) -> str | None:
    if tag == "a" and attr == "href":
        return value if _SAFE_HREF.match(value.strip()) else None
    if tag == "code" and attr == "class":
        return value if _CODE_CLASS.match(value) else None
    return value


def _render_image(self: Any, tokens: Sequence[Any], idx: int, options: Any, env: Any) -> str:
    """``![alt](src)`` -> a link (the static transcript loads nothing from outside)."""
    token = tokens[idx]
    src = str(token.attrGet("src") or "")
    alt = self.renderInlineAsText(token.children or [], options, env) or src
    return f'<a href="{_html.escape(src, quote=True)}">image: {_html.escape(alt)}</a>'


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": True, "breaks": False}).enable(["table", "strikethrough"])
    md.add_render_rule("image", _render_image)
    return md


def markdown_html(source: str | None) -> str:
    """Markdown (CommonMark + tables + strikethrough, raw HTML allowed) -> sanitized HTML.

    Links keep only ``http(s):``, ``mailto:`` and ``#`` targets and open in a new tab with
    ``rel="noopener noreferrer"``; scripts, handlers, styles, forms, frames and media are removed.
    """
    if not source:
        return ""
    raw = _markdown().render(str(source))
    clean = nh3.clean(
        raw,
        tags=set(ALLOWED_TAGS),
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=_attribute_filter,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
        # a table keeps its grid where styles are dropped (one attribute per table)
        set_tag_attribute_values={"a": {"target": "_blank"}, "table": {"border": "1"}},
        clean_content_tags={"script", "style", "template", "iframe", "object", "embed", "textarea", "select"},
        strip_comments=True,
    )
    return clean


# ------------------------------------------------------------------------------------------- helpers


def _e(value: Any) -> str:
    """Text escaped for an element's content: ``&``, ``<``, ``>`` only (a quote needs no escape there, and
    every entity costs a sanitizing host's parser a decode)."""
    return _html.escape("" if value is None else str(value), quote=False)


def _lines(value: Any) -> str:
    """Escaped text whose line breaks (``\\n``, ``\\r\\n`` or ``\\r``) are ``<br>``: they stay breaks where styles
    are dropped."""
    return "<br>".join(_e(line) for line in re.split(r"\r\n|\r|\n", "" if value is None else str(value)))


def _a(value: Any) -> str:
    """Text escaped for an attribute value in double quotes."""
    return _html.escape("" if value is None else str(value), quote=True)


def _pretty(text: Any) -> str:
    if text is None:
        return ""
    if not isinstance(text, str):
        return json.dumps(text, indent=2, ensure_ascii=False)
    stripped = text.strip()
    if stripped[:1] in ("{", "["):
        try:
            return json.dumps(json.loads(stripped), indent=2, ensure_ascii=False)
        except (ValueError, RecursionError):  # not JSON, or nested too deep to parse: kept as text
            pass
    return text


def _int(n: Any) -> str:
    try:
        return f"{round(float(n)):,}"
    except (TypeError, ValueError):
        return "–"


def _compact(n: float) -> str:
    if abs(n) >= 1e6:
        return f"{n / 1e6:.2f}M"
    if abs(n) >= 1e4:
        return f"{n / 1e3:.1f}k"
    return _int(n)


def _cost(usd: Any) -> str | None:
    try:
        v = float(usd)
    except (TypeError, ValueError):
        return None
    if v == 0:
        return "$0"
    if v < 0.01:
        return f"${v:.4f}"
    return f"${v:.3f}" if v < 1 else f"${v:.2f}"


# Styles are one rule set (``_CSS``, in a ``<style>`` element at the root of each transcript) and class names.
# Only the root box carries a style attribute: hosts that sanitize an output run a CSS parser over each style
# attribute (JupyterLab's table of contents does it for every refreshed output, to look for headings), so
# their number must not grow with the turn. Where ``<style>`` elements are dropped (a notebook JupyterLab
# does not trust, GitHub) the transcript stays readable as plain HTML: the box, labels in ``<small>``, code
# in ``<pre>``, the chart's and legend's colours in SVG attributes.
_MUTED_COLOUR = "#6e7781"
_BADGE_COLOURS = {
    "done": "#1a7f37", "completed": "#1a7f37", "paused": "#9a6700", "awaiting_approval": "#9a6700",
    "awaiting_response": "#9a6700", "cancelled": "#6e7781", "error": "#cf222e", "incomplete": "#6e7781",
    "streaming": "#0969da", "running": "#0969da", "connecting": "#0969da", "reconnecting": "#9a6700",
}  # fmt: skip
_TOOL_LABELS = {
    "completed": "done", "awaiting_approval": "awaiting approval", "awaiting_response": "awaiting answer",
    "incomplete": "no response",
}  # fmt: skip
_BORDER = "1px solid rgba(127,127,127,.35)"
_BOX = (
    "font-family:sans-serif;font-size:13px;line-height:1.45;border:1px solid rgba(127,127,127,.45);"
    "border-radius:8px;padding:8px 12px;max-width:100%;box-sizing:border-box;overflow-wrap:anywhere"
)


def _badge_rules() -> str:
    by_colour: dict[str, list[str]] = {}
    for status, colour in _BADGE_COLOURS.items():
        by_colour.setdefault(colour, []).append(status)
    return "".join(
        ",".join(f'.tfws-static .tfws-badge[data-status="{s}"]' for s in statuses) + f"{{color:{colour}}}"
        for colour, statuses in by_colour.items()
    )


_RULES = {
    ".tfws-label,.tfws-muted,.tfws-legend": f"color:{_MUTED_COLOUR}",
    ".tfws-label,.tfws-legend": "font-size:11px",
    ".tfws-label small": "font-size:inherit",
    ".tfws-pre": (
        "white-space:pre-wrap;overflow-wrap:anywhere;margin:4px 0;padding:4px 6px;font-family:monospace;"
        "font-size:12px;background:rgba(127,127,127,.08);border-radius:4px;max-height:none;color:inherit"
    ),
    ".tfws-pre.tfws-muted": f"color:{_MUTED_COLOUR}",
    ".tfws-error,.tfws-refusal,.tfws-pre.tfws-error": "color:#cf222e",
    ".tfws-badge,.tfws-chip": "display:inline-block;padding:0 6px;border-radius:9px;font-size:11px;line-height:16px",
    ".tfws-badge": f"border:1px solid currentColor;color:{_MUTED_COLOUR}",
    ".tfws-chip": "background:rgba(127,127,127,.15)",
    ".tfws-head": "margin-bottom:4px",
    ".tfws-session-head": "margin-bottom:6px",
    ".tfws-session-turn": f"border-top:{_BORDER};padding-top:6px;margin-top:6px",
    ".tfws-user": "margin:6px 0;padding:4px 8px;border-radius:6px;background:rgba(9,105,218,.08)",
    ".tfws-text": "white-space:pre-wrap;overflow-wrap:anywhere",
    ".tfws-decision-input": "margin:4px 0;font-size:12px",
    ".tfws-msg": "margin:8px 0",
    ".tfws-event": "margin:4px 0",
    ".tfws-tool": f"border:{_BORDER};border-radius:6px;padding:4px 8px;margin:6px 0",
    ".tfws-pause": "border:1px dashed #9a6700;border-radius:6px;padding:4px 8px;margin:6px 0",
    ".tfws-decision": "font-size:12px;margin:2px 0",
    ".tfws-thread": "margin:6px 0 6px 12px;padding-left:8px;border-left:3px solid #8250df",
    "summary": "cursor:pointer",
    ".tfws-usage,.tfws-timeline": "margin-top:8px",
    ".tfws-legend-item": "margin-right:8px;white-space:nowrap",
    ".tfws-legend-item svg": "margin-right:3px;vertical-align:baseline",
    ".tfws-media": "font-size:12px",
    ".tfws-md table": "border-collapse:collapse;margin:4px 0",
    ".tfws-md th,.tfws-md td": "border:1px solid rgba(127,127,127,.45);padding:2px 6px",
    ".tfws-md th": "text-align:left",
}


def _scoped(selectors: str) -> str:
    return ",".join(f".{STATIC_CLASS} {sel}" for sel in selectors.split(","))


#: The transcript's style sheet: every rule scoped to the transcript's root class.
_CSS = "".join(f"{_scoped(sel)}{{{body}}}" for sel, body in _RULES.items()) + _badge_rules()


def _label(text: str) -> str:
    """A small grey line (``text`` is HTML); ``<small>`` keeps it small where styles are dropped."""
    return f'<div class="tfws-label"><small>{text}</small></div>'


def _badge(status: Any, label: str | None = None) -> str:
    """A status pill (its colour comes from ``data-status`` in ``_CSS``), after a space."""
    return f' <span class="tfws-badge" data-status="{_a(status)}">{_e(label or status)}</span>'


def _chip(text: Any, title: str) -> str:
    return f' <span class="tfws-chip" title="{_a(title)}">{_e(text)}</span>'


# ------------------------------------------------------------------------------------------ the chart

_SERIES = (
    ("harness", "harness", "#8250df"),
    ("skills", "skills", "#bf3989"),
    ("instructions", "instructions", "#0969da"),
    ("tool_definitions", "tool definitions", "#1a7f37"),
    ("messages", "messages", "#9a6700"),
    ("output", "output", "#cf222e"),
)


def usage_chart_svg(
    usage: Sequence[Mapping[str, Any]], thread_label: Callable[[str], str] | None = None
) -> str:
    """A stacked bar per model call (input by breakdown, then output) as inline SVG, plus a legend.

    ``usage`` is the view's ``usage`` list (one row per model call). Returns ``""`` for no rows.
    """
    if not usage:
        return ""
    label_of = thread_label or (lambda tid: tid)
    rows = []
    for u in usage:
        segments: dict[str, float] = {}
        breakdown = {k: u.get(k) for k, _, _ in _SERIES[:-1]}
        if any(v is not None for v in breakdown.values()):
            segments.update({k: float(v or 0) for k, v in breakdown.items()})
        else:
            segments["messages"] = float(u.get("input_tokens") or 0)
        segments["output"] = float(u.get("output_tokens") or 0)
        rows.append((u, segments, sum(segments.values())))
    top_value = max([1.0, *(total for _, _, total in rows)])
    bar_w, gap, plot_h, left, top = 16, 6, 90, 38, 6
    width = left + len(rows) * (bar_w + gap) + gap
    height = top + plot_h + 16
    out = [
        f'<svg class="tfws-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="Token usage for {len(rows)} model calls" '
        'font-family="sans-serif" font-size="9" overflow="visible" fill="currentColor">',
        f'<line x1="{left - 2}" y1="{top + plot_h}" x2="{width}" y2="{top + plot_h}" stroke="#8c959f"/>',
        f'<g text-anchor="end"><text x="{left - 6}" y="{top + 8}">{_e(_compact(top_value))}</text>'
        f'<text x="{left - 6}" y="{top + plot_h}">0</text></g><g text-anchor="middle">',
    ]
    # few attributes per bar (a sanitizing host parses each one): a segment is a path and its colour
    for idx, (u, segments, _total) in enumerate(rows):
        x = left + gap + idx * (bar_w + gap)
        y = float(top + plot_h)
        tid = u.get("thread_id")
        lines = [
            f"call {idx + 1}" + (f" ({label_of(str(tid))})" if tid and tid != "main" else ""),
            f"input {_int(u.get('input_tokens'))} · output {_int(u.get('output_tokens'))}",
        ]
        parts = []
        for key, label, colour in _SERIES:
            v = segments.get(key) or 0
            if v <= 0:
                continue
            h = v / top_value * plot_h
            y -= h
            parts.append(f'<path d="M{x} {y:.2f}h{bar_w}v{max(h, 0.5):.2f}h-{bar_w}z" fill="{colour}"/>')
            lines.append(f"{label}: {_int(v)}")
        out.append(f'<g class="tfws-bar"><title>{_e(chr(10).join(lines))}</title>{"".join(parts)}'
                   f'<text x="{x + bar_w / 2}" y="{top + plot_h + 12}">{idx + 1}</text></g>')  # fmt: skip
    out.append("</g></svg>")
    legend = " ".join(
        f'<span class="tfws-legend-item"><svg xmlns="http://www.w3.org/2000/svg" width="9" height="9" '
        f'aria-hidden="true"><rect width="9" height="9" rx="2" fill="{colour}"/></svg> {_e(label)}</span>'
        for _, label, colour in _SERIES
    )
    return (
        f'<div class="tfws-usage"><details open><summary>usage per model call '
        f'({len(rows)})</summary>{"".join(out)}<div class="tfws-legend">{legend}</div>'
        "</details></div>"
    )


# ------------------------------------------------------------------------------------------- one turn


class _TurnRenderer:
    """Lays out one view snapshot the way the front end does (``js/src/render.js``)."""

    def __init__(self, view: Mapping[str, Any], decisions: Mapping[str, Mapping[str, Any]] | None) -> None:
        self.view = view
        self.decisions = decisions or {}
        self.messages: Mapping[str, Any] = view.get("messages") or {}
        self.tools: Mapping[str, Any] = view.get("tools") or {}
        self.events: Mapping[str, Any] = view.get("events") or {}
        self.threads: dict[str, Mapping[str, Any]] = {
            str(t.get("id")): t for t in view.get("threads") or [] if t.get("id") and t.get("id") != "main"
        }
        self.pauses: dict[str, list[Mapping[str, Any]]] = {}
        for p in view.get("pauses") or []:
            self.pauses.setdefault(str(p.get("id")), []).append(p)
        # timeline entries per thread, in order
        self.entries: dict[str, list[Mapping[str, Any]]] = {}
        for entry in view.get("timeline") or []:
            tid = entry.get("thread_id") or "main"
            if tid != "main" and tid not in self.threads:
                self.threads[tid] = {"id": tid}
            self.entries.setdefault(tid, []).append(entry)
        self.placed_tools: set[str] = set()
        self.placed_threads: set[str] = set()
        self.placed_pauses: set[str] = set()

    # -- threads -------------------------------------------------------------------------------
    def children_of_tool(self, call_id: str) -> list[str]:
        return [tid for tid, t in self.threads.items() if t.get("parent_tool_call_id") == call_id]

    def thread(self, tid: str, depth: int) -> str:
        if tid in self.placed_threads or depth > 32:
            return ""
        self.placed_threads.add(tid)
        info = self.threads.get(tid) or {"id": tid}
        title = info.get("title") or info.get("agent_name") or tid
        status = info.get("status") or "running"
        head = f'<strong class="tfws-thread-title">{_e(title)}</strong>'
        if info.get("agent_name") and info.get("agent_name") != title:
            head += _chip(info["agent_name"], "agent")
        if info.get("model"):
            head += _chip(info["model"], "model")
        head += _badge(status)
        error = f'<pre class="tfws-pre tfws-error">{_e(info["error"])}</pre>' if info.get("error") else ""
        return (
            f'<details open class="tfws-thread" data-thread="{_a(tid)}" data-status="{_a(status)}">'
            f'<summary><small class="tfws-muted">sub-agent</small> {head}'
            f"</summary>{error}{self.body(tid, depth + 1)}</details>"
        )

    def body(self, tid: str, depth: int) -> str:
        out = [self.entry(e, depth) for e in self.entries.get(tid, [])]
        # threads started here whose tool card is not shown (or that have no card): at the end
        for child, info in self.threads.items():
            if child in self.placed_threads or child == tid:
                continue
            parent = info.get("parent_thread_id") or "main"
            call = info.get("parent_tool_call_id")
            if parent == tid and not (call and call in self.tools and self._tool_placeable(call)):
                out.append(self.thread(child, depth))
        return f'<div class="tfws-thread-body">{"".join(out)}</div>'

    def _tool_placeable(self, call_id: str) -> bool:
        mid = (self.tools.get(call_id) or {}).get("message_id")
        return bool(mid and mid in self.messages)

    # -- entries --------------------------------------------------------------------------------
    def entry(self, entry: Mapping[str, Any], depth: int) -> str:
        kind, eid = entry.get("kind"), str(entry.get("id"))
        if kind == "message" and eid in self.messages:
            return self.message(self.messages[eid], depth)
        if kind == "pause":
            self.placed_pauses.add(eid)
            return "".join(self.pause(p) for p in self.pauses.get(eid, []))
        if kind == "event":
            ev = self.events.get(eid) or {}
            summary = f" {_e(ev['summary'])}" if ev.get("summary") else ""
            return (
                f'<div class="tfws-event"><small class="tfws-muted">'
                f"<code>{_e(ev.get('type') or 'event')}</code>{summary}</small></div>"
            )
        return ""

    def message(self, m: Mapping[str, Any], depth: int) -> str:
        parts = [f'<div class="tfws-msg" data-id="{_a(m.get("id"))}">{_label("assistant")}']
        if m.get("reasoning"):
            parts.append(
                f'<details class="tfws-reasoning"><summary class="tfws-muted">reasoning</summary>'
                f'<pre class="tfws-pre tfws-muted">{_e(m["reasoning"])}</pre></details>'
            )
        if m.get("content"):
            parts.append(f'<div class="tfws-md">{markdown_html(m["content"])}</div>')
        if m.get("refusal"):
            parts.append(f'<div class="tfws-refusal"><strong>refused</strong> {_e(m["refusal"])}</div>')
        parts.append(static_media_html(m))  # images (data URIs inline), sandbox artifacts as text
        finish = m.get("finish_reason")
        if finish and finish not in ("stop", "tool_calls"):
            parts.append(_label(f"finished: {_e(finish)}"))
        usage = m.get("usage")
        if usage:
            bits = [f"in {_int(usage.get('input_tokens'))}", f"out {_int(usage.get('output_tokens'))}"]
            if usage.get("cache_read_tokens") or usage.get("cache_write_tokens"):
                bits.append(
                    f"cache {_int(usage.get('cache_read_tokens'))}/{_int(usage.get('cache_write_tokens'))}"
                )
            parts.append(_label(f"{' · '.join(bits)} tokens"))
        for call_id in m.get("tool_call_ids") or []:
            parts.append(self.tool(str(call_id), depth))
        parts.append("</div>")
        return "".join(parts)

    def tool(self, call_id: str, depth: int) -> str:
        t = self.tools.get(call_id)
        if t is None or call_id in self.placed_tools:
            return ""
        self.placed_tools.add(call_id)
        status = t.get("status") or "running"
        origin = ""
        if t.get("tool_type") == "mcp":
            origin = _chip(f"MCP · {t['server_name']}" if t.get("server_name") else "MCP", "origin")
        elif t.get("tool_type") == "truefoundry-system":
            origin = _chip("system tool", "origin")
        out = [
            f'<div class="tfws-tool" data-id="{_a(call_id)}" data-status="{_a(status)}">'
            f"<div>⚙ <code>{_e(t.get('name') or '(unnamed tool)')}</code>{origin}"
            f"{_badge(status, _TOOL_LABELS.get(str(status)))}</div>"
        ]
        if t.get("arguments"):
            out.append(f'<pre class="tfws-args tfws-pre">{_e(_pretty(t["arguments"]))}</pre>')
        response = t.get("response")
        if response is not None:
            text = _pretty(response)
            if len(text) > _MAX_RESPONSE or text.count("\n") > 40:
                shown = text[:_MAX_RESPONSE]
                more = (
                    f"… ({len(text) - _MAX_RESPONSE:,} more characters)" if len(text) > _MAX_RESPONSE else ""
                )
                out.append(
                    f'<details><summary class="tfws-muted">response · {len(text):,} chars, '
                    f'{text.count(chr(10)) + 1} lines</summary><pre class="tfws-pre">{_e(shown)}{_e(more)}</pre>'
                    "</details>"
                )
            else:
                out.append(f'{_label("response")}<pre class="tfws-pre">{_e(text)}</pre>')
        decision = self.decisions.get(call_id)
        if decision:
            out.append(_decision(decision))
        children = "".join(self.thread(tid, depth) for tid in self.children_of_tool(call_id))
        if children:
            out.append(f'<div class="tfws-tool-children">{children}</div>')
        out.append("</div>")
        return "".join(out)

    def pause(self, p: Mapping[str, Any]) -> str:
        pending = bool(p.get("pending"))
        kind = p.get("kind")
        if kind == "approval":
            body = f"<strong>Approval required</strong> for <code>{_e(p.get('tool_name'))}</code>"
            if p.get("arguments"):
                body += f'<pre class="tfws-pre">{_e(_pretty(p["arguments"]))}</pre>'
        elif kind == "question":
            body = f"<strong>Question</strong>: {_e(p.get('question'))}"
            options = p.get("options") or []
            if options:
                body += "<ul>" + "".join(f"<li>{_e(o)}</li>" for o in options) + "</ul>"
        else:
            servers = []
            for s in p.get("servers") or []:
                url = str(s.get("auth_url") or "")
                name = _e(s.get("name") or s.get("id"))
                link = (
                    f' <a href="{_a(url)}" target="_blank" rel="noopener noreferrer">sign in</a>'
                    if _SAFE_HREF.match(url) and not url.startswith("#")
                    else ""
                )
                servers.append(f"<li>{name}{link}</li>")  # fmt: skip
            body = f"<strong>Sign-in required</strong><ul>{''.join(servers)}</ul>"
        state = "waiting" if pending else "answered"
        decision = self.decisions.get(str(p.get("tool_call_id") or ""))
        extra = _decision(decision) if decision else ""
        return (
            f'<div class="tfws-pause" data-kind="{_a(kind)}" data-pending="{str(pending).lower()}">{body}'
            f"{_label(state)}{extra}</div>"
        )

    # -- the whole turn -------------------------------------------------------------------------
    def render(self, *, heading: str | None = None) -> str:
        v = self.view
        status = v.get("status") or "connecting"
        head = [f"<strong>{_e(heading)}</strong>" if heading else "", _badge(status)]
        if v.get("status_detail"):
            head.append(f' <span class="tfws-muted">{_e(v["status_detail"])}</span>')
        if v.get("turn_id"):
            head.append(f' <small class="tfws-muted">turn <code>{_e(v["turn_id"])}</code></small>')
        totals = v.get("totals") or {}
        if totals:
            bits = [
                f"{_int(totals.get('input_tokens'))} in",
                f"{_int(totals.get('output_tokens'))} out tokens",
            ]
            cost = _cost(totals.get("cost_usd"))
            if cost:
                bits.append(cost)
            head.append(f' <small class="tfws-totals tfws-muted">· {" · ".join(bits)}</small>')
        out = [
            f'<div class="tfws-turn" data-status="{_a(status)}" data-turn="{_a(v.get("turn_id"))}">'
            f'<div class="tfws-head">{"".join(head)}</div>'
        ]
        for item in v.get("input") or []:
            if item.get("type") == "user.message":
                out.append(
                    f'<div class="tfws-user">{_label("user")}'
                    f'<div class="tfws-text">{_lines(item.get("text"))}</div>'
                    f"{static_media_html(item)}</div>"
                )
            else:
                label = {"user.tool_approval": "decision", "user.tool_response": "answer"}.get(
                    str(item.get("type")), str(item.get("type"))
                )
                out.append(
                    f'<div class="tfws-decision-input"><span class="tfws-muted">'
                    f"{_e(label)}</span> {_e(item.get('summary'))}</div>"
                )
        out.append(self.body("main", 0))
        # threads not reached from main (a parent thread never seen) and pauses not in the timeline
        for tid in list(self.threads):
            if tid not in self.placed_threads:
                out.append(self.thread(tid, 0))
        for pid, cards in self.pauses.items():
            if pid not in self.placed_pauses:
                out.extend(self.pause(p) for p in cards)
        label_of = lambda tid: str((self.threads.get(tid) or {}).get("title") or tid)  # noqa: E731
        out.append(usage_chart_svg(v.get("usage") or [], label_of))
        out.append(_timeline(v))
        for n in v.get("notices") or []:
            out.append(_notice(n))
        out.append("</div>")
        return "".join(out)


def _timeline(view: Mapping[str, Any]) -> str:
    """The waterfall of the view's spans as inline SVG (:func:`tfwidget.timeline.timeline_svg`)."""
    rows = view.get("spans") or []
    if not rows:
        return ""
    from .timeline import timeline_svg

    svg = timeline_svg(rows)
    if not svg:
        return ""
    return f'<details open class="tfws-timeline"><summary>timeline</summary>{svg}</details>'


def _decision(d: Mapping[str, Any]) -> str:
    if d.get("kind") == "question" or "text" in d:
        text = f"answered: {_e(d.get('text'))}"
    else:
        status = {"allow": "approved", "deny": "denied"}.get(str(d.get("status")), str(d.get("status")))
        text = f"{_e(status)}" + (f": {_e(d['reason'])}" if d.get("reason") else "")
    return f'<div class="tfws-decision"><strong>decision</strong> {text}</div>'


def _notice(n: Mapping[str, Any]) -> str:
    return (
        f'<div class="tfws-notice tfws-label"><small>{_e(n.get("level"))}: {_e(n.get("text"))}</small></div>'
    )


def _root(classes: str, body: str, attrs: str = "") -> str:
    """The transcript's root: its box (the one style attribute), its style sheet, ``body``."""
    return f'<div class="{STATIC_CLASS} {classes}"{attrs} style="{_BOX}"><style>{_CSS}</style>{body}</div>'


def render_turn_html(
    view: Mapping[str, Any], *, decisions: Mapping[str, Mapping[str, Any]] | None = None
) -> str:
    """The static transcript of one turn (a view snapshot, see :func:`tfwidget.view.build_view`).

    ``decisions`` maps tool call ids to decisions collected for them (``{"kind": "approval", "status":
    "allow"|"deny", "reason": ...}`` or ``{"kind": "question", "text": ...}``).
    """
    if not isinstance(view, Mapping):
        raise TypeError(f"render_turn_html() takes a view snapshot (a dict), not {type(view).__name__}")
    return _root("tfws-turn-view", _TurnRenderer(view, decisions).render())


def render_session_html(
    turns: Iterable[Mapping[str, Any]],
    *,
    session_id: str | None = None,
    agent_name: str | None = None,
    status: str | None = None,
    decisions: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None,
    notices: Iterable[Mapping[str, Any]] = (),
) -> str:
    """The static transcript of a session: every turn (oldest first) with its decisions.

    Args:
        turns: each turn's view snapshot (``TurnView.snapshot()``), oldest first.
        session_id, agent_name: shown in the header.
        status: the session's status (default: the newest turn's, or ``empty``).
        decisions: turn id -> tool call id -> decision (see :func:`render_turn_html`); decisions sent in a
            resume turn also show as that turn's input.
        notices: ``{"level", "text"}`` lines shown at the end.
    """
    views = list(turns)
    for v in views:
        if not isinstance(v, Mapping):
            raise TypeError(f"render_session_html() takes view snapshots (dicts), not {type(v).__name__}")
    decisions = decisions or {}
    status = status or (str(views[-1].get("status")) if views else "empty")
    head = ["<strong>session</strong>"]
    if session_id:
        head.append(f" <code>{_e(session_id)}</code>")
    if agent_name:
        head.append(_chip(agent_name, "agent"))
    head.append(_badge(status))
    head.append(f' <small class="tfws-muted">{len(views)} turn{"s" if len(views) != 1 else ""}</small>')
    out = [f'<div class="tfws-session-head">{"".join(head)}</div>']
    for i, v in enumerate(views, start=1):
        turn_decisions = decisions.get(str(v.get("turn_id") or ""), {})
        out.append(
            f'<section class="tfws-session-turn">'
            f"{_TurnRenderer(v, turn_decisions).render(heading=f'turn {i}')}</section>"
        )
    if not views:
        out.append('<div class="tfws-muted">no turns yet</div>')
    out.extend(_notice(n) for n in notices)
    return _root("tfws-session", "".join(out), f' data-turns="{len(views)}"')


# ------------------------------------------------------------------------------- notebook outputs

# In JupyterLab, Notebook 7 and nbconvert's lab template every output is a ``.jp-OutputArea-child``. The
# static transcript is displayed as its own output right before the live view's output. These rules (no
# ``:has()`` inside another: CSS drops such a rule whole):
# 1. hide the static output once the live view next to it has rendered (a ``.tfw-root`` exists: a turn; or a
#    ``.tfw-session`` / ``.tfw-live`` element: a session view);
# 2. hide the live view's output while its widget renderer (a Lumino panel) holds no element, only the text
#    "Loading widget..." or, when the notebook is reopened without a kernel, "Error displaying widget: model
#    not found" (ipywidgets issue 3773).
_HIDE_RULES = (
    ".jp-OutputArea-child:has(.tfws-static):has(+ .jp-OutputArea-child :is(.tfw-root,.tfw-session,.tfw-live))"
    "{display:none}"
    ".jp-OutputArea-child:has(.tfws-static)+.jp-OutputArea-child>.jp-OutputArea-output.lm-Panel:not(:has(*))"
    "{display:none}"
)


def static_output_html(body: str) -> str:
    """``body`` (a static transcript) as the ``text/html`` of the output shown before a live view.

    Carries the CSS rules that swap the two: the live view wins once it renders, the static transcript
    stays when the widget cannot render (no kernel, no widget state, no JavaScript).
    """
    return f"<style>{_HIDE_RULES}</style>{body}"


_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="tfwidget">
<title>{title}</title>
<style>
body {{ margin: 0; padding: 16px; background: #ffffff; color: #1f2328; }}
@media (prefers-color-scheme: dark) {{ body {{ background: #1e1e1e; color: #e6e6e6; }} }}
</style>
</head>
<body>
{body}
</body>
</html>
"""


def static_page(body: str, title: str = "tfwidget") -> str:
    """A whole HTML document around a static transcript (no scripts, nothing loaded from outside)."""
    return _PAGE.format(title=_e(title), body=body)
