// Applying a snapshot to a view on screen marks only what differs (run with `npm test`; no DOM needed).
import { test } from "node:test";
import assert from "node:assert/strict";
import { diffViews } from "../src/snapshot.js";
import { ViewStore } from "../src/store.js";

const base = () => ({
  rev: 3,
  turn_id: "t1",
  status: "streaming",
  threads: [{ id: "main" }],
  timeline: [{ kind: "message", id: "m1", thread_id: "main" }],
  messages: { m1: { id: "m1", content: "Hello", streaming: true } },
  tools: {},
  events: {},
  pauses: [],
  usage: [],
  notices: [],
});

test("a settled snapshot of the same turn marks only the keys and items that changed", () => {
  const next = base();
  next.rev = 9;
  next.status = "done";
  next.messages.m1 = { id: "m1", content: "Hello world", streaming: false };
  next.timeline.push({ kind: "event", id: "e1", thread_id: "main" });
  next.events.e1 = { id: "e1", type: "sandbox.created" };
  const d = diffViews(base(), next);
  assert.equal(d.all, false);
  assert.deepEqual([...d.keys], ["status"]);
  assert.deepEqual([...d.messages], ["m1"]);
  assert.deepEqual([...d.events], ["e1"]);
  assert.equal(d.timelineFrom, 1);
});

test("an identical snapshot marks nothing", () => {
  const d = diffViews(base(), { ...base(), rev: 4 });
  assert.equal(d.all, false);
  assert.equal(d.keys.size + d.messages.size + d.tools.size + d.events.size, 0);
  assert.equal(d.timelineFrom, Infinity);
});

test("another turn, a vanished item or a rewritten timeline asks for a rebuild", () => {
  assert.equal(diffViews(base(), { ...base(), turn_id: "t2" }).all, true);
  assert.equal(diffViews(base(), { ...base(), messages: {} }).all, true);
  assert.equal(diffViews(base(), { ...base(), threads: [] }).all, true);
  const moved = base();
  moved.timeline = [{ kind: "message", id: "m2", thread_id: "main" }];
  moved.messages.m2 = { id: "m2" };
  assert.equal(diffViews(base(), moved).all, true);
  assert.equal(diffViews({ ...base(), rev: -1 }, base()).all, true); // nothing shown yet
});

test("the store applies a snapshot after patches without a full re-render", () => {
  const s = new ViewStore();
  s.replace(base());
  s.dirty.clear();
  assert.ok(s.applyPatch({ type: "patch", rev: 4, messages: { m1: { content: [5, " world"] } } }));
  s.dirty.clear();
  const settled = base();
  settled.rev = 5;
  settled.status = "done";
  settled.messages.m1 = { id: "m1", content: "Hello world", streaming: false };
  assert.ok(s.replace(settled));
  assert.equal(s.dirty.all, false);
  assert.deepEqual([...s.dirty.keys], ["status"]);
  assert.deepEqual([...s.dirty.messages], ["m1"]);
  assert.equal(s.view.messages.m1.streaming, false);
});
