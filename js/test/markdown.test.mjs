// The nesting estimate that decides when a message is shown as plain text (run with `npm test`).
import { test } from "node:test";
import assert from "node:assert/strict";
import { MAX_MARKDOWN_DEPTH, nestingDepth } from "../src/markdown.js";

test("hostile nesting is detected in linear time", () => {
  const cases = [
    Array.from({ length: 2000 }, (_, i) => " ".repeat(2 * i) + "- item").join("\n"),
    "- ".repeat(10000) + "x",
    "> ".repeat(10000) + "x",
    "1. ".repeat(500) + "x",
  ];
  for (const text of cases) {
    const t = Date.now();
    assert.ok(nestingDepth(text) > MAX_MARKDOWN_DEPTH);
    assert.ok(Date.now() - t < 1000);
  }
});

test("ordinary markdown stays markdown", () => {
  const doc = [
    "# Title",
    "- a",
    "  - b",
    "    - c",
    "> quote",
    "> > nested quote",
    "```",
    " ".repeat(400) + "- deep inside a code fence is just code",
    "```",
    "1. one",
    "2. two",
  ].join("\n");
  assert.ok(nestingDepth(doc) <= 4, String(nestingDepth(doc)));
  assert.equal(nestingDepth(""), 0);
});
