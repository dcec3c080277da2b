"""Bulk building of :func:`tfwidget.frames.events_frame` columns from an item log's raw bytes (pyarrow, optional).

The fold keeps most ``model.message.delta`` items of a turn only as raw JSON, back to back in one buffer of
its :class:`~tfwidget._itemlog.ItemLog` (see ``StreamItem.release``). ``events_frame`` needs a few of their
fields and their text as the ``payload`` column. Parsing them one by one (and making one Python string per
item) was most of the time of ``state.df`` on large turns; here pyarrow's JSON reader parses the whole buffer
at once, in C, into columns, and the ``payload`` column is the buffer itself with the log's offsets.
"""

from __future__ import annotations

from typing import Any

#: below this many released items the per-item path is as fast
MIN_ROWS = 2_000


def parse_concatenated(data: Any, n: int) -> dict[str, Any] | None:
    """Columns ``type, id, thread_id, created_at, content, reasoning_content, tool_call_id`` (pyarrow
    ``large_string`` arrays, one row per JSON object) of ``n`` JSON objects written one after the other in
    ``data`` (UTF-8 bytes, whitespace allowed between them), or ``None`` when pyarrow is missing, ``n`` is
    below :data:`MIN_ROWS` or the texts do not fit the delta shape (the caller then parses them one by one,
    with the same results)."""
    if n < MIN_ROWS:
        return None
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.json as paj
    except ImportError:
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
            pa.BufferReader(data),
            read_options=paj.ReadOptions(block_size=1 << 24),
            # the objects are not one per line: the reader finds where each one ends by parsing
            parse_options=paj.ParseOptions(
                explicit_schema=schema, unexpected_field_behavior="ignore", newlines_in_values=True
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return None
    if table.num_rows != n:
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
    tcid: dict[int, Any] = {}
    if len(ids):
        valid = pc.is_valid(ids)
        for parent, call_id in zip(
            pc.filter(parents, valid).to_pylist(), pc.filter(ids, valid).to_pylist(), strict=True
        ):
            tcid.setdefault(parent, call_id)
    if tcid:  # (rows in order: the parent indices do not decrease)
        import numpy as np

        mask = np.zeros(n, dtype=bool)
        mask[np.fromiter(tcid, dtype=np.int64, count=len(tcid))] = True
        values = pa.array(list(tcid.values()), type=s)
        cols["tool_call_id"] = pc.replace_with_mask(pa.nulls(n, type=s), pa.array(mask), values)
    else:
        cols["tool_call_id"] = pa.nulls(n, type=s)
    if cols["type"].null_count or cols["id"].null_count:
        return None
    return cols


def parse_released(raws: list[str]) -> dict[str, Any] | None:
    """:func:`parse_concatenated` of JSON texts given one by one."""
    return parse_concatenated("\n".join(raws).encode("utf-8"), len(raws))


def string_array(data: Any, offsets: Any) -> Any:
    """A pyarrow ``large_string`` array over ``data`` (bytes) cut at ``offsets`` (int64 numpy array, one
    more than the rows), without copying; ``None`` when the bytes are not valid UTF-8."""
    import pyarrow as pa

    arr = pa.LargeStringArray.from_buffers(len(offsets) - 1, pa.py_buffer(offsets), pa.py_buffer(data))
    try:
        arr.validate(full=True)
    except pa.ArrowInvalid:
        return None
    return arr
