// @ts-check
// Which theme the host page shows, so the widget's colors follow it: JupyterLab's
// (body[data-jp-theme-light]), VS Code's (body.vscode-dark / vscode-high-contrast), marimo's (.dark or
// .dark-theme on the document, or its light theme when marimo hosts us), and `prefers-color-scheme` as
// the last fallback. The answer goes on the widget's element as data-tfw-theme="light|dark" (see
// host.css) and is kept current when the host switches themes.

/**
 * @param {Element | null | undefined} el
 * @param {...string} names
 */
function hasClass(el, ...names) {
  return !!el && !!el.classList && names.some((n) => el.classList.contains(n));
}

/**
 * The element hosting `el` across shadow roots (marimo renders widgets in one).
 * @param {Node | null | undefined} el
 * @returns {Element | null}
 */
function shadowHost(el) {
  const root = el && typeof el.getRootNode === "function" ? /** @type {Node & {host?: Element}} */ (el.getRootNode()) : null;
  return root && root.host ? root.host : null;
}

/**
 * "dark" or "light" for the page around `el`.
 * @param {Node | null | undefined} el
 * @returns {"dark" | "light"}
 */
export function detectTheme(el) {
  if (typeof document === "undefined") return "light";
  const html = document.documentElement;
  const body = document.body;
  const jp = body && body.dataset ? body.dataset.jpThemeLight : undefined;
  if (jp === "true") return "light";
  if (jp === "false") return "dark";
  if (hasClass(body, "vscode-dark", "vscode-high-contrast")) return "dark";
  if (hasClass(body, "vscode-light")) return "light";
  for (const node of [html, body]) {
    if (hasClass(node, "dark", "dark-theme")) return "dark";
    const attr = node && node.getAttribute ? node.getAttribute("data-theme") : null;
    if (attr === "dark" || attr === "light") return attr;
  }
  // inside marimo (or another page with an explicit light theme), no dark marker means light
  const host = shadowHost(el);
  if ((host && /^MARIMO-/i.test(host.tagName)) || hasClass(html, "light", "light-theme") || hasClass(body, "light", "light-theme")) {
    return "light";
  }
  if (typeof matchMedia === "function" && matchMedia("(prefers-color-scheme: dark)").matches) return "dark";
  return "light";
}

/**
 * Keep `el.dataset.tfwTheme` in step with the host's theme. Returns a cleanup function.
 * @param {HTMLElement | null | undefined} el
 * @returns {() => void}
 */
export function followTheme(el) {
  if (!el || !el.dataset || typeof document === "undefined") return () => {};
  const apply = () => {
    const theme = detectTheme(el);
    if (el.dataset.tfwTheme !== theme) el.dataset.tfwTheme = theme;
  };
  apply();
  /** @type {(() => void)[]} */
  const cleanups = [];
  if (typeof MutationObserver === "function") {
    const obs = new MutationObserver(apply);
    const opts = { attributes: true, attributeFilter: ["class", "data-theme", "data-jp-theme-light"] };
    obs.observe(document.documentElement, opts);
    if (document.body) obs.observe(document.body, opts);
    cleanups.push(() => obs.disconnect());
  }
  if (typeof matchMedia === "function") {
    const mq = matchMedia("(prefers-color-scheme: dark)");
    if (typeof mq.addEventListener === "function") {
      mq.addEventListener("change", apply);
      cleanups.push(() => mq.removeEventListener("change", apply));
    }
  }
  // marimo may mount us before the shadow root is attached: look again once we are in the page
  if (typeof requestAnimationFrame === "function") requestAnimationFrame(apply);
  return () => cleanups.forEach((c) => c());
}
