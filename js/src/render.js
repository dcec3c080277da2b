// @ts-check
// The TurnView DOM: a header, the user's input, the transcript (messages, tool cards, nested
// sub-agent threads, pause cards, events), a usage chart and a footer of notices.
// Rendering is incremental: only what the store marks dirty is touched, once per animation frame.
import { link, h, replaceChildren } from "./dom.js";
import { UsageChart } from "./chart.js";
import {
  BREAKDOWN_KEYS,
  STATUS_LABELS,
  TOOL_STATUS_LABELS,
  fmtCost,
  fmtDuration,
  fmtInt,
  parseTime,
  prettyJson,
  usageParts,
} from "./format.js";
import { StreamingMarkdown } from "./markdown.js";
import { MediaPolicy } from "./media.js";
import { pauseControls } from "./actions.js";
import { attachTimeline, costByThread, spansCost, usageChipExtras } from "./timeline.js";
import { restoreFocus, saveFocus } from "./focus.js";
import { DECISION_TITLES, inputLabel, isResolved, resolutionOf, resolvedCard } from "./resolution.js";
import { imageNode, inputFiles, offloadedResult, renderMessageMedia } from "./artifacts.js";
import { LIVE_STATUSES } from "./contracts.gen.js";

/** @typedef {import("./contracts.gen.js").PauseView} PauseView */
/** @typedef {import("./contracts.gen.js").ThreadView} ThreadView */
/** @typedef {import("./contracts.gen.js").ToolView} ToolView */

const LIVE = new Set(LIVE_STATUSES);

/**
 * Transcript work (ms) in one frame past which, while the turn streams, the rest waits for the next frame
 * (see TurnRenderer.render).
 */
export const FRAME_SHARE_MS = 3;
/**
 * The view keys whose rendering may wait one frame: the header's numbers, the usage chart and chips, the
 * timeline (which also redraws on a status change; the header shows a status change at once).
 */
const SECONDARY_KEYS = ["totals", "spans", "usage", "clock", "status"];
const now = () => (typeof performance !== "undefined" ? performance.now() : Date.now());
const LONG_RESPONSE_CHARS = 600;
const LONG_RESPONSE_LINES = 12;

export class TurnRenderer {
  /**
   * @param {HTMLElement} el the element anywidget gives us
   * @param {import("./store.js").ViewStore} store
   */
  constructor(el, store) {
    this.el = el;
    this.store = store;
    this.stick = true; // follow the bottom while streaming until the user scrolls up
    /** Set while a re-mounted view puts its scroll position back (the follower leaves it alone). */
    this.holdScroll = false;
    this.lastTop = 0;
    this.frames = 0;
    /** View keys left for the next frame by a busy one (see render). @type {Set<string>} */
    this.later = new Set();
    /** Transcript work (ms) past which a frame leaves the rest to the next one (see render). */
    this.frameShareMs = FRAME_SHARE_MS;
    /** Interactive pause cards (a session view): see actions.js. Null for a plain view. */
    /** @type {import("./actions.js").Actions | null} */
    this.actions = null;
    /** Remote media in this view: blocked until allowed (see media.js). */
    this.media = new MediaPolicy();
    /** Fetches sandbox files through Python (artifacts.js); null without a kernel. */
    /** @type {import("./artifacts.js").ArtifactFetcher | null} */
    this.fetcher = null;
    /** The Transcript / Timeline tabs (set by build). @type {ReturnType<typeof attachTimeline>} */
    this.timeline = /** @type {any} */ (null);
    // what is on screen, by id (reset by resetTranscript)
    /** @type {Map<string, any>} */
    this.messageEls = new Map();
    /** @type {Map<string, any>} */
    this.toolEls = new Map();
    /** @type {Map<string, any>} */
    this.threadEls = new Map();
    /** @type {Map<string, any>} */
    this.eventEls = new Map();
    /** @type {Map<string, any>} */
    this.pauseEls = new Map();
    this.placed = 0;
    /** The spans list last indexed by spanOf, and its spans by id. @type {{spans: any[] | null, byId: Map<string, any>}} */
    this.spanIndex = { spans: null, byId: new Map() };
    /** What the usage chart was last drawn from (renderUsage skips a redraw that would change nothing). */
    this.usageKey = "";
    /** The usage chart, kept while the view has usage rows. @type {UsageChart | null} */
    this.chart = null;
    this.build();
  }

