// @ts-check
// The Timeline tab: a waterfall of the turn's spans (view.spans, see tfwidget/timing.py).
// One lane per thread; a sub-agent's lane follows, indented, the lane of the tool call that spawned it.
// Model calls are bars with their time-to-first-token shaded, tool calls and human waits are bars below.
// Open bars grow to "now" while the turn streams. Hover shows the numbers; a click jumps to the card.
import { h, replaceChildren } from "./dom.js";
import { fmtCost, fmtDuration, fmtInt } from "./format.js";
import { LIVE_STATUSES } from "./contracts.gen.js";

const LIVE = new Set(LIVE_STATUSES);

/** @typedef {import("./types.js").SpanView} SpanView */

/**
 * A span drawn as a bar, from `start` to `end` (epoch ms); `open` while it has not ended.
 * @typedef {object} Bar
 * @property {SpanView} span
 * @property {number} start
 * @property {number} end
 * @property {boolean} open
 */

/**
 * One thread's lane: its bars packed into rows; `via` is the tool call that spawned a sub-agent's thread.
 * @typedef {object} Lane
 * @property {string} id
 * @property {number} depth
 * @property {string} label
 * @property {SpanView | null} via
 * @property {SpanView} span
 * @property {Bar[][]} rows
 */

/**
 * Lay the spans out (pure; no DOM). Returns {t0, t1, lanes: [{id, depth, label, via, rows: [[bar]]}]}
 * where a bar is {span, start, end, open} in epoch ms. `nowMs` is where open bars end.
 * @param {SpanView[] | null | undefined} spans
 * @param {{nowMs?: number | null, live?: boolean}} [options]
 * @returns {{t0: number, t1: number, lanes: Lane[]}}
 */
export function layoutTimeline(spans, { nowMs = null, live = false } = {}) {
  const list = Array.isArray(spans) ? spans : [];
  const turn = list.find((s) => s.kind === "turn") || null;
  /** @type {Map<string | null | undefined, SpanView>} */
  const byId = new Map(list.map((s) => [s.id, s]));
  const times = [];
  for (const s of list) for (const t of [s.start_ms, s.first_ms, s.end_ms]) if (t != null) times.push(t);
  const t0 = turn && turn.start_ms != null ? turn.start_ms : times.length ? Math.min(...times) : 0;
  let t1 = times.length ? Math.max(...times) : t0;
  if (live && nowMs != null) t1 = Math.max(t1, nowMs);
  if (turn && turn.end_ms != null) t1 = Math.max(t1, turn.end_ms);
  if (t1 <= t0) t1 = t0 + 1000;
  const endOfOpen = live && nowMs != null ? Math.max(nowMs, t0) : t1;

  // threads and the tool call that spawned each
  const threads = list.filter((s) => s.kind === "thread");
  /** @type {Map<string, SpanView[]>} */
  const childrenOfTool = new Map();
  for (const th of threads) {
    const parent = byId.get(th.parent_id);
    if (parent && parent.kind === "tool_call") {
      if (!childrenOfTool.has(parent.id)) childrenOfTool.set(parent.id, []);
      /** @type {SpanView[]} */ (childrenOfTool.get(parent.id)).push(th);
    }
  }
  /** @type {Map<string | null | undefined, Bar[]>} */
  const barsOf = new Map(threads.map((th) => [th.id, []]));
  for (const s of list) {
    if (s.kind !== "model_call" && s.kind !== "tool_call" && s.kind !== "pause") continue;
    const lane = barsOf.has(s.thread_id) ? s.thread_id : threads.length ? threads[0].id : null;
    if (lane == null) continue;
    if (s.start_ms == null) continue; // never timed: nothing to draw
    const open = s.end_ms == null;
    const end = open ? Math.max(endOfOpen, s.start_ms) : /** @type {number} */ (s.end_ms);
    barsOf.get(lane)?.push({ span: s, start: s.start_ms, end, open });
  }

  /** @type {Lane[]} */
  const lanes = [];
  const seen = new Set();
  /**
   * @param {SpanView} th a thread's span
   * @param {number} depth
   * @param {SpanView | null} via
   */
  const visit = (th, depth, via) => {
    if (seen.has(th.id)) return;
    seen.add(th.id);
    const bars = (barsOf.get(th.id) || []).slice().sort((a, b) => a.start - b.start || kindOrder(a) - kindOrder(b));
    /** @type {Bar[][]} */
    const rows = [];
    for (const bar of bars) {
      // model calls on the first row when they fit; everything else packs into the first free row
      let row = rows.find((r) => r.length === 0 || r[r.length - 1].end <= bar.start + 0.5);
      if (!row) {
        row = [];
        rows.push(row);
      }
      row.push(bar);
    }
    lanes.push({ id: th.id, depth, label: th.name || th.id, via, span: th, rows: rows.length ? rows : [[]] });
    // sub-agents spawned by this lane's tool calls, in the order of their tool calls
    for (const bar of bars) {
      if (bar.span.kind !== "tool_call") continue;
      for (const child of childrenOfTool.get(bar.span.id) || []) visit(child, depth + 1, bar.span);
    }
  };
  const main = threads.find((t) => t.id === "main");
  if (main) visit(main, 0, null);
  for (const th of threads) if (!seen.has(th.id)) visit(th, byId.get(th.parent_id)?.kind === "thread" ? 1 : 0, null);
  return { t0, t1, lanes };
}

