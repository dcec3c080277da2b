// @ts-check
// Images in content, input file chips, sandbox artifact cards and offloaded tool results.
//
// Images: only data: URIs of raster image types are shown (Python classifies them; checked again here);
// remote images are never loaded by this module (a placeholder names the host); others say why not.
// Files: the page never sees the API key. A Download / Open / load button sends an intent
// {type: "artifact", action: "fetch", req, path}; Python fetches the file and answers with
// artifact_progress messages and one artifact_data message whose buffer holds the bytes (or artifact_error).
import { h, replaceChildren } from "./dom.js";
import { decorateMedia } from "./media.js";

/** @typedef {import("./types.js").FetchedFile} FetchedFile */

/**
 * A custom message about a sandbox file, as Python sends it (only `artifact_*` types are handled here).
 * @typedef {object} ArtifactMessage
 * @property {"artifact_progress" | "artifact_data" | "artifact_error"} type
 * @property {number} req the request it answers
 * @property {string} path
 * @property {number} [received]
 * @property {number | null} [total]
 * @property {string} [message] why it failed (`artifact_error`)
 * @property {string} [name]
 * @property {number} [size]
 * @property {string | null} [content_type]
 */

/**
 * A request waiting for its answer.
 * @typedef {object} PendingFetch
 * @property {(file: FetchedFile) => void} resolve
 * @property {(err: Error) => void} reject
 * @property {((received: number, total: number | null | undefined) => void) | undefined} onProgress
 * @property {number} timer
 * @property {() => void} arm (re)start the no-answer timer
 */

const NO_ANSWER_MS = 120_000;
const DATA_IMAGE = /^data:image\/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/=\s]*$/i;

/** Types a file may be opened as in a new tab, by extension. Text is always opened as text/plain. */
/** @type {Record<string, string>} */
const OPEN_TYPES = {
  txt: "text/plain", csv: "text/plain", tsv: "text/plain", md: "text/plain", json: "text/plain",
  log: "text/plain", py: "text/plain", yaml: "text/plain", yml: "text/plain",
  png: "image/png", jpg: "image/jpeg", jpeg: "image/jpeg", gif: "image/gif", webp: "image/webp",
  pdf: "application/pdf",
}; // prettier-ignore

/**
 * A byte count in words ("512 bytes", "1.5 MB"); "" for nothing.
 * @param {number | null | undefined} n
 * @returns {string}
 */
export function fmtBytes(n) {
  if (n == null || !Number.isFinite(n)) return "";
  const units = ["bytes", "KB", "MB", "GB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i += 1;
  }
  return i === 0 ? `${Math.round(n)} bytes` : `${n.toFixed(1)} ${units[i]}`;
}

/**
 * @param {string | null | undefined} name
 * @returns {string}
 */
function ext(name) {
  const m = /\.([A-Za-z0-9]+)$/.exec(name || "");
  return m ? m[1].toLowerCase() : "";
}

/** One image: a data URI image, or a placeholder saying why it is not shown. */
/**
 * @param {import("./types.js").ImageView | null | undefined} img
 * @param {string} [alt]
 * @param {import("./media.js").MediaPolicy | null} [media]
 */
export function imageNode(img, alt = "image", media = null) {
  if (img && img.kind === "data" && DATA_IMAGE.test(img.src || "")) {
    return h("img", { class: "tfw-img", attrs: { src: img.src, alt } });
  }
  if (img && img.kind === "remote" && /^https?:\/\//i.test(img.url || "")) {
    // Parked like media.js parks remote media in markdown: a placeholder naming the host with a
    // "load images" button; loaded only after the person allows remote media in this view.
    const el = h("img", {
      class: "tfw-img",
      attrs: { alt, referrerpolicy: "no-referrer", "data-tfw-src": img.url, "data-tfw-blocked": img.host || "" },
    });
    const box = h("span", { class: "tfw-img-remote" }, el);
    decorateMedia(box, media);
    return box;
  }
  const reason = (img && img.reason) || "not an image";
  return h("div", { class: "tfw-img-placeholder tfw-img-refused", text: `image not shown: ${reason}` });
}

/**
 * Chips for the files of a user message: thumbnail (images), name, type and size.
 * @param {import("./types.js").InputFile[] | null | undefined} files
 * @returns {HTMLElement | null}
 */
export function inputFiles(files) {
  if (!files || !files.length) return null;
  return h(
    "div",
    { class: "tfw-files" },
    ...files.map((f) =>
      h(
        "span",
        { class: "tfw-file-chip", title: f.name },
        f.thumbnail && DATA_IMAGE.test(f.thumbnail)
          ? h("img", { class: "tfw-file-thumb", attrs: { src: f.thumbnail, alt: f.name } })
          : h("span", { class: "tfw-file-ext", text: ext(f.name).toUpperCase().slice(0, 4) || "FILE" }),
        h("span", { class: "tfw-file-name", text: f.name }),
        h("span", { class: "tfw-file-meta", text: [f.mime, fmtBytes(f.size)].filter(Boolean).join(" · ") }),
      ),
    ),
  );
}

