// The view model held by one rendered view: the settled snapshot from the `_view` trait plus
// the patches that arrived by custom message since. Mirrors tfwidget/view.py exactly:
//   - a patch whose `rev` is not newer than the current one is ignored;
//   - `set` replaces top-level keys whole;
//   - `timeline` is a list of [start, entries]: the timeline from `start` on is `entries`;
//   - `messages` / `tools` / `events` entries overwrite fields of the item with that id;
//     text fields given as [offset, text] mean "the text from offset on is text".

import { diffViews } from "./snapshot.js";
import { TEXT_FIELDS } from "./contracts.gen.js";

export { TEXT_FIELDS };

/** An empty view, shown until the first snapshot arrives. */
export function emptyView() {
  return {
    rev: -1,
    turn_id: null,
    session_id: null,
    status: "connecting",
    status_detail: null,
    created_at: null,
    completed_at: null,
    started_ms: null,
    input: [],
    totals: null,
    threads: [],
    timeline: [],
    messages: {},
    tools: {},
    pauses: [],
    usage: [],
    events: {},
    notices: [],
  };
}

/** Bookkeeping of what changed since the last render. */
export class Dirty {
  constructor() {
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
 */
export function applyText(current, value) {
  if (!Array.isArray(value)) return value;
  const [offset, text] = value;
  const base = current || "";
  if (offset > base.length) return null;
  return base.slice(0, offset) + text;
}

export class ViewStore {
  constructor() {
    this.view = emptyView();
    this.dirty = new Dirty();
    /** Set when a patch could not be applied cleanly; the caller asks Python to re-sync. */
    this.gap = false;
  }

  get rev() {
    return this.view.rev;
  }

  /** Replace everything with a snapshot (ignored when older than what is shown). */
  replace(snapshot) {
    if (!snapshot || typeof snapshot !== "object") return false;
    const rev = typeof snapshot.rev === "number" ? snapshot.rev : 0;
    if (rev < this.view.rev) return false;
    const next = { ...emptyView(), ...structuredCloneSafe(snapshot) };
    // Mark only what differs from the view on screen: settling must not rebuild what the person is
    // looking at (scroll position, open details, selection, focus). See snapshot.js.
    const diff = diffViews(this.view, next);
    const dirty = this.dirty;
    if (diff.all) dirty.all = true;
    else {
      for (const k of diff.keys) dirty.keys.add(k);
      for (const kind of ["messages", "tools", "events"]) for (const id of diff[kind]) dirty[kind].add(id);
      dirty.timelineFrom = Math.min(dirty.timelineFrom, diff.timelineFrom);
    }
    this.view = next;
    this.gap = false;
    return true;
  }

  /** Apply one patch message; returns false when it was ignored. */
  applyPatch(patch) {
    if (!patch || patch.type !== "patch" || typeof patch.rev !== "number") return false;
    if (patch.rev <= this.view.rev) return false;
    const view = this.view;
    const dirty = this.dirty;
    view.rev = patch.rev;

    for (const [key, value] of Object.entries(patch.set || {})) {
      view[key] = value;
      dirty.keys.add(key);
    }
    for (const [start, entries] of patch.timeline || []) {
      if (start > view.timeline.length) this.gap = true;
      view.timeline = view.timeline.slice(0, start).concat(entries);
      dirty.timelineFrom = Math.min(dirty.timelineFrom, start);
    }
    for (const kind of ["messages", "tools", "events"]) {
      const textFields = TEXT_FIELDS[kind] || [];
      for (const [id, fields] of Object.entries(patch[kind] || {})) {
        const item = view[kind][id] || (view[kind][id] = { id });
        for (const [field, value] of Object.entries(fields)) {
          if (textFields.includes(field)) {
            const next = applyText(item[field], value);
            if (next === null) {
              this.gap = true;
              continue;
            }
            item[field] = next;
          } else {
            item[field] = value;
          }
        }
        dirty[kind].add(id);
      }
    }
    return true;
  }
}

function structuredCloneSafe(value) {
  // Snapshots come straight from JSON; a deep copy keeps patches from mutating the model's value.
  return JSON.parse(JSON.stringify(value));
}
