// @ts-check
// A small stacked bar chart of token usage per model call, as inline SVG (no chart library).
import { h, svg } from "./dom.js";
import { BREAKDOWN_KEYS, fmtCompact, fmtCost, fmtInt, usageParts } from "./format.js";

const SERIES = [
  ...BREAKDOWN_KEYS.map((key) => ({ key, label: key.replace("_", " ") })),
  { key: "unexplained", label: "not in the breakdown" },
  { key: "output", label: "output" },
];

/**
 * Build the chart for `usage` (the view's usage list) and a legend. `threadLabel(id)` names a thread
 * for the tooltips. With `spans` (the view's spans: cost and context window per call), a cumulative
 * cost line on a right axis and the context window (a dashed line, or its peak fill when far above).
 * @param {import("./types.js").UsageRow[] | null | undefined} usage
 * @param {(id: string) => string} [threadLabel]
 * @param {import("./types.js").SpanView[] | null} [spans]
 */
export function usageChart(usage, threadLabel = (id) => id, spans = null) {
  const spanOf = new Map((spans || []).filter((s) => s.kind === "model_call").map((s) => [s.id, s]));
  const rows = (usage || []).map((u, i) => {
    const p = /** @type {NonNullable<ReturnType<typeof usageParts>>} */ (usageParts(u));
    /** @type {Record<string, number>} */
    const segments = {};
    if (p.breakdown) {
      Object.assign(segments, p.breakdown);
      if (p.breakdownGap > 0) segments.unexplained = p.breakdownGap; // drawn apart, never as conversation
    } else segments.messages = p.input;
    segments.output = p.output;
    const total = Object.values(segments).reduce((a, b) => a + b, 0);
    return { i, u, p, segments, total };
  });
  let max = Math.max(1, ...rows.map((r) => r.total));
  // context window: drawn as a line when it is within reach of the bars, else stated with the peak fill
  const windows = rows.map((r) => spanOf.get(r.u.message_id)?.context_window || null);
  const maxWindow = Math.max(0, .../** @type {number[]} */ (windows.filter((w) => w)));
  const windowLine = maxWindow > 0 && maxWindow <= 4 * max;
  if (windowLine) max = Math.max(max, maxWindow);
  const peakFill = maxWindow > 0 ? Math.max(...rows.map((r, i) => (windows[i] ? r.p.input / windows[i] : 0))) : 0;
  // cumulative cost (calls with a known cost)
  let running = 0;
  const costs = rows.map((r) => {
    const c = spanOf.get(r.u.message_id)?.cost_usd;
    if (c == null) return null;
    running += c;
    return running;
  });
  const maxCost = running;
  const barW = 16;
  const gap = 6;
  const plotH = 90;
  const left = 38;
  const top = 6;
  const right = maxCost > 0 ? 44 : 0;
  const width = left + rows.length * (barW + gap) + gap + right;
  const height = top + plotH + 16;

  const root = svg("svg", {
    class: "tfw-chart-svg",
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    role: "img",
    "aria-label": `Token usage for ${rows.length} model calls`,
  });
  // Axis: a base line and the max label.
  root.appendChild(svg("line", { class: "tfw-axis", x1: left - 2, y1: top + plotH, x2: width, y2: top + plotH }));
  root.appendChild(svg("text", { class: "tfw-axis-label", x: left - 6, y: top + 8, "text-anchor": "end" }, fmtCompact(max)));
  root.appendChild(svg("text", { class: "tfw-axis-label", x: left - 6, y: top + plotH, "text-anchor": "end" }, "0"));

  rows.forEach((row, idx) => {
    const x = left + gap + idx * (barW + gap);
    let y = top + plotH;
    const group = svg("g", { class: "tfw-bar" });
    const lines = [
      `call ${idx + 1}${row.u.thread_id && row.u.thread_id !== "main" ? ` (${threadLabel(row.u.thread_id)})` : ""}`,
      `input ${fmtInt(row.p.input)} · output ${fmtInt(row.p.output)}`,
    ];
    if (row.p.cacheRead || row.p.cacheWrite) {
      lines.push(`cache read ${fmtInt(row.p.cacheRead)} · write ${fmtInt(row.p.cacheWrite)}`);
    }
    if (row.p.breakdownGap) {
      lines.push(`breakdown does not add up: ${row.p.breakdownGap > 0 ? `${fmtInt(row.p.breakdownGap)} input tokens not in it` : `it exceeds the input by ${fmtInt(-row.p.breakdownGap)}`}`);
    }
    const sp = spanOf.get(row.u.message_id);
    if (windows[idx]) lines.push(`context ${((row.p.input / windows[idx]) * 100).toFixed(1)}% of ${fmtInt(windows[idx])}`);
    if (sp && sp.cost_usd != null) lines.push(`cost ${fmtCost(sp.cost_usd)} (${sp.cost_source})`);
    for (const s of SERIES) {
      const v = row.segments[s.key] || 0;
      if (v <= 0) continue;
      const hgt = (v / max) * plotH;
      y -= hgt;
      group.appendChild(
        svg("rect", { class: `tfw-seg tfw-seg-${s.key}`, x, y, width: barW, height: Math.max(hgt, 0.5) }),
      );
      lines.push(`${s.label}: ${fmtInt(v)}`);
    }
    group.appendChild(svg("title", {}, lines.join("\n")));
    group.appendChild(
      svg("text", { class: "tfw-axis-label", x: x + barW / 2, y: top + plotH + 12, "text-anchor": "middle" }, String(idx + 1)),
    );
    root.appendChild(group);
  });

  const plotRight = left + rows.length * (barW + gap) + gap;
  if (windowLine) {
    const y = top + plotH - (maxWindow / max) * plotH;
    root.appendChild(svg("line", { class: "tfw-context-line", x1: left - 2, y1: y, x2: plotRight, y2: y }));
    root.appendChild(svg("title", {}, `context window ${fmtInt(maxWindow)} tokens`));
  }
  if (maxCost > 0) {
    /** @type {string[]} */
    const pts = [];
    costs.forEach((c, idx) => {
      if (c == null) return;
      pts.push(`${left + gap + idx * (barW + gap) + barW / 2},${top + plotH - (c / maxCost) * plotH}`);
    });
    const line = svg("polyline", { class: "tfw-cost-line", points: pts.join(" ") });
    line.appendChild(svg("title", {}, `cumulative cost ${fmtCost(maxCost)}`));
    root.appendChild(line);
    root.appendChild(svg("line", { class: "tfw-axis", x1: plotRight + 2, y1: top, x2: plotRight + 2, y2: top + plotH }));
    root.appendChild(svg("text", { class: "tfw-axis-label tfw-cost-label", x: plotRight + 5, y: top + 8 }, fmtCost(maxCost)));
    root.appendChild(svg("text", { class: "tfw-axis-label tfw-cost-label", x: plotRight + 5, y: top + plotH }, "$0"));
  }
  const extra = [];
  if (maxCost > 0) extra.push(h("span", { class: "tfw-legend-item" }, h("span", { class: "tfw-swatch tfw-swatch-cost" }), "cumulative cost"));
  if (windowLine) extra.push(h("span", { class: "tfw-legend-item" }, h("span", { class: "tfw-swatch tfw-swatch-context" }), "context window"));
  else if (maxWindow > 0) {
    extra.push(h("span", { class: "tfw-legend-item tfw-context-note", text: `context window ${fmtCompact(maxWindow)} · peak fill ${(peakFill * 100).toFixed(1)}%` }));
  }
  const legend = h(
    "div",
    { class: "tfw-legend" },
    ...SERIES.filter((s) => s.key !== "unexplained" || rows.some((r) => r.p.breakdownGap > 0)).map((s) =>
      h("span", { class: "tfw-legend-item" }, h("span", { class: `tfw-swatch tfw-seg-${s.key}` }), s.label),
    ),
    ...extra,
  );
  return h("div", { class: "tfw-chart" }, root, legend);
}
