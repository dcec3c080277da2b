// @ts-check
// A host may throw a widget's view away and render the same model again in the same place: JupyterLab 4
// and Notebook 7 do so when a cell output is updated (TurnView refreshes its static fallback when the
// turn ends, so a notebook saved without widget state still shows the transcript). Rebuilding there
// would reset what the person is looking at, so the new view adopts the old one's DOM instead, and puts
// back what taking the DOM out of the page loses: the scroll position, the text selection and focus.

/** @typedef {import("./types.js").Model} Model */

/**
 * A mounted view: its root element, the element the host gave it, and how a new view adopts its DOM
 * (`moveTo` returns the new view's cleanup function).
 * @typedef {object} MountedView
 * @property {HTMLElement} root
 * @property {HTMLElement} el
 * @property {(target: HTMLElement, model: Model) => () => void} moveTo
 */

/**
 * uid -> Set of mounted instances ({root, ...}). Each view gets its own model proxy from anywidget, so
 * the model is recognised by the `_uid` trait Python gives every TurnView.
 * @type {Map<string, Set<MountedView>>}
 */
const mounted = new Map();

/**
 * @param {Model} model
 * @returns {string | null}
 */
function uidOf(model) {
  const uid = model.get("_uid");
  return typeof uid === "string" && uid ? uid : null;
}

/**
 * Remember a mounted instance of `model` (an object with a `root` element).
 * @param {Model} model
 * @param {MountedView} instance
 */
export function register(model, instance) {
  const uid = uidOf(model);
  if (!uid) return;
  let set = mounted.get(uid);
  if (!set) mounted.set(uid, (set = new Set()));
  set.add(instance);
}

/**
 * Forget an instance (its view was removed for good).
 * @param {Model} model
 * @param {MountedView} instance
 */
export function unregister(model, instance) {
  const uid = uidOf(model);
  const set = uid && mounted.get(uid);
  if (!set) return;
  set.delete(instance);
  if (!set.size) mounted.delete(uid);
}

/**
 * An instance of `model` whose DOM the host took out of the page without removing the view: the new view
 * can adopt it. Null when every instance is still on the page (a second display of the same widget).
 * @param {Model} model
 * @returns {MountedView | null}
 */
export function orphanOf(model) {
  const uid = uidOf(model);
  for (const inst of (uid && mounted.get(uid)) || []) if (!inst.root.isConnected) return inst;
  return null;
}

/**
 * Keeps track, while a view is on the page, of what a removal from the page would lose: the transcript's
 * scroll position, a text selection inside the view and the element inside it that has focus.
 */
export class ViewMemory {
  /**
   * @param {HTMLElement} root the view's root element
   * @param {HTMLElement} scrollEl the transcript's scroll box
   * @param {() => boolean} [isFollowing] whether the transcript follows the stream
   */
  constructor(root, scrollEl, isFollowing = () => false) {
    this.root = root;
    this.scrollEl = scrollEl;
    this.isFollowing = isFollowing;
    this.scrollTop = 0;
    /** The selection's boundary points. @type {{sc: Node, so: number, ec: Node, eo: number} | null} */
    this.range = null;
    /** @type {HTMLElement | null} */
    this.focus = null;
    this.pending = false; // between adoption and restore: ignore what the move does to selection/focus
    this.onScroll = () => {
      if (this.root.isConnected && !this.pending) this.scrollTop = this.scrollEl.scrollTop;
    };
    this.onSelection = () => {
      if (!this.root.isConnected || this.pending) return;
      const sel = document.getSelection();
      if (sel && sel.rangeCount > 0) {
        const r = sel.getRangeAt(0);
        if (!r.collapsed && this.root.contains(r.startContainer) && this.root.contains(r.endContainer)) {
          // Boundary points, not a Range: a live Range is moved out of the view when the view leaves the page.
          this.range = { sc: r.startContainer, so: r.startOffset, ec: r.endContainer, eo: r.endOffset };
          return;
        }
      }
      this.range = null;
    };
    this.onFocusIn = (/** @type {FocusEvent} */ e) => {
      this.focus = /** @type {HTMLElement | null} */ (e.target);
    };
    this.onFocusOut = () => {
      // Focus that leaves because the node left the page is restored; focus the person moved is not.
      // Chromium fires focusout while the node is still in the page, so decide once the removal is done.
      queueMicrotask(() => {
        if (this.root.isConnected && !this.pending && !this.root.contains(document.activeElement)) this.focus = null;
      });
    };
    scrollEl.addEventListener("scroll", this.onScroll, { passive: true });
    document.addEventListener("selectionchange", this.onSelection);
    root.addEventListener("focusin", this.onFocusIn);
    root.addEventListener("focusout", this.onFocusOut);
    this.frame = 0;
    // A host that detaches off-screen cells and attaches them again (JupyterLab's "full" windowing) resets
    // the scroll position: put it back when the view has a size again.
    this.hidden = false;
    this.resize = typeof ResizeObserver === "function"
      ? new ResizeObserver(() => {
        const shown = this.root.isConnected && this.root.getClientRects().length > 0;
        if (!shown) this.hidden = true;
        else if (this.hidden && !this.pending) {
          this.hidden = false;
          this.restore(this.isFollowing());
        } else this.hidden = false;
      })
      : null;
    this.resize?.observe(root);
  }

