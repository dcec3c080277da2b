// @ts-check
// A small stacked bar chart of token usage per model call, as inline SVG (no chart library).
//
// The chart is kept, not redrawn: a new model call appends one bar, a call whose numbers changed (its cost
// arrived) has its bar rebuilt, and the bars are drawn in token units inside one group whose transform
// does the scaling. So a call that raises the maximum rescales every bar by changing one attribute: the DOM
// work per update (elements made, restyled, laid out) does not grow with the number of calls. The numbers
// are still read per call (a key per bar, the cost line's points): script work, no DOM.
import { h, svg } from "./dom.js";
import { BREAKDOWN_KEYS, fmtCompact, fmtCost, fmtInt, usageParts } from "./format.js";

const SERIES = [
  ...BREAKDOWN_KEYS.map((key) => ({ key, label: key.replace("_", " ") })),
  { key: "unexplained", label: "not in the breakdown" },
  { key: "output", label: "output" },
];

const BAR_W = 16;
const GAP = 6;
const PLOT_H = 90;
const LEFT = 38;
const TOP = 6;
const COST_AXIS = 44;
/** A segment is drawn at least this high (px) when its bar is drawn, so a few tokens still show. */
const MIN_SEG_PX = 0.5;

/** @param {number} idx */
const barX = (idx) => LEFT + GAP + idx * (BAR_W + GAP);

/**
 * One call's numbers, as the chart draws them.
 * @param {import("./types.js").UsageRow} u
 */
function chartRow(u) {
  const p = /** @type {NonNullable<ReturnType<typeof usageParts>>} */ (usageParts(u));
  /** @type {Record<string, number>} */
  const segments = {};
  if (p.breakdown) {
    Object.assign(segments, p.breakdown);
    if (p.breakdownGap > 0) segments.unexplained = p.breakdownGap; // drawn apart, never as conversation
  } else segments.messages = p.input;
  segments.output = p.output;
  const total = Object.values(segments).reduce((a, b) => a + b, 0);
  return { u, p, segments, total };
}

/**
 * Where one stacked bar's segments go, in token units from the base line up (pure).
 * @param {Record<string, number>} segments
 * @returns {{key: string, label: string, from: number, value: number}[]}
 */
export function barSegments(segments) {
  const out = [];
  let from = 0;
  for (const s of SERIES) {
    const value = segments[s.key] || 0;
    if (value <= 0) continue;
    out.push({ key: s.key, label: s.label, from, value });
    from += value;
  }
  return out;
}

/**
 * The token usage chart of one view, with its legend. `update()` brings it to the view's usage rows.
 * `threadLabel(id)` names a thread for the tooltips. With spans (cost and context window per call): a
 * cumulative cost line on a right axis and the context window (a dashed line, or its peak fill when far
 * above the bars).
 */
export class UsageChart {
  constructor() {
    this.svg = svg("svg", { class: "tfw-chart-svg", role: "img" });
    // bars in token units: the group's transform maps them onto the plot (y up from the base line)
    this.plot = svg("g", { class: "tfw-plot" });
    this.labels = svg("g", { class: "tfw-bar-labels" });
    this.baseLine = svg("line", { class: "tfw-axis", x1: LEFT - 2, y1: TOP + PLOT_H, y2: TOP + PLOT_H });
    this.maxLabel = svg("text", { class: "tfw-axis-label", x: LEFT - 6, y: TOP + 8, "text-anchor": "end" });
    const zero = svg("text", { class: "tfw-axis-label", x: LEFT - 6, y: TOP + PLOT_H, "text-anchor": "end" }, "0");
    this.extras = svg("g", { class: "tfw-chart-extras" }); // context window and cost: a few elements, redrawn
    this.svg.append(this.baseLine, this.maxLabel, zero, this.plot, this.labels, this.extras);
    this.legend = h("div", { class: "tfw-legend" });
    this.el = h("div", { class: "tfw-chart" }, this.svg, this.legend);
    /** Each drawn bar, its number under the axis, and what it was drawn from. @type {{key: string, group: SVGGElement, label: Element}[]} */
    this.bars = [];
    this.legendKey = "";
    this.scaleKey = "";
  }

