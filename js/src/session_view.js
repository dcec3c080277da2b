// @ts-check
// anywidget entry of a session view (tfwidget.session.SessionView): every turn of a session plus the
// controls, all driven by one model.
//
// Traits: `_session` = {turns: [{key, turn_id, actions}], controls: {...}}; `_views` = {key: settled view}.
// Custom messages from Python: {type: "turn", key, msg} (a turn's patch / snapshot / ack) and
// {type: "ack"} (an intent of the controls). Each turn renders through the same `mount` as a lone
// TurnView, against a small per-turn model that reads its slice of the traits and tags what it sends
// with its key.
import { h } from "./dom.js";
import { mount } from "./index.js";
import { ControlsRenderer } from "./session.js";
import { guardKeys } from "./keys.js";
import { followTheme } from "./theme.js";
import { LIVE_STATUSES } from "./contracts.gen.js";

/** @type {ReadonlySet<string | undefined>} */
const LIVE = new Set(LIVE_STATUSES);

/** @typedef {import("./types.js").Model} Model */
/** @typedef {import("./types.js").SessionState} SessionState */

/**
 * A turn's model: its slice of the session view's traits, and what it sends tagged with its key. `emit`
 * hands it a change or a message for that turn.
 * @typedef {Model & {emit: (event: string, arg?: unknown, buffers?: unknown[]) => void}} TurnModel
 */

/**
 * One mounted turn: its model and element, how to unmount it, and what it was last given (the view, and
 * the actions as JSON).
 * @typedef {object} MountedTurn
 * @property {TurnModel} model
 * @property {HTMLDivElement} el
 * @property {() => void} cleanup
 * @property {unknown} view
 * @property {string} actions
 */

/**
 * @param {Model} model the session view's model
 * @param {string} key the turn's key
 * @returns {TurnModel}
 */
function turnModel(model, key) {
  /** @type {Map<string, Set<(...args: any[]) => void>>} */
  const listeners = new Map();
  return {
    get(name) {
      if (name === "_view") return (model.get("_views") || {})[key];
      if (name === "_actions") {
        const entry = (/** @type {SessionState} */ (model.get("_session") || {}).turns || []).find((t) => t.key === key);
        return entry ? entry.actions || {} : {};
      }
      return undefined;
    },
    set() {},
    save_changes() {},
    on(event, cb) {
      if (!listeners.has(event)) listeners.set(event, new Set());
      /** @type {Set<(...args: any[]) => void>} */ (listeners.get(event)).add(cb);
    },
    off(event, cb) {
      listeners.get(event)?.delete(/** @type {(...args: any[]) => void} */ (cb));
    },
    send(msg) {
      model.send({ ...msg, turn: key });
    },
    emit(event, arg, buffers) {
      for (const cb of [...(listeners.get(event) || [])]) cb(arg, buffers);
    },
  };
}

export class SessionRenderer {
  /**
   * @param {Model} model the session view's model
   * @param {HTMLElement} el
   */
  constructor(model, el) {
    this.model = model;
    this.el = el;
    /** @type {Map<string, MountedTurn>} */
    this.turns = new Map(); // key -> {model, el, cleanup, view, actions}
    this.turnsEl = h("div", { class: "tfw-session-turns" });
    this.controlsEl = h("div", { class: "tfw-session-controls" });
    this.root = h("div", { class: "tfw-session" }, this.turnsEl, this.controlsEl);
    el.replaceChildren(this.root);
    this.unguard = guardKeys(this.root);
    this.unfollow = followTheme(el);
    this.controls = new ControlsRenderer(this.controlsEl, {
      get: (name) => (name === "_controls" ? /** @type {SessionState} */ (model.get("_session") || {}).controls || {} : undefined),
      send: (msg) => model.send(msg),
      on() {},
      off() {},
    });
    this.controls.onSent = () => this.followNewest();
    // While the newest turn streams and the person's focus is in the message box (they just sent),
    // keep the end of the turn and the box in view as the turn grows.
    if (typeof ResizeObserver === "function") {
      this.resizer = new ResizeObserver(() => {
        const st = /** @type {SessionState} */ (this.model.get("_session") || {}).controls || {};
        if (document.activeElement === this.controls.input && LIVE.has(st.status)) this.revealControls();
      });
      this.resizer.observe(this.turnsEl);
    }
  }

