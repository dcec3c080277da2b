"""Widget traffic: kernel -> front-end comm messages, bytes and kernel CPU for one streamed turn.

The same turn (``large_turn_events``) is delivered in real time (``rate`` events per second, so a
10,000-delta turn takes about 10 s of wall time) to:

- ``tfwidget.TurnView``: the fold plus coalesced patches sent with ``send`` (one per flush window);
- the naive anywidget: a synced ``events`` List trait reassigned per event (``benchmarks._naive``);
- Panel's ``ChatFeed`` / ``ChatMessage``: one ``ChatMessage`` per model message, ``stream()`` per delta.

Messages are captured at the comm layer (``benchmarks._common.recording_comms``): every widget gets a
real ``comm`` object whose ``publish_msg`` records what a kernel would put on IOPub. CPU is
``time.process_time()`` (all threads of this process, so flush timers count), including the JSON encoding
of each message the kernel would do.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from benchmarks._common import check, not_run, recording_comms, result
from benchmarks._streams import large_turn_events, to_sse

T = TypeVar("T")

TITLE = "Widget traffic: comm messages, bytes and kernel CPU for one streamed turn"


def paced(seq: Sequence[T], rate: float) -> Iterator[T]:
    """Yield ``seq`` at ``rate`` items per second of wall time (never faster; a slow consumer lags)."""
    t0 = time.perf_counter()
    for i, x in enumerate(seq):
        due = t0 + i / rate
        now = time.perf_counter()
        if due > now:
            time.sleep(due - now)
        yield x


def _measure(run: Any) -> dict[str, Any]:
    """Run ``run(recorder)`` inside a recording comm layer; returns messages, bytes, CPU and wall time."""
    gc.collect()
    with recording_comms() as rec:
        cpu0, wall0 = time.process_time(), time.perf_counter()
        extra = run(rec) or {}
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        out = {"messages": rec.messages, "bytes": rec.bytes, "cpu_s": cpu, "wall_s": wall,
               "by_type": dict(rec.by_type), **extra}  # fmt: skip
    return out


def run_turnview(events: list[dict[str, Any]], rate: float) -> dict[str, Any]:
    from tfwidget import TurnView, iter_sse

    items = list(iter_sse(to_sse(events)))

    def go(rec: Any) -> dict[str, Any]:
        view = TurnView()
        for item in paced(items, rate):
            view.feed(item)
        time.sleep(2 * view.flush_interval)  # let a timed flush still in flight run
        view.flush()
        out = {"patches": view.patches_sent, "snapshots": view.snapshots_sent}
        view.close()
        return out

    return _measure(go)


def run_turnview_split(events: list[dict[str, Any]], rate: float) -> dict[str, Any]:
    """``run_turnview`` with the bytes split by kind: comm opens, state updates (whole views) and patches."""
    from benchmarks._common import wire_size
    from tfwidget import TurnView, iter_sse

    items = list(iter_sse(to_sse(events)))
    kinds: dict[str, list[int]] = {}

    def go(rec: Any) -> dict[str, Any]:
        record = rec.record

        def classify(comm_id: str, msg_type: str, content: dict[str, Any], buffers: Any) -> None:
            data = content.get("data") or {}
            if msg_type == "comm_open":
                kind = "open"
            elif data.get("method") == "custom":
                kind = "patch" if (data.get("content") or {}).get("type") == "patch" else "other"
            else:
                kind = "state"
            entry = kinds.setdefault(kind, [0, 0])
            entry[0] += 1
            entry[1] += wire_size(content) + sum(len(memoryview(b).cast("B")) for b in buffers or [])
            record(comm_id, msg_type, content, buffers)

        rec.record = classify
        try:
            view = TurnView()
            for item in paced(items, rate):
                view.feed(item)
            time.sleep(2 * view.flush_interval)
            view.flush()
            out = {"patches": view.patches_sent, "snapshots": view.snapshots_sent}
            view.close()
        finally:
            rec.record = record
        return out

    out = _measure(go)
    for kind in ("open", "state", "patch", "other"):
        out[f"{kind}_messages"], out[f"{kind}_bytes"] = kinds.get(kind, [0, 0])
    return out


def run_naive(events: list[dict[str, Any]], rate: float) -> dict[str, Any]:
    from benchmarks._naive import NaiveEventsWidget

    def go(rec: Any) -> None:
        w = NaiveEventsWidget()
        for ev in paced(events, rate):
            w.append(ev)
        w.close()

    return _measure(go)


def _panel_text(ev: dict[str, Any]) -> str:
    parts = [ev.get("content") or ""]
    for call in ev.get("tool_calls") or []:
        parts.append((call.get("function") or {}).get("arguments") or "")
    return "".join(p for p in parts if isinstance(p, str))


def run_panel(events: list[dict[str, Any]], rate: float) -> dict[str, Any]:
    """Panel rendered as in a notebook: ``get_root`` with a pyviz comm plus ``render_mimebundle`` (the
    document is held, so every change is pushed as a PATCH-DOC over the comm, three comm messages each)."""
    import panel as pn
    from bokeh.document import Document
    from panel.io.notebook import render_mimebundle
    from pyviz_comms import JupyterCommManager

    pn.extension()

    def go(rec: Any) -> dict[str, Any]:
        feed = pn.chat.ChatFeed()
        doc = Document()
        comm = JupyterCommManager.get_server_comm()
        model = feed.get_root(doc, comm)
        bundle, _ = render_mimebundle(model, doc, comm)
        comm.init()
        current: dict[str, Any] = {}
        for ev in paced(events, rate):
            kind = ev.get("type")
            if kind == "turn.created":
                feed.send(pn.chat.ChatMessage("benchmark", user="User"), respond=False)
            elif kind == "model.message":
                current[ev["id"]] = feed.send(pn.chat.ChatMessage("", user="Assistant"), respond=False)
            elif kind == "model.message.delta":
                current[ev["id"]].stream(_panel_text(ev))
            elif kind == "tool.response":
                feed.send(pn.chat.ChatMessage(ev.get("content") or "", user="Tool"), respond=False)
        initial = sum(len(str(v)) for v in bundle.values())
        comm.close()
        return {"initial_output_bytes": initial}

    return _measure(go)


def bench(quick: bool = False) -> dict[str, Any]:
    """Benchmark 3 as a suite record."""
    n_deltas, rate = (500, 1000.0) if quick else (10_000, 1000.0)
    events = large_turn_events(n_deltas)
    duration = len(events) / rate
    rows: list[dict[str, Any]] = []
    res: dict[str, dict[str, Any]] = {}
    runs = [("tfwidget TurnView", run_turnview), ("naive anywidget (List trait reassigned)", run_naive)]
    notes = [
        f"{len(events):,} events ({n_deltas:,} deltas) delivered at {rate:,.0f} events/s: "
        f"{duration:.1f} s simulated duration; a widget that cannot keep up runs past it (wall column).",
        "Bytes: the comm message content as the kernel JSON-encodes it (data, comm_id), without the "
        "per-message Jupyter envelope (header, parent header, HMAC: a few hundred bytes each).",
        "CPU: time.process_time() of the whole process while feeding, including that JSON encoding.",
    ]
    try:
        import panel  # noqa: F401

        runs.append(("Panel ChatFeed / ChatMessage.stream", run_panel))
    except ImportError as exc:
        notes.append(f"Panel not run: {exc}")
    for name, fn in runs:
        r = fn(events, rate)
        res[name] = r
        rows.append({"implementation": name, "messages": r["messages"], "bytes": r["bytes"],
                     "cpu_s": r["cpu_s"], "wall_s": r["wall_s"],
                     **{k: r[k] for k in ("patches", "snapshots", "initial_output_bytes") if k in r}})  # fmt: skip
    ours = res["tfwidget TurnView"]
    naive = res["naive anywidget (List trait reassigned)"]
    checks = [
        check("comm messages vs naive", ours["messages"], naive["messages"], target=20,
              higher_is_better=False, unit="messages",
              miss="a turn this short has few flush windows; settle points (message ends) flush at once"),
        check("bytes vs naive", ours["bytes"], naive["bytes"], target=None, higher_is_better=False,
              unit="bytes"),
        check("kernel CPU vs naive", ours["cpu_s"], naive["cpu_s"], target=None, higher_is_better=False,
              unit="s"),
    ]  # fmt: skip
    # linear in turn length: everything the view sends for a long turn against the patches alone
    big_deltas = 2_000 if quick else 100_000
    big_events = large_turn_events(big_deltas)
    big = run_turnview_split(big_events, rate)
    rows.append({"implementation": f"tfwidget TurnView, {big_deltas:,} deltas", "messages": big["messages"],
                 "bytes": big["bytes"], "cpu_s": big["cpu_s"], "wall_s": big["wall_s"],
                 "patches": big["patches"], "snapshots": big["snapshots"],
                 **{f"{k}_bytes": big[f"{k}_bytes"] for k in ("open", "state", "patch", "other")}})  # fmt: skip
    checks.append(
        check(f"comm bytes vs the patches' bytes, {big_deltas:,}-delta turn", big["bytes"], big["patch_bytes"],
              target=1 / 1.5, higher_is_better=False, unit="bytes", target_text="<= 1.5x",
              note=(f"{len(big_events):,} events at {rate:,.0f}/s; comm bytes = comm opens "
                    f"({big['open_bytes']:,} B), whole views in state updates ({big['state_messages']} messages, "
                    f"{big['state_bytes']:,} B), patches ({big['patch_messages']:,} messages, "
                    f"{big['patch_bytes']:,} B) and other custom messages ({big['other_bytes']:,} B)"),
              miss="whole views re-sent while the turn streams grow with the square of the turn")
    )  # fmt: skip
    notes.append(f"The {big_deltas:,}-delta row is TurnView alone (the naive widget's traffic grows with the "
                 "square of the turn); its baseline is the same run's patch bytes.")  # fmt: skip
    pnl = res.get("Panel ChatFeed / ChatMessage.stream")
    if pnl is not None:
        checks += [
            check("comm messages vs Panel", ours["messages"], pnl["messages"], target=1, strict=True,
                  higher_is_better=False, unit="messages", target_text="fewer"),
            check("bytes vs Panel", ours["bytes"], pnl["bytes"], target=None, higher_is_better=False,
                  unit="bytes"),
            check("kernel CPU vs Panel", ours["cpu_s"], pnl["cpu_s"], target=None, higher_is_better=False,
                  unit="s"),
        ]  # fmt: skip
        notes.append("Panel's first render travels in the cell's output bundle (initial_output_bytes), "
                     "not over the comm; TurnView's and the naive widget's travel in comm_open.")  # fmt: skip
    elif not any(n.startswith("Panel") for n in notes):
        notes.append("Panel not run")
    return result("widget_traffic", TITLE,
                  params={"deltas": n_deltas, "events": len(events), "rate_per_s": rate,
                          "simulated_duration_s": duration},
                  rows=rows, checks=checks, notes=notes)  # fmt: skip


__all__ = ["bench", "not_run", "paced", "run_naive", "run_panel", "run_turnview", "run_turnview_split"]