  /**
   * @param {import("./types.js").UsageRow[] | null | undefined} usage
   * @param {(id: string) => string} [threadLabel]
   * @param {import("./types.js").SpanView[] | null} [spans]
   * @returns {this}
   */
  update(usage, threadLabel = (id) => id, spans = null) {
    const spanOf = new Map((spans || []).filter((s) => s.kind === "model_call").map((s) => [s.id, s]));
    const rows = (usage || []).map(chartRow);
    let max = Math.max(1, ...rows.map((r) => r.total));
    const windows = rows.map((r) => spanOf.get(r.u.message_id)?.context_window || null);
    const maxWindow = Math.max(0, .../** @type {number[]} */ (windows.filter((w) => w)));
    const windowLine = maxWindow > 0 && maxWindow <= 4 * max;
    if (windowLine) max = Math.max(max, maxWindow);
    const peakFill = maxWindow > 0 ? Math.max(...rows.map((r, i) => (windows[i] ? r.p.input / windows[i] : 0))) : 0;
    let running = 0;
    const costs = rows.map((r) => {
      const c = spanOf.get(r.u.message_id)?.cost_usd;
      if (c == null) return null;
      running += c;
      return running;
    });
    const maxCost = running;

    // the bars: one per call, rebuilt only where what it shows changed
    rows.forEach((row, idx) => {
      const sp = spanOf.get(row.u.message_id);
      const thread = row.u.thread_id && row.u.thread_id !== "main" ? threadLabel(row.u.thread_id) : "";
      const key = JSON.stringify([row.u, thread, windows[idx], sp?.cost_usd ?? null, sp?.cost_source ?? null]);
      const old = this.bars[idx];
      if (old && old.key === key) return;
      const group = this.drawBar(idx, row, thread, windows[idx], sp, (MIN_SEG_PX * max) / PLOT_H);
      if (old) {
        old.group.replaceWith(group);
        this.bars[idx] = { ...old, key, group };
        return;
      }
      this.plot.appendChild(group);
      // the call's number sits under the axis, outside the scaled group
      const label = svg("text", { class: "tfw-axis-label tfw-bar-number", x: barX(idx) + BAR_W / 2, y: TOP + PLOT_H + 12, "text-anchor": "middle" }, String(idx + 1));
      this.labels.appendChild(label);
      this.bars[idx] = { key, group, label };
    });
    for (const gone of this.bars.splice(rows.length)) {
      gone.group.remove();
      gone.label.remove();
    }

    const plotRight = LEFT + rows.length * (BAR_W + GAP) + GAP;
    const width = plotRight + (maxCost > 0 ? COST_AXIS : 0);
    const height = TOP + PLOT_H + 16;
    const scaleKey = JSON.stringify([max, width]);
    if (scaleKey !== this.scaleKey) {
      this.scaleKey = scaleKey;
      this.plot.setAttribute("transform", `translate(0 ${TOP + PLOT_H}) scale(1 ${-PLOT_H / max})`);
      this.maxLabel.textContent = fmtCompact(max);
      this.baseLine.setAttribute("x2", String(width));
      this.svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
      this.svg.setAttribute("width", String(width));
      this.svg.setAttribute("height", String(height));
    }
    this.svg.setAttribute("aria-label", `Token usage for ${rows.length} model calls`);

    /** @type {Element[]} */
    const extras = [];
    if (windowLine) {
      const y = TOP + PLOT_H - (maxWindow / max) * PLOT_H;
      extras.push(svg("line", { class: "tfw-context-line", x1: LEFT - 2, y1: y, x2: plotRight, y2: y }));
      extras.push(svg("title", {}, `context window ${fmtInt(maxWindow)} tokens`));
    }
    if (maxCost > 0) {
      /** @type {string[]} */
      const pts = [];
      costs.forEach((c, idx) => {
        if (c != null) pts.push(`${barX(idx) + BAR_W / 2},${TOP + PLOT_H - (c / maxCost) * PLOT_H}`);
      });
      const line = svg("polyline", { class: "tfw-cost-line", points: pts.join(" ") });
      line.appendChild(svg("title", {}, `cumulative cost ${fmtCost(maxCost)}`));
      extras.push(line);
      extras.push(svg("line", { class: "tfw-axis", x1: plotRight + 2, y1: TOP, x2: plotRight + 2, y2: TOP + PLOT_H }));
      extras.push(svg("text", { class: "tfw-axis-label tfw-cost-label", x: plotRight + 5, y: TOP + 8 }, fmtCost(maxCost)));
      extras.push(svg("text", { class: "tfw-axis-label tfw-cost-label", x: plotRight + 5, y: TOP + PLOT_H }, "$0"));
    }
    this.extras.replaceChildren(...extras);

    const unexplained = rows.some((r) => r.p.breakdownGap > 0);
    const note = !windowLine && maxWindow > 0
      ? `context window ${fmtCompact(maxWindow)} · peak fill ${(peakFill * 100).toFixed(1)}%`
      : "";
    const legendKey = JSON.stringify([unexplained, maxCost > 0, windowLine, note]);
    if (legendKey !== this.legendKey) {
      this.legendKey = legendKey;
      const items = SERIES.filter((s) => s.key !== "unexplained" || unexplained).map((s) =>
        h("span", { class: "tfw-legend-item" }, h("span", { class: `tfw-swatch tfw-seg-${s.key}` }), s.label)
      );
      if (maxCost > 0) items.push(h("span", { class: "tfw-legend-item" }, h("span", { class: "tfw-swatch tfw-swatch-cost" }), "cumulative cost"));
      if (windowLine) items.push(h("span", { class: "tfw-legend-item" }, h("span", { class: "tfw-swatch tfw-swatch-context" }), "context window"));
      else if (note) items.push(h("span", { class: "tfw-legend-item tfw-context-note", text: note }));
      this.legend.replaceChildren(...items);
    }
    return this;
  }