/** @param {Bar} bar */
function kindOrder(bar) {
  return /** @type {Record<string, number>} */ ({ model_call: 0, tool_call: 1, pause: 2 })[bar.span.kind] ?? 3;
}

/**
 * The hover text of a span: what it was and its numbers.
 * @param {SpanView} s
 * @param {number | null} [nowMs] where an open span ends
 * @returns {string}
 */
export function spanTitle(s, nowMs = null) {
  const lines = [];
  const what = /** @type {Record<string, string>} */ ({ model_call: "model call", tool_call: "tool call", pause: "waiting for a person", thread: "thread", turn: "turn" })[s.kind] || s.kind;
  lines.push(`${what}: ${s.name || s.id}`);
  const end = s.end_ms ?? nowMs;
  if (s.start_ms != null && end != null) lines.push(`${s.end_ms == null ? "running for" : "took"} ${fmtSeconds(end - s.start_ms)}`);
  if (s.kind === "model_call") {
    if (s.first_ms != null && s.start_ms != null) lines.push(`time to first token ${fmtSeconds(s.first_ms - s.start_ms)}`);
    if (s.input_tokens != null || s.output_tokens != null) {
      lines.push(`tokens in ${fmtInt(s.input_tokens)} · out ${fmtInt(s.output_tokens)}${s.cache_read_tokens ? ` · cache read ${fmtInt(s.cache_read_tokens)}` : ""}`);
    }
    if (s.end_ms != null && s.first_ms != null && s.output_tokens && s.end_ms > s.first_ms) {
      lines.push(`${(s.output_tokens / ((s.end_ms - s.first_ms) / 1000)).toFixed(1)} output tokens/s`);
    }
    const cost = fmtCost(s.cost_usd);
    if (cost) lines.push(`cost ${cost} (${s.cost_source})`);
    if (s.model) lines.push(`model ${s.model}`);
  } else {
    const cost = fmtCost(s.total_cost_usd);
    if (cost) lines.push(`cost ${cost}${s.kind === "tool_call" ? " (its sub-agent)" : ""}`);
  }
  if (s.kind === "pause") lines.push(s.status && s.status !== "waiting" ? `decision: ${s.status}` : "still waiting");
  else if (s.status) lines.push(`status ${s.status}`);
  if (s.time_source === "created_at") lines.push("times from the events' created_at");
  return lines.join("\n");
}

/**
 * @param {number | null | undefined} ms
 * @returns {string}
 */
function fmtSeconds(ms) {
  if (ms == null || !Number.isFinite(ms)) return "–";
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  return ms < 60000 ? `${(ms / 1000).toFixed(2)} s` : fmtDuration(ms);
}

/**
 * Round tick spacing for an axis of `span` ms: about 4-8 ticks.
 * @param {number} span
 * @returns {number}
 */
function tickStep(span) {
  const steps = [100, 200, 500, 1000, 2000, 5000, 10000, 15000, 30000, 60000, 120000, 300000, 600000, 1800000, 3600000];
  for (const s of steps) if (span / s <= 8) return s;
  return steps[steps.length - 1];
}

export class TimelinePanel {
  /**
   * @param {() => import("./contracts.gen.js").View} getView the current view (store.view)
   * @param {(kind: string, id: string) => void} onJump called when a bar is clicked
   */
  constructor(getView, onJump) {
    this.getView = getView;
    this.onJump = onJump;
    this.el = h("div", { class: "tfw-timeline", attrs: { role: "figure", "aria-label": "timeline of the turn" } });
    /** @type {{nowMs: number, localAt: number} | null} */
    this.clockBase = null; // {nowMs, localAt}
    this.visible = false;
    /** @type {{bar: Bar, el: HTMLElement}[]} */
    this.bars = [];
  }