  build() {
    /** @type {HTMLDivElement} */
    this.headerEl = h("div", { class: "tfw-header" });
    /** @type {HTMLDivElement} */
    this.inputEl = h("div", { class: "tfw-input" });
    /** @type {HTMLDivElement} */
    this.mainEl = h("div", { class: "tfw-thread-body tfw-main" });
    /** @type {HTMLDivElement} */
    this.pendingEl = h("div", { class: "tfw-pending" });
    /** @type {HTMLDivElement} */
    this.scrollEl = h("div", { class: "tfw-scroll" }, this.inputEl, this.mainEl, this.pendingEl);
    this.scrollEl.addEventListener("scroll", () => {
      const s = this.scrollEl;
      // Off the page, or just put back on it (being moved): its scrollTop means nothing.
      if (!s.isConnected || this.holdScroll) return;
      // Following stops only when the person scrolls up: following itself only ever scrolls down, and may
      // fall short of the end where the host skips an off-screen cell's layout.
      const top = s.scrollTop;
      if (s.scrollHeight - top - s.clientHeight < 48) this.stick = true;
      else if (top < this.lastTop - 1) this.stick = false;
      this.lastTop = top;
    });
    /** @type {HTMLDivElement} */
    this.usageEl = h("div", { class: "tfw-usage" });
    /** @type {HTMLDivElement} */
    this.footerEl = h("div", { class: "tfw-footer" });
    this.timeline = attachTimeline(this); // the Transcript / Timeline tabs (timeline.js)
    /** @type {HTMLDivElement} */
    this.root = h(
      "div",
      { class: "tfw-root" },
      this.headerEl,
      this.timeline.bar,
      this.scrollEl,
      this.timeline.panel.el,
      this.usageEl,
      this.footerEl,
    );
    replaceChildren(this.el, this.root);
    this.resetTranscript();
  }

  resetTranscript() {
    this.mainEl.textContent = "";
    this.pendingEl.textContent = "";
    this.messageEls = new Map();
    this.toolEls = new Map();
    this.threadEls = new Map();
    this.eventEls = new Map();
    this.pauseEls = new Map();
    this.placed = 0; // timeline entries placed so far
  }

  /**
   * Render everything the store marks dirty, then clear the marks. While the turn streams, a frame whose
   * transcript work (messages, tools, events) already took `FRAME_SHARE_MS` leaves the header's numbers,
   * the usage chart, the usage chips and the timeline to the next frame (`later`; the caller schedules a
   * frame while it is not empty): the frame that finishes one message and starts the next is split in two
   * instead of carrying both. Work is left over at most once in a row (the next frame does it whatever its
   * own load), never once the turn is no longer live (its last frame is whole), and never on a full render.
   */
  render() {
    const { view, dirty } = this.store;
    const later = this.later;
    if (!dirty.any && !later.size) return;
    const started = now();
    this.frames += 1;
    const focus = saveFocus(this.root);
    const all = dirty.all;
    if (all) this.resetTranscript();
    const keys = dirty.keys;
    const touched = (/** @type {string} */ k) => all || keys.has(k);

    const headerNow = touched("status") || touched("status_detail") || touched("turn_id") ||
      touched("completed_at") || touched("session_id") || touched("actions");
    if (headerNow) this.renderHeader();
    if (touched("input") || touched("actions")) this.renderInput();
    if (touched("threads")) for (const t of view.threads || []) this.renderThreadHeader(t);

    // Timeline: place new entries; re-placing from an earlier index only re-parents existing nodes.
    const from = all ? 0 : Math.min(dirty.timelineFrom, this.placed);
    const timeline = view.timeline || [];
    for (let i = from; i < timeline.length; i += 1) this.place(timeline[i]);
    this.placed = timeline.length;

    const msgIds = all ? Object.keys(view.messages || {}) : [...dirty.messages];
    for (const id of msgIds) if (this.messageEls.has(id)) this.renderMessage(id);
    const toolIds = all || touched("actions") ? Object.keys(view.tools || {}) : dirty.tools;
    for (const id of toolIds) this.renderTool(id);
    const eventIds = all ? Object.keys(view.events || {}) : dirty.events;
    for (const id of eventIds) if (this.eventEls.has(id)) this.renderEvent(id);
    if (touched("pauses") || touched("actions") || all || from < timeline.length) this.renderPauses();
    if (touched("notices")) this.renderNotices();

    const waiting = all ? [] : SECONDARY_KEYS.filter(touched);
    const defer = waiting.length > 0 && !later.size && LIVE.has(view.status) &&
      now() - started > this.frameShareMs;
    if (defer) {
      for (const k of waiting) later.add(k);
    } else {
      const due = (/** @type {string} */ k) => touched(k) || later.has(k);
      if (!headerNow && (due("totals") || due("spans"))) this.renderHeader();
      if (due("usage") || due("spans")) this.renderUsage();
      // New spans change only the usage chips (cost, time to first token): a chip is rebuilt where its
      // numbers changed, the message itself (its markdown above all) is left alone.
      if (due("spans")) {
        const rendered = new Set(msgIds);
        for (const id of this.messageEls.keys()) if (!rendered.has(id)) this.renderUsageChip(id);
      }
      this.timeline.update(due);
      later.clear();
    }
    this.root.dataset.status = view.status || "connecting";
    this.root.dataset.resolved = isResolved(this.actions) ? "true" : "false";

    dirty.clear();
    restoreFocus(this.root, focus);
    // Follow the stream, and whatever the settled snapshot adds after it (usage, a pause card).
    this.follow();
  }

