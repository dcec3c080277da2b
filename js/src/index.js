// anywidget entry point of tfwidget's TurnView.
//
// The settled snapshot lives in the `_view` trait; increments arrive as custom messages
// ({"type": "patch", rev, ...}). All DOM work is batched into one animation frame.
import { ViewStore } from "./store.js";
import { TurnRenderer } from "./render.js";
import { Actions } from "./actions.js";
import { mountPlayer } from "./player.js";
import { mountSession } from "./session_view.js";
import { guardKeys } from "./keys.js";
import { followTheme } from "./theme.js";

const LIVE = new Set(["connecting", "streaming", "reconnecting"]);

/**
 * Mount a TurnView into `el`, driven by an anywidget-style `model` (get/on/off/send).
 * Returns a cleanup function.
 */
export function mount(model, el) {
  if (model.get("_session") !== undefined) return mountSession(model, el);
  const store = new ViewStore();
  const renderer = new TurnRenderer(el, store);
  renderer.timeline.restore(model); // reopen the tab chosen before a re-mount
  let frame = 0;
  let helloSent = 0;

  const flush = () => {
    frame = 0;
    renderer.render();
    if (store.gap) requestResync();
  };
  const schedule = () => {
    if (frame) return;
    frame = typeof requestAnimationFrame === "function" ? requestAnimationFrame(flush) : setTimeout(flush, 16);
  };
  const requestResync = () => {
    // A patch referred to text this view never got: ask Python for the snapshot (at most 1/s).
    const now = Date.now();
    if (now - helloSent < 1000) return;
    helloSent = now;
    store.gap = false;
    safeSend(model, { type: "hello", rev: store.rev, reason: "gap" });
  };

  // Pause cards become interactive when Python sets the `_actions` trait (a session view).
  const actions = new Actions(model, () => {
    store.dirty.keys.add("actions"); // pause cards, resolutions and the input's labels
    store.dirty.keys.add("pauses");
    schedule();
  });
  renderer.actions = actions;
  renderer.media.connect(model); // the view's `remote_media` trait
  const onActions = () => actions.refresh();

  const onView = () => {
    if (store.replace(model.get("_view"))) schedule();
  };
  const onMsg = (msg) => {
    if (msg && msg.type === "patch" && store.applyPatch(msg)) schedule();
    else if (msg && msg.type === "snapshot" && store.replace(msg.view)) schedule();
    else if (msg && msg.type === "ack") actions.ack(msg);
  };

  model.on("change:_view", onView);
  model.on("change:_actions", onActions);
  model.on("msg:custom", onMsg);
  onView();
  renderer.render(); // first paint synchronously, so the widget never shows empty
  safeSend(model, { type: "hello", rev: store.rev });

  const timer = setInterval(() => {
    if (LIVE.has(store.view.status)) renderer.tick();
  }, 1000);

  // A PlayerView (tfwidget.replay(..., controls=True)) gets a player bar.
  const unmountPlayer = model.get("_player_meta") ? mountPlayer(model, renderer.root) : null;

  el.__tfw = { store, renderer }; // for debugging and the browser tests
  const unguard = guardKeys(el);
  const unfollow = followTheme(el);
  return () => {
    if (unmountPlayer) unmountPlayer();
    unguard();
    unfollow();
    clearInterval(timer);
    if (frame && typeof cancelAnimationFrame === "function") cancelAnimationFrame(frame);
    model.off("change:_view", onView);
    model.off("change:_actions", onActions);
    model.off("msg:custom", onMsg);
    renderer.media.disconnect();
  };
}

function safeSend(model, msg) {
  try {
    model.send(msg);
  } catch {
    // No kernel (static export): nothing to re-sync with.
  }
}

/** A model stand-in for pages without a kernel: a fixed snapshot, no messages. */
export function staticModel(view) {
  return {
    get: (key) => (key === "_view" ? view : undefined),
    set() {},
    on() {},
    off() {},
    send() {},
    save_changes() {},
  };
}

function render({ model, el }) {
  return mount(model, el);
}

export default { render };
