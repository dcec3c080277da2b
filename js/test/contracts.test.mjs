// The front end's label tables cover exactly the statuses tfwidget/contracts.py defines (via the generated
// contracts.gen.js), so a status added in Python cannot reach the page unlabelled.
import { test } from "node:test";
import assert from "node:assert/strict";
import { STATUS_LABELS, TOOL_STATUS_LABELS, BREAKDOWN_KEYS } from "../src/format.js";
import { TEXT_FIELDS } from "../src/store.js";
import {
  LIVE_STATUSES,
  MESSAGE_TEXT_FIELDS,
  TOOL_CALL_STATUSES,
  TOOL_TEXT_FIELDS,
  USAGE_BREAKDOWN_KEYS,
  VIEW_STATUSES,
  EMPTY_VIEW,
} from "../src/contracts.gen.js";
import { emptyView } from "../src/store.js";

test("status labels cover the contract's statuses", () => {
  assert.deepEqual(Object.keys(STATUS_LABELS).sort(), [...VIEW_STATUSES].sort());
  assert.deepEqual(Object.keys(TOOL_STATUS_LABELS).sort(), [...TOOL_CALL_STATUSES].sort());
  for (const s of LIVE_STATUSES) assert.ok(VIEW_STATUSES.includes(s));
});

test("the store and the chart use the generated lists", () => {
  assert.equal(BREAKDOWN_KEYS, USAGE_BREAKDOWN_KEYS);
  assert.equal(TEXT_FIELDS.messages, MESSAGE_TEXT_FIELDS);
  assert.equal(TEXT_FIELDS.tools, TOOL_TEXT_FIELDS);
  const v = emptyView();
  assert.deepEqual(v, EMPTY_VIEW);
  v.timeline.push({ kind: "message", id: "x" }); // a copy: the shared empty view stays empty
  assert.equal(EMPTY_VIEW.timeline.length, 0);
});
