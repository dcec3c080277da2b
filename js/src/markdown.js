// Markdown for untrusted model text: marked renders, DOMPurify sanitizes, and a streaming
// renderer re-renders only the last (unfinished) top-level block of a growing message.
import { Marked } from "marked";
import DOMPurify from "dompurify";

const marked = new Marked({ gfm: true, breaks: false, async: false });

let purifier = null;

/** The shared DOMPurify instance, with a hook that makes every link open safely. */
function getPurifier() {
  if (purifier) return purifier;
  purifier = DOMPurify(window);
  purifier.addHook("afterSanitizeAttributes", (node) => {
    if (node.tagName === "A") {
      const href = node.getAttribute("href") || "";
      if (!/^(https?:|mailto:|#)/i.test(href.trim())) node.removeAttribute("href");
      node.setAttribute("target", "_blank");
      node.setAttribute("rel", "noopener noreferrer");
    }
    if (node.tagName === "IMG") {
      const src = node.getAttribute("src") || "";
      if (!/^(https?:|data:image\/(png|gif|jpeg|webp);)/i.test(src.trim())) node.removeAttribute("src");
      node.setAttribute("loading", "lazy");
      node.setAttribute("referrerpolicy", "no-referrer");
    }
  });
  return purifier;
}

const PURIFY_OPTIONS = {
  USE_PROFILES: { html: true },
  FORBID_TAGS: ["style", "form", "input", "button", "textarea", "select", "iframe", "object", "embed"],
  FORBID_ATTR: ["style"],
  ADD_ATTR: ["target"],
};

/** Markdown source -> sanitized HTML string. */
export function renderMarkdown(source) {
  const html = marked.parse(source || "");
  return getPurifier().sanitize(html, PURIFY_OPTIONS);
}

/** Split markdown into top-level blocks; returns the raw text of each. */
export function splitBlocks(source) {
  return marked.lexer(source || "").map((token) => token.raw);
}

/**
 * Renders a growing markdown text into a container. Settled blocks (every top-level block but
 * the last, and the one before a trailing blank) are rendered once and never touched again; only
 * the unfinished tail is re-rendered on each update. Text that does not extend what was rendered
 * (an edit rather than an append) resets the container.
 */
export class StreamingMarkdown {
  constructor(container) {
    this.container = container;
    this.text = "";
    this.settledLength = 0;
    this.tail = null;
    this.renders = 0;
  }

  update(text) {
    text = text || "";
    if (text === this.text) return;
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
      settled.innerHTML = renderMarkdown(settledText);
      this.container.insertBefore(settled, this.tail);
      this.settledLength += settledText.length;
      this.renders += 1;
    }
    if (!this.tail) {
      this.tail = document.createElement("div");
      this.tail.className = "tfw-md-block tfw-md-tail";
      this.container.appendChild(this.tail);
    }
    this.tail.innerHTML = renderMarkdown(text.slice(this.settledLength));
    this.renders += 1;
  }

  reset() {
    this.container.textContent = "";
    this.text = "";
    this.settledLength = 0;
    this.tail = null;
  }
}
