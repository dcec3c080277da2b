// @ts-check
// Remote media in untrusted model and tool output. An <img>, <video poster>, <audio src> or srcset that
// points at another host is a tracking and exfiltration channel (the fetch happens with no click, and
// video/audio send the page's origin as Referer), so remote media is not loaded unless the person asks:
// each blocked element keeps its URLs in data attributes and gets a placeholder naming the host, with a
// "load images" button. The choice is per view and remembered for that view (the `remote_media` trait of
// the widget, also settable from Python). data: URIs of image types render as before.

import { h } from "./dom.js";

/** Attributes that make the browser fetch something, and the elements they do it on. */
const URL_ATTRS = ["src", "srcset", "poster", "background"];
const MEDIA_TAGS = new Set(["IMG", "VIDEO", "AUDIO", "SOURCE", "TRACK", "PICTURE"]);
const DATA_IMAGE = /^data:image\/(png|gif|jpeg|webp|avif|bmp);/i;
const HTTP = /^https?:\/\//i;

/** The policy the sanitizer hook reads while one piece of markdown is sanitized (see `sanitizing`). */
/** @type {MediaPolicy | null} */
let current = null;

/**
 * Per-view choice about remote media. `connect(model)` ties it to a widget model's `remote_media` trait;
 * without a model (an exported page) the choice lives as long as the page.
 */
export class MediaPolicy {
  constructor() {
    this.allowed = false;
    /** @type {Set<Element>} */
    this.containers = new Set();
    /** @type {import("./types.js").Model | null} */
    this.model = null;
    this.onChange = () => {
      if (this.model && this.model.get("remote_media")) this.allow({ sync: false });
    };
  }

  /** @param {import("./types.js").Model} model */
  connect(model) {
    this.model = model;
    let on = false;
    try {
      on = !!model.get("remote_media");
      model.on("change:remote_media", this.onChange);
    } catch {
      // a model without that trait: blocked until the person allows it
    }
    if (on) this.allow({ sync: false });
  }

  disconnect() {
    try {
      if (this.model) this.model.off("change:remote_media", this.onChange);
    } catch {
      // nothing to undo
    }
    this.model = null;
  }

  /** Load remote media in this view from now on, and restore what was blocked so far. */
  allow({ sync = true } = {}) {
    const first = !this.allowed;
    this.allowed = true;
    if (sync && this.model) {
      try {
        this.model.set("remote_media", true);
        this.model.save_changes();
      } catch {
        // no kernel: remembered for this page only
      }
    }
    if (first || !sync) for (const c of this.containers) restoreMedia(c);
  }

  /**
   * A container whose blocked media should come back when the person allows it.
   * @param {Element} container
   */
  track(container) {
    this.containers.add(container);
  }
}

/**
 * Run `fn` (a sanitize call) with `policy` deciding about remote media.
 * @template T
 * @param {MediaPolicy | null} policy
 * @param {() => T} fn
 * @returns {T}
 */
export function sanitizing(policy, fn) {
  const previous = current;
  current = policy;
  try {
    return fn();
  } finally {
    current = previous;
  }
}

/**
 * @param {string} url
 * @returns {string}
 */
function hostOf(url) {
  try {
    return new URL(url).host || url;
  } catch {
    return url;
  }
}

/**
 * The URLs of a `srcset` value (candidates are "url [descriptor]" separated by commas).
 * @param {string} value
 * @returns {string[]}
 */
function srcsetUrls(value) {
  return value
    .split(/,(?=\s|$)|,(?=[a-z]+:)/i)
    .map((c) => c.trim().split(/\s+/)[0])
    .filter(Boolean);
}

/**
 * DOMPurify `afterSanitizeAttributes` hook: decide about every fetching attribute of `node`. Local
 * images (data:image/...) stay; absolute http(s) URLs are loaded when the view allows remote media and
 * are otherwise parked in `data-tfw-<attr>` for a placeholder; anything else (relative URLs that would
 * hit the notebook server, other schemes) is removed.
 * @param {Element} node
 */
export function guardMediaNode(node) {
  if (!node || !node.getAttribute) return;
  const allowed = !!(current && current.allowed);
  let blocked = false;
  const hosts = [];
  for (const attr of URL_ATTRS) {
    if (!node.hasAttribute(attr)) continue;
    const value = (node.getAttribute(attr) || "").trim();
    const urls = attr === "srcset" ? srcsetUrls(value) : [value];
    const local = urls.every((u) => DATA_IMAGE.test(u)) && (MEDIA_TAGS.has(node.tagName) || attr === "poster");
    if (local && urls.length) continue;
    const remote = urls.length > 0 && urls.every((u) => HTTP.test(u) || DATA_IMAGE.test(u));
    node.removeAttribute(attr);
    if (!remote || attr === "background") continue; // never fetched
    if (allowed) {
      node.setAttribute(attr, value);
    } else {
      node.setAttribute(`data-tfw-${attr}`, value);
      blocked = true;
      for (const u of urls) if (HTTP.test(u)) hosts.push(hostOf(u));
    }
  }
  if (MEDIA_TAGS.has(node.tagName)) {
    node.removeAttribute("autoplay");
    if (node.tagName === "VIDEO" || node.tagName === "AUDIO") node.setAttribute("preload", "none");
    if (node.tagName === "IMG") node.setAttribute("referrerpolicy", "no-referrer");
  }
  if (blocked) {
    node.setAttribute("data-tfw-blocked", [...new Set(hosts)].join(" "));
  }
}

