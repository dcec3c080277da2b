// @ts-check
// Keep the focus (and the caret) in a view's text entry across a re-render that replaces it: a pause
// card's reason or answer box is rebuilt when a snapshot arrives, and the person keeps typing.

/**
 * @param {Element} el
 * @param {Element} root
 * @returns {string | null}
 */
function selectorFor(el, root) {
  const row = /** @type {HTMLElement | null} */ (el.closest("[data-call]"));
  const cls = [...el.classList].find((c) => c.startsWith("tfw-"));
  if (!cls || !root.contains(el)) return null;
  if (row) return `[data-call="${CSS.escape(/** @type {string} */ (row.dataset.call))}"] .${CSS.escape(cls)}`;
  return `.${CSS.escape(cls)}`;
}

/**
 * Where the focus was: the element, a selector that finds its replacement, and the caret.
 * @typedef {object} SavedFocus
 * @property {Element} el
 * @property {string} selector
 * @property {number | null} start
 * @property {number | null} end
 */

/**
 * What has the focus inside `root` (a text entry), to find it again after a re-render.
 * @param {Element | null | undefined} root
 * @returns {SavedFocus | null}
 */
export function saveFocus(root) {
  if (typeof document === "undefined") return null;
  const el = document.activeElement;
  if (!el || !root || !root.contains(el) || !/^(INPUT|TEXTAREA)$/.test(el.tagName)) return null;
  const selector = selectorFor(el, root);
  if (!selector) return null;
  const input = /** @type {HTMLInputElement | HTMLTextAreaElement} */ (el);
  return { el, selector, start: input.selectionStart, end: input.selectionEnd };
}

/**
 * Put the focus back where `saved` says, when the element was replaced.
 * @param {Element} root
 * @param {SavedFocus | null} saved
 */
export function restoreFocus(root, saved) {
  if (!saved || document.activeElement === saved.el) return;
  const el = /** @type {HTMLInputElement | HTMLTextAreaElement | null} */ (root.querySelector(saved.selector));
  if (!el || el.disabled || document.activeElement === el) return;
  el.focus({ preventScroll: true });
  try {
    if (saved.start != null) el.setSelectionRange(saved.start, saved.end);
  } catch {
    // not a text input
  }
}
