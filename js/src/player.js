// @ts-check
// The replay player bar of a PlayerView (tfwidget.replay(..., controls=True)).
//
// Python owns the position: it folds the recording to it and sends the view (patches going forward,
// a snapshot going back). The bar only shows the `_player` trait (count, position, playing, speed, t)
// and the `_player_meta` trait (total, positions, duration, markers) and sends intents:
// {type: "player", action: "toggle" | "play" | "pause" | "step" | "seek_count" | "speed", ...}.
// Keys (space, arrows, Home/End) act only while the view has focus and never reach the notebook.
import { h } from "./dom.js";

/** @type {Record<string, string>} */
const KIND_LABELS = { message: "model message", tool: "tool call", pause: "pause" };
const MARK_KINDS = /** @type {const} */ (["tool", "pause", "sub_agent"]);
const MARK_LABELS = { tool: "tool call", pause: "pause", sub_agent: "sub-agent start" };

/**
 * Seconds as "4.2 s" or "1:05.3".
 * @param {unknown} s
 * @returns {string}
 */
function fmtTime(s) {
  if (typeof s !== "number" || !isFinite(s)) return "0.0 s";
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return `${m}:${(s - m * 60).toFixed(1).padStart(4, "0")}`;
}

/**
 * @param {number | string} s a speed factor, or a named speed ("no gaps")
 * @returns {string}
 */
function speedLabel(s) {
  return typeof s === "string" ? s : `${s}x`;
}

/**
 * Mount the player bar at the top of the view's root. Returns a cleanup function.
 * @param {import("./types.js").Model} model anywidget model
 * @param {HTMLElement} root the TurnView's .tfw-root
 */
