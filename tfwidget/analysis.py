"""Analysing turns: token-usage plots, collections of turns, Arrow/Parquet export.

>>> import tfwidget
>>> turns = tfwidget.concat(tfwidget.load("recordings/"))      # doctest: +SKIP
>>> turns.usage_df.groupby("turn_id").output_tokens.sum()      # doctest: +SKIP
>>> tfwidget.plot_usage(turns)                                 # doctest: +SKIP
>>> tfwidget.analysis.to_parquet(turns, "turns.parquet")       # doctest: +SKIP
>>> tfwidget.analysis.to_polars(turns)                         # doctest: +SKIP

Everything here accepts the same kinds of input: a :class:`~tfwidget.state.TurnState`, a
:class:`~tfwidget.widget.TurnView` (anything with a ``state`` attribute holding a ``TurnState``), a list of
:class:`~tfwidget.sse.StreamItem`, or the path of a ``.sse``/``.jsonl`` recording. :func:`plot_usage` also
takes a ``usage_df`` DataFrame (or a :class:`TurnCollection`).

matplotlib (``pip install 'tfwidget[plot]'``), pyarrow (``pip install 'tfwidget[arrow]'``) and polars
(``pip install 'tfwidget[polars]'``) are optional; the functions that need them say so when they are missing.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from . import frames
from ._facade import Columns, FrameName, FramesFacade, stack_frames
from ._itemlog import ItemLog
from .contracts import USAGE_BREAKDOWN_KEYS
from .frames import EVENTS_COLUMNS
from .recording import fold_file, load
from .sse import StreamItem
from .state import TurnState

if TYPE_CHECKING:
    import polars
    import pyarrow

__all__ = [
    "BREAKDOWN_COLUMNS",
    "TurnCollection",
    "as_state",
    "concat",
    "plot_usage",
    "to_arrow",
    "to_parquet",
    "to_polars",
]

#: The input-token breakdown reported per model call (their sum is ``input_tokens``).
BREAKDOWN_COLUMNS: list[str] = list(USAGE_BREAKDOWN_KEYS)

_PLOT_EXTRA = "plot_usage() needs matplotlib, which is not installed: pip install 'tfwidget[plot]'"
_ARROW_EXTRA = "Arrow/Parquet export needs pyarrow, which is not installed: pip install 'tfwidget[arrow]'"
_POLARS_EXTRA = "to_polars() needs polars, which is not installed: pip install 'tfwidget[polars]'"

# ------------------------------------------------------------------------------------------ inputs

TurnLike = Any  # TurnState | TurnView | list[StreamItem] | str | os.PathLike


def as_state(obj: TurnLike) -> TurnState:
    """The :class:`TurnState` of a state, a widget, a list of stream items or a recording path."""
    if isinstance(obj, TurnState):
        return obj
    state = getattr(obj, "state", None)
    if isinstance(state, TurnState):
        return state
    if isinstance(obj, (str, os.PathLike)):
        if Path(obj).suffix == ".jsonl" and Path(obj).is_file():
            return fold_file(obj)  # the same as folding load(obj), without the items in between
        loaded = load(obj)
        if isinstance(loaded, dict):
            raise ValueError(
                f"{os.fspath(obj)!r} is a folder of {len(loaded)} recordings: use tfwidget.concat() for several turns"
            )
        return TurnState.from_items(loaded)
    if isinstance(obj, ItemLog) or (
        isinstance(obj, (list, tuple)) and all(isinstance(i, StreamItem) for i in obj)
    ):
        return TurnState.from_items(obj)
    raise TypeError(
        "expected a TurnState, a TurnView, a list of StreamItem or a recording path, "
        f"not {type(obj).__name__}"
    )


def _is_items(obj: Any) -> bool:
    """A non-empty list of stream items, or the items :func:`~tfwidget.load` gives: one turn."""
    if isinstance(obj, ItemLog):
        return bool(obj)
    return isinstance(obj, (list, tuple)) and bool(obj) and all(isinstance(i, StreamItem) for i in obj)


def _iter_named(objs: Any) -> Iterator[tuple[str | None, Any]]:
    """(name or None, one turn-like object) pairs, expanding folders, dicts and collections lazily."""
    if isinstance(objs, TurnCollection):
        yield from objs._entries()
        return
    if isinstance(objs, Mapping):
        for name, obj in objs.items():
            for sub, one in _iter_named([obj]):
                yield (str(name) if sub is None else f"{name}/{sub}"), one
        return
    if isinstance(objs, (str, os.PathLike)) or _is_items(objs) or isinstance(objs, TurnState):
        objs = [objs]
    elif getattr(objs, "state", None) is not None and isinstance(objs.state, TurnState):
        objs = [objs]
    for obj in objs:
        if isinstance(obj, TurnCollection):
            yield from obj._entries()
        elif isinstance(obj, Mapping):
            yield from _iter_named(obj)
        elif isinstance(obj, (str, os.PathLike)) and Path(obj).is_dir():
            files = sorted(f for f in Path(obj).iterdir() if f.suffix in (".sse", ".jsonl") and f.is_file())
            if not files:
                raise FileNotFoundError(f"no .sse or .jsonl recordings in folder {os.fspath(obj)}")
            yield from ((f.stem, f) for f in files)  # loaded one at a time, when consumed
        elif isinstance(obj, (str, os.PathLike)):
            yield Path(obj).stem, obj
        else:
            yield None, obj


def _unique(name: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    i = 2
    while f"{name}#{i}" in taken:
        i += 1
    return f"{name}#{i}"


def _named_turns(objs: Any) -> Iterator[tuple[str, TurnState | Path]]:
    """(unique key, state or recording path): a recording named by its file is not loaded here."""
    taken: set[str] = set()
    for i, (name, obj) in enumerate(_iter_named(objs)):
        if name is not None and isinstance(obj, (str, os.PathLike)) and not Path(obj).is_dir():
            one: TurnState | Path = Path(obj)
        else:
            one = as_state(obj)
        key = _unique(name or (one.turn_id if isinstance(one, TurnState) else None) or f"turn-{i}", taken)
        taken.add(key)
        yield key, one


def _named_states(objs: Any) -> Iterator[tuple[str, TurnState]]:
    for key, one in _named_turns(objs):
        yield key, one if isinstance(one, TurnState) else as_state(one)


class _Turns(Mapping[str, TurnState]):
    """``{turn_id: TurnState}`` whose recordings stay on disk: a recording is loaded and folded when its
    state is asked for (the last one is kept), so a collection of thousands of turns holds about one at a
    time."""

    def __init__(self, entries: Mapping[str, TurnState | Path]) -> None:
        self._entries = dict(entries)
        self._last: tuple[str, TurnState] | None = None

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __getitem__(self, key: str) -> TurnState:
        one = self._entries[key]
        if isinstance(one, TurnState):
            return one
        if self._last is not None and self._last[0] == key:
            return self._last[1]
        state = as_state(one)
        self._last = (key, state)
        return state

    def __repr__(self) -> str:
        return f"<turns {list(self._entries)!r}>"


# ------------------------------------------------------------------------------------------ collections


def _pricing_key() -> tuple[Any, str | None]:
    """What the usage columns depend on besides the turn: the pricing table and the default model."""
    from .pricing import current_model, current_pricing

    return current_pricing(), current_model()


def _same(a: tuple[Any, str | None], b: tuple[Any, str | None]) -> bool:
    return a[0] is b[0] and a[1] == b[1]


class TurnCollection(FramesFacade):
    """Several turns analysed together (build one with :func:`concat`).

    The DataFrames are the per-turn ones (see :mod:`tfwidget.frames`) stacked, each with a leading
    ``turn_id`` column: the key of the turn in :attr:`states` (the name given in a dict, a recording's file
    name, else the turn's id). Recordings given by path stay on disk and are folded one at a time when a
    frame is built, so memory stays about one turn's worth plus the frame itself.

    Attributes:
        states: ``{turn_id: TurnState}`` in the order given (a read-only mapping; a recording's state is
            loaded when asked for).
    """

    def __init__(self, states: Mapping[str, TurnState | Path]) -> None:
        self.states: Mapping[str, TurnState] = states if isinstance(states, _Turns) else _Turns(states)
        # per recording: (pricing key, {frame: columns}) of its small frames, see _keep_small
        self._small: dict[str, tuple[Any, dict[str, dict[str, list[Any]]]]] = {}

    def __len__(self) -> int:
        return len(self.states)

    def __iter__(self) -> Iterator[str]:
        return iter(self.states)

    def __getitem__(self, turn_id: str) -> TurnState:
        return self.states[turn_id]

    def __repr__(self) -> str:
        return f"<TurnCollection turns={len(self)}>"

    def _entries(self) -> Iterator[tuple[str, TurnState | Path]]:
        """(key, state or recording path) without loading the recordings."""
        if isinstance(self.states, _Turns):
            yield from self.states._entries.items()
        else:
            yield from self.states.items()

    def _parts(self, name: FrameName) -> Iterator[tuple[str, TurnState | Columns]]:
        """What :func:`~tfwidget._facade.stack_frames` stacks: ``(key, state)``, or for a small frame a
        recording's columns kept from an earlier pass (the recording is not folded again)."""
        if name == "spans_df":  # pauses are linked across the turns: every state is held
            yield from self.states.items()
            return
        if name == "df":
            for key, state in self.states.items():
                self._keep_small(key, state)  # while the recording is loaded anyway
                yield key, state
            return
        for key, state in self._turns():
            one = self._kept(key, name) if state is None else None
            if one is not None:
                yield key, one
                continue
            if state is None:  # a recording whose columns were not kept: fold it now
                state = self.states[key]
                self._keep_small(key, state)
            yield key, state

    def _turns(self) -> Iterator[tuple[str, Any]]:
        """(key, state), with ``None`` for a recording whose small frames are kept (not loaded again)."""
        for key, one in self._entries():
            if isinstance(one, TurnState):
                yield key, one
            elif key in self._small and _same(self._small[key][0], _pricing_key()):
                yield key, None
            else:
                yield key, self.states[key]

    def _keep_small(self, key: str, state: TurnState) -> None:
        """Keep a recording's small frames (one row per model call or tool call), built while it is loaded,
        so asking for them after ``df`` does not fold every recording again."""
        if isinstance(self.states, _Turns) and not isinstance(self.states._entries.get(key), TurnState):
            if key not in self._small or not _same(self._small[key][0], _pricing_key()):
                merged = state.merged_messages()  # once for both frames that read them
                kept = {
                    "messages_df": frames.messages_columns(state, merged),
                    "tool_calls_df": frames.tool_calls_columns(state),
                    "usage_df": frames.usage_columns(state, merged=merged),
                }
                self._small[key] = (_pricing_key(), kept)

    def _kept(self, key: str, attr: str) -> dict[str, list[Any]] | None:
        kept = self._small.get(key)
        return kept[1][attr] if kept is not None and _same(kept[0], _pricing_key()) else None

    def _frame(self, name: FrameName) -> pd.DataFrame:
        # df, messages_df, ... (FramesFacade): the one stacking path, fed one turn at a time
        return stack_frames(self._parts(name), name)

    @property
    def turns_df(self) -> pd.DataFrame:
        """One row per turn: ``turn_id, status, status_reason, events, messages, tool_calls, threads,
        input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, total_tokens, cost_usd``
        (totals from ``turn.done`` metrics when present, else summed over the calls' usage)."""
        rows = []
        for key, s in self.states.items():
            t = s.totals()
            rows.append(
                {
                    "turn_id": key,
                    "status": s.status,
                    "status_reason": s.status_reason,
                    "events": len(s.items),
                    "messages": len(s.message_ids()),
                    "tool_calls": len(s.tool_calls),
                    "threads": len(s.threads),
                    **{
                        k: t[k]
                        for k in (
                            "input_tokens",
                            "output_tokens",
                            "cache_read_tokens",
                            "cache_write_tokens",
                            "total_tokens",
                        )
                    },
                    "cost_usd": t["cost_usd"],
                }
            )
        df = pd.DataFrame(rows, columns=[
            "turn_id", "status", "status_reason", "events", "messages", "tool_calls", "threads",
            "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "total_tokens",
            "cost_usd",
        ])  # fmt: skip
        for c in ("turn_id", "status", "status_reason"):
            df[c] = df[c].astype("string")
        df["cost_usd"] = df["cost_usd"].astype("Float64")
        return df

    def plot_usage(self, **kwargs: Any) -> Any:
        """:func:`plot_usage` of every call of every turn (coloured by turn: ``by="turn"``)."""
        kwargs.setdefault("by", "turn")
        return plot_usage(self, **kwargs)

    def to_arrow(self) -> pyarrow.Table:
        """:func:`to_arrow` of this collection."""
        return to_arrow(self)

    def to_parquet(self, path: str | os.PathLike[str], **kwargs: Any) -> Path:
        """:func:`to_parquet` of this collection."""
        return to_parquet(self, path, **kwargs)

    def to_polars(self) -> polars.DataFrame:
        """:func:`to_polars` of this collection."""
        return to_polars(self)


def concat(objs: Iterable[TurnLike] | Mapping[str, TurnLike] | str | os.PathLike[str]) -> TurnCollection:
    """Gather several turns into one :class:`TurnCollection`.

    ``objs``: a list of turns (TurnView, TurnState, list of StreamItem, recording path, folder of
    recordings), a dict ``{name: turn}`` (e.g. what ``tfwidget.load(folder)`` returns), or a folder path.
    A turn is keyed by its dict name, the file name (without suffix) of a recording, else its turn id; keys
    are made unique with ``#2``, ``#3``... when repeated.
    """
    return TurnCollection(dict(_named_turns(objs)))


# ------------------------------------------------------------------------------------------ plotting


def _usage_frame(obj: Any) -> pd.DataFrame:
    if isinstance(obj, pd.DataFrame):
        missing = {"input_tokens", "output_tokens"} - set(obj.columns)
        if missing:
            raise ValueError(f"the DataFrame has no {', '.join(sorted(missing))} column: pass a usage_df")
        return obj
    if isinstance(obj, TurnCollection):
        return obj.usage_df
    return as_state(obj).usage_df


def _num(frame: pd.DataFrame, col: str) -> pd.Series:
    if col not in frame.columns:
        return pd.Series(0.0, index=frame.index)
    return pd.to_numeric(frame[col], errors="coerce").astype("float64").fillna(0.0)


def plot_usage(
    obj: Any,
    *,
    by: str | None = "thread",
    ax: Any = None,
    cumulative: bool = True,
    backend: str = "matplotlib",
    title: str | None = None,
    cost: bool = False,
    context_fill: bool = False,
) -> Any:
    """Token usage per model call as stacked bars, in call order.

    Each bar stacks the input breakdown (harness, skills, instructions, tool definitions, conversation
    ``messages``; calls without a breakdown show one "input" segment) and the output tokens on top. Cache
    reads, a part of the input, are drawn as a hatched outline over the input. With ``cumulative``, a line
    on a second y axis shows the running total (input + output) across calls.

    Args:
        obj: a TurnState, a TurnView, a recording path, a list of StreamItem, a :class:`TurnCollection` or a
            ``usage_df`` DataFrame.
        by: ``"thread"`` colours each call's label and marker by its thread (main vs sub-agents),
            ``"turn"`` by its turn (collections), ``None`` not at all.
        ax: a matplotlib Axes to draw into (a second y axis is added for the cumulative line).
        cumulative: draw the running total.
        backend: only ``"matplotlib"``.
        title: the Axes title (default: a summary of the totals).
        cost: the second y axis shows the running cost in USD (``usage_df.cost_usd``; priced or
            allocated calls, see :mod:`tfwidget.pricing`) instead of the running token total.
        context_fill: mark each call's context fill (``usage_df.context_fill``: input tokens over the model's
            context window) as a percentage on a further y axis on the right (``fig.axes[-1]``).

    Returns:
        The new Figure (not left open in pyplot: it shows when it is a cell's last expression), or ``ax``
        when one was given. The cumulative axis is ``fig.axes[1]``.

    Raises:
        ImportError: matplotlib is not installed (``pip install 'tfwidget[plot]'``).
    """
    if backend != "matplotlib":
        raise ValueError(f"unknown backend {backend!r}: only 'matplotlib' is supported")
    if by not in ("thread", "turn", None):
        raise ValueError(f"by must be 'thread', 'turn' or None, not {by!r}")
    try:
        import matplotlib
        from matplotlib.patches import Patch
    except ImportError as exc:  # pragma: no cover - exercised with matplotlib absent
        raise ImportError(_PLOT_EXTRA) from exc

    frame = _usage_frame(obj).reset_index(drop=True)
    if by == "turn" and "turn_id" not in frame.columns:
        raise ValueError(
            "by='turn' needs several turns: pass tfwidget.concat([...]) or a usage_df with turn_id"
        )

    own = ax is None
    if own:
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(
            figsize=(max(7.0, min(16.0, 3.5 + 0.5 * len(frame))), 4.2), dpi=80, layout="constrained"
        )
        plt.close(fig)  # returned, not left for pyplot to show a second time
    else:
        fig = ax.figure

    n = len(frame)
    x = list(range(n))
    inp = _num(frame, "input_tokens")
    out = _num(frame, "output_tokens")
    cache = _num(frame, "cache_read_tokens")
    has_breakdown = all(c in frame.columns for c in BREAKDOWN_COLUMNS)
    breakdown_known = (
        frame[BREAKDOWN_COLUMNS].notna().any(axis=1)
        if has_breakdown and n
        else pd.Series(False, index=frame.index)
    )

    seg_colors = {
        "harness": "#9ecae1",
        "skills": "#6baed6",
        "instructions": "#fdd0a2",
        "tool_definitions": "#fdae6b",
        "messages": "#a1d99b",
        "input": "#cccccc",
        "output": "#de2d26",
    }
    bottom = pd.Series(0.0, index=frame.index)
    handles = []
    for col in BREAKDOWN_COLUMNS:
        vals = _num(frame, col).where(breakdown_known, 0.0)
        if n and vals.sum() > 0:
            ax.bar(x, vals, bottom=bottom, color=seg_colors[col], width=0.7, label=col.replace("_", " "))
            bottom = bottom + vals
    rest = inp.where(~breakdown_known, 0.0)
    if n and rest.sum() > 0:
        ax.bar(x, rest, bottom=bottom, color=seg_colors["input"], width=0.7, label="input (no breakdown)")
        bottom = bottom + rest
    # the breakdown is an estimate: whatever it leaves unexplained stays visible as plain input
    gap = (inp - bottom).clip(lower=0.0)
    if n and gap.sum() > 0:
        ax.bar(x, gap, bottom=bottom, color=seg_colors["input"], width=0.7,
               label=None if rest.sum() > 0 else "input (other)")  # fmt: skip
        bottom = bottom + gap
    ax.bar(x, out, bottom=bottom, color=seg_colors["output"], width=0.7, label="output")
    if n and cache.sum() > 0:
        ax.bar(x, cache, width=0.7, fill=False, hatch="///", edgecolor="#333333", linewidth=0.0,
               label="cache read (part of input)")  # fmt: skip
    handles, _labels = ax.get_legend_handles_labels()

    # call labels, coloured by thread or turn
    group_col = {
        "thread": "agent_name" if "agent_name" in frame.columns else "thread_id",
        "turn": "turn_id",
    }.get(by or "")
    # calls numbered from 1, as usage_df.call_index and the view's chart
    if "call_index" in frame.columns and n and frame["call_index"].notna().all():
        tick_labels = [f"#{int(v)}" for v in frame["call_index"]]
    else:
        tick_labels = [f"#{i + 1}" for i in x]
    if group_col is not None and n:
        groups = frame[group_col].astype("string").fillna("?")
        if group_col == "agent_name" and "thread_id" in frame.columns:
            groups = groups.where(frame["thread_id"].astype("string") != "main", "main")
        names = list(dict.fromkeys(groups.tolist()))
        cmap = matplotlib.colormaps["Dark2"]
        colors = {name: cmap(i % 8) for i, name in enumerate(names)}
        for i, g in enumerate(groups):
            ax.plot([i - 0.35, i + 0.35], [0, 0], color=colors[g], linewidth=5, solid_capstyle="butt",
                    transform=ax.get_xaxis_transform(), clip_on=False)  # fmt: skip
        ax.set_xticks(x)
        ax.set_xticklabels(tick_labels)
        for lbl, g in zip(ax.get_xticklabels(), groups, strict=False):
            lbl.set_color(colors[g])
        handles = [*handles, *(Patch(color=colors[g], label=f"{by}: {g}") for g in names)]
    else:
        ax.set_xticks(x)
        ax.set_xticklabels(tick_labels)

    ax.set_xlabel("model call")
    ax.set_ylabel("tokens")
    ax.set_xlim(-0.6, max(n, 1) - 0.4)
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _p: f"{v:,.0f}"))
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)

    if cost and n:
        if "cost_usd" not in frame.columns:
            raise ValueError("cost=True needs a cost_usd column: pass a usage_df (see tfwidget.pricing)")
        ax2 = ax.twinx()
        spent = _num(frame, "cost_usd").cumsum()
        ax2.plot(
            x, spent, color="#222222", marker="o", markersize=3, linewidth=1.4, label="cumulative cost (USD)"
        )
        ax2.set_ylabel("cumulative cost (USD)")
        ax2.set_ylim(0, float(spent.max()) * 1.08 or 1.0)
        ax2.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _p: f"${v:,.4g}"))
        h2, _ = ax2.get_legend_handles_labels()
        handles = [*handles, *h2]
    elif cumulative and n:
        ax2 = ax.twinx()
        running = (inp + out).cumsum()
        ax2.plot(
            x, running, color="#222222", marker="o", markersize=3, linewidth=1.4, label="cumulative tokens"
        )
        ax2.set_ylabel("cumulative tokens")
        ax2.set_ylim(0, float(running.max()) * 1.08 or 1.0)
        ax2.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _p: f"{v:,.0f}"))
        h2, _ = ax2.get_legend_handles_labels()
        handles = [*handles, *h2]
    if context_fill and n:
        if "context_fill" not in frame.columns:
            raise ValueError("context_fill=True needs a context_fill column: pass a usage_df")
        fill = pd.to_numeric(frame["context_fill"], errors="coerce").astype("float64") * 100
        ax3 = ax.twinx()
        if cost or cumulative:
            ax3.spines["right"].set_position(("axes", 1.2))
        ax3.plot(
            x, fill, linestyle="none", marker="D", markersize=5, color="#c62828", label="context fill (%)"
        )
        top = float(fill.max()) if fill.notna().any() else 1.0
        ax3.set_ylim(0, min(100.0, max(1.0, top * 1.25)))
        ax3.set_ylabel("context fill (% of window)")
        ax3.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _p: f"{v:.3g}%"))
        h3, _ = ax3.get_legend_handles_labels()
        handles = [*handles, *h3]

    if handles:
        if own:
            fig.legend(handles=handles, loc="outside right upper", fontsize=8, frameon=False)
        else:
            ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.12 if cumulative else 1.01, 1.0),
                      fontsize=8, frameon=False)  # fmt: skip
    if title is None:
        title = f"{n} model call{'s' if n != 1 else ''}: {int(inp.sum()):,} in, {int(out.sum()):,} out"
        if cache.sum() > 0 and inp.sum() > 0:
            title += f", {cache.sum() / inp.sum():.0%} of input read from cache"
    ax.set_title(title, fontsize=10)
    if own:
        return fig
    return ax