  /**
   * The turn's clock moved (a new patch): open bars grow from there.
   * @param {{now_ms?: number | null} | null | undefined} clock the view's `clock`
   */
  setClock(clock) {
    if (clock && clock.now_ms != null) this.clockBase = { nowMs: clock.now_ms, localAt: Date.now() };
  }

  nowMs() {
    const c = this.clockBase;
    if (!c) return null;
    // extrapolate at most a few seconds past the last item (a stalled stream does not stretch forever)
    return c.nowMs + Math.min(Date.now() - c.localAt, 5000);
  }

  render() {
    const view = this.getView();
    const live = LIVE.has(view.status);
    const nowMs = this.nowMs();
    const { t0, t1, lanes } = layoutTimeline(view.spans, { nowMs, live });
    /** The time range drawn (set by every render, before any layout). @type {number} */
    this.t0 = t0;
    /** @type {number} */
    this.t1 = t1;
    this.bars = [];
    if (!lanes.length) {
      replaceChildren(this.el, h("div", { class: "tfw-tl-empty", text: "Nothing timed yet." }));
      return;
    }
    const axis = h("div", { class: "tfw-tl-axis" });
    this.axisEl = axis;
    const body = h("div", { class: "tfw-tl-lanes" });
    for (const lane of lanes) {
      const label = h(
        "div",
        { class: "tfw-tl-label", title: lane.via ? `sub-agent ${lane.label}, spawned by ${lane.via.name} (${lane.via.id})` : `thread ${lane.label}` },
        h("span", { class: "tfw-tl-label-text", text: lane.depth ? `↳ ${lane.label}` : lane.label }),
      );
      label.style.paddingLeft = `${4 + lane.depth * 12}px`;
      const cost = fmtCost(lane.span.total_cost_usd);
      if (cost) label.appendChild(h("span", { class: "tfw-tl-label-cost", text: cost }));
      const track = h("div", { class: "tfw-tl-track" });
      for (const row of lane.rows) {
        const rowEl = h("div", { class: "tfw-tl-row" });
        for (const bar of row) {
          const el = this.barEl(bar);
          rowEl.appendChild(el);
          this.bars.push({ bar, el });
        }
        track.appendChild(rowEl);
      }
      body.appendChild(
        h("div", { class: "tfw-tl-lane", dataset: { thread: lane.id, depth: String(lane.depth), via: lane.via ? lane.via.id : "" } }, label, track),
      );
    }
    const legend = h(
      "div",
      { class: "tfw-tl-legend" },
      ...[
        ["tfw-tl-model", "model call"],
        ["tfw-tl-ttft", "waiting for the first token"],
        ["tfw-tl-tool", "tool call"],
        ["tfw-tl-pause", "waiting for a person"],
      ].map(([cls, text]) => h("span", { class: "tfw-legend-item" }, h("span", { class: `tfw-swatch ${cls}` }), text)),
    );
    replaceChildren(this.el, axis, body, legend);
    this.layout();
  }

  /** @param {Bar} bar */
  barEl(bar) {
    const s = bar.span;
    const cls = /** @type {Record<string, string>} */ ({ model_call: "tfw-tl-model", tool_call: "tfw-tl-tool", pause: "tfw-tl-pause" })[s.kind] || "tfw-tl-tool";
    const el = h("div", {
      class: `tfw-tl-bar ${cls}${bar.open ? " tfw-tl-open" : ""}`,
      dataset: { id: s.id, kind: s.kind },
      attrs: { role: "button", tabindex: "0" },
    });
    if (s.kind === "model_call") el.appendChild(h("div", { class: "tfw-tl-ttft" }));
    el.appendChild(h("span", { class: "tfw-tl-bar-text", text: s.name || "" }));
    const jump = (/** @type {Event} */ e) => {
      e.preventDefault();
      e.stopPropagation();
      this.onJump(s.kind, s.kind === "pause" && s.tool_call_id ? s.tool_call_id : s.id);
    };
    el.addEventListener("click", jump);
    el.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") jump(e);
    });
    return el;
  }

  /** Position every bar and the axis for the current time range (cheap: called every tick while live). */
  layout() {
    const view = this.getView();
    const live = LIVE.has(view.status);
    const nowMs = this.nowMs();
    let t1 = this.t1;
    if (live && nowMs != null) t1 = Math.max(t1, nowMs);
    const t0 = this.t0;
    const span = Math.max(1, t1 - t0);
    const pct = (/** @type {number} */ t) => `${(((t - t0) / span) * 100).toFixed(3)}%`;
    for (const { bar, el } of this.bars) {
      const end = bar.open && live && nowMs != null ? Math.max(nowMs, bar.start) : bar.end;
      el.style.left = pct(bar.start);
      el.style.width = `max(3px, ${(((end - bar.start) / span) * 100).toFixed(3)}%)`;
      const s = bar.span;
      if (s.kind === "model_call") {
        const ttft = /** @type {HTMLElement} */ (el.firstChild); // the .tfw-tl-ttft of a model call's bar
        const first = s.first_ms != null ? s.first_ms : bar.open ? end : null;
        ttft.style.width = first == null || end <= bar.start ? "0" : `${Math.min(100, ((first - bar.start) / (end - bar.start)) * 100).toFixed(2)}%`;
      }
      el.title = spanTitle(s, bar.open ? end : null);
      el.dataset.widthMs = String(Math.round(end - bar.start));
    }
    if (this.axisEl) {
      const step = tickStep(span);
      const ticks = [];
      for (let t = 0; t <= span + 1; t += step) {
        const tick = h("span", { class: "tfw-tl-tick", text: fmtSeconds(t).replace(" ", "") });
        tick.style.left = `${((t / span) * 100).toFixed(3)}%`;
        ticks.push(tick);
      }
      replaceChildren(this.axisEl, h("div", { class: "tfw-tl-axis-track" }, ...ticks));
    }
  }
}