  /** Scroll to the end while following the stream. */
  follow() {
    if (this.stick) this.scrollEl.scrollTop = this.scrollEl.scrollHeight;
  }

  // ----- header ---------------------------------------------------------------------------------

  renderHeader() {
    const v = this.store.view;
    const resolved = v.status === "paused" && isResolved(this.actions);
    const status = resolved ? "resolved" : STATUS_LABELS[v.status] || v.status || "connecting";
    const pill = h("span", {
      class: `tfw-pill tfw-pill-${status}`,
      text: status,
      title: resolved ? "paused, then answered by the next turn" : null,
    });
    this.elapsedEl = h("span", { class: "tfw-elapsed", title: "elapsed" });
    const items = [pill];
    if (v.status_detail) items.push(h("span", { class: "tfw-detail", text: v.status_detail, title: v.status_detail }));
    items.push(h("span", { class: "tfw-spacer" }));
    items.push(this.elapsedEl);
    const t = /** @type {import("./types.js").Totals | null} */ (v.totals);
    if (t) {
      const tokenText = `${fmtInt(t.input_tokens)} in · ${fmtInt(t.output_tokens)} out`;
      const cacheBits = [];
      if (t.cache_read_tokens) cacheBits.push(`cache read ${fmtInt(t.cache_read_tokens)}`);
      if (t.cache_write_tokens) cacheBits.push(`cache write ${fmtInt(t.cache_write_tokens)}`);
      items.push(
        h("span", {
          class: "tfw-tokens",
          text: tokenText,
          title: [`total ${fmtInt(t.total_tokens)} tokens`, ...cacheBits, ...sourceLines(t)].join("\n"),
        }),
      );
      const cost = fmtCost(t.cost_usd);
      const priced = cost ? null : fmtCost(spansCost(v.spans));
      if (cost || priced) {
        const what = cost ? "cost (USD)" : "cost (USD) from the price table: the turn reported none";
        items.push(h("span", { class: "tfw-cost", text: cost || `≈${priced}`, title: [what, ...costByThread(v.spans)].join("\n") }));
      }
    }
    const top = h("div", { class: "tfw-header-row" }, ...items);
    const meta = h("div", { class: "tfw-header-meta" });
    if (v.turn_id) meta.appendChild(h("span", { class: "tfw-turn-id", text: `turn ${v.turn_id}`, title: "turn id" }));
    if (v.session_id) meta.appendChild(h("span", { class: "tfw-turn-id", text: `session ${v.session_id}` }));
    replaceChildren(this.headerEl, top, meta.childNodes.length ? meta : null);
    this.tick();
  }

  /** Update the elapsed time (called every second while the turn is live). */
  tick() {
    if (!this.elapsedEl) return;
    const v = this.store.view;
    const created = parseTime(v.created_at);
    const completed = parseTime(v.completed_at);
    /** @type {number | null} */
    let ms = null;
    if (created != null && completed != null) ms = completed - created;
    else if (v.started_ms != null && LIVE.has(v.status)) ms = Date.now() - v.started_ms;
    this.elapsedEl.textContent = ms == null ? "" : fmtDuration(ms);
  }

  renderInput() {
    const v = this.store.view;
    replaceChildren(
      this.inputEl,
      ...(v.input || []).map((item, i) => {
        const label = item.type === "user.message" ? null : inputLabel(this.actions, i);
        if (label != null) {
          return h("div", { class: "tfw-user tfw-user-decision" }, h("div", { class: "tfw-role", text: "user" }), h("div", { class: "tfw-user-text", text: label }));
        }
        if (item.type === "user.message") {
          const images = (item.images || []).map((/** @type {import("./types.js").ImageView} */ i) => imageNode(i, "image", this.media));
          return h("div", { class: "tfw-user" }, h("div", { class: "tfw-role", text: "user" }), h("div", { class: "tfw-user-text", text: item.text ?? "" }), inputFiles(item.files), ...images);
        }
        return h("div", { class: "tfw-user tfw-user-other" }, h("div", { class: "tfw-role", text: item.type || "input" }), h("div", { class: "tfw-user-text", text: item.summary ?? item.text ?? "" }));
      }),
    );
  }