  /**
   * One call's bar: its segments (in token units, the plot's transform scales them) and its tooltip.
   * @param {number} idx
   * @param {ReturnType<typeof chartRow>} row
   * @param {string} thread
   * @param {number | null} window
   * @param {import("./types.js").SpanView | undefined} sp
   * @param {number} minHeight the least height of a segment, in token units (half a pixel when drawn)
   */
  drawBar(idx, row, thread, window, sp, minHeight) {
    const x = barX(idx);
    const group = /** @type {SVGGElement} */ (svg("g", { class: "tfw-bar" }));
    const lines = [`call ${idx + 1}${thread ? ` (${thread})` : ""}`, `input ${fmtInt(row.p.input)} · output ${fmtInt(row.p.output)}`];
    if (row.p.cacheRead || row.p.cacheWrite) {
      lines.push(`cache read ${fmtInt(row.p.cacheRead)} · write ${fmtInt(row.p.cacheWrite)}`);
    }
    if (row.p.breakdownGap) {
      lines.push(`breakdown does not add up: ${row.p.breakdownGap > 0 ? `${fmtInt(row.p.breakdownGap)} input tokens not in it` : `it exceeds the input by ${fmtInt(-row.p.breakdownGap)}`}`);
    }
    if (window) lines.push(`context ${((row.p.input / window) * 100).toFixed(1)}% of ${fmtInt(window)}`);
    if (sp && sp.cost_usd != null) lines.push(`cost ${fmtCost(sp.cost_usd)} (${sp.cost_source})`);
    for (const seg of barSegments(row.segments)) {
      const height = Math.max(seg.value, minHeight);
      group.appendChild(svg("rect", { class: `tfw-seg tfw-seg-${seg.key}`, x, y: seg.from, width: BAR_W, height }));
      lines.push(`${seg.label}: ${fmtInt(seg.value)}`);
    }
    group.appendChild(svg("title", {}, lines.join("\n")));
    return group;
  }
}