/**
 * Give a TurnRenderer its Transcript / Timeline tabs. Returns {bar, panel, update(touched)}: put `bar` and
 * `panel.el` into the layout, call `update` from the renderer's render() with its `touched(key)` test.
 */
// The tab a person chose, per widget (its model id, else its turn id): a view re-mounted by its host (the
// output area re-rendered, with a new element and model proxy) opens on the same tab.
/** @type {Map<string, string>} */
const TAB_OF_MODEL = new Map();

/**
 * A widget model as the host hands it over (ipywidgets' models have an id, or a comm with one).
 * @typedef {Partial<import("./types.js").Model> & {model_id?: unknown, widget_manager?: unknown, comm?: {comm_id?: unknown}}} HostModel
 */

/**
 * What a TurnRenderer offers `jumpTo`: the elements of its cards and its scroll box.
 * @typedef {object} JumpTarget
 * @property {Map<string, {root: HTMLElement}>} [messageEls]
 * @property {Map<string, {root: HTMLElement}>} [toolEls]
 * @property {Map<string, {root: HTMLElement}>} [threadEls]
 * @property {HTMLElement} mainEl
 * @property {HTMLElement} scrollEl
 * @property {boolean} stick
 */

/**
 * @param {HostModel | null | undefined} model
 * @returns {string | null}
 */
function modelKeyOf(model) {
  if (!model) return null;
  if (typeof model.model_id === "string") return `model:${model.model_id}`;
  if (model.widget_manager && typeof model.comm?.comm_id === "string") return `comm:${model.comm.comm_id}`;
  const view = typeof model.get === "function" ? model.get("_view") : null;
  return view && view.turn_id ? `turn:${view.turn_id}` : null;
}

/**
 * @param {JumpTarget & {store: {view: import("./contracts.gen.js").View}, root: HTMLElement}} renderer
 */
