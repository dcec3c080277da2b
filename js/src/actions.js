// @ts-check
// Interactive pauses for a session view: Approve / Deny, answers, sign-in + Continue.
//
// The front end never calls the gateway. A click becomes an *intent*, a custom message
// {type: "intent", id, action, ...} that Python acts on; Python answers {type: "ack", id, ok, error}
// and reflects the outcome in the `_actions` trait (of a TurnView) or `_controls` (of the controls).
// While an intent waits for its ack, every action button of the view is disabled, so double clicks
// and clicks during a request send nothing more (Python also drops repeated intent ids).
import { h, link } from "./dom.js";

/** An ack's answer (Python's, or one the view makes up when none came). @typedef {Pick<import("./contracts.gen.js").Ack, "id" | "ok" | "error">} AckResult */
/** @typedef {import("./contracts.gen.js").PauseView} PauseView */
/** @typedef {import("./contracts.gen.js").TurnActions} TurnActions */

/**
 * The fields of an intent besides its type and id (`{action, call_id, ...}`; see contracts.gen.js `Intent`).
 * The reason of a deny is null when none was typed; `call_id` is a pause's tool call id (null when it has none).
 * Python checks each intent against the contract and acks one that does not fit with an error, doing nothing.
 * @typedef {Omit<import("./contracts.gen.js").Intent, "type" | "id">} IntentFields
 */

/** What a person typed for one tool call. @typedef {{reason: string, text: string}} Draft */

const ACK_TIMEOUT_MS = 15000;

let counter = 0;

/**
 * A unique intent id (crypto.randomUUID where available).
 * @returns {string}
 */
export function intentId() {
  counter += 1;
  const rnd =
    typeof crypto !== "undefined" && typeof crypto.randomUUID === "function"
      ? crypto.randomUUID()
      : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  return `${rnd}-${counter}`;
}

/**
 * The action state of one rendered view: `S` is the trait's shape (a turn's `_actions`, or the controls'
 * state of a session view).
 * @template {{busy?: unknown}} [S=TurnActions]
 */
export class Actions {
  /**
   * @param {Pick<import("./types.js").Model, "get" | "send">} model anywidget model (send)
   * @param {() => void} onChange called when buttons must be re-rendered (in flight / ack / trait change)
   * @param {string} [trait] the trait with the state
   */
  constructor(model, onChange, trait = "_actions") {
    this.model = model;
    this.onChange = onChange;
    this.trait = trait;
    /** @type {S} */
    this.state = model.get(trait) || {};
    /** @type {Map<string, {timer: ReturnType<typeof setTimeout>, onAck: ((ack: AckResult) => void) | undefined}>} */
    this.inflight = new Map(); // intent id -> {timer, onAck}
    /** @type {Map<string | null, Draft>} */
    this.drafts = new Map(); // call id -> {reason, text}: what the user typed survives re-renders
    /** @type {string | null} */
    this.lastError = null;
  }

  get busy() {
    return this.inflight.size > 0 || !!this.state.busy;
  }

  refresh() {
    this.state = this.model.get(this.trait) || {};
    this.onChange();
  }

  /**
   * Send one intent unless another is in flight. Returns its id, or null when nothing was sent.
   * @param {IntentFields} fields
   * @param {(ack: AckResult) => void} [onAck]
   * @returns {string | null}
   */
  send(fields, onAck) {
    if (this.inflight.size > 0) return null;
    const id = intentId();
    const timer = setTimeout(() => this.ack({ id, ok: false, error: "no answer from the kernel" }), ACK_TIMEOUT_MS);
    this.inflight.set(id, { timer, onAck });
    try {
      this.model.send({ type: "intent", id, ...fields });
    } catch (err) {
      this.ack({ id, ok: false, error: String(err) });
      return null;
    }
    this.onChange();
    return id;
  }

  /**
   * Handle {type: "ack", id, ok, error} from Python.
   * @param {AckResult} msg
   * @returns {boolean}
   */
  ack(msg) {
    const entry = this.inflight.get(msg.id);
    if (!entry) return false;
    clearTimeout(entry.timer);
    this.inflight.delete(msg.id);
    this.lastError = msg.ok ? null : msg.error || null;
    if (entry.onAck) entry.onAck(msg);
    this.onChange();
    return true;
  }

  /**
   * What was typed for tool call `callId` (kept across re-renders).
   * @param {string | null} callId
   * @returns {Draft}
   */
  draft(callId) {
    if (!this.drafts.has(callId)) this.drafts.set(callId, { reason: "", text: "" });
    return /** @type {Draft} */ (this.drafts.get(callId));
  }
}

/** @param {HTMLElement} el */
function disableAll(el) {
  const card = /** @type {ParentNode | null} */ (el.closest(".tfw-pause") || el.parentNode);
  if (card) for (const b of card.querySelectorAll(/** @type {"button" | "input"} */ ("button, input"))) b.disabled = true;
}

/**
 * @param {string} label
 * @param {string} cls
 * @param {boolean} disabled
 * @param {() => void} onClick
 * @param {string} [title]
 */