/** Talks to Python about sandbox files: one pending request per `req` number. */
export class ArtifactFetcher {
  /** @param {Pick<import("./types.js").Model, "send">} model */
  constructor(model) {
    this.model = model;
    this.next = 1;
    /** @type {Map<number, PendingFetch>} */
    this.pending = new Map();
    /** The last file received, for tests: {path, bytes: Uint8Array}. @type {{path: string, bytes: Uint8Array} | null} */
    this.last = null;
  }

  /**
   * Ask Python for a file. Returns a promise of {path, name, size, content_type, bytes}.
   * @param {string} path
   * @param {(received: number, total: number | null | undefined) => void} [onProgress]
   * @returns {Promise<FetchedFile>}
   */
  fetch(path, onProgress) {
    const req = this.next++;
    return new Promise((resolve, reject) => {
      // `arm` is set right below
      const p = /** @type {PendingFetch} */ ({ resolve, reject, onProgress, timer: 0 });
      // No answer at all (no kernel, e.g. a saved page): say so instead of waiting forever.
      p.arm = () => {
        clearTimeout(p.timer);
        p.timer = setTimeout(() => {
          if (this.pending.delete(req)) reject(new Error("no answer from the notebook's kernel (is it running?)"));
        }, NO_ANSWER_MS);
      };
      p.arm();
      this.pending.set(req, p);
      try {
        this.model.send({ type: "artifact", action: "fetch", req, path });
      } catch {
        clearTimeout(p.timer);
        this.pending.delete(req);
        reject(new Error("no kernel: files can only be fetched while the notebook's kernel runs"));
      }
    });
  }

  /**
   * Handle a custom message; returns true when it was one of ours (an `artifact_*` type: other messages
   * may be passed too, only their type is read).
   * @param {ArtifactMessage | null | undefined} msg
   * @param {(ArrayBuffer | ArrayBufferView<ArrayBuffer>)[]} [buffers] (a DataView from the widget manager)
   * @returns {boolean}
   */
  handle(msg, buffers) {
    if (!msg || typeof msg.type !== "string" || !msg.type.startsWith("artifact_")) return false;
    const p = this.pending.get(msg.req);
    if (!p) return true;
    if (msg.type === "artifact_progress") {
      p.arm();
      if (p.onProgress) p.onProgress(/** @type {number} */ (msg.received), msg.total);
      return true;
    }
    clearTimeout(p.timer);
    this.pending.delete(msg.req);
    if (msg.type === "artifact_error") {
      p.reject(new Error(msg.message || "download failed"));
      return true;
    }
    const buf = buffers && buffers[0];
    let bytes;
    if (buf instanceof ArrayBuffer) bytes = new Uint8Array(buf);
    else if (buf && buf.buffer) bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    else bytes = new Uint8Array(0);
    this.last = { path: msg.path, bytes };
    p.resolve({ ...msg, bytes });
    return true;
  }
}

/**
 * @param {Uint8Array<ArrayBuffer>} bytes
 * @param {string} name
 */
