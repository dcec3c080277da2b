// @ts-check
// Formatting helpers (pure functions; no DOM).
import { USAGE_BREAKDOWN_KEYS } from "./contracts.gen.js";

/** @typedef {import("./types.js").UsageRecord} UsageRecord */

// One formatter for every call: `toLocaleString` builds a new one each time (about 50 µs, which a usage
// chart of a long turn calls hundreds of times in one frame). The output is the same by definition.
const INT_FORMAT = new Intl.NumberFormat("en-US");

/**
 * An integer with thousands separators ("–" for nothing or not a number).
 * @param {unknown} n
 * @returns {string}
 */
export function fmtInt(n) {
  if (n == null || Number.isNaN(Number(n))) return "–";
  return INT_FORMAT.format(Math.round(Number(n)));
}

/**
 * 12345 -> "12.3k", 1234567 -> "1.23M".
 * @param {unknown} n
 * @returns {string}
 */
export function fmtCompact(n) {
  if (n == null) return "–";
  const v = Number(n);
  if (Math.abs(v) >= 1e6) return `${(v / 1e6).toFixed(2)}M`;
  if (Math.abs(v) >= 1e4) return `${(v / 1e3).toFixed(1)}k`;
  return fmtInt(v);
}

/**
 * A cost in US dollars ("$0.0123", "$1.50"), or null for nothing or not a number.
 * @param {unknown} usd
 * @returns {string | null}
 */
export function fmtCost(usd) {
  if (usd == null || Number.isNaN(Number(usd))) return null;
  const v = Number(usd);
  if (v === 0) return "$0";
  if (v < 0.01) return `$${v.toFixed(4)}`;
  return `$${v.toFixed(v < 1 ? 3 : 2)}`;
}

/**
 * Milliseconds -> "4.2s", "3m 05s", "1h 02m".
 * @param {number | null | undefined} ms
 * @returns {string}
 */
export function fmtDuration(ms) {
  if (ms == null || !Number.isFinite(ms) || ms < 0) return "";
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(Math.floor(s % 60)).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, "0")}m`;
}

/**
 * An ISO time as epoch ms, or null when there is none or it does not parse.
 * @param {string | null | undefined} iso
 * @returns {number | null}
 */
export function parseTime(iso) {
  if (!iso) return null;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? null : t;
}

/**
 * Pretty-print JSON text; anything that does not parse (yet) is returned unchanged.
 * @param {unknown} text
 * @returns {string}
 */
export function prettyJson(text) {
  if (text == null) return "";
  if (typeof text !== "string") return JSON.stringify(text, null, 2);
  const t = text.trim();
  if (!t || (t[0] !== "{" && t[0] !== "[")) return text;
  try {
    return JSON.stringify(JSON.parse(t), null, 2);
  } catch {
    return text;
  }
}

export const STATUS_LABELS = {
  connecting: "connecting",
  streaming: "streaming",
  reconnecting: "reconnecting",
  paused: "paused",
  done: "done",
  cancelled: "cancelled",
  error: "error",
};

/** @type {Record<string, string>} */
export const TOOL_STATUS_LABELS = {
  streaming: "streaming",
  running: "running",
  completed: "done",
  awaiting_approval: "awaiting approval",
  awaiting_response: "awaiting answer",
  incomplete: "no response",
};

/** input_tokens_breakdown keys, in chart order (tfwidget/contracts.py). */
export const BREAKDOWN_KEYS = USAGE_BREAKDOWN_KEYS;

/**
 * Read a usage record in either shape: flat keys, or an `input_tokens_breakdown` object.
 * @param {UsageRecord | null | undefined} u
 */
export function usageParts(u) {
  if (!u) return null;
  /** @type {Record<string, unknown>} */
  const b = u.input_tokens_breakdown || u;
  /** @type {Record<string, number>} */
  const breakdown = {};
  let any = false;
  for (const k of BREAKDOWN_KEYS) {
    const v = b[k];
    if (v != null) any = true;
    breakdown[k] = Number(v || 0);
  }
  const input = Number(u.input_tokens || 0);
  return {
    input,
    output: Number(u.output_tokens || 0),
    cacheRead: Number(u.cache_read_tokens || 0),
    cacheWrite: Number(u.cache_write_tokens || 0),
    breakdown: any ? breakdown : null,
    // input minus the breakdown's sum: non-zero means the breakdown does not add up (shown, not hidden)
    breakdownGap: any ? input - Object.values(breakdown).reduce((a, b) => a + b, 0) : 0,
  };
}
