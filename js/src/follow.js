// @ts-check
// A transcript that does not trap the page's scroll.
//
// - A wheel over a view scrolls the view only while the view can scroll that way and the person is not
//   scrolling the page: at the view's ends the wheel goes to the page (the nearest scrollable ancestor),
//   and once a wheel has scrolled the page, views that pass under the resting pointer let the wheel through
//   until the person moves the pointer (or presses a button) over one of them.
// - When the view no longer follows the stream, a "Jump to latest" button shows; it scrolls to the end
//   and follows again.

/** Distance (px) from the bottom that still counts as "at the bottom". */
export const BOTTOM_SLACK = 48;

let pageWheelAt = -Infinity;
let windowHooked = false;

/**
 * Where one wheel event over a view should go: "view" (scroll the transcript) or "page".
 * Pure: `pageWheelAt` is when a wheel last scrolled the page, `engagedAt` when the pointer last moved
 * (or pressed) over this view; the rest are the scroll box's numbers.
 * @param {{deltaY: number, scrollTop: number, scrollHeight: number, clientHeight: number, pageWheelAt: number, engagedAt?: number}} wheel
 * @returns {"view" | "page"}
 */
export function wheelGoesTo({ deltaY, scrollTop, scrollHeight, clientHeight, pageWheelAt: last, engagedAt = -Infinity }) {
  if (!deltaY) return "view"; // sideways: the browser's business
  if (last > engagedAt) return "page"; // a page scroll is passing under the resting pointer
  const max = scrollHeight - clientHeight;
  if (max <= 1) return "page"; // nothing to scroll
  if (deltaY < 0 && scrollTop <= 0) return "page";
  if (deltaY > 0 && scrollTop >= max - 1) return "page";
  return "view";
}

/**
 * A wheel delta in pixels, whatever unit the event uses.
 * @param {Pick<WheelEvent, "deltaMode" | "deltaY">} event
 * @param {number} [pageHeight]
 * @returns {number}
 */
export function wheelPixels(event, pageHeight) {
  if (event.deltaMode === 1) return event.deltaY * 16;
  if (event.deltaMode === 2) return event.deltaY * (pageHeight || 800);
  return event.deltaY;
}

/**
 * The element that scrolls the page around `el`: its nearest scrollable ancestor, else the document.
 * @param {Element} el
 * @returns {Element}
 */
export function pageScroller(el) {
  for (let node = el.parentElement; node; node = node.parentElement) {
    const style = getComputedStyle(node);
    if (/(auto|scroll|overlay)/.test(style.overflowY) && node.scrollHeight > node.clientHeight + 1) return node;
  }
  return document.scrollingElement || document.documentElement;
}

function hookWindow() {
  if (windowHooked || typeof window === "undefined") return;
  windowHooked = true;
  // A wheel anywhere but over a transcript scrolls the page: views it then passes over let it through.
  window.addEventListener(
    "wheel",
    (e) => {
      const t = e.target;
      if (!(t instanceof Element) || !t.closest(".tfw-scroll")) pageWheelAt = performance.now();
    },
    { capture: true, passive: true },
  );
}

/**
 * Install wheel hand-back and the "Jump to latest" button on a TurnRenderer (uses its `scrollEl`,
 * `stick` and `store`). Returns {update, dispose}; call update() after each render.
 * @param {{scrollEl: HTMLElement, root: HTMLElement, stick: boolean}} renderer
 */
export function installFollow(renderer) {
  hookWindow();
  const s = renderer.scrollEl;
  const button = document.createElement("button");
  button.type = "button";
  button.className = "tfw-jump";
  button.textContent = "↓ Jump to latest";
  button.title = "scroll to the end of the transcript and follow it again";
  button.hidden = true;
  s.appendChild(button);

  const update = () => {
    const below = s.scrollHeight - s.scrollTop - s.clientHeight;
    button.hidden = renderer.stick || below < BOTTOM_SLACK;
  };
  const onClick = () => {
    renderer.stick = true;
    s.scrollTop = s.scrollHeight;
    update();
  };
  let engagedAt = -Infinity;
  const onPointer = (/** @type {PointerEvent} */ e) => {
    // Chromium sends movement-less pointer events when content scrolls under a resting pointer: not a move.
    if (e.type === "pointerdown" || e.movementX || e.movementY) engagedAt = performance.now();
  };
  const onWheel = (/** @type {WheelEvent} */ e) => {
    if (e.ctrlKey) return; // zoom
    const now = performance.now();
    const where = wheelGoesTo({
      deltaY: e.deltaY,
      scrollTop: s.scrollTop,
      scrollHeight: s.scrollHeight,
      clientHeight: s.clientHeight,
      pageWheelAt,
      engagedAt,
    });
    if (where !== "page") return;
    const page = pageScroller(renderer.root);
    e.preventDefault();
    page.scrollBy(0, wheelPixels(e, page.clientHeight));
    pageWheelAt = now;
  };
  const onScroll = () => update();
  // Hosts skip the layout of off-screen cells (content-visibility), so following the stream there can stop
  // short of the end: a following view shows its end when it comes into sight.
  const seen = typeof IntersectionObserver === "function"
    ? new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting) && renderer.stick) {
        s.scrollTop = s.scrollHeight;
        update();
      }
    })
    : null;
  seen?.observe(s);
  button.addEventListener("click", onClick);
  s.addEventListener("wheel", onWheel, { passive: false });
  s.addEventListener("pointermove", onPointer, { passive: true });
  s.addEventListener("pointerdown", onPointer, { passive: true });
  s.addEventListener("scroll", onScroll, { passive: true });
  return {
    button,
    update,
    dispose() {
      seen?.disconnect();
      button.removeEventListener("click", onClick);
      s.removeEventListener("wheel", onWheel);
      s.removeEventListener("pointermove", onPointer);
      s.removeEventListener("pointerdown", onPointer);
      s.removeEventListener("scroll", onScroll);
    },
  };
}