/** @type {Record<string, string>} */
const KIND = { IMG: "image", VIDEO: "video", AUDIO: "audio", SOURCE: "media", TRACK: "media", PICTURE: "image" };

/**
 * After sanitized HTML was put into `container`: give every blocked element a placeholder naming its
 * host(s) with a "load images" button (or load them at once when the policy allows remote media).
 * @param {Element} container
 * @param {MediaPolicy | null | undefined} policy
 */
export function decorateMedia(container, policy) {
  if (!container.querySelector("[data-tfw-blocked]")) return;
  if (policy) policy.track(container);
  if (policy && policy.allowed) {
    restoreMedia(container);
    return;
  }
  for (const el of /** @type {NodeListOf<HTMLElement>} */ (container.querySelectorAll("[data-tfw-blocked]"))) {
    // <source>/<track> sit inside their <video>/<audio>/<picture>: one placeholder for the parent
    const owner = el.tagName === "SOURCE" || el.tagName === "TRACK" ? el.parentElement || el : el;
    const prev = /** @type {HTMLElement | null} */ (owner.previousElementSibling);
    if (prev && prev.classList.contains("tfw-media-blocked")) {
      // a placeholder made below: it has its hosts and a .tfw-media-host; `el` matched [data-tfw-blocked]
      prev.dataset.hosts = [...new Set([.../** @type {string} */ (prev.dataset.hosts).split(" "), .../** @type {string} */ (el.dataset.tfwBlocked).split(" ")])]
        .filter(Boolean)
        .join(" ");
      /** @type {HTMLElement} */ (prev.querySelector(".tfw-media-host")).textContent = prev.dataset.hosts;
      continue;
    }
    const kind = KIND[owner.tagName] || KIND[el.tagName] || "media";
    const alt = owner.getAttribute && owner.getAttribute("alt");
    const button = h("button", {
      class: "tfw-media-load",
      text: "load images",
      title: "load remote images, video and audio in this view (the remote server sees your address)",
      attrs: { type: "button" },
    });
    button.addEventListener("click", (ev) => {
      ev.preventDefault();
      ev.stopPropagation();
      if (policy) policy.allow();
      else restoreMedia(container);
    });
    const ph = h(
      "span",
      { class: "tfw-media-blocked", dataset: { hosts: el.dataset.tfwBlocked }, attrs: { role: "note" } },
      h("span", { text: `${kind} from ` }),
      h("span", { class: "tfw-media-host", text: el.dataset.tfwBlocked || "a remote server" }),
      alt ? h("span", { class: "tfw-media-alt", text: ` (${alt})` }) : null,
      " not loaded ",
      button,
    );
    Object.assign(ph.style, {
      display: "inline-block",
      border: "1px dashed var(--jp-border-color1, #999)",
      borderRadius: "4px",
      padding: "2px 6px",
      margin: "2px 0",
      fontSize: "12px",
      color: "var(--jp-ui-font-color2, #666)",
    });
    /** @type {ParentNode & Node} */ (owner.parentNode).insertBefore(ph, owner); // inside `container`: it has a parent
    if (owner.style) owner.style.display = "none";
  }
}

/**
 * Put parked URLs back (the browser loads them now) and drop the placeholders.
 * @param {Element} container
 */
export function restoreMedia(container) {
  for (const ph of container.querySelectorAll(".tfw-media-blocked")) ph.remove();
  for (const el of /** @type {NodeListOf<HTMLElement>} */ (container.querySelectorAll("[data-tfw-blocked]"))) {
    for (const attr of URL_ATTRS) {
      const key = `data-tfw-${attr}`;
      if (el.hasAttribute(key)) {
        el.setAttribute(attr, /** @type {string} */ (el.getAttribute(key)));
        el.removeAttribute(key);
      }
    }
    el.removeAttribute("data-tfw-blocked");
    const owner = el.tagName === "SOURCE" || el.tagName === "TRACK" ? el.parentElement || el : el;
    if (owner.style) owner.style.display = "";
    if (owner.tagName === "VIDEO" || owner.tagName === "AUDIO") {
      try {
        /** @type {HTMLMediaElement} */ (owner).load();
      } catch {
        // not a media element in this DOM
      }
    }
  }
}