export function mountPlayer(model, root) {
  /** @param {{action: string} & Record<string, unknown>} msg the intent's fields besides its type */
  const send = (msg) => {
    try {
      model.send({ type: "player", ...msg });
    } catch {
      // no kernel (a static page): the bar shows the saved position only
    }
  };
  /** @type {import("./types.js").PlayerMeta} */
  let meta = model.get("_player_meta") || {};
  /** @type {import("./types.js").PlayerState} */
  let state = model.get("_player") || {};
  let dragging = false;
  /** @type {number | null} */
  let pendingSeek = null;
  let seekTimer = 0;

  /**
   * @param {string} act
   * @param {string} text
   * @param {string} title
   * @param {() => void} onClick
   */
  const btn = (act, text, title, onClick) =>
    h("button", { class: `tfw-player-btn tfw-player-${act}`, text, title, attrs: { type: "button", "aria-label": title }, dataset: { act }, on: { click: onClick } });

  const kindSel = h(
    "select",
    { class: "tfw-player-kind", title: "what the jump buttons (and Shift+arrows) jump to", attrs: { "aria-label": "jump to" } },
    ...Object.entries(KIND_LABELS).map(([k, label]) => h("option", { text: label, attrs: { value: k } })),
  );
  const jump = (/** @type {number} */ delta) => send({ action: "step", delta, kind: kindSel.value });
  const prevBtn = btn("prev", "«", "jump to the previous (kind)", () => jump(-1));
  const backBtn = btn("back", "‹", "step back one event (←)", () => send({ action: "step", delta: -1, kind: "event" }));
  const playBtn = btn("play", "▶", "play / pause (space)", () => send({ action: "toggle" }));
  const fwdBtn = btn("fwd", "›", "step forward one event (→)", () => send({ action: "step", delta: 1, kind: "event" }));
  const nextBtn = btn("next", "»", "jump to the next (kind)", () => jump(1));
  const updateJumpTitles = () => {
    const label = KIND_LABELS[kindSel.value];
    prevBtn.title = `jump to the previous ${label} (Shift+←)`;
    nextBtn.title = `jump to the next ${label} (Shift+→)`;
  };
  kindSel.addEventListener("change", updateJumpTitles);
  updateJumpTitles();

  const scrubber = h("input", {
    class: "tfw-player-scrubber",
    attrs: { type: "range", min: 0, max: meta.total || 0, step: 1, value: state.count || 0, "aria-label": "position" },
  });
  const marks = h("div", { class: "tfw-player-marks", attrs: { "aria-hidden": "true" } });
  const scrub = h("div", { class: "tfw-player-scrub" }, marks, scrubber);
  const posEl = h("span", { class: "tfw-player-pos", attrs: { "aria-live": "off" } });
  const speedSel = h("select", { class: "tfw-player-speed", title: "speed", attrs: { "aria-label": "speed" } });
  speedSel.addEventListener("change", () => {
    const v = speedSel.value;
    send({ action: "speed", speed: isNaN(Number(v)) ? v : Number(v) });
  });

  const flushSeek = () => {
    seekTimer = 0;
    if (pendingSeek == null) return;
    send({ action: "seek_count", count: pendingSeek });
    pendingSeek = null;
  };
  scrubber.addEventListener("input", () => {
    dragging = true;
    pendingSeek = Number(scrubber.value);
    // until Python answers, estimate the time from the share of events
    showPosition(pendingSeek, ((meta.duration || 0) * pendingSeek) / Math.max(1, meta.total || 0));
    if (!seekTimer) seekTimer = setTimeout(flushSeek, 50);
  });
  scrubber.addEventListener("change", () => {
    dragging = false;
    pendingSeek = Number(scrubber.value);
    if (seekTimer) clearTimeout(seekTimer);
    flushSeek();
  });

  const bar = h(
    "div",
    { class: "tfw-player", attrs: { role: "toolbar", "aria-label": "replay controls" } },
    prevBtn, backBtn, playBtn, fwdBtn, nextBtn, kindSel, scrub, posEl, speedSel,
  );
  root.insertBefore(bar, root.firstChild);
  root.classList.add("tfw-has-player");
  if (!root.hasAttribute("tabindex")) root.setAttribute("tabindex", "0");
  root.setAttribute("data-lm-suppress-shortcuts", "true");

  /**
   * @param {number} count events folded so far
   * @param {number} t seconds since the recording's start
   */
  function showPosition(count, t) {
    const positions = meta.positions || [];
    const seq = positions[count] ?? count;
    const last = positions[meta.total || 0] ?? meta.total ?? 0;
    posEl.textContent = `event ${seq} / ${last} · ${fmtTime(t)} / ${fmtTime(meta.duration || 0)}`;
    bar.dataset.count = String(count);
    bar.dataset.position = String(seq);
  }

  function renderMeta() {
    scrubber.max = String(meta.total || 0);
    marks.textContent = "";
    const total = Math.max(1, meta.total || 0);
    for (const kind of MARK_KINDS) {
      for (const count of (meta.markers || {})[kind] || []) {
        marks.appendChild(
          h("span", {
            class: `tfw-player-mark tfw-player-mark-${kind}`,
            title: `${MARK_LABELS[kind]} at event ${(meta.positions || [])[count] ?? count}`,
            attrs: { style: `left: ${(100 * count) / total}%` },
            dataset: { kind, count },
          }),
        );
      }
    }
    speedSel.textContent = "";
    for (const s of meta.speeds || [0.5, 1, 2, 5, 10, 20, "no gaps"]) {
      speedSel.appendChild(h("option", { text: speedLabel(s), attrs: { value: String(s) } }));
    }
    renderState();
  }

  function renderState() {
    const count = state.count || 0;
    if (!dragging) scrubber.value = String(count);
    if (!dragging) showPosition(count, state.t || 0);
    const playing = !!state.playing;
    playBtn.textContent = playing ? "‖" : "▶";
    playBtn.setAttribute("aria-pressed", playing ? "true" : "false");
    bar.dataset.playing = playing ? "true" : "false";
    if (state.speed != null) speedSel.value = String(state.speed);
    backBtn.disabled = count <= 0;
    fwdBtn.disabled = count >= (meta.total || 0);
  }

  const onKey = (/** @type {KeyboardEvent} */ e) => {
    if (e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey) return;
    const tag = e.target && /** @type {Element} */ (e.target).tagName;
    /** @type {boolean | string} */
    let handled = true;
    if (e.key === " " || e.key === "Spacebar") send({ action: "toggle" });
    else if (e.key === "ArrowRight") e.shiftKey ? jump(1) : send({ action: "step", delta: 1, kind: "event" });
    else if (e.key === "ArrowLeft") e.shiftKey ? jump(-1) : send({ action: "step", delta: -1, kind: "event" });
    else if (e.key === "Home") send({ action: "seek_count", count: 0 });
    else if (e.key === "End") send({ action: "seek_count", count: meta.total || 0 });
    else if ((e.key === "ArrowUp" || e.key === "ArrowDown") && tag === "SELECT") handled = "native";
    else if (e.key === "ArrowUp" || e.key === "ArrowDown") handled = "scroll";
    else handled = false;
    if (!handled) return;
    // Never let the notebook see these keys (command-mode shortcuts); keep the page from scrolling on
    // space, and keep a focused button/range from acting a second time.
    e.stopPropagation();
    if (handled === true) e.preventDefault();
  };
  root.addEventListener("keydown", onKey);

  const onMeta = () => {
    meta = model.get("_player_meta") || {};
    renderMeta();
  };
  const onState = () => {
    state = model.get("_player") || {};
    renderState();
  };
  model.on("change:_player_meta", onMeta);
  model.on("change:_player", onState);
  renderMeta();

  return () => {
    if (seekTimer) clearTimeout(seekTimer);
    root.removeEventListener("keydown", onKey);
    model.off("change:_player_meta", onMeta);
    model.off("change:_player", onState);
    bar.remove();
  };
}
