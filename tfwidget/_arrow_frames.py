"""Bulk parsing of released delta items for :func:`tfwidget.frames.events_frame` (pyarrow, optional).

The fold keeps only the raw JSON text of most ``model.message.delta`` items (see ``StreamItem.release``);
``events_frame`` needs a few of their fields. Parsing them one by one with ``json.loads`` was half of the
time of ``state.df`` on large turns; pyarrow's JSON reader parses them all at once, in C, into columns.
"""

from __future__ import annotations

from typing import Any

#: below this many released items the per-item path is as fast
MIN_ROWS = 2_000


def parse_released(raws: list[str]) -> dict[str, Any] | None:
    """Columns ``type, id, thread_id, created_at, content, reasoning_content, tool_call_id`` (pyarrow
    string arrays, one row per raw JSON text), or ``None`` when pyarrow is missing or the texts do not fit
    the delta shape (the caller then parses them one by one, with the same results)."""
    if len(raws) < MIN_ROWS:
        return None
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.json as paj
    except ImportError:
        return None
    text = "\n".join(raws)
    if text.count("\n") != len(raws) - 1:  # a raw text spanning lines: not one JSON value per line
        return None
    s = pa.large_string()
    schema = pa.schema(
        [
            ("type", s), ("id", s), ("thread_id", s), ("created_at", s), ("content", s),
            ("reasoning_content", s), ("tool_calls", pa.list_(pa.struct([("id", s)]))),
        ]
    )  # fmt: skip
    try:
        table = paj.read_json(
            pa.BufferReader(text.encode()),
            read_options=paj.ReadOptions(block_size=1 << 24),
            parse_options=paj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore"),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return None
    if table.num_rows != len(raws):
        return None
    cols = {name: table.column(name).combine_chunks() for name in schema.names}
    # exactly the per-item rules: "" counts as no text; the first chunk that has an id names the call
    empty = pa.scalar("", s)
    for name in ("content", "reasoning_content"):
        col = cols[name]
        cols[name] = pc.if_else(pc.equal(col, empty), pa.scalar(None, s), col)
    calls = cols.pop("tool_calls")
    flat = pc.list_flatten(calls)
    ids = pc.struct_field(flat, "id")
    ids = pc.if_else(pc.equal(ids, empty), pa.scalar(None, s), ids)
    parents = pc.list_parent_indices(calls)
    tcid: list[Any] = [None] * len(raws)
    if len(ids):
        valid = pc.is_valid(ids)
        for parent, call_id in zip(
            pc.filter(parents, valid).to_pylist(), pc.filter(ids, valid).to_pylist(), strict=True
        ):
            if tcid[parent] is None:
                tcid[parent] = call_id
    cols["tool_call_id"] = pa.array(tcid, type=s)
    if pc.any(pc.is_null(cols["type"])).as_py() or pc.any(pc.is_null(cols["id"])).as_py():
        return None
    return cols


def scatter_columns(
    n: int, released: list[int], columns: dict[str, list[Any]], bulk: dict[str, Any]
) -> dict[str, Any]:
    """Full-length pandas string columns: the values in ``columns`` (Python lists of length ``n``), with
    the rows at ``released`` taken from ``bulk`` (:func:`parse_released`). ``None`` for a column when
    pandas does not store strings in Arrow (the caller then builds it from the list, filled in here)."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    arrow_strings = getattr(pd.StringDtype(), "storage", None) == "pyarrow"
    mask = np.zeros(n, dtype=bool)
    mask[released] = True
    out: dict[str, Any] = {}
    for name, values in columns.items():
        if not arrow_strings:
            for i, v in zip(released, bulk[name].to_pylist(), strict=True):
                values[i] = v
            out[name] = None
            continue
        base = pa.array(values, type=pa.large_string(), mask=mask)
        col = pc.replace_with_mask(base, pa.array(mask), bulk[name])
        out[name] = pd.arrays.ArrowStringArray(pa.chunked_array([col]))
    return out
