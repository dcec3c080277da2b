// Where a wheel over a view goes (run with `npm test`; no DOM needed).
import { test } from "node:test";
import assert from "node:assert/strict";
import { wheelGoesTo, wheelPixels } from "../src/follow.js";

const box = { scrollTop: 500, scrollHeight: 2000, clientHeight: 600 };

test("a wheel over a view that can scroll that way scrolls the view", () => {
  assert.equal(wheelGoesTo({ ...box, deltaY: -100, pageWheelAt: -Infinity }), "view");
  assert.equal(wheelGoesTo({ ...box, deltaY: 100, pageWheelAt: -Infinity }), "view");
});

test("at the view's ends, or with nothing to scroll, the wheel goes to the page", () => {
  assert.equal(wheelGoesTo({ ...box, scrollTop: 0, deltaY: -100, pageWheelAt: -Infinity }), "page");
  assert.equal(wheelGoesTo({ ...box, scrollTop: 1400, deltaY: 100, pageWheelAt: -Infinity }), "page");
  assert.equal(wheelGoesTo({ ...box, scrollTop: 1400, deltaY: -100, pageWheelAt: -Infinity }), "view");
  assert.equal(wheelGoesTo({ scrollTop: 0, scrollHeight: 300, clientHeight: 300, deltaY: 100, pageWheelAt: -Infinity }), "page");
});

test("a page scroll passing under the resting pointer is not caught, until the pointer moves onto the view", () => {
  assert.equal(wheelGoesTo({ ...box, deltaY: -100, pageWheelAt: 1000, engagedAt: 400 }), "page");
  assert.equal(wheelGoesTo({ ...box, deltaY: -100, pageWheelAt: 1000 }), "page");
  assert.equal(wheelGoesTo({ ...box, deltaY: -100, pageWheelAt: 1000, engagedAt: 1200 }), "view");
});

test("sideways wheels are left alone, and wheel units become pixels", () => {
  assert.equal(wheelGoesTo({ ...box, deltaY: 0, pageWheelAt: 5, engagedAt: 0 }), "view");
  assert.equal(wheelPixels({ deltaMode: 0, deltaY: 30 }, 800), 30);
  assert.equal(wheelPixels({ deltaMode: 1, deltaY: 3 }, 800), 48);
  assert.equal(wheelPixels({ deltaMode: 2, deltaY: 1 }, 800), 800);
});