  /**
   * After the root moved into a new element: once it is on the page again, put back the scroll position
   * (`toBottom` follows the stream instead), the selection and focus.
   * @param {() => boolean} toBottom
   * @param {() => void} [done]
   * @param {number} [timeoutMs]
   */
  restoreWhenShown(toBottom, done = () => {}, timeoutMs = 10000) {
    this.pending = true;
    const started = Date.now();
    const finish = () => {
      this.pending = false;
      done();
    };
    const step = () => {
      this.frame = 0;
      if (!this.root.isConnected) {
        if (Date.now() - started < timeoutMs) this.frame = requestAnimationFrame(step);
        else finish();
        return;
      }
      this.restore(toBottom());
      done();
    };
    if (typeof requestAnimationFrame === "function") this.frame = requestAnimationFrame(step);
    else finish();
  }

  /** @param {boolean} toBottom follow the stream (else put back the scroll position) */
  restore(toBottom) {
    const s = this.scrollEl;
    s.scrollTop = toBottom ? s.scrollHeight : this.scrollTop;
    const active = document.activeElement;
    if (this.focus && this.root.contains(this.focus) && (!active || active === document.body || !active.isConnected)) {
      try {
        this.focus.focus({ preventScroll: true });
      } catch {
        // not focusable any more
      }
    }
    const sel = document.getSelection();
    const r = this.range;
    if (r && sel && this.root.contains(r.sc) && this.root.contains(r.ec)) {
      const current = sel.rangeCount ? sel.getRangeAt(0) : null;
      // Only when nothing else was selected meanwhile (a collapsed caret where the view was is nothing).
      if (!current || current.collapsed) {
        try {
          const range = document.createRange();
          range.setStart(r.sc, Math.min(r.so, nodeLength(r.sc)));
          range.setEnd(r.ec, Math.min(r.eo, nodeLength(r.ec)));
          sel.removeAllRanges();
          sel.addRange(range);
        } catch {
          // the selected nodes changed shape meanwhile
        }
      }
    }
    this.pending = false;
    this.scrollTop = s.scrollTop;
  }

  dispose() {
    this.resize?.disconnect();
    if (this.frame && typeof cancelAnimationFrame === "function") cancelAnimationFrame(this.frame);
    this.scrollEl.removeEventListener("scroll", this.onScroll);
    document.removeEventListener("selectionchange", this.onSelection);
    this.root.removeEventListener("focusin", this.onFocusIn);
    this.root.removeEventListener("focusout", this.onFocusOut);
  }
}

/** @param {Node} node */
function nodeLength(node) {
  return node.nodeType === 3 || node.nodeType === 8 ? /** @type {CharacterData} */ (node).data.length : node.childNodes.length;
}
