// @ts-check
// Keys typed into a tfwidget input belong to that input. JupyterLab and Notebook 7 act on keydown
// events that bubble out of a cell's output (Shift+Enter runs the cell; letters in command mode edit
// the notebook), so key events from our inputs stop at the widget's root. Lumino also skips shortcuts
// for elements marked `data-lm-suppress-shortcuts`.

const KEY_EVENTS = ["keydown", "keypress", "keyup"];

/**
 * Whether `el` takes typed text (an input, a textarea, a select or editable content).
 * @param {{tagName?: string, isContentEditable?: boolean} | null | undefined} el
 * @returns {boolean}
 */
export function isTextEntry(el) {
  if (!el || typeof el !== "object" || !el.tagName) return false;
  const tag = el.tagName.toLowerCase();
  return tag === "input" || tag === "textarea" || tag === "select" || !!el.isContentEditable;
}

/**
 * Keep key events from text entries inside `root` away from the host page. Returns a cleanup function.
 * @param {HTMLElement | null | undefined} root
 * @returns {() => void}
 */
export function guardKeys(root) {
  if (!root || typeof root.addEventListener !== "function") return () => {};
  if (root.dataset) root.dataset.lmSuppressShortcuts = "true";
  const stop = (/** @type {Event} */ ev) => {
    if (isTextEntry(/** @type {Element | null} */ (ev.target))) ev.stopPropagation();
  };
  for (const type of KEY_EVENTS) root.addEventListener(type, stop);
  return () => {
    for (const type of KEY_EVENTS) root.removeEventListener(type, stop);
  };
}
