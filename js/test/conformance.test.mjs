// The patch conformance cases in tests/conformance/*.json, applied by the front end's store.
// tests/test_conformance.py applies the same files with the Python receiver (tfwidget.view.ViewStore).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { ViewStore } from "../src/store.js";

const CASES = fileURLToPath(new URL("../../tests/conformance/", import.meta.url));
const files = readdirSync(CASES).filter((f) => f.endsWith(".json")).sort();

function checkView(view, expected, exact, where) {
  if (exact) {
    assert.deepEqual(view, expected, where);
    return;
  }
  for (const [key, value] of Object.entries(expected)) assert.deepEqual(view[key] ?? null, value, `${where}: ${key}`);
}

test("the conformance cases exist, gaps included", () => {
  assert.ok(files.includes("timeline_gap.json"));
  assert.ok(files.includes("text_gap.json"));
  assert.ok(files.some((f) => f.startsWith("recorded_")));
});

for (const file of files) {
  test(`conformance: ${file}`, () => {
    const c = JSON.parse(readFileSync(join(CASES, file), "utf8"));
    const store = new ViewStore();
    if (c.snapshot) assert.equal(store.replace(c.snapshot), true);
    c.steps.forEach((step, i) => {
      const where = `${file} step ${i}`;
      const applied = step.patch ? store.applyPatch(step.patch) : store.replace(step.snapshot);
      assert.equal(applied, step.applied, where);
      if ("gap" in step) assert.equal(store.gap, step.gap, where);
      if (step.view) checkView(store.view, step.view, false, where);
    });
    assert.equal(store.gap, c.expected.gap, file);
    checkView(store.view, c.expected.view, !!c.expected.exact, file);
  });
}
