// Intents from the front end: one in flight at a time, acks clear it, ids are unique.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Actions, intentId } from "../src/actions.js";

function fakeModel(state = {}) {
  const sent = [];
  return { sent, get: (key) => (key === "_actions" ? state : undefined), send: (msg) => sent.push(msg) };
}

test("a second intent while one is in flight is not sent", () => {
  const model = fakeModel({ enabled: true });
  let changes = 0;
  const actions = new Actions(model, () => (changes += 1));
  const first = actions.send({ action: "approve", call_id: "c1" });
  const second = actions.send({ action: "approve", call_id: "c1" });
  assert.ok(first);
  assert.equal(second, null);
  assert.equal(model.sent.length, 1);
  assert.deepEqual(model.sent[0], { type: "intent", id: first, action: "approve", call_id: "c1" });
  assert.equal(actions.busy, true);
  assert.ok(changes >= 1);
  assert.equal(actions.ack({ id: first, ok: true, error: null }), true);
  assert.equal(actions.busy, false);
  assert.equal(actions.ack({ id: first, ok: true }), false); // an unknown or repeated ack changes nothing
  const third = actions.send({ action: "deny", call_id: "c1" });
  assert.ok(third);
  assert.equal(model.sent.length, 2);
  actions.ack({ id: third, ok: true }); // (also stops its ack timer)
});

test("Python's busy flag keeps actions disabled; failed acks keep the error", () => {
  const state = { enabled: true, busy: true };
  const actions = new Actions(fakeModel(state), () => {});
  assert.equal(actions.busy, true);
  state.busy = false;
  actions.refresh();
  assert.equal(actions.busy, false);
  const id = actions.send({ action: "resume" }, (ack) => assert.equal(ack.ok, false));
  actions.ack({ id, ok: false, error: "duplicate intent ignored" });
  assert.equal(actions.lastError, "duplicate intent ignored");
});

test("intent ids are unique", () => {
  const ids = new Set(Array.from({ length: 1000 }, () => intentId()));
  assert.equal(ids.size, 1000);
});