export function attachTimeline(renderer) {
  let current = "transcript";
  /** @type {HostModel | null} */
  let boundModel = null;
  let timer = 0;
  const panel = new TimelinePanel(
    () => renderer.store.view,
    (kind, id) => {
      show("transcript");
      jumpTo(renderer, kind, id);
    },
  );
  panel.el.hidden = true;
  const tab = (/** @type {string} */ name, /** @type {string} */ label) =>
    h("button", {
      class: "tfw-tab",
      text: label,
      attrs: { type: "button", role: "tab", "aria-selected": name === current ? "true" : "false" },
      dataset: { tab: name },
      on: { click: () => show(name) },
    });
  const bar = h("div", { class: "tfw-tabs", attrs: { role: "tablist" } }, tab("transcript", "Transcript"), tab("timeline", "Timeline"));

  const stopTimer = () => {
    if (timer) clearInterval(timer);
    timer = 0;
  };
  const startTimer = () => {
    if (timer) return;
    timer = setInterval(() => {
      if (!panel.el.isConnected || current !== "timeline" || !LIVE.has(renderer.store.view.status)) {
        stopTimer();
        return;
      }
      panel.layout();
    }, 250);
  };
  /** @param {string} name the tab: "transcript" or "timeline" */
  function show(name) {
    current = name;
    remember();
    for (const b of /** @type {NodeListOf<HTMLElement>} */ (bar.querySelectorAll(".tfw-tab"))) b.setAttribute("aria-selected", b.dataset.tab === name ? "true" : "false");
    renderer.scrollEl.hidden = name !== "transcript";
    panel.el.hidden = name !== "timeline";
    renderer.root.dataset.tab = name;
    if (name === "timeline") {
      panel.render();
      if (LIVE.has(renderer.store.view.status)) startTimer();
    } else stopTimer();
  }
  const remember = () => {
    // the key may only become known later (a view mounted while connecting has no turn id yet)
    const key = modelKeyOf(boundModel);
    if (key && TAB_OF_MODEL.get(key) !== current) {
      TAB_OF_MODEL.set(key, current);
      if (TAB_OF_MODEL.size > 500) TAB_OF_MODEL.delete(/** @type {string} */ (TAB_OF_MODEL.keys().next().value));
    }
  };
  /** @param {(key: string) => boolean} touched whether the render changed that view key */
  const update = (touched) => {
    remember();
    if (touched("clock")) panel.setClock(renderer.store.view.clock);
    if (current !== "timeline") return;
    if (touched("spans") || touched("status")) panel.render();
    else if (touched("clock")) panel.layout();
    if (LIVE.has(renderer.store.view.status)) startTimer();
  };
  /** Remember the chosen tab for `model` and reopen the one chosen before (a re-mounted view). */
  const restore = (/** @type {HostModel | null | undefined} */ model) => {
    boundModel = model || null;
    const modelKey = modelKeyOf(model);
    if (!modelKey) return;
    const tab = TAB_OF_MODEL.get(modelKey);
    if (tab && tab !== current) show(tab);
  };
  return { bar, panel, update, show, restore };
}

/**
 * Scroll the transcript to a span's card and flash it.
 * @param {JumpTarget} renderer
 * @param {string} kind the span's kind
 * @param {string} id
 * @returns {boolean} whether there was a card
 */
export function jumpTo(renderer, kind, id) {
  /** @type {HTMLElement | null | undefined} */
  let el = null;
  if (kind === "model_call") el = renderer.messageEls?.get(id)?.root;
  else if (kind === "tool_call" || kind === "pause") el = renderer.toolEls?.get(id)?.root;
  else if (kind === "thread") el = id === "main" ? renderer.mainEl : renderer.threadEls?.get(id)?.root;
  if (!el) return false;
  for (let p = el.parentElement; p && p !== renderer.scrollEl; p = p.parentElement) {
    const d = /** @type {HTMLDetailsElement} */ (p);
    if (p.tagName === "DETAILS" && !d.open) d.open = true;
  }
  const box = renderer.scrollEl;
  renderer.stick = false;
  const top = el.getBoundingClientRect().top - box.getBoundingClientRect().top + box.scrollTop - 8;
  box.scrollTop = Math.max(0, top);
  el.classList.remove("tfw-flash");
  void el.offsetWidth; // restart the animation
  el.classList.add("tfw-flash");
  setTimeout(() => el.classList.remove("tfw-flash"), 1600);
  return true;
}

/**
 * Extra bits of a model call's usage chip: its cost and its time to first token.
 * @param {SpanView | null | undefined} span
 * @returns {string[]}
 */
export function usageChipExtras(span) {
  if (!span) return [];
  const out = [];
  const cost = fmtCost(span.cost_usd);
  if (cost) out.push(span.cost_source === "allocated" ? `≈${cost}` : cost);
  if (span.first_ms != null && span.start_ms != null) out.push(`TTFT ${fmtSeconds(span.first_ms - span.start_ms)}`);
  return out;
}

/**
 * Hover lines of the header's cost: the cost of each thread (its own calls and its sub-agents').
 * @param {SpanView[] | null | undefined} spans
 * @returns {string[]}
 */
export function costByThread(spans) {
  const out = [];
  for (const s of spans || []) {
    if (s.kind !== "thread") continue;
    const cost = fmtCost(s.total_cost_usd);
    if (cost) out.push(`${s.id === "main" ? "main" : s.name || s.id}: ${cost}`);
  }
  return out;
}

/**
 * The turn's cost from the spans (priced or allocated calls), when the turn reported none.
 * @param {SpanView[] | null | undefined} spans
 * @returns {number | null}
 */
export function spansCost(spans) {
  const turn = (spans || []).find((s) => s.kind === "turn");
  return turn ? turn.total_cost_usd ?? null : null;
}
