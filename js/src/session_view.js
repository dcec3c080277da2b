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

const LIVE = new Set(LIVE_STATUSES);

function turnModel(model, key) {
  const listeners = new Map();
  return {
    get(name) {
      if (name === "_view") return (model.get("_views") || {})[key];
      if (name === "_actions") {
        const entry = ((model.get("_session") || {}).turns || []).find((t) => t.key === key);
        return entry ? entry.actions || {} : {};
      }
      return undefined;
    },
    set() {},
    save_changes() {},
    on(event, cb) {
      if (!listeners.has(event)) listeners.set(event, new Set());
      listeners.get(event).add(cb);
    },
    off(event, cb) {
      listeners.get(event)?.delete(cb);
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
  constructor(model, el) {
    this.model = model;
    this.el = el;
    this.turns = new Map(); // key -> {model, el, cleanup, view, actions}
    this.turnsEl = h("div", { class: "tfw-session-turns" });
    this.controlsEl = h("div", { class: "tfw-session-controls" });
    this.root = h("div", { class: "tfw-session" }, this.turnsEl, this.controlsEl);
    el.replaceChildren(this.root);
    this.unguard = guardKeys(this.root);
    this.unfollow = followTheme(el);
    this.controls = new ControlsRenderer(this.controlsEl, {
      get: (name) => (name === "_controls" ? (model.get("_session") || {}).controls || {} : undefined),
      send: (msg) => model.send(msg),
      on() {},
      off() {},
    });
    this.controls.onSent = () => this.followNewest();
    // While the newest turn streams and the person's focus is in the message box (they just sent),
    // keep the end of the turn and the box in view as the turn grows.
    if (typeof ResizeObserver === "function") {
      this.resizer = new ResizeObserver(() => {
        const st = (this.model.get("_session") || {}).controls || {};
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
    const session = this.model.get("_session") || {};
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
        t = { model: m, el, view: views[entry.key], actions: actionsJson };
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
    for (const entry of entries) this.turnsEl.appendChild(this.turns.get(entry.key).el);
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

/** Mount a session view; returns a cleanup function. */
export function mountSession(model, el) {
  const r = new SessionRenderer(model, el);
  const onChange = () => r.sync();
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
  el.__tfw = { session: r };
  return () => {
    model.off("change:_session", onChange);
    model.off("change:_views", onChange);
    model.off("msg:custom", onMsg);
    r.destroy();
  };
}
