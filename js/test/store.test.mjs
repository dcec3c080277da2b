// Patch semantics of the front-end store (run with `npm test`; no DOM needed).
import { test } from "node:test";
import assert from "node:assert/strict";
import { ViewStore, applyText } from "../src/store.js";

test("text fields splice from the offset, and applying twice is harmless", () => {
  assert.equal(applyText("Hello", [5, " world"]), "Hello world");
  assert.equal(applyText("Hello world", [5, " world"]), "Hello world");
  assert.equal(applyText(null, [0, "x"]), "x");
  assert.equal(applyText("ab", [5, "x"]), null); // a gap
});

test("patches apply in order and stale revs are ignored", () => {
  const s = new ViewStore();
  s.replace({ rev: 1, status: "streaming", timeline: [], messages: {}, tools: {}, events: {} });
  assert.ok(s.applyPatch({
    type: "patch", rev: 2,
    set: { status: "streaming" },
    timeline: [[0, [{ kind: "message", id: "m1", thread_id: "main" }]]],
    messages: { m1: { id: "m1", content: [0, "Hel"], streaming: true } },
  }));
  assert.ok(s.applyPatch({ type: "patch", rev: 3, messages: { m1: { content: [3, "lo"] } } }));
  assert.equal(s.applyPatch({ type: "patch", rev: 3, messages: { m1: { content: [0, "XX"] } } }), false);
  assert.equal(s.view.messages.m1.content, "Hello");
  assert.equal(s.view.timeline.length, 1);
  assert.ok(s.applyPatch({ type: "patch", rev: 4, tools: { c1: { arguments: [0, "{}"], status: "running" } } }));
  assert.deepEqual(s.view.tools.c1, { id: "c1", arguments: "{}", status: "running" });
  assert.equal(s.gap, false);
  s.applyPatch({ type: "patch", rev: 5, messages: { m1: { content: [99, "?"] } } });
  assert.equal(s.gap, true);
  assert.equal(s.view.messages.m1.content, "Hello");
});

test("an older snapshot does not replace a newer view", () => {
  const s = new ViewStore();
  s.replace({ rev: 5, status: "done" });
  assert.equal(s.replace({ rev: 4, status: "streaming" }), false);
  assert.equal(s.view.status, "done");
  assert.equal(s.replace({ rev: 5, status: "done", turn_id: "t" }), true);
});
