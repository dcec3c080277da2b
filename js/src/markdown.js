// @ts-check
// Markdown for untrusted model text: marked renders, DOMPurify sanitizes, and a streaming
// renderer re-renders only the last (unfinished) top-level block of a growing message.
import { Marked } from "marked";
import DOMPurify from "dompurify";
import { decorateMedia, guardMediaNode, sanitizing } from "./media.js";
import { morph, replaceChildren } from "./dom.js";

const marked = new Marked({ gfm: true, breaks: false, async: false });
// Task list items ("- [x]") keep their box. The sanitizer forbids <input>, so the box is a read-only
// checkbox role on a span, with the box as text (it survives copy and the static transcript alike).
marked.use({
  renderer: {
    checkbox({ checked }) {
      const state = checked ? "true" : "false";
      return `<span class="tfw-task" role="checkbox" aria-checked="${state}" aria-readonly="true" data-checked="${state}">${checked ? "☑" : "☐"}</span> `;
    },
  },
});

/** @type {import("dompurify").DOMPurify | null} */
let purifier = null;

/** The shared DOMPurify instance, with a hook that makes every link open safely. */
function getPurifier() {
  if (purifier) return purifier;
  const made = DOMPurify(window);
  purifier = made;
  made.setConfig(PURIFY_OPTIONS); // once: a config passed to each sanitize call is parsed (and copied) anew
  made.addHook("afterSanitizeAttributes", (node) => {
    if (node.tagName === "A") {
      const href = node.getAttribute("href") || "";
      if (!/^(https?:|mailto:|#)/i.test(href.trim())) node.removeAttribute("href");
      node.setAttribute("target", "_blank");
      node.setAttribute("rel", "noopener noreferrer");
    }
    if (node.tagName === "IMG") node.setAttribute("loading", "lazy");
    guardMediaNode(node); // remote images, video and audio: see media.js
  });
  return purifier;
}

const PURIFY_OPTIONS = {
  USE_PROFILES: { html: true },
  FORBID_TAGS: ["style", "form", "input", "button", "textarea", "select", "iframe", "object", "embed"],
  FORBID_ATTR: ["style"],
  ADD_ATTR: ["target"],
};

/**
 * Nesting deeper than this (list or blockquote levels, counting two columns of a list item's indent as a
 * level) is shown as plain text: marked recurses once per level, so a few thousand levels throw "Maximum
 * call stack size exceeded" and a 2000-level indented list takes minutes before it does.
 */
export const MAX_MARKDOWN_DEPTH = 100;

const CONTAINER = /^[ \t]*(?:>|[-*+](?=[ \t]|$)|\d{1,9}[.)](?=[ \t]|$))/;
const FENCE = /^ {0,3}(`{3,}|~{3,})/;

/**
 * A cheap upper estimate of the container nesting of markdown text (linear time, no recursion).
 * @param {string | null | undefined} source
 * @returns {number}
 */
export function nestingDepth(source) {
  let max = 0;
  /** @type {string | null} */
  let fence = null;
  for (const line of (source || "").split("\n")) {
    const f = FENCE.exec(line);
    if (f) {
      if (fence === null) fence = f[1][0];
      else if (f[1][0] === fence) fence = null;
      continue;
    }
    if (fence !== null) continue;
    let rest = line;
    let markers = 0;
    let indent = -1;
    for (let m = CONTAINER.exec(rest); m; m = CONTAINER.exec(rest)) {
      if (indent < 0) indent = m[0].length - m[0].trimStart().length;
      markers += 1;
      rest = rest.slice(m[0].length);
      if (markers > MAX_MARKDOWN_DEPTH) return markers;
    }
    if (markers) max = Math.max(max, markers + Math.floor(indent / 2));
  }
  return max;
}

/**
 * Markdown source -> sanitized HTML string (`media`: the view's MediaPolicy, see media.js).
 * @param {string | null | undefined} source
 * @param {import("./media.js").MediaPolicy | null} [media]
 * @returns {string}
 */
export function renderMarkdown(source, media = null) {
  const html = marked.parse(source || "");
  return sanitizing(media, () => getPurifier().sanitize(/** @type {string} */ (html)));
}

/**
 * Split markdown into top-level blocks; returns the raw text of each.
 * @param {string | null | undefined} source
 * @returns {string[]}
 */
export function splitBlocks(source) {
  return marked.lexer(source || "").map((token) => token.raw);
}

/** Blocked remote media and its placeholders (media.js): a tail with them is rebuilt, not morphed. */
const MEDIA_MARKS = "[data-tfw-blocked], .tfw-media-blocked";

/** A streaming tail shorter than this is re-rendered on every update. */
export const DEFER_MIN_CHARS = 2000;

/**
 * How long (ms) a long tail's markdown may lag behind its text: the tail grows as raw text in between.
 * Re-rendering a long paragraph costs time in proportion to its length (marked, the sanitizer, the
 * paragraph's layout), so a longer tail is re-rendered less often: its cost per second stays flat.
 * @param {number} tailChars
 */
export function deferInterval(tailChars) {
  return Math.min(1000, tailChars / 20);
}

/** A clock for the deferral (ms). */
const now = () => (typeof performance !== "undefined" ? performance.now() : Date.now());

/**
 * Renders a growing markdown text into a container. Settled blocks (every top-level block but
 * the last, and the one before a trailing blank) are rendered once and never touched again; only
 * the unfinished tail is re-rendered on each update. Text that does not extend what was rendered
 * (an edit rather than an append) resets the container.
 *
 * While the text streams (`update(text, false)`), a long tail that ends in a paragraph is not re-rendered
 * for every few words: the words are appended to that paragraph as plain text, and the tail is rendered
 * again at most every `deferInterval(length)` ms, when the stream pauses (a timer), and when the text is
 * final (`update(text)`). What is shown at the end is always the full render of the text.
 */
export class StreamingMarkdown {
  /**
   * @param {HTMLElement} container
   * @param {import("./media.js").MediaPolicy | null} [media]
   * @param {(() => void) | null} [onFlush] called after a deferred tail was rendered by the timer
   */
  constructor(container, media = null, onFlush = null) {
    this.container = container;
    this.media = media;
    this.onFlush = onFlush;
    this.text = "";
    this.settledLength = 0;
    /** The element of the unfinished last block. @type {HTMLDivElement | null} */
    this.tail = null;
    this.renders = 0;
    /** @type {Text | null} */
    this.plain = null; // the text node once the message fell back to plain text
    /** @type {Text | null} raw text appended to the tail's last paragraph since its last render */
    this.pending = null;
    /** When the tail was last rendered (the clock of `now`). */
    this.renderedAt = -Infinity;
    /** @type {ReturnType<typeof setTimeout> | null} the render that catches up with deferred text */
    this.timer = null;
  }

  /**
   * Show `text`. A text that cannot be rendered as markdown (nested too deeply, or marked or the sanitizer
   * throws) is shown as plain text instead; it never stops the rest of the view. `final` false: the text
   * is still streaming, and a long tail's render may be deferred (see the class).
   * @param {string | null | undefined} text
   * @param {boolean} [final]
   */
  update(text, final = true) {
    text = text || "";
    if (text === this.text && !(final && this.pending)) return;
    if (!final && this.deferAppend(text)) return;
    this.cancelDeferred();
    if (this.plain && text.startsWith(this.text)) {
      this.plain.appendData(text.slice(this.text.length));
      this.text = text;
      return;
    }
    // settled blocks were checked when they settled: only the rest needs a look
    const settled = !this.plain && text.startsWith(this.text.slice(0, this.settledLength));
    if (nestingDepth(settled ? text.slice(this.settledLength) : text) > MAX_MARKDOWN_DEPTH) {
      this.showPlain(text);
      return;
    }
    try {
      this.updateMarkdown(text);
    } catch {
      this.showPlain(text);
    }
  }

  /**
   * Append the new words of `text` to the tail's last paragraph as raw text, when the tail is long, ends
   * in a paragraph, was rendered less than `deferInterval` ago and the words start no new line. Returns
   * whether it did (else the caller renders).
   * @param {string} text
   */
  deferAppend(text) {
    if (this.plain || !this.tail || !text.startsWith(this.text)) return false;
    const added = text.slice(this.text.length);
    const tailChars = text.length - this.settledLength;
    if (added.includes("\n") || tailChars < DEFER_MIN_CHARS) return false;
    const interval = deferInterval(tailChars);
    const waited = now() - this.renderedAt;
    if (waited >= interval) return false;
    const last = this.tail.lastElementChild;
    if (!last || last.tagName !== "P") return false;
    if (!this.pending || this.pending.parentNode !== last) {
      this.pending = document.createTextNode("");
      last.appendChild(this.pending);
    }
    this.pending.appendData(added);
    this.text = text;
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        if (!this.pending) return;
        this.update(this.text); // final: renders the same text in full
        if (this.onFlush) this.onFlush();
      }, interval - waited);
    }
    return true;
  }

  cancelDeferred() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.pending = null;
  }

  /** @param {string} text */
  showPlain(text) {
    this.reset();
    this.text = text;
    this.plain = document.createTextNode(text);
    const el = document.createElement("div");
    el.className = "tfw-md-block tfw-md-plain";
    el.title = "shown as plain text: this message cannot be rendered as markdown";
    el.style.whiteSpace = "pre-wrap";
    el.style.overflowWrap = "anywhere";
    el.appendChild(this.plain);
    this.container.appendChild(el);
  }

  /** @param {string} text */
  updateMarkdown(text) {
    if (!text.startsWith(this.text.slice(0, this.settledLength))) this.reset();
    this.text = text;
    const rest = text.slice(this.settledLength);
    const blocks = splitBlocks(rest);
    let keep = blocks.length - 1;
    // A trailing blank-line token does not prove the block before it is finished (a list may go on).
    if (keep > 0 && /^\s*$/.test(blocks[blocks.length - 1])) keep -= 1;
    let settledText = "";
    for (let i = 0; i < keep; i += 1) settledText += blocks[i];
    // Only settle when the blocks reproduce the text exactly (the lexer may normalize some input).
    if (keep > 0 && rest.startsWith(settledText) && settledText.length > 0) {
      const settled = document.createElement("div");
      settled.className = "tfw-md-block";
      settled.innerHTML = renderMarkdown(settledText, this.media);
      decorateMedia(settled, this.media);
      this.container.insertBefore(settled, this.tail);
      this.settledLength += settledText.length;
      this.renders += 1;
    }
    if (!this.tail) {
      this.tail = document.createElement("div");
      this.tail.className = "tfw-md-block tfw-md-tail";
      this.container.appendChild(this.tail);
    }
    const html = renderMarkdown(text.slice(this.settledLength), this.media);
    const fresh = document.createElement("div");
    fresh.className = this.tail.className;
    fresh.innerHTML = html;
    if (fresh.querySelector(MEDIA_MARKS) || this.tail.querySelector(MEDIA_MARKS)) {
      // media placeholders carry their own listeners and policy tracking: build them anew
      replaceChildren(this.tail, ...fresh.childNodes);
      decorateMedia(this.tail, this.media);
    } else {
      // a long paragraph that grew: its text node is appended to, not replaced (see dom.js morph)
      morph(this.tail, fresh);
    }
    this.renders += 1;
    this.renderedAt = now();
  }

  reset() {
    this.cancelDeferred();
    this.container.textContent = "";
    this.text = "";
    this.settledLength = 0;
    this.tail = null;
    this.plain = null;
  }
}
