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

test("a snapshot of the revision the patches already built changes nothing (the turn's end)", () => {
  const s = new ViewStore();
  s.replace({ rev: 1, status: "streaming", turn_id: "t", timeline: [], messages: {}, tools: {}, events: {} });
  s.applyPatch({
    type: "patch", rev: 2, set: { status: "done" },
    timeline: [[0, [{ kind: "message", id: "m1", thread_id: "main" }]]],
    messages: { m1: { content: [0, "Hello"], streaming: false } },
  });
  s.dirty.clear();
  const before = s.view;
  const settled = JSON.parse(JSON.stringify(before));
  assert.equal(s.replace(settled), false);
  assert.equal(s.view, before); // not copied, not diffed
  assert.equal(s.dirty.any, false);
  // after a gap the same revision is taken whole
  s.applyPatch({ type: "patch", rev: 3, messages: { m1: { content: [99, "?"] } } });
  assert.equal(s.gap, true);
  assert.equal(s.replace({ ...settled, rev: 3 }), true);
  assert.equal(s.gap, false);
});

test("a packed view (zlib JSON in a binary buffer) unpacks, and one the patches already built is skipped", async () => {
  const { deflateSync } = await import("node:zlib");
  const { unpackView } = await import("../src/store.js");
  const view = { rev: 7, turn_id: "t", status: "done", timeline: [], messages: { m1: { id: "m1", content: "é ".repeat(5000) } },
    tools: {}, events: {} };
  const bytes = deflateSync(Buffer.from(JSON.stringify(view)));
  const asDataView = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const packed = { rev: 7, turn_id: "t", status: "done", zlib: asDataView };
  assert.deepEqual(unpackView(packed), view);
  assert.equal(unpackView(view), view);
  const s = new ViewStore();
  assert.equal(s.replace(packed), true);
  assert.equal(s.view.messages.m1.content, "é ".repeat(5000));
  const shown = s.view;
  s.dirty.clear();
  assert.equal(s.replace({ ...packed, zlib: new DataView(new ArrayBuffer(3)) }), false); // not even decoded
  assert.equal(s.view, shown);
});
