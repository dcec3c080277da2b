// @ts-check
// The view model held by one rendered view: the settled snapshot from the `_view` trait plus
// the patches that arrived by custom message since. Mirrors tfwidget/view.py exactly:
//   - a patch whose `rev` is not newer than the current one is ignored;
//   - `set` replaces top-level keys whole;
//   - `timeline` is a list of [start, entries]: the timeline from `start` on is `entries`;
//   - `rows` maps a list key (usage, spans) to [length, [[index, row], ...]]: the list gets that length
//     and those rows (a row the view lacks that the patch does not carry is a gap);
//   - `messages` / `tools` / `events` entries overwrite fields of the item with that id;
//     text fields given as [offset, text] mean "the text from offset on is text".

import { strFromU8, unzlibSync } from "fflate";
import { diffViews } from "./snapshot.js";
import { EMPTY_VIEW, TEXT_FIELDS } from "./contracts.gen.js";

export { TEXT_FIELDS };

/**
 * A long view travels packed: `{rev, turn_id, status, zlib}` with the view's JSON, zlib-compressed, as a
 * binary buffer (a DataView from the widget manager, or bytes). Returns the view; anything else as is.
 * @param {any} value
 * @returns {any}
 */
export function unpackView(value) {
  if (!value || typeof value !== "object" || !("zlib" in value)) return value;
  const z = value.zlib;
  /** @type {Uint8Array | null} */
  let bytes = null;
  if (z instanceof Uint8Array) bytes = z;
  else if (ArrayBuffer.isView(z)) bytes = new Uint8Array(z.buffer, z.byteOffset, z.byteLength);
  else if (z instanceof ArrayBuffer) bytes = new Uint8Array(z);
  if (!bytes) return null;
  return JSON.parse(strFromU8(unzlibSync(bytes)));
}

/** @param {any} value */
function isPacked(value) {
  return !!value && typeof value === "object" && "zlib" in value;
}

/**
 * An empty view, shown until the first snapshot arrives.
 * @returns {import("./contracts.gen.js").View}
 */
export function emptyView() {
  return JSON.parse(JSON.stringify(EMPTY_VIEW));
}

/** Bookkeeping of what changed since the last render. */
export class Dirty {
  constructor() {
    /** Everything: render from scratch. */
    this.all = true;
    /** @type {Set<string>} top-level view keys */
    this.keys = new Set();
    /** @type {Set<string>} */
    this.messages = new Set();
    /** @type {Set<string>} */
    this.tools = new Set();
    /** @type {Set<string>} */
    this.events = new Set();
    /** The first timeline index that changed (Infinity: none). */
    this.timelineFrom = Infinity;
    this.clear();
    this.all = true;
  }
  clear() {
    this.all = false;
    this.keys = new Set();
    this.messages = new Set();
    this.tools = new Set();
    this.events = new Set();
    this.timelineFrom = Infinity;
  }
  get any() {
    return (
      this.all ||
      this.keys.size > 0 ||
      this.messages.size > 0 ||
      this.tools.size > 0 ||
      this.events.size > 0 ||
      this.timelineFrom !== Infinity
    );
  }
}

/**
 * Apply one text field value: a plain string replaces, [offset, text] splices.
 * Returns null when the offset is past the end of the current text (a gap: a patch was missed).
 * @param {string | null | undefined} current
 * @param {unknown} value
 * @returns {any}
 */
export function applyText(current, value) {
  if (!Array.isArray(value)) return value;
  const [offset, text] = value;
  const base = current || "";
  if (offset > base.length) return null;
  return base.slice(0, offset) + text;
}

/**
 * Why `patch` cannot apply cleanly to `view` (after its `set`), or null when it can: a timeline start or
 * a text offset past what the view has means a patch was missed (tfwidget/view.py `_patch_gap`).
 * @param {Record<string, any>} view
 * @param {import("./contracts.gen.js").Patch} patch
 * @returns {string | null}
 */
export function patchGap(view, patch) {
  const sets = patch.set || {};
  let length = ("timeline" in sets ? sets.timeline : view.timeline || []).length;
  for (const [start, entries] of patch.timeline || []) {
    if (start > length) return `timeline gap: start ${start} > ${length}`;
    length = start + entries.length;
  }
  for (const [key, [n, changed]] of Object.entries(patch.rows || {})) {
    const have = ((key in sets ? sets[key] : view[key]) || []).length;
    const given = new Set(changed.map(([i]) => i));
    for (let i = have; i < n; i++) if (!given.has(i)) return `rows gap in ${key}: row ${i} of ${n} missing (have ${have})`;
  }
  for (const kind of /** @type {const} */ (["messages", "tools"])) {
    const items = (kind in sets ? sets[kind] : view[kind]) || {};
    for (const [id, fields] of Object.entries(patch[kind] || {})) {
      const item = items[id] || {};
      for (const field of TEXT_FIELDS[kind]) {
        const value = fields[field];
        if (Array.isArray(value) && value[0] > (item[field] || "").length) {
          return `text gap in ${kind}[${id}].${field}: ${value[0]} > ${(item[field] || "").length}`;
        }
      }
    }
  }
  return null;
}

