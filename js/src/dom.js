// @ts-check
// Small DOM helpers. Everything here sets text with textContent: untrusted text never becomes HTML.

/**
 * What `h` sets on a new element. `attrs` values: null / undefined / false leave the attribute out, true
 * sets it empty, anything else is set as its string.
 * @typedef {object} Props
 * @property {string} [class]
 * @property {string | number | null} [text]
 * @property {string | number | null} [title]
 * @property {Record<string, unknown>} [attrs]
 * @property {Record<string, unknown>} [dataset]
 * @property {{[K in keyof HTMLElementEventMap]?: (ev: HTMLElementEventMap[K]) => void}} [on]
 */

/** A child for `h` / `replaceChildren`: a node, a string (a text node) or nothing (skipped). @typedef {Node | string | null | undefined | false} Child */

/**
 * Create an element. `props` keys: class, text, title, attrs (object), dataset (object), on (object of
 * event handlers). Children may be nodes, strings (text nodes) or null/false (skipped).
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Props} [props]
 * @param {...Child} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  if (props.class) el.className = props.class;
  if (props.text != null) el.textContent = String(props.text);
  if (props.title != null) el.title = String(props.title);
  for (const [k, v] of Object.entries(props.attrs || {})) {
    if (v != null && v !== false) el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const [k, v] of Object.entries(props.dataset || {})) el.dataset[k] = String(v);
  for (const [k, v] of Object.entries(props.on || {})) el.addEventListener(k, /** @type {EventListener} */ (v));
  for (const child of children) {
    if (child == null || child === false) continue;
    el.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";

/**
 * Create an SVG element with attributes (null / undefined values are left out).
 * @param {string} tag
 * @param {Record<string, unknown>} [attrs]
 * @param {...(Node | string | null | undefined)} children
 * @returns {SVGElement}
 */
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v != null) el.setAttribute(k, String(v));
  }
  for (const child of children) {
    if (child == null) continue;
    el.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return el;
}

/**
 * Replace all children of `el`.
 * @param {Element} el
 * @param {...Child} children
 */
export function replaceChildren(el, ...children) {
  el.textContent = "";
  for (const child of children) {
    if (child == null || child === false) continue;
    el.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
  }
}

/**
 * Make `target` look like `source` (same tag), reusing the nodes it has: attributes are set where they
 * differ, children of the same kind are updated in place (recursively), others are moved over from
 * `source` or removed: a markdown paragraph that grew by a few words is appended to, not laid out anew.
 * For markup without event listeners (the listeners of `source`'s nodes are kept only where a node is moved
 * over).
 * @param {Element} target
 * @param {Element} source
 */
export function morph(target, source) {
  for (const { name } of [...target.attributes]) if (!source.hasAttribute(name)) target.removeAttribute(name);
  for (const { name, value } of [...source.attributes]) if (target.getAttribute(name) !== value) target.setAttribute(name, value);
  let t = target.firstChild;
  let s = source.firstChild;
  while (s) {
    const next = s.nextSibling;
    if (t && t.nodeType === s.nodeType && t.nodeName === s.nodeName) {
      if (t.nodeType === 1) morph(/** @type {Element} */ (t), /** @type {Element} */ (s));
      else if (t.nodeValue !== s.nodeValue) {
        const was = t.nodeValue || "";
        const text = s.nodeValue || "";
        // grown text is appended: the layout engine keeps the shaping of what was there
        if (t.nodeType === 3 && was && text.startsWith(was)) /** @type {Text} */ (t).appendData(text.slice(was.length));
        else t.nodeValue = text;
      }
      t = t.nextSibling;
    } else {
      target.insertBefore(s, t);
    }
    s = next;
  }
  while (t) {
    const next = t.nextSibling;
    target.removeChild(t);
    t = next;
  }
}

/**
 * Only http(s) links are allowed out of untrusted data (e.g. MCP sign-in URLs).
 * @param {unknown} url
 * @returns {string | null}
 */
export function safeHref(url) {
  if (typeof url !== "string") return null;
  try {
    const parsed = new URL(url.trim());
    return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
  } catch {
    return null;
  }
}

/**
 * An external link with the attributes every link out of the widget gets.
 * @param {unknown} url
 * @param {string} [text]
 * @returns {HTMLElement}
 */
export function link(url, text) {
  const href = safeHref(url);
  if (!href) return h("span", { class: "tfw-badlink", text: text || String(url ?? "") });
  return h("a", { text: text || href, attrs: { href, target: "_blank", rel: "noopener noreferrer" } });
}
