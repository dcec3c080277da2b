// @ts-check
// The controls under a session view: the message box, Send / Cancel / Resume and the notices.
// State comes from the session view's `_session.controls`; clicks become intents (see actions.js).
import { h, replaceChildren } from "./dom.js";
import { Actions } from "./actions.js";

/** @typedef {import("./types.js").ControlsState} ControlsState */

export class ControlsRenderer {
  /**
   * @param {HTMLElement} el
   * @param {Pick<import("./types.js").Model, "get" | "send" | "on" | "off">} model the session view's model (its `_controls` is the controls' state)
   */
  constructor(el, model) {
    this.el = el;
    this.model = model;
    /** @type {Actions<ControlsState>} */
    this.actions = new Actions(model, () => this.render(), "_controls");
    /** @type {(() => void) | null} called after a message was sent */
    this.onSent = null;
    this.build();
  }

  build() {
    /** @type {HTMLDivElement} */
    this.statusEl = h("div", { class: "tfw-composer-status" });
    /** @type {HTMLTextAreaElement} */
    this.input = h("textarea", {
      class: "tfw-composer-input",
      attrs: { rows: 2, placeholder: "Message the agent (Enter to send, Shift+Enter for a new line)" },
      on: {
        keydown: (ev) => {
          if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
            ev.preventDefault();
            this.sendMessage();
          }
        },
        input: () => this.renderButtons(),
      },
    });
    /** @type {HTMLButtonElement} */
    this.sendBtn = this.button("Send", "tfw-btn-primary tfw-send", () => this.sendMessage());
    /** @type {HTMLButtonElement} */
    this.cancelBtn = this.button("Cancel", "tfw-cancel", () => this.actions.send({ action: "cancel" }));
    /** @type {HTMLButtonElement} */
    this.resumeBtn = this.button("Resume", "tfw-resume", () => this.actions.send({ action: "resume" }));
    /** @type {HTMLDivElement} */
    this.noticesEl = h("div", { class: "tfw-footer tfw-composer-notices" });
    /** @type {HTMLDivElement} */
    this.root = h(
      "div",
      { class: "tfw-root tfw-controls" },
      this.statusEl,
      h("div", { class: "tfw-composer" }, this.input, h("div", { class: "tfw-composer-buttons" }, this.sendBtn, this.cancelBtn, this.resumeBtn)),
      this.noticesEl,
    );
    replaceChildren(this.el, this.root);
  }

  /**
   * @param {string} label
   * @param {string} cls
   * @param {() => void} onClick
   * @returns {HTMLButtonElement}
   */
  button(label, cls, onClick) {
    return h("button", {
      class: `tfw-btn ${cls}`,
      text: label,
      attrs: { type: "button" },
      on: {
        click: (ev) => {
          ev.preventDefault();
          if (/** @type {HTMLButtonElement} */ (ev.currentTarget).disabled) return;
          /** @type {HTMLButtonElement} */ (ev.currentTarget).disabled = true; // a double click's second click finds it disabled
          onClick();
        },
      },
    });
  }

  /** @returns {ControlsState} */
  get state() {
    return this.actions.state || {};
  }

  sendMessage() {
    const text = this.input.value;
    if (!text.trim() || !this.state.can_send || this.actions.busy) return;
    const hadFocus = document.activeElement === this.input;
    this.actions.send({ action: "send", text }, (ack) => {
      if (ack.ok && this.input.value === text) this.input.value = "";
      this.renderButtons();
      if (hadFocus && !this.input.disabled) this.input.focus({ preventScroll: true });
    });
    if (hadFocus) this.input.focus({ preventScroll: true });
    if (this.onSent) this.onSent();
  }

  renderButtons() {
    const st = this.state;
    const busy = this.actions.busy;
    const waiting = (Array.isArray(st.pending) && st.pending.length > 0) || !!st.can_resume;
    // the protocol takes no message while a turn waits on actions; while a request is in flight the box
    // is only read-only, so it keeps the focus (a disabled element drops it)
    this.input.disabled = waiting;
    this.input.readOnly = busy;
    this.sendBtn.disabled = busy || !st.can_send || !this.input.value.trim();
    this.cancelBtn.hidden = !st.can_cancel && st.busy !== "cancel";
    this.cancelBtn.disabled = busy || !st.can_cancel;
    this.resumeBtn.hidden = !st.can_resume;
    this.resumeBtn.disabled = busy || !st.can_resume;
  }

  render() {
    const st = this.state;
    this.root.dataset.status = st.status || "empty";
    this.root.dataset.busy = st.busy || "";
    const bits = [];
    if (st.session_id) bits.push(h("span", { class: "tfw-turn-id", text: `session ${st.session_id}` }));
    if (st.agent_name) bits.push(h("span", { class: "tfw-chip", text: st.agent_name, title: "agent" }));
    bits.push(h("span", { class: "tfw-composer-turns", text: `${st.turns || 0} turn${st.turns === 1 ? "" : "s"}` }));
    bits.push(h("span", { class: "tfw-spacer" }));
    const pending = Array.isArray(st.pending) ? st.pending : [];
    /** @type {string | null} */
    let what = null;
    if (st.busy === "send") what = "sending…";
    else if (st.busy === "resume") what = "resuming…";
    else if (st.busy === "cancel") what = "cancelling…";
    else if (pending.length) {
      const decided = st.decided ? ` (${st.decided} decided)` : "";
      what = `waiting for ${pending.length} action${pending.length === 1 ? "" : "s"}${decided}: ${pending.join("; ")}`;
    } else if (st.can_resume) what = "every action decided: resume to send them";
    if (what) bits.push(h("span", { class: "tfw-composer-what", text: what, title: what }));
    replaceChildren(this.statusEl, ...bits);
    this.renderButtons();
    const notices = (Array.isArray(st.notices) ? st.notices : []).slice(-5);
    replaceChildren(
      this.noticesEl,
      ...notices.map((n) => h("div", { class: `tfw-notice tfw-notice-${n.level || "info"}`, text: n.text ?? "" })),
    );
  }
}