function saveBlob(bytes, name) {
  const url = URL.createObjectURL(new Blob([bytes], { type: "application/octet-stream" }));
  const a = h("a", { attrs: { href: url, download: name || "file", rel: "noopener" } });
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/**
 * @param {Uint8Array<ArrayBuffer>} bytes
 * @param {string} type
 */
function openBlob(bytes, type) {
  const url = URL.createObjectURL(new Blob([bytes], { type }));
  window.open(url, "_blank", "noopener,noreferrer");
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/**
 * @param {number} received
 * @param {number | null | undefined} total
 */
function progressText(received, total) {
  if (total) return `downloading… ${Math.floor((received / total) * 100)}% of ${fmtBytes(total)}`;
  return `downloading… ${fmtBytes(received)}`;
}

/**
 * Run a fetch for a card's button, showing progress and errors in `status`.
 * @param {ArtifactFetcher | null | undefined} fetcher
 * @param {string} path
 * @param {HTMLElement} status
 * @param {HTMLButtonElement[]} buttons
 * @param {(got: FetchedFile) => void} then
 */
async function runFetch(fetcher, path, status, buttons, then) {
  if (!fetcher) {
    status.textContent = "files can only be fetched from a live notebook";
    status.className = "tfw-art-status tfw-art-error";
    return;
  }
  for (const b of buttons) b.disabled = true;
  status.className = "tfw-art-status";
  status.textContent = "requesting…";
  try {
    const got = await fetcher.fetch(path, (r, t) => (status.textContent = progressText(r, t)));
    status.textContent = `${fmtBytes(got.size)} received`;
    then(got);
  } catch (err) {
    status.className = "tfw-art-status tfw-art-error";
    status.textContent = String((err instanceof Error && err.message) || err);
  } finally {
    for (const b of buttons) b.disabled = false;
  }
}

/**
 * File cards for a message's sandbox artifacts.
 * @param {import("./types.js").ArtifactView[] | null | undefined} artifacts
 * @param {ArtifactFetcher | null | undefined} fetcher
 * @returns {HTMLElement | null}
 */
export function artifactCards(artifacts, fetcher) {
  if (!artifacts || !artifacts.length) return null;
  return h(
    "div",
    { class: "tfw-artifacts" },
    ...artifacts.map((a) => {
      const name = a.name || a.path;
      const status = h("div", { class: "tfw-art-status" });
      const head = [
        h("span", { class: "tfw-file-ext", text: ext(name).toUpperCase().slice(0, 4) || "FILE" }),
        h("span", { class: "tfw-art-label", text: a.label || name }),
        h("code", { class: "tfw-art-path", text: a.path }),
      ];
      if (a.error) {
        status.className = "tfw-art-status tfw-art-error";
        status.textContent = `refused: ${a.error}`;
        return h("div", { class: "tfw-art-card tfw-art-refused", dataset: { path: a.path } }, ...head, status);
      }
      /** @type {HTMLButtonElement[]} */
      const buttons = [];
      const download = h("button", { class: "tfw-btn tfw-art-download", text: "Download", attrs: { type: "button" } });
      buttons.push(download);
      const openType = OPEN_TYPES[ext(name)];
      const open = openType ? h("button", { class: "tfw-btn tfw-art-open", text: "Open", attrs: { type: "button" } }) : null;
      if (open) buttons.push(open);
      download.addEventListener("click", () => runFetch(fetcher, a.path, status, buttons, (got) => saveBlob(got.bytes, name)));
      if (open) open.addEventListener("click", () => runFetch(fetcher, a.path, status, buttons, (got) => openBlob(got.bytes, openType)));
      return h("div", { class: "tfw-art-card", dataset: { path: a.path } }, ...head, h("span", { class: "tfw-art-buttons" }, ...buttons), status);
    }),
  );
}

/**
 * The line under an offloaded tool result: "full result: N KB, load", then the text once loaded.
 * @param {Partial<import("./types.js").OffloadedView> | null | undefined} off
 * @param {ArtifactFetcher | null | undefined} fetcher
 * @returns {HTMLElement | null}
 */
export function offloadedResult(off, fetcher) {
  if (!off || !off.path) return null;
  const size = off.size == null ? "" : off.unit === "bytes" || off.unit === "b" ? fmtBytes(off.size) : `${off.size} ${off.unit}`;
  const status = h("span", { class: "tfw-art-status" });
  const body = h("pre", { class: "tfw-pre tfw-offloaded-text", attrs: { hidden: true } });
  const load = h("button", { class: "tfw-btn tfw-offloaded-load", text: "load", attrs: { type: "button" } });
  load.addEventListener("click", () =>
    // off.path was checked above
    runFetch(fetcher, /** @type {string} */ (off.path), status, [load], (got) => {
      const text = new TextDecoder("utf-8", { fatal: false }).decode(got.bytes);
      const max = 500_000;
      body.textContent = text.length > max ? `${text.slice(0, max)}\n… (${fmtBytes(got.size)} in all: download it to see the rest)` : text;
      body.hidden = false;
    }),
  );
  return h(
    "div",
    { class: "tfw-offloaded", dataset: { path: off.path } },
    h("span", { text: `full result${size ? `: ${size}` : ""} in ` }),
    h("code", { text: off.path }),
    " ",
    load,
    " ",
    status,
    body,
  );
}

/** Fill a message's media slot: images first, then artifact cards. Re-rendered only when they change. */
/**
 * @param {HTMLElement} slot
 * @param {import("./contracts.gen.js").MessageView} msg
 * @param {ArtifactFetcher | null | undefined} fetcher
 * @param {{media?: unknown[]}} last what was rendered (the identity of the images and artifacts)
 * @param {import("./media.js").MediaPolicy | null} [media]
 */
export function renderMessageMedia(slot, msg, fetcher, last, media = null) {
  // patches replace these fields whole: identity says whether they changed (a data URI can be megabytes)
  if (last.media && last.media[0] === msg.images && last.media[1] === msg.artifacts) return;
  last.media = [msg.images, msg.artifacts];
  replaceChildren(
    slot,
    msg.images && msg.images.length ? h("div", { class: "tfw-images" }, ...msg.images.map((i) => imageNode(i, "image", media))) : null,
    artifactCards(msg.artifacts, fetcher),
  );
  slot.hidden = !(msg.images && msg.images.length) && !(msg.artifacts && msg.artifacts.length);
}