  // ----- threads --------------------------------------------------------------------------------

  /**
   * @param {string | null | undefined} id
   * @returns {ThreadView | null}
   */
  threadInfo(id) {
    return (this.store.view.threads || []).find((t) => t.id === id) || null;
  }

  /**
   * The element messages of `threadId` go into (created and placed on first use).
   * @param {string | null | undefined} threadId
   * @returns {HTMLElement}
   */
  threadBody(threadId) {
    if (!threadId || threadId === "main") return this.mainEl;
    let t = this.threadEls.get(threadId);
    if (!t) {
      const summary = h("summary", { class: "tfw-thread-summary" });
      const body = h("div", { class: "tfw-thread-body" });
      const root = h("details", { class: "tfw-thread", attrs: { open: true }, dataset: { thread: threadId } }, summary, body);
      t = { root, summary, body };
      this.threadEls.set(threadId, t);
      this.renderThreadHeader(this.threadInfo(threadId) || { id: threadId });
    }
    this.homeThread(threadId);
    return t.body;
  }

  /**
   * Put a thread under the tool card that spawned it, or at the end of the main thread.
   * @param {string} threadId
   */
  homeThread(threadId) {
    const t = this.threadEls.get(threadId);
    if (!t) return;
    const info = this.threadInfo(threadId);
    const parentTool = info && info.parent_tool_call_id && this.toolEls.get(info.parent_tool_call_id);
    const target = parentTool ? parentTool.childEl : null;
    if (target && t.root.parentNode !== target) target.appendChild(t.root);
    else if (!target && !t.root.parentNode) {
      const parentBody = info && info.parent_thread_id && info.parent_thread_id !== threadId
        ? this.threadBody(info.parent_thread_id)
        : this.mainEl;
      parentBody.appendChild(t.root);
    }
  }

  /** @param {Partial<ThreadView> & {id: string} | null | undefined} info the thread (only its id before the view lists it) */
  renderThreadHeader(info) {
    if (!info || info.id === "main") return;
    const t = this.threadEls.get(info.id);
    if (!t) {
      // Threads show up once something is placed in them, or when their spawning tool card exists.
      if (info.parent_tool_call_id && this.toolEls.has(info.parent_tool_call_id)) this.threadBody(info.id);
      return;
    }
    const status = info.status || "running";
    replaceChildren(
      t.summary,
      h("span", { class: "tfw-thread-title", text: info.title || info.agent_name || info.id }),
      info.agent_name && info.agent_name !== info.title ? h("span", { class: "tfw-chip", text: info.agent_name, title: "agent" }) : null,
      info.model ? h("span", { class: "tfw-chip tfw-model", text: info.model, title: "model" }) : null,
      h("span", { class: `tfw-badge tfw-badge-${status}`, text: status }),
    );
    t.root.dataset.status = status;
    const old = t.root.querySelector(":scope > .tfw-thread-error");
    if (old) old.remove();
    if (info.error) t.root.insertBefore(h("div", { class: "tfw-thread-error", text: info.error }), t.body);
    this.homeThread(info.id);
  }

  // ----- timeline placement ---------------------------------------------------------------------

  /** @param {import("./contracts.gen.js").TimelineEntry | null | undefined} entry */
  place(entry) {
    if (!entry) return;
    if (entry.kind === "message") {
      const m = this.ensureMessage(entry.id, entry.thread_id);
      this.attach(m.root, entry.thread_id);
    } else if (entry.kind === "pause") {
      const el = this.ensurePauseSlot(entry.id);
      this.attach(el, entry.thread_id);
    } else if (entry.kind === "event") {
      const el = this.ensureEvent(entry.id);
      this.attach(el, entry.thread_id);
      this.renderEvent(entry.id);
    }
  }

  /**
   * @param {Node} node
   * @param {string | null | undefined} threadId
   */
  attach(node, threadId) {
    const body = this.threadBody(threadId);
    if (node.parentNode !== body) body.appendChild(node);
  }

  // ----- messages -------------------------------------------------------------------------------

