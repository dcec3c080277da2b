// A small stacked bar chart of token usage per model call, as inline SVG (no chart library).
import { h, svg } from "./dom.js";
import { BREAKDOWN_KEYS, fmtCompact, fmtInt, usageParts } from "./format.js";

const SERIES = [
  ...BREAKDOWN_KEYS.map((key) => ({ key, label: key.replace("_", " ") })),
  { key: "output", label: "output" },
];

/**
 * Build the chart for `usage` (the view's usage list) and a legend. `threadLabel(id)` names a thread
 * for the tooltips.
 */
export function usageChart(usage, threadLabel = (id) => id) {
  const rows = (usage || []).map((u, i) => {
    const p = usageParts(u);
    const segments = {};
    if (p.breakdown) Object.assign(segments, p.breakdown);
    else segments.messages = p.input;
    segments.output = p.output;
    const total = Object.values(segments).reduce((a, b) => a + b, 0);
    return { i, u, p, segments, total };
  });
  const max = Math.max(1, ...rows.map((r) => r.total));
  const barW = 16;
  const gap = 6;
  const plotH = 90;
  const left = 38;
  const top = 6;
  const width = left + rows.length * (barW + gap) + gap;
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

  const legend = h(
    "div",
    { class: "tfw-legend" },
    ...SERIES.map((s) => h("span", { class: "tfw-legend-item" }, h("span", { class: `tfw-swatch tfw-seg-${s.key}` }), s.label)),
  );
  return h("div", { class: "tfw-chart" }, root, legend);
}
