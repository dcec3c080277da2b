// Host integration without a browser: theme detection, the key guard, resolution helpers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { detectTheme } from "../src/theme.js";
import { guardKeys, isTextEntry } from "../src/keys.js";
import { inputLabel, isResolved, resolutionOf } from "../src/resolution.js";

function classList(...names) {
  const set = new Set(names);
  return { contains: (n) => set.has(n) };
}

function withPage({ html = [], body = [], jp, dark = false, attrs = {} }, fn) {
  const saved = { document: globalThis.document, matchMedia: globalThis.matchMedia };
  globalThis.document = {
    documentElement: { classList: classList(...html), getAttribute: (k) => attrs[k] ?? null },
    body: { classList: classList(...body), dataset: jp === undefined ? {} : { jpThemeLight: jp }, getAttribute: () => null },
  };
  globalThis.matchMedia = () => ({ matches: dark });
  try {
    return fn();
  } finally {
    globalThis.document = saved.document;
    globalThis.matchMedia = saved.matchMedia;
  }
}

test("the host's theme wins over the browser's preference; the preference is the last fallback", () => {
  const el = { getRootNode: () => ({}) };
  assert.equal(withPage({ jp: "true", dark: true }, () => detectTheme(el)), "light");
  assert.equal(withPage({ jp: "false" }, () => detectTheme(el)), "dark");
  assert.equal(withPage({ body: ["vscode-dark"] }, () => detectTheme(el)), "dark");
  assert.equal(withPage({ body: ["dark", "dark-theme"] }, () => detectTheme(el)), "dark"); // marimo dark
  assert.equal(withPage({ body: ["light", "light-theme"], dark: true }, () => detectTheme(el)), "light"); // marimo light
  const inMarimo = { getRootNode: () => ({ host: { tagName: "MARIMO-ANYWIDGET" } }) };
  assert.equal(withPage({ dark: true }, () => detectTheme(inMarimo)), "light");
  assert.equal(withPage({ dark: true }, () => detectTheme(el)), "dark");
  assert.equal(withPage({ dark: false }, () => detectTheme(el)), "light");
});

test("key events from text entries stop at the widget; others pass", () => {
  const listeners = {};
  const root = { dataset: {}, addEventListener: (t, f) => (listeners[t] = f), removeEventListener: (t) => delete listeners[t] };
  const cleanup = guardKeys(root);
  assert.equal(root.dataset.lmSuppressShortcuts, "true");
  for (const type of ["keydown", "keypress", "keyup"]) {
    let stopped = false;
    listeners[type]({ target: { tagName: "TEXTAREA" }, stopPropagation: () => (stopped = true) });
    assert.equal(stopped, true, type);
    stopped = false;
    listeners[type]({ target: { tagName: "BUTTON" }, stopPropagation: () => (stopped = true) });
    assert.equal(stopped, false, type);
  }
  assert.equal(isTextEntry({ tagName: "DIV", isContentEditable: true }), true);
  cleanup();
  assert.deepEqual(Object.keys(listeners), []);
});

test("resolutions and input labels come from the turn's action state", () => {
  const actions = {
    state: {
      resolved: true,
      resolutions: { c1: { decision: "denied", reason: "too high", label: "Denied process_refund: too high" } },
      input_labels: ["Denied process_refund: too high"],
    },
  };
  assert.equal(isResolved(actions), true);
  assert.equal(resolutionOf(actions, "c1").decision, "denied");
  assert.equal(resolutionOf(actions, "c2"), null);
  assert.equal(inputLabel(actions, 0), "Denied process_refund: too high");
  assert.equal(inputLabel(actions, 1), null);
  assert.equal(isResolved(null), false);
});