  /**
   * @param {string} id
   * @param {string | null | undefined} threadId
   */
  ensureMessage(id, threadId) {
    let m = this.messageEls.get(id);
    if (m) return m;
    const reasoningText = document.createTextNode("");
    const reasoning = h(
      "details",
      { class: "tfw-reasoning", attrs: { hidden: true } },
      h("summary", { text: "reasoning" }),
      h("div", { class: "tfw-reasoning-text" }, reasoningText),
    );
    const content = h("div", { class: "tfw-md" });
    const mediaSlot = h("div", { class: "tfw-media", attrs: { hidden: true } });
    const refusal = h("div", { class: "tfw-refusal", attrs: { hidden: true } });
    const tools = h("div", { class: "tfw-tools" });
    const usage = h("div", { class: "tfw-usage-slot" });
    const root = h(
      "div",
      { class: "tfw-msg", dataset: { id, thread: threadId || "main" } },
      h("div", { class: "tfw-role", text: "assistant" }),
      reasoning,
      content,
      mediaSlot,
      refusal,
      usage,
      tools,
    );
    m = {
      root, reasoning, reasoningText, content, mediaSlot, refusal, tools, usage,
      // a deferred render of a long streaming tail (markdown.js) may grow the message: keep following
      md: new StreamingMarkdown(content, this.media, () => this.follow()),
      last: { reasoning: "", refusal: null, usage: null, tools: null },
    };
    this.messageEls.set(id, m);
    this.renderMessage(id);
    return m;
  }

  /** @param {string} id */
  renderMessage(id) {
    const msg = this.store.view.messages?.[id];
    const m = this.messageEls.get(id);
    if (!msg || !m) return;
    m.md.update(msg.content || "", !msg.streaming);
    m.content.hidden = !msg.content;
    renderMessageMedia(m.mediaSlot, msg, this.fetcher, m.last, this.media);
    m.root.classList.toggle("tfw-streaming", !!msg.streaming);

    const reasoning = msg.reasoning || "";
    if (reasoning !== m.last.reasoning) {
      if (reasoning.startsWith(m.last.reasoning)) m.reasoningText.appendData(reasoning.slice(m.last.reasoning.length));
      else m.reasoningText.data = reasoning;
      m.last.reasoning = reasoning;
      m.reasoning.hidden = !reasoning;
    }
    const refusal = msg.refusal || "";
    if (refusal !== m.last.refusal) {
      replaceChildren(m.refusal, h("span", { class: "tfw-refusal-label", text: "refused" }), h("span", { text: refusal }));
      m.refusal.hidden = !refusal;
      m.last.refusal = refusal;
    }
    if (msg.finish_reason && msg.finish_reason !== "stop" && msg.finish_reason !== "tool_calls") {
      m.root.dataset.finish = msg.finish_reason;
    }

    const toolKey = JSON.stringify(msg.tool_call_ids || []);
    if (toolKey !== m.last.tools) {
      m.last.tools = toolKey;
      const ids = msg.tool_call_ids || [];
      let parallel = 0;
      for (const tid of ids) {
        const card = this.ensureTool(tid);
        if (card.root.parentNode !== m.tools) m.tools.appendChild(card.root);
        const tool = this.store.view.tools?.[tid];
        if (tool && (tool.child_thread_id || tool.name === "create_sub_agent")) parallel += 1;
      }
      m.tools.classList.toggle("tfw-tools-parallel", parallel > 1);
    }

    this.renderUsageChip(id);
  }

  /**
   * The usage chip of message `id`: rebuilt only when its usage or its span's numbers changed.
   * @param {string} id
   */
  renderUsageChip(id) {
    const msg = this.store.view.messages?.[id];
    const m = this.messageEls.get(id);
    if (!msg || !m) return;
    const span = this.spanOf(id);
    const usageKey = JSON.stringify([msg.usage || null, span && [span.cost_usd, span.cost_source, span.first_ms, span.start_ms]]);
    if (usageKey !== m.last.usage) {
      m.last.usage = usageKey;
      replaceChildren(m.usage, msg.usage ? usageChip(msg.usage, span) : null);
    }
  }

  /**
   * The span of `id` in the view's spans (an index built once per spans list, not a scan per message).
   * @param {string} id
   * @returns {any}
   */
  spanOf(id) {
    const spans = this.store.view.spans || [];
    if (this.spanIndex.spans !== spans) this.spanIndex = { spans, byId: new Map(spans.map((s) => [s.id, s])) };
    return this.spanIndex.byId.get(id) || null;
  }

  // ----- tools ----------------------------------------------------------------------------------