# ------------------------------------------------------------------------------------------ Arrow / Parquet


def _arrow() -> Any:
    try:
        import pyarrow
    except ImportError as exc:  # pragma: no cover - exercised with pyarrow absent
        raise ImportError(_ARROW_EXTRA) from exc
    return pyarrow


def events_schema() -> pyarrow.Schema:
    """The Arrow schema of :func:`to_arrow`: ``turn_id`` then the ``df`` columns (payload included)."""
    pa = _arrow()
    ts = pa.timestamp("ns", tz="UTC")
    types = {
        "sequence_number": pa.int64(),
        "created_at": ts,
        "received_at": ts,
        "synthesized": pa.bool_(),
    }
    return pa.schema([("turn_id", pa.string())] + [(c, types.get(c, pa.string())) for c in EVENTS_COLUMNS])


def _table(key: str, state: TurnState, schema: Any) -> Any:
    pa = _arrow()
    frame = state.df
    frame.insert(0, "turn_id", pd.array([key] * len(frame), dtype="string"))
    return pa.Table.from_pandas(frame, schema=schema, preserve_index=False)


def to_arrow(obj: Any) -> pyarrow.Table:
    """The events of one or more turns as a pyarrow Table: one row per stream item.

    Columns: ``turn_id`` followed by the ``df`` columns (see :mod:`tfwidget.frames`), ``payload`` (each
    event's JSON) included, with a fixed schema (:func:`events_schema`) so tables of different turns
    concatenate. ``obj``: anything :func:`concat` takes, or one turn.
    """
    pa = _arrow()
    schema = events_schema()
    tables = [_table(k, s, schema) for k, s in _named_states(obj)]
    if not tables:
        return schema.empty_table()
    return pa.concat_tables(tables)


def to_parquet(obj: Any, path: str | os.PathLike[str], *, compression: str = "zstd") -> Path:
    """Write the events of one or more turns (the :func:`to_arrow` table) to a Parquet file.

    Turns are converted and written one at a time (one row group each), so a list of recording paths is
    never all in memory at once: this is the way to take large collections to DuckDB, Polars or Spark.
    Returns the path written.
    """
    _arrow()
    import pyarrow.parquet as pq

    schema = events_schema()
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with pq.ParquetWriter(p, schema, compression=compression) as writer:
        for key, state in _named_states(obj):
            writer.write_table(_table(key, state, schema))
    return p


def to_polars(obj: Any) -> polars.DataFrame:
    """The events of one or more turns as a polars DataFrame: the :func:`to_arrow` table, same columns and
    types (``turn_id`` first, ``payload`` included). ``obj``: anything :func:`concat` takes, or one turn."""
    try:
        import polars as pl
    except ImportError as exc:  # pragma: no cover - exercised with polars absent
        raise ImportError(_POLARS_EXTRA) from exc
    frame = pl.from_arrow(to_arrow(obj))
    assert isinstance(frame, pl.DataFrame)
    return frame
