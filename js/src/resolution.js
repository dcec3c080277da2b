// @ts-check
// How a paused turn was answered, as a session view shows it. Python computes the resolutions once
// (tfwidget/resolution.py) and sends them in the turn's action state:
//   actions.resolutions = {call_id: {decision: "approved"|"denied"|"answered", reason, text, label}}
//   actions.resolved = true when the next turn answered this paused turn
//   actions.input_labels = ["Approved process_refund", ...] for a resume turn's input items
import { h } from "./dom.js";

/** What these read of a turn's action state (an `Actions`). @typedef {{state?: import("./contracts.gen.js").TurnActions | null} | null | undefined} ActionsLike */

/** @type {Record<string, string>} */
export const DECISION_TITLES = { approved: "Approved", denied: "Denied", answered: "Answered" };

/**
 * The resolution of tool call `callId` in `actions` (a turn's action state), or null.
 * @param {ActionsLike} actions
 * @param {string | null | undefined} callId
 * @returns {import("./contracts.gen.js").ResolutionView | null}
 */
export function resolutionOf(actions, callId) {
  const all = actions && actions.state && actions.state.resolutions;
  return (callId && all && all[callId]) || null;
}

/**
 * Whether the turn was paused and has been answered by the next turn.
 * @param {ActionsLike} actions
 * @returns {boolean}
 */
export function isResolved(actions) {
  return !!(actions && actions.state && actions.state.resolved);
}

/**
 * The words for input item `i` of a resume turn (what a person did), or null.
 * @param {ActionsLike} actions
 * @param {number} i
 * @returns {string | null}
 */
export function inputLabel(actions, i) {
  const labels = actions && actions.state && actions.state.input_labels;
  return Array.isArray(labels) && typeof labels[i] === "string" ? labels[i] : null;
}

/**
 * A pause card that reads as resolved: what was decided, with the reason or answer.
 * @param {import("./contracts.gen.js").PauseView} p
 * @param {import("./contracts.gen.js").ResolutionView} res
 * @param {string} name the tool's name
 * @returns {HTMLElement}
 */
export function resolvedCard(p, res, name) {
  const title = DECISION_TITLES[res.decision] || "Resolved";
  let text;
  if (res.decision === "answered") text = [`answered: `, h("span", { class: "tfw-resolution-text", text: res.text ?? "" })];
  else if (res.decision === "denied") text = [h("code", { text: name }), res.reason ? ` was denied: ${res.reason}` : " was denied"];
  else text = [h("code", { text: name }), " was approved"];
  const parts = res.decision === "answered" ? [p.question ? h("div", { class: "tfw-pause-question-text", text: p.question }) : null] : [];
  return h(
    "div",
    {
      class: `tfw-pause tfw-pause-${p.kind === "question" ? "question" : p.kind === "approval" ? "approval" : "auth"} tfw-pause-resolved tfw-resolution-${res.decision}`,
      dataset: { id: p.id, decision: res.decision },
      title: res.label,
    },
    h("div", { class: "tfw-pause-title", text: title }),
    ...parts,
    h("div", { class: "tfw-pause-text" }, ...text),
  );
}