function button(label, cls, disabled, onClick, title) {
  return h("button", {
    class: `tfw-btn ${cls}`,
    text: label,
    title,
    attrs: { type: "button", disabled },
    on: {
      click: (ev) => {
        ev.preventDefault();
        if (/** @type {HTMLButtonElement} */ (ev.currentTarget).disabled) return;
        disableAll(/** @type {HTMLButtonElement} */ (ev.currentTarget)); // at once: a second click of a double click finds it disabled
        onClick();
      },
    },
  });
}

/**
 * The words of a question's option: a string, or an object's label or value.
 * @param {{label?: unknown, value?: unknown} | string | number | boolean | null | undefined} o
 * @returns {string}
 */
function optionLabel(o) {
  if (typeof o === "string") return o;
  if (o && typeof o === "object") return String(o.label ?? o.value ?? JSON.stringify(o));
  return String(o);
}

/**
 * @param {import("./contracts.gen.js").PendingDecision | null | undefined} d
 * @returns {string}
 */
function decisionText(d) {
  if (!d) return "";
  if (d.kind === "approval") return d.status === "allow" ? "Approve" : `Deny${d.reason ? `: ${d.reason}` : ""}`;
  return `Answer: ${d.text ?? ""}`;
}

/**
 * The action row under one pause card, or null when the view is not interactive.
 * @param {PauseView} p
 * @param {Actions<TurnActions>} actions
 * @returns {HTMLElement | null}
 */
export function pauseControls(p, actions) {
  const st = actions.state || {};
  const decisions = st.decisions || {};
  const enabled = !!st.enabled && p.pending !== false;
  const callId = p.tool_call_id;
  const decided = callId ? decisions[callId] : null;
  if (!enabled && !decided) return null;
  const disabled = !enabled || actions.busy;
  const row = h("div", { class: "tfw-pause-actions", dataset: { call: callId || "" } });

  if (decided) {
    const where = st.sent ? "sent" : enabled ? (st.busy ? "sending…" : "collected, sent with the other answers") : "";
    row.classList.add("tfw-decided");
    row.dataset.decision = decided.kind === "approval" ? decided.status : "answer";
    row.appendChild(h("span", { class: "tfw-decision", text: decisionText(decided) }));
    if (where) row.appendChild(h("span", { class: "tfw-decision-state", text: where }));
    if (enabled && !st.sent) {
      row.appendChild(button("Change", "tfw-btn-link tfw-clear", disabled, () => actions.send({ action: "clear", call_id: callId })));
    }
    return row;
  }

  if (p.kind === "approval") {
    const draft = actions.draft(callId);
    const reason = h("input", {
      class: "tfw-reason",
      attrs: { type: "text", placeholder: "reason (optional, for Deny)", disabled, value: draft.reason },
      on: {
        input: (ev) => (draft.reason = /** @type {HTMLInputElement} */ (ev.target).value),
        keydown: (ev) => {
          // Enter in the reason box submits the deny
          if (ev.key === "Enter" && !ev.isComposing) {
            ev.preventDefault();
            if (!actions.busy && !(/** @type {HTMLInputElement} */ (ev.currentTarget).disabled)) {
              disableAll(/** @type {HTMLInputElement} */ (ev.currentTarget));
              actions.send({ action: "deny", call_id: callId, reason: draft.reason || null });
            }
          }
        },
      },
    });
    reason.value = draft.reason;
    row.append(
      button("Approve", "tfw-btn-primary tfw-approve", disabled, () => actions.send({ action: "approve", call_id: callId })),
      button("Deny", "tfw-deny", disabled, () => actions.send({ action: "deny", call_id: callId, reason: draft.reason || null })),
      reason,
    );
    return row;
  }

  if (p.kind === "question") {
    const draft = actions.draft(callId);
    const options = Array.isArray(p.options) ? p.options : [];
    const submit = () => {
      const text = draft.text.trim();
      if (text) actions.send({ action: "answer", call_id: callId, text });
    };
    const input = h("input", {
      class: "tfw-answer-input",
      attrs: { type: "text", placeholder: options.length ? "or type an answer" : "your answer", disabled },
      on: {
        input: (ev) => (draft.text = /** @type {HTMLInputElement} */ (ev.target).value),
        keydown: (ev) => {
          if (ev.key === "Enter" && !ev.isComposing) {
            ev.preventDefault();
            if (!actions.busy) submit();
          }
        },
      },
    });
    input.value = draft.text;
    const opts = options.map((o) => {
      const label = optionLabel(o);
      return button(label, "tfw-option", disabled, () => actions.send({ action: "answer", call_id: callId, text: label }));
    });
    row.append(...opts, input, button("Answer", "tfw-btn-primary tfw-answer", disabled, submit));
    return row;
  }

  if (p.kind === "mcp_auth") {
    const servers = Array.isArray(p.servers) ? p.servers : [];
    row.append(
      ...servers.map((s) => h("span", { class: "tfw-signin" }, link(s.auth_url, `Sign in to ${s.name || s.id || "server"}`))),
      button("Continue", "tfw-btn-primary tfw-continue", disabled, () => actions.send({ action: "resume" }), "after signing in: resume the turn"),
    );
    return row;
  }
  return null;
}