  revealControls() {
    try {
      this.controlsEl.scrollIntoView({ block: "nearest" });
    } catch {
      // detached
    }
  }

  sync() {
    /** @type {SessionState} */
    const session = this.model.get("_session") || {};
    /** @type {Record<string, unknown>} */
    const views = this.model.get("_views") || {};
    const entries = session.turns || [];
    const keep = new Set(entries.map((t) => t.key));
    for (const [key, t] of this.turns) {
      if (!keep.has(key)) {
        t.cleanup();
        t.el.remove();
        this.turns.delete(key);
      }
    }
    let added = false;
    for (const entry of entries) {
      let t = this.turns.get(entry.key);
      const actionsJson = JSON.stringify(entry.actions || {});
      if (!t) {
        const m = turnModel(this.model, entry.key);
        const el = h("div", { class: "tfw-session-turn", dataset: { key: entry.key } });
        this.turnsEl.appendChild(el);
        t = /** @type {MountedTurn} */ ({ model: m, el, view: views[entry.key], actions: actionsJson }); // cleanup: right below
        t.cleanup = mount(m, el);
        this.turns.set(entry.key, t);
        added = true;
        continue;
      }
      if (views[entry.key] !== t.view) {
        t.view = views[entry.key];
        t.model.emit("change:_view");
      }
      if (actionsJson !== t.actions) {
        t.actions = actionsJson;
        t.model.emit("change:_actions");
      }
    }
    // keep the order of the entries (a failed turn may disappear from the middle)
    for (const entry of entries) this.turnsEl.appendChild(/** @type {MountedTurn} */ (this.turns.get(entry.key)).el);
    this.controls.actions.refresh();
    // a new turn while the person works in the box (they sent it): keep it and the box in view; never
    // scroll the page on a first render or for someone reading elsewhere
    if (added && document.activeElement === this.controls.input) this.followNewest();
  }

  /** Keep the newest turn in view (the page scrolls to it, not the message box away from it). */
  followNewest() {
    if (typeof requestAnimationFrame !== "function") return;
    const active = document.activeElement;
    const box = this.controls.input;
    // the newest turn and the message box both in view: the box stays where the user types
    requestAnimationFrame(() => {
      this.revealControls();
      if (active === box && document.activeElement !== box && !box.disabled) box.focus({ preventScroll: true });
    });
  }

  /**
   * A custom message of the session view: a turn's message (`{type: "turn", key, msg}`) or an ack of the
   * controls' intent.
   * @param {{type: "turn", key: string, msg: unknown} | import("./contracts.gen.js").Ack | null | undefined} msg
   * @param {unknown[]} [buffers]
   */
  onMessage(msg, buffers) {
    if (!msg || typeof msg !== "object") return;
    if (msg.type === "turn") {
      const t = this.turns.get(msg.key);
      if (t) t.model.emit("msg:custom", msg.msg, buffers); // (a sandbox file's bytes ride in buffers)
    } else if (msg.type === "ack") {
      this.controls.actions.ack(msg);
    }
  }

  destroy() {
    for (const t of this.turns.values()) t.cleanup();
    this.turns.clear();
    this.unguard();
    this.unfollow();
    if (this.resizer) this.resizer.disconnect();
  }
}

/**
 * Mount a session view; returns a cleanup function.
 * @param {Model} model
 * @param {HTMLElement} el
 * @returns {() => void}
 */
export function mountSession(model, el) {
  const r = new SessionRenderer(model, el);
  const onChange = () => r.sync();
  /**
   * @param {Parameters<SessionRenderer["onMessage"]>[0]} msg
   * @param {unknown[]} [buffers]
   */
  const onMsg = (msg, buffers) => r.onMessage(msg, buffers);
  model.on("change:_session", onChange);
  model.on("change:_views", onChange);
  model.on("msg:custom", onMsg);
  r.sync();
  r.controls.render();
  try {
    model.send({ type: "hello" });
  } catch {
    // no kernel
  }
  /** @type {HTMLElement & {__tfw?: object}} */ (el).__tfw = { session: r }; // for debugging and the browser tests
  return () => {
    model.off("change:_session", onChange);
    model.off("change:_views", onChange);
    model.off("msg:custom", onMsg);
    r.destroy();
  };
}
