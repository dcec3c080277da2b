// @ts-check
// Applying a snapshot (the `_view` trait) to a view that is already on screen: find what differs from
// what is rendered, so the renderer touches only that. A snapshot that cannot be an update of the shown
// view (another turn, items that disappeared, a timeline that is not a continuation) asks for a rebuild.
//
// Pure logic over plain JSON objects: no DOM.

/** @typedef {import("./contracts.gen.js").View} View */

/**
 * What differs, item by item: top-level keys, ids of messages / tools / events, the first timeline index.
 * @typedef {object} ItemDiff
 * @property {false} all
 * @property {Set<string>} keys
 * @property {Set<string>} messages
 * @property {Set<string>} tools
 * @property {Set<string>} events
 * @property {number} timelineFrom
 */

/** `{all: true}`: render from scratch. @typedef {{all: true} | ItemDiff} ViewDiff */

/** Keys whose items are diffed one by one (by id). */
const ITEM_KEYS = /** @type {const} */ (["messages", "tools", "events"]);
/** Keys that are bookkeeping, never rendered on their own. */
const SKIP_KEYS = new Set(["rev", "timeline", ...ITEM_KEYS]);

/**
 * @param {unknown} a
 * @param {unknown} b
 */
function same(a, b) {
  if (a === b) return true;
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

/**
 * @param {import("./contracts.gen.js").TimelineEntry | null | undefined} a
 * @param {import("./contracts.gen.js").TimelineEntry | null | undefined} b
 */
function sameEntry(a, b) {
  return !!a && !!b && a.kind === b.kind && a.id === b.id && (a.thread_id ?? null) === (b.thread_id ?? null);
}

/**
 * What changed from `current` (the view on screen) to `next` (a snapshot).
 *
 * Returns `{all: true}` when the snapshot must be rendered from scratch, else
 * `{all: false, keys, messages, tools, events, timelineFrom}`: the top-level keys that differ, the ids of
 * messages / tools / events that differ or are new, and the first timeline index that differs
 * (`Infinity` when the timeline is unchanged).
 * @param {View | null | undefined} current
 * @param {View | null | undefined} next
 * @returns {ViewDiff}
 */
export function diffViews(current, next) {
  /** @type {ViewDiff} */
  const rebuild = { all: true };
  if (!current || !next || current.rev < 0) return rebuild;
  if ((current.turn_id ?? null) !== null && (current.turn_id ?? null) !== (next.turn_id ?? null)) return rebuild;

  /** @type {ItemDiff} */
  const out = { all: false, keys: new Set(), messages: new Set(), tools: new Set(), events: new Set(), timelineFrom: Infinity };

  for (const kind of ITEM_KEYS) {
    const before = current[kind] || {};
    const after = next[kind] || {};
    for (const id of Object.keys(before)) if (!(id in after)) return rebuild; // something went away
    for (const [id, item] of Object.entries(after)) if (!same(before[id], item)) out[kind].add(id);
  }

  // Threads are only ever added or updated; one that disappears means a different transcript.
  const threadIds = new Set((next.threads || []).map((t) => t.id));
  for (const t of current.threads || []) if (!threadIds.has(t.id)) return rebuild;

  const oldTimeline = current.timeline || [];
  const newTimeline = next.timeline || [];
  const kept = new Set(newTimeline.map((e) => `${e?.kind}:${e?.id}`));
  for (const e of oldTimeline) if (!kept.has(`${e?.kind}:${e?.id}`)) return rebuild;
  let i = 0;
  while (i < oldTimeline.length && i < newTimeline.length && sameEntry(oldTimeline[i], newTimeline[i])) i += 1;
  if (i < oldTimeline.length || i < newTimeline.length) out.timelineFrom = i;

  const keys = new Set([...Object.keys(current), ...Object.keys(next)]);
  for (const key of keys) {
    if (SKIP_KEYS.has(key)) continue;
    if (!same(/** @type {Record<string, unknown>} */ (current)[key], /** @type {Record<string, unknown>} */ (next)[key])) out.keys.add(key);
  }
  return out;
}