  /** @param {string} id */
  ensureTool(id) {
    let t = this.toolEls.get(id);
    if (t) return t;
    const head = h("div", { class: "tfw-tool-head" });
    const args = h("pre", { class: "tfw-pre tfw-args" });
    const response = h("div", { class: "tfw-response" });
    const offloaded = h("div", { class: "tfw-offloaded-slot" });
    const childEl = h("div", { class: "tfw-tool-children" });
    const root = h("div", { class: "tfw-tool", dataset: { id } }, head, args, response, offloaded, childEl);
    t = { root, head, args, response, offloaded, childEl, last: { head: null, args: null, response: undefined, offloaded: undefined } };
    this.toolEls.set(id, t);
    this.renderTool(id);
    // A thread this call spawned may already exist: move it under the card.
    for (const th of this.store.view.threads || []) {
      if (th.parent_tool_call_id === id) this.threadBody(th.id);
    }
    return t;
  }

  /** @param {string} id */
  renderTool(id) {
    const tool = this.store.view.tools?.[id];
    if (!tool) return;
    const t = this.toolEls.get(id) || this.ensureTool(id);
    if (!t.root.parentNode) {
      // A call whose message is unknown (e.g. a resumed stream): show it in its thread.
      const msgEl = tool.message_id && this.messageEls.get(tool.message_id);
      (msgEl ? msgEl.tools : this.threadBody(tool.thread_id)).appendChild(t.root);
    }
    const res = resolutionOf(this.actions, id);
    const status = res && tool.status && tool.status.startsWith("awaiting") ? res.decision : tool.status || "running";
    const headKey = `${tool.name}|${tool.tool_type}|${tool.server_name}|${status}`;
    if (headKey !== t.last.head) {
      t.last.head = headKey;
      /** @type {string | null} */
      let origin = null;
      if (tool.tool_type === "mcp") origin = tool.server_name ? `MCP · ${tool.server_name}` : "MCP";
      else if (tool.tool_type === "truefoundry-system") origin = "system tool";
      replaceChildren(
        t.head,
        h("span", { class: "tfw-tool-icon", text: "⚙" }),
        h("span", { class: "tfw-tool-name", text: tool.name || "(unnamed tool)" }),
        origin ? h("span", { class: "tfw-chip", text: origin }) : null,
        h("span", { class: "tfw-spacer" }),
        h("span", { class: `tfw-badge tfw-badge-${status}`, text: TOOL_STATUS_LABELS[status] || (DECISION_TITLES[status] || status).toLowerCase() }),
      );
      t.root.dataset.status = status;
    }
    const args = tool.arguments || "";
    if (args !== t.last.args) {
      t.last.args = args;
      t.args.textContent = prettyJson(args);
      t.args.hidden = !args;
    }
    if (tool.response !== t.last.response) {
      t.last.response = tool.response;
      renderResponse(t.response, tool.response);
    }
    const offKey = JSON.stringify(tool.offloaded || null);
    if (offKey !== t.last.offloaded) {
      t.last.offloaded = offKey;
      replaceChildren(t.offloaded, offloadedResult(tool.offloaded, this.fetcher));
    }
  }

  // ----- events, pauses, usage, notices ---------------------------------------------------------

  /**
   * @param {string} id
   * @returns {HTMLElement}
   */
  ensureEvent(id) {
    let el = this.eventEls.get(id);
    if (!el) {
      el = h("div", { class: "tfw-event", dataset: { id } });
      this.eventEls.set(id, el);
    }
    return el;
  }

  /** @param {string} id */
  renderEvent(id) {
    const ev = this.store.view.events?.[id];
    const el = this.eventEls.get(id);
    if (!ev || !el) return;
    replaceChildren(el, h("span", { class: "tfw-event-type", text: ev.type || "event" }), ev.summary ? h("span", { class: "tfw-event-summary", text: ev.summary }) : null);
  }

  /**
   * @param {string} id
   * @returns {HTMLElement}
   */
  ensurePauseSlot(id) {
    let el = this.pauseEls.get(id);
    if (!el) {
      el = h("div", { class: "tfw-pause-slot", dataset: { id } });
      this.pauseEls.set(id, el);
    }
    return el;
  }

