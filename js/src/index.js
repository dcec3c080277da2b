// @ts-check
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
import { ViewMemory, orphanOf, register, unregister } from "./handoff.js";
import { installFollow } from "./follow.js";
import { ArtifactFetcher } from "./artifacts.js";
import { LIVE_STATUSES } from "./contracts.gen.js";

const LIVE = new Set(LIVE_STATUSES);

/** @typedef {import("./types.js").Model} Model */

/**
 * A custom message from Python to a TurnView.
 * @typedef {import("./contracts.gen.js").Patch
 *   | {type: "snapshot", view: import("./contracts.gen.js").View}
 *   | import("./contracts.gen.js").Ack
 *   | import("./artifacts.js").ArtifactMessage} TurnMessage
 */

/**
 * Mount a TurnView into `el`, driven by an anywidget-style `model` (get/on/off/send).
 * Returns a cleanup function.
 * @param {import("./types.js").Model} model
 * @param {HTMLElement} el
 * @returns {() => void}
 */
export function mount(model, el) {
  if (model.get("_session") !== undefined) return mountSession(model, el);
  // The host re-rendered this model in place (an output update): carry on with the same DOM.
  const orphan = orphanOf(model);
  if (orphan) return orphan.moveTo(el, model);
  const store = new ViewStore();
  const renderer = new TurnRenderer(el, store);
  renderer.timeline.restore(model); // reopen the tab chosen before a re-mount
  const follow = installFollow(renderer); // wheel hand-back to the page, "Jump to latest"
  let frame = 0;
  let helloSent = 0;
  let revealed = false;

  const flush = () => {
    frame = 0;
    renderer.render();
    if (renderer.later.size) schedule(); // a busy frame left the header's numbers and the usage for the next
    follow.update();
    if (!revealed && LIVE.has(store.view.status) && model.get("reveal") && renderer.root.isConnected) {
      revealed = true; // once: the page is the person's after that
      renderer.root.scrollIntoView({ block: "nearest" });
    }
    if (store.gap) requestResync();
  };
  const schedule = () => {
    if (frame) return;
    frame = typeof requestAnimationFrame === "function" ? requestAnimationFrame(flush) : setTimeout(flush, 16);
  };
  let retry = 0;
  const requestResync = () => {
    // A patch referred to text or timeline entries this view never got: the store applied nothing and
    // waits for a snapshot. Ask Python for it (at most once a second, again while none arrived).
    const now = Date.now();
    if (now - helloSent < 1000) {
      if (!retry) retry = setTimeout(() => {
        retry = 0;
        if (store.gap) requestResync();
      }, 1000 - (now - helloSent));
      return;
    }
    helloSent = now;
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
  const fetcher = new ArtifactFetcher(model);
  renderer.fetcher = fetcher;
  const onActions = () => actions.refresh();

  const onView = () => {
    if (store.replace(model.get("_view"))) schedule();
  };
  /**
   * @param {TurnMessage | null | undefined} msg
   * @param {(ArrayBuffer | ArrayBufferView<ArrayBuffer>)[]} [buffers]
   */
  const onMsg = (msg, buffers) => {
    // the fetcher looks at the type first: anything but an artifact_* message is left alone
    if (fetcher.handle(/** @type {import("./artifacts.js").ArtifactMessage | null | undefined} */ (msg), buffers)) return;
    if (msg && msg.type === "patch") {
      if (store.applyPatch(msg)) schedule();
      else if (store.gap) requestResync();
    }
    else if (msg && msg.type === "snapshot" && store.replace(msg.view)) schedule();
    else if (msg && msg.type === "ack") actions.ack(msg);
  };

  const listen = (/** @type {Model} */ m) => {
    m.on("change:_view", onView);
    m.on("change:_actions", onActions);
    m.on("msg:custom", onMsg);
  };
  const unlisten = (/** @type {Model} */ m) => {
    m.off("change:_view", onView);
    m.off("change:_actions", onActions);
    m.off("msg:custom", onMsg);
  };
  listen(model);
  onView();
  renderer.render(); // first paint synchronously, so the widget never shows empty
  safeSend(model, { type: "hello", rev: store.rev });

  const timer = setInterval(() => {
    if (LIVE.has(store.view.status)) renderer.tick();
  }, 1000);

  // A PlayerView (tfwidget.replay(..., controls=True)) gets a player bar.
  const unmountPlayer = model.get("_player_meta") ? mountPlayer(model, renderer.root) : null;

  let unguard = guardKeys(el);
  let unfollow = followTheme(el);
  const memory = new ViewMemory(renderer.root, renderer.scrollEl, () => renderer.stick);
  /** @type {import("./handoff.js").MountedView} */
  const instance = {
    root: renderer.root,
    el,
    moveTo(target, proxy) {
      // Listen through the new view's model proxy: the host may drop the old view's listeners.
      unlisten(model);
      model = proxy;
      fetcher.model = proxy; // file requests go out through the adopting view's model
      listen(model);
      replaceWith(target, renderer.root);
      renderer.el = target;
      instance.el = target;
      /** @type {any} */ (target).__tfw = /** @type {any} */ (el).__tfw;
      // Keys and theme are watched on the element the host gave this view.
      unguard();
      unfollow();
      unguard = guardKeys(target);
      unfollow = followTheme(target);
      // Whether it followed the stream is decided now: re-attaching resets scrollTop to 0.
      const following = renderer.stick;
      renderer.holdScroll = true;
      memory.restoreWhenShown(
        () => following,
        () => {
          renderer.holdScroll = false;
          renderer.stick = following;
          renderer.lastTop = renderer.scrollEl.scrollTop;
          if (following) renderer.scrollEl.scrollTop = renderer.scrollEl.scrollHeight;
          follow.update();
        },
      );
      return cleanupFor(target);
    },
  };
  const cleanupFor = (/** @type {HTMLElement} */ owner) => () => {
    if (instance.el !== owner) return; // an older view whose DOM a newer one adopted
    unregister(model, instance);
    memory.dispose();
    follow.dispose();
    if (unmountPlayer) unmountPlayer();
    unguard();
    unfollow();
    clearInterval(timer);
    if (retry) clearTimeout(retry);
    if (frame && typeof cancelAnimationFrame === "function") cancelAnimationFrame(frame);
    unlisten(model);
    renderer.media.disconnect();
  };
  register(model, instance);
  /** @type {any} */ (el).__tfw = { store, renderer, fetcher }; // for debugging and the browser tests
  return cleanupFor(el);
}

/**
 * @param {HTMLElement} el
 * @param {Node} node
 */
function replaceWith(el, node) {
  el.textContent = "";
  el.appendChild(node);
}

/**
 * @param {Model} model
 * @param {object} msg
 */
function safeSend(model, msg) {
  try {
    model.send(msg);
  } catch {
    // No kernel (static export): nothing to re-sync with.
  }
}

/**
 * A model stand-in for pages without a kernel: a fixed snapshot, no messages.
 * @param {import("./contracts.gen.js").View} view
 * @returns {Model}
 */
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

/**
 * anywidget's render hook.
 * @param {{model: Model, el: HTMLElement}} context
 */
function render({ model, el }) {
  return mount(model, el);
}

export default { render };