export class ViewStore {
  constructor() {
    /** @type {import("./contracts.gen.js").View & Record<string, any>} */
    this.view = emptyView();
    this.dirty = new Dirty();
    /** Set when a patch had a gap (it was not applied); cleared by the next snapshot. */
    this.gap = false;
  }

  get rev() {
    return this.view.rev;
  }

  /**
   * Replace everything with a snapshot (ignored when older than what is shown).
   * @param {any} snapshot
   * @returns {boolean}
   */
  replace(snapshot) {
    if (!snapshot || typeof snapshot !== "object") return false;
    const rev = typeof snapshot.rev === "number" ? snapshot.rev : 0;
    if (rev < this.view.rev) return false;
    // The same revision the patches already built (the turn's end, another view's hello): nothing to do.
    // Unpacking, copying and diffing a long turn's whole view here would cost one long frame for no change.
    const packed = isPacked(snapshot);
    if (rev === this.view.rev && rev >= 0 && !this.gap && sameShape(this.view, snapshot, packed)) return false;
    // a packed view is decoded into a fresh object: no copy needed
    const full = packed ? unpackView(snapshot) : structuredCloneSafe(snapshot);
    if (!full || typeof full !== "object") return false;
    const next = { ...emptyView(), ...full };
    // Mark only what differs from the view on screen: settling must not rebuild what the person is
    // looking at (scroll position, open details, selection, focus). See snapshot.js.
    const diff = diffViews(this.view, next);
    const dirty = this.dirty;
    if (diff.all) dirty.all = true;
    else {
      for (const k of diff.keys) dirty.keys.add(k);
      for (const kind of /** @type {const} */ (["messages", "tools", "events"])) for (const id of diff[kind]) dirty[kind].add(id);
      dirty.timelineFrom = Math.min(dirty.timelineFrom, diff.timelineFrom);
    }
    this.view = next;
    this.gap = false;
    return true;
  }

  /**
   * Apply one patch message; returns false when it was ignored: not newer than the view, or with a gap.
   * A patch with a gap changes nothing (a wrong transcript is never shown): `gap` is set, and patches
   * are ignored until a snapshot replaces the view (the caller asks Python for one).
   * @param {any} patch
   * @returns {boolean}
   */
  applyPatch(patch) {
    if (!patch || patch.type !== "patch" || typeof patch.rev !== "number") return false;
    if (patch.rev <= this.view.rev) return false;
    if (this.gap) return false; // waiting for a snapshot
    if (patchGap(this.view, patch) !== null) {
      this.gap = true;
      return false;
    }
    const view = this.view;
    const dirty = this.dirty;
    view.rev = patch.rev;

    for (const [key, value] of Object.entries(patch.set || {})) {
      view[key] = value;
      dirty.keys.add(key);
    }
    for (const [start, entries] of patch.timeline || []) {
      view.timeline = view.timeline.slice(0, start).concat(entries);
      dirty.timelineFrom = Math.min(dirty.timelineFrom, start);
    }
    for (const [key, [n, changed]] of Object.entries(patch.rows || {})) {
      const rows = (view[key] || []).slice(0, n);
      while (rows.length < n) rows.push(null);
      for (const [i, row] of changed) rows[i] = row;
      view[key] = rows;
      dirty.keys.add(key);
    }
    for (const kind of /** @type {const} */ (["messages", "tools", "events"])) {
      const textFields = TEXT_FIELDS[kind];
      for (const [id, fields] of Object.entries(patch[kind] || {})) {
        // a patch names the fields it overwrites: the item as a record of fields (text fields are strings)
        /** @type {Record<string, unknown>} */
        const item = view[kind][id] || (view[kind][id] = { id });
        for (const [field, value] of Object.entries(fields)) {
          item[field] = textFields.includes(field) ? applyText(/** @type {string | undefined} */ (item[field]), value) : value;
        }
        dirty[kind].add(id);
      }
    }
    return true;
  }
}

/**
 * Cheap identity checks of a snapshot against the view at the same revision (no walk over the texts).
 * @param {import("./contracts.gen.js").View} view
 * @param {Partial<import("./contracts.gen.js").View>} snapshot
 */
function sameShape(view, snapshot, packed = false) {
  const count = (/** @type {object | null | undefined} */ o) => Object.keys(o || {}).length;
  const head = (view.turn_id ?? null) === (snapshot.turn_id ?? null) && view.status === snapshot.status;
  if (packed) return head; // only these travel outside the packed bytes
  return (
    head &&
    (view.timeline || []).length === (snapshot.timeline || []).length &&
    count(view.messages) === count(snapshot.messages) &&
    count(view.tools) === count(snapshot.tools)
  );
}

/**
 * @template T
 * @param {T} value
 * @returns {T}
 */
function structuredCloneSafe(value) {
  // Snapshots come straight from JSON; a deep copy keeps patches from mutating the model's value.
  return JSON.parse(JSON.stringify(value));
}