  renderPauses() {
    const pauses = this.store.view.pauses || [];
    /** @type {Map<string, HTMLElement[]>} */
    const byId = new Map();
    for (const p of pauses) {
      if (!byId.has(p.id)) byId.set(p.id, []);
      /** @type {HTMLElement[]} */ (byId.get(p.id)).push(pauseCard(p, (id) => this.store.view.tools?.[id], this.actions));
    }
    const pending = [];
    for (const [id, cards] of byId) {
      const slot = this.pauseEls.get(id);
      if (slot && slot.parentNode) replaceChildren(slot, ...cards);
      else pending.push(...cards);
    }
    for (const [id, slot] of this.pauseEls) if (!byId.has(id)) slot.textContent = "";
    replaceChildren(this.pendingEl, ...pending);
  }

  renderUsage() {
    const usage = this.store.view.usage || [];
    // The chart reads the usage rows, the model calls' cost and context window, and the thread titles:
    // spans that changed elsewhere (a start, a first token) leave it as it is.
    const spans = this.store.view.spans || [];
    const key = JSON.stringify([
      usage,
      spans.filter((s) => s.kind === "model_call").map((s) => [s.id, s.cost_usd, s.cost_source, s.context_window]),
      (this.store.view.threads || []).map((t) => [t.id, t.title]),
    ]);
    if (key === this.usageKey && this.usageEl.firstChild) return;
    this.usageKey = key;
    if (!usage.length) {
      this.usageEl.textContent = "";
      this.chart = null;
      return;
    }
    const label = (/** @type {string} */ id) => this.threadInfo(id)?.title || id;
    // the chart is kept and brought up to date (chart.js): a new call adds a bar, it does not redraw all
    const chart = (this.chart ||= new UsageChart());
    chart.update(usage, label, this.store.view.spans);
    const summary = `usage per model call (${usage.length})`;
    /** @type {HTMLDetailsElement | null} */
    const details = this.usageEl.querySelector(":scope > details");
    if (details && chart.el.parentNode === details) {
      // keep the details open or closed as the person left it
      /** @type {HTMLElement} */ (details.firstElementChild).textContent = summary;
      return;
    }
    replaceChildren(this.usageEl, h("details", { class: "tfw-usage-details", attrs: { open: true } }, h("summary", { text: summary }), chart.el));
  }

  renderNotices() {
    const notices = this.store.view.notices || [];
    replaceChildren(
      this.footerEl,
      ...notices.map((n) => h("div", { class: `tfw-notice tfw-notice-${n.level || "info"}`, text: n.text ?? "" })),
    );
  }
}

// ----- stateless pieces ---------------------------------------------------------------------------

/**
 * Where each total came from: one line when all agree, else one per field.
 * @param {import("./types.js").Totals} t the view's totals
 * @returns {string[]}
 */
function sourceLines(t) {
  /** @type {Record<string, string>} */
  const names = { metrics: "turn.done metrics", usage: "sum of the calls' usage" };
  if (!t.sources || t.source !== "mixed") return [`from ${names[t.source] || t.source || "usage"}`];
  const labels = { input_tokens: "in", output_tokens: "out", cache_read_tokens: "cache read", cache_write_tokens: "cache write" };
  return Object.entries(labels).map(([k, label]) => `${label} from ${names[t.sources[k]] || t.sources[k]}`);
}

/**
 * @param {HTMLElement} el
 * @param {string | null | undefined} response
 */
function renderResponse(el, response) {
  if (response == null) {
    el.textContent = "";
    el.hidden = true;
    return;
  }
  el.hidden = false;
  const text = prettyJson(response);
  const lines = text.split("\n").length;
  const pre = h("pre", { class: "tfw-pre", text });
  if (text.length > LONG_RESPONSE_CHARS || lines > LONG_RESPONSE_LINES) {
    replaceChildren(
      el,
      h("details", { class: "tfw-response-details" }, h("summary", { text: `response · ${fmtInt(text.length)} chars, ${lines} lines` }), pre),
    );
  } else {
    replaceChildren(el, h("div", { class: "tfw-response-label", text: "response" }), pre);
  }
}

/**
 * A model call's usage line; it opens to the input breakdown.
 * @param {import("./types.js").UsageRecord} usage
 * @param {import("./types.js").SpanView | null} [span] the call's span (its cost and time to first token)
 * @returns {HTMLDetailsElement}
 */
