"""The front end's code and styles, held once per kernel by a hidden widget model.

anywidget keeps a widget's ``_esm`` (and ``_css``) in each widget model, so a notebook saved with widget
state would store the whole bundle once per view. Instead one plain model (``FrontEndBundle``, never
displayed) carries the bundle, and each view's ``_esm`` is a small loader: it finds that model through the
widget manager, imports the bundle once per page and renders with it. Saved widget state, nbconvert
exports and ``ipywidgets.embed`` hold the bundle model once (views reference it by ``IPY_MODEL_`` id).

Hosts without an ipywidgets widget manager (marimo) get the whole bundle in each view, as before.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import os
import sys
import threading
from pathlib import Path
from typing import Any

import ipywidgets
import traitlets

_STATIC = Path(__file__).with_name("static")
ESM_PATH = _STATIC / "widget.js"
CSS_PATH = _STATIC / "widget.css"

#: Each view's ``_esm`` when the bundle is shared: import the bundle model's code once per page (by digest),
#: add its styles once, then render with it. A failure shows in the view instead of leaving it blank.
LOADER_ESM = """
const loaded = (globalThis.__tfwidgetBundles ||= new Map());
// base64 of gzip bytes -> text
async function gunzip(b64) {
  const bin = atob(String(b64 || ""));
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i += 1) bytes[i] = bin.charCodeAt(i);
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return await new Response(stream).text();
}
async function frontEnd(model) {
  const ref = String(model.get("_bundle") || "");
  const manager = model.widget_manager;
  if (!ref.startsWith("IPY_MODEL_") || !manager || typeof manager.get_model !== "function") {
    throw new Error("this host has no widget manager to load the tfwidget front end from");
  }
  const bundle = await manager.get_model(ref.slice(10));
  const digest = bundle.get("digest");
  if (!loaded.has(digest)) {
    loaded.set(digest, (async () => {
      const [code, css] = await Promise.all([gunzip(bundle.get("code")), gunzip(bundle.get("css"))]);
      if (css && typeof document !== "undefined") {
        const style = document.createElement("style");
        style.dataset.tfwidgetBundle = digest;
        style.textContent = css;
        document.head.appendChild(style);
      }
      const url = URL.createObjectURL(new Blob([code], { type: "text/javascript" }));
      try {
        return (await import(url)).default;
      } finally {
        URL.revokeObjectURL(url);
      }
    })());
  }
  return loaded.get(digest);
}
export default {
  async render({ model, el }) {
    let widget;
    try {
      widget = await frontEnd(model);
    } catch (err) {
      el.textContent = `tfwidget: the front end could not be loaded (${err && err.message ? err.message : err})`;
      return;
    }
    return widget.render({ model, el });
  },
};
"""


class FrontEndBundle(ipywidgets.Widget):  # type: ignore[misc]
    """A widget model that only carries the front end (``code``, ``css``: gzip, base64-encoded: a plain
    ``WidgetModel`` saves its attributes as JSON, so binary buffers would not survive a save); views load
    it by reference."""

    code = traitlets.Unicode().tag(sync=True)
    css = traitlets.Unicode().tag(sync=True)
    digest = traitlets.Unicode().tag(sync=True)


_lock = threading.Lock()
_shared: FrontEndBundle | None = None


def inline_bundle() -> bool:
    """``True`` where each view must carry the whole bundle: marimo (no ipywidgets widget manager), or when
    ``TFWIDGET_INLINE_BUNDLE`` is set to a non-empty value other than ``0``."""
    flag = os.environ.get("TFWIDGET_INLINE_BUNDLE", "")
    if flag and flag != "0":
        return True
    if "marimo" not in sys.modules:
        return False
    try:
        from marimo._runtime.context.types import runtime_context_installed

        return bool(runtime_context_installed())
    except Exception:  # pragma: no cover - another marimo layout: be safe, inline
        return True


def _packed(text: str) -> str:
    return base64.b64encode(gzip.compress(text.encode(), 9, mtime=0)).decode("ascii")


def shared_bundle() -> FrontEndBundle:
    """The kernel's bundle model (created on first use; again if it was closed)."""
    global _shared
    with _lock:
        if _shared is None or getattr(_shared, "comm", None) is None:
            code = ESM_PATH.read_text(encoding="utf-8")
            css = CSS_PATH.read_text(encoding="utf-8")
            digest = hashlib.sha256((code + "\0" + css).encode()).hexdigest()[:20]
            _shared = FrontEndBundle(code=_packed(code), css=_packed(css), digest=digest)
        return _shared


def front_end_traits() -> dict[str, Any]:
    """``_esm``, ``_css`` and ``_bundle`` values for a new view: a loader and a reference to the shared
    bundle, or the whole bundle inline (see :func:`inline_bundle`)."""
    if inline_bundle():
        return {
            "_esm": ESM_PATH.read_text(encoding="utf-8"),
            "_css": CSS_PATH.read_text(encoding="utf-8"),
            "_bundle": None,
        }
    return {"_esm": LOADER_ESM, "_css": "", "_bundle": shared_bundle()}
