// Layout of the Timeline tab (run with `npm test`; no DOM needed).
import { test } from "node:test";
import assert from "node:assert/strict";
import { layoutTimeline, spanTitle, usageChipExtras, costByThread } from "../src/timeline.js";

const spans = [
  { kind: "turn", id: "t", parent_id: null, thread_id: null, name: "t", start_ms: 1000, end_ms: null, total_cost_usd: 0.03 },
  { kind: "thread", id: "main", parent_id: "t", thread_id: "main", name: "main", start_ms: 1000, end_ms: null, total_cost_usd: 0.03 },
  { kind: "model_call", id: "m1", parent_id: "main", thread_id: "main", name: "gpt", start_ms: 1100, first_ms: 1400, end_ms: 1600, cost_usd: 0.01, cost_source: "priced", input_tokens: 100, output_tokens: 50 },
  { kind: "tool_call", id: "c1", parent_id: "m1", thread_id: "main", name: "create_sub_agent", start_ms: 1600, end_ms: null, total_cost_usd: 0.02 },
  { kind: "tool_call", id: "c2", parent_id: "m1", thread_id: "main", name: "create_sub_agent", start_ms: 1600, end_ms: 2500 },
  { kind: "thread", id: "sub1", parent_id: "c1", thread_id: "sub1", name: "research", start_ms: 1700, end_ms: null, total_cost_usd: 0.02 },
  { kind: "model_call", id: "m2", parent_id: "sub1", thread_id: "sub1", name: "gpt", start_ms: 1700, first_ms: null, end_ms: null, cost_usd: 0.02, cost_source: "allocated" },
  { kind: "thread", id: "sub2", parent_id: "c2", thread_id: "sub2", name: "other", start_ms: 1700, end_ms: 2400 },
];

test("sub-agent lanes follow, indented, the lane of the tool call that spawned them", () => {
  const { lanes, t0 } = layoutTimeline(spans, { nowMs: 3000, live: true });
  assert.equal(t0, 1000);
  assert.deepEqual(lanes.map((l) => [l.id, l.depth, l.via && l.via.id]), [["main", 0, null], ["sub1", 1, "c1"], ["sub2", 1, "c2"]]);
  // the parallel tool calls overlap: they take two rows of the main lane, the model call the first
  const main = lanes[0];
  assert.equal(main.rows.length, 2);
  assert.deepEqual(main.rows[0].map((b) => b.span.id), ["m1", "c1"]);
  assert.deepEqual(main.rows[1].map((b) => b.span.id), ["c2"]);
});

test("open bars grow to now while live, and stop at the turn's end once it is over", () => {
  const live = layoutTimeline(spans, { nowMs: 3000, live: true });
  const m2 = live.lanes[1].rows[0][0];
  assert.equal(m2.open, true);
  assert.equal(m2.end, 3000);
  assert.equal(live.t1, 3000);
  const later = layoutTimeline(spans, { nowMs: 4000, live: true });
  assert.equal(later.lanes[1].rows[0][0].end, 4000);
  const ended = spans.map((s) => (s.kind === "turn" ? { ...s, end_ms: 3500 } : s));
  const done = layoutTimeline(ended, { nowMs: 9000, live: false });
  assert.equal(done.t1, 3500);
  assert.equal(done.lanes[1].rows[0][0].end, 3500);
});

test("hover text, chips and per-thread cost carry the numbers", () => {
  const title = spanTitle(spans[2]);
  assert.match(title, /model call: gpt/);
  assert.match(title, /took 500 ms/);
  assert.match(title, /time to first token 300 ms/);
  assert.match(title, /cost \$0\.010 \(priced\)/);
  assert.deepEqual(usageChipExtras(spans[2]), ["$0.010", "TTFT 300 ms"]);
  assert.deepEqual(usageChipExtras(spans[6]), ["≈$0.020"]);
  assert.deepEqual(costByThread(spans), ["main: $0.030", "research: $0.020"]);
  assert.match(spanTitle({ kind: "pause", id: "p", name: "approval", start_ms: 0, end_ms: null, status: "waiting" }, 2000), /running for 2\.00 s[\s\S]*still waiting/);
});

test("no spans: nothing to lay out", () => {
  assert.deepEqual(layoutTimeline([], {}).lanes, []);
  assert.deepEqual(layoutTimeline(undefined, {}).lanes, []);
});

test("a breakdown that does not add up to the input says by how much", async () => {
  const { usageParts } = await import("../src/format.js");
  const ok = usageParts({ input_tokens: 100, harness: 60, skills: 0, instructions: 10, tool_definitions: 10, messages: 20 });
  assert.equal(ok.breakdownGap, 0);
  const short = usageParts({ input_tokens: 1000, input_tokens_breakdown: { harness: 300, instructions: 50, messages: 400 } });
  assert.equal(short.breakdownGap, 250);
  const over = usageParts({ input_tokens: 100, harness: 150 });
  assert.equal(over.breakdownGap, -50);
  assert.equal(usageParts({ input_tokens: 100 }).breakdownGap, 0); // no breakdown: nothing to flag
});