export function usageChip(usage, span = null) {
  const p = /** @type {NonNullable<ReturnType<typeof usageParts>>} */ (usageParts(usage));
  const bits = [`in ${fmtInt(p.input)}`, `out ${fmtInt(p.output)}`];
  if (p.cacheRead) bits.push(`cache read ${fmtInt(p.cacheRead)}`);
  if (p.cacheWrite) bits.push(`cache write ${fmtInt(p.cacheWrite)}`);
  bits.push(...usageChipExtras(span));
  const rows = [];
  if (p.breakdown) {
    for (const k of BREAKDOWN_KEYS) {
      rows.push(h("tr", {}, h("td", { text: k.replace("_", " ") }), h("td", { class: "tfw-num", text: fmtInt(p.breakdown[k]) })));
    }
  }
  if (p.breakdownGap) {
    const text = p.breakdownGap > 0 ? "not in the breakdown" : "breakdown exceeds input by";
    rows.push(h("tr", { class: "tfw-breakdown-gap", title: "the reported breakdown does not add up to the input tokens" },
      h("td", { text }), h("td", { class: "tfw-num", text: fmtInt(Math.abs(p.breakdownGap)) })));
  }
  rows.push(h("tr", { class: "tfw-sum" }, h("td", { text: "input" }), h("td", { class: "tfw-num", text: fmtInt(p.input) })));
  rows.push(h("tr", {}, h("td", { text: "output" }), h("td", { class: "tfw-num", text: fmtInt(p.output) })));
  if (p.cacheRead || p.cacheWrite) {
    rows.push(h("tr", {}, h("td", { text: "cache read" }), h("td", { class: "tfw-num", text: fmtInt(p.cacheRead) })));
    rows.push(h("tr", {}, h("td", { text: "cache write" }), h("td", { class: "tfw-num", text: fmtInt(p.cacheWrite) })));
  }
  return h(
    "details",
    { class: "tfw-usage-chip" },
    h("summary", { text: bits.join(" · "), title: "tokens for this model call; click for the input breakdown" }),
    h("table", { class: "tfw-breakdown" }, h("tbody", {}, ...rows)),
  );
}

/**
 * @param {PauseView} p
 * @param {(id: string) => ToolView | undefined} toolOf
 * @param {import("./actions.js").Actions | null} actions
 * @returns {HTMLElement}
 */
function pauseCard(p, toolOf, actions) {
  const res = resolutionOf(actions, p.tool_call_id);
  if (res) {
    const tool = p.tool_call_id ? toolOf(p.tool_call_id) : null;
    return resolvedCard(p, res, p.tool_name || tool?.name || "tool");
  }
  const card = pauseCardBody(p, toolOf);
  if (p.pending === false) {
    card.classList.add("tfw-pause-resolved");
    card.title = "the turn no longer waits on this";
  }
  const controls = actions ? pauseControls(p, actions) : null;
  if (controls) card.appendChild(controls);
  return card;
}

/**
 * @param {PauseView} p
 * @param {(id: string) => ToolView | undefined} toolOf
 * @returns {HTMLElement}
 */
function pauseCardBody(p, toolOf) {
  const tool = p.tool_call_id ? toolOf(p.tool_call_id) : null;
  const name = p.tool_name || tool?.name || "tool";
  if (p.kind === "approval") {
    return h(
      "div",
      { class: "tfw-pause tfw-pause-approval", dataset: { id: p.id } },
      h("div", { class: "tfw-pause-title", text: "Approval required" }),
      h("div", { class: "tfw-pause-text" }, "The turn is paused until ", h("code", { text: name }), " is allowed or denied."),
      h("pre", { class: "tfw-pre", text: prettyJson(p.arguments ?? tool?.arguments ?? "") }),
    );
  }
  if (p.kind === "question") {
    const options = Array.isArray(p.options) ? p.options : [];
    return h(
      "div",
      { class: "tfw-pause tfw-pause-question", dataset: { id: p.id } },
      h("div", { class: "tfw-pause-title", text: "Question for you" }),
      h("div", { class: "tfw-pause-question-text", text: p.question || "" }),
      options.length
        ? h("ul", { class: "tfw-options" }, ...options.map((/** @type {string | {label?: string} | null} */ o) => h("li", { text: typeof o === "string" ? o : (o?.label ?? JSON.stringify(o)) })))
        : null,
    );
  }
  if (p.kind === "mcp_auth") {
    const servers = Array.isArray(p.servers) ? p.servers : [];
    return h(
      "div",
      { class: "tfw-pause tfw-pause-auth", dataset: { id: p.id } },
      h("div", { class: "tfw-pause-title", text: "Sign-in required" }),
      h("div", { class: "tfw-pause-text", text: "Sign in to these MCP servers, then start a new turn with empty input:" }),
      h("ul", { class: "tfw-options" }, ...servers.map((s) => h("li", {}, h("strong", { text: s.name || s.id || "server" }), " ", link(s.auth_url, "sign in")))),
    );
  }
  return h("div", { class: "tfw-pause", text: `paused: ${p.kind}` });
}
