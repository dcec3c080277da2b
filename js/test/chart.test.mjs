// The usage chart's stacking (run with `npm test`; no DOM needed).
import { test } from "node:test";
import assert from "node:assert/strict";
import { barSegments } from "../src/chart.js";

test("a bar's segments stack from the base line in series order, skipping empty ones", () => {
  const segs = barSegments({ output: 30, messages: 100, harness: 0, skills: 20 });
  assert.deepEqual(
    segs.map((s) => [s.key, s.from, s.value]),
    [["skills", 0, 20], ["messages", 20, 100], ["output", 120, 30]],
  );
  const top = segs[segs.length - 1];
  assert.equal(top.from + top.value, 150); // the bar's height is its total
});

test("the unexplained part of the input is stacked apart, before the output", () => {
  const segs = barSegments({ messages: 10, unexplained: 5, output: 1 });
  assert.deepEqual(segs.map((s) => s.key), ["messages", "unexplained", "output"]);
  assert.equal(segs[1].label, "not in the breakdown");
});

test("no tokens, no segments", () => {
  assert.deepEqual(barSegments({ output: 0 }), []);
});
