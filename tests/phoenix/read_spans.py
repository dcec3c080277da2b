"""Print every span Phoenix holds in a project as JSON, read through Phoenix's own client.

Run with the Phoenix environment's python: ``python read_spans.py http://127.0.0.1:PORT [PROJECT]`` (the
project defaults to ``default``). One JSON object
per span: ``span_id, trace_id, parent_id, name, span_kind, status_code, status_message, start_time, end_time, events``
and ``attributes`` with dotted keys (``{"llm.token_count.prompt": 120, ...}``).
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any

from phoenix.client import Client


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}", v, out)
    elif value is not None:
        out[prefix] = value


def main(base_url: str, project: str = "default") -> None:
    df = Client(base_url=base_url).spans.get_spans_dataframe(project_identifier=project, limit=100_000)
    spans = []
    for span_id, row in df.iterrows():
        rec = {k: _plain(v) for k, v in row.items()}
        attrs: dict[str, Any] = {}
        for col in list(rec):
            if col.startswith("attributes."):
                _flatten(col[len("attributes.") :], rec.pop(col), attrs)
        spans.append({
            "span_id": str(rec.get("context.span_id") or span_id),
            "trace_id": rec.get("context.trace_id"),
            "parent_id": rec.get("parent_id"),
            "name": rec.get("name"),
            "span_kind": rec.get("span_kind"),
            "status_code": rec.get("status_code"),
            "status_message": rec.get("status_message"),
            "start_time": rec.get("start_time"),
            "end_time": rec.get("end_time"),
            "events": rec.get("events"),
            "attributes": attrs,
        })  # fmt: skip
    json.dump(spans, sys.stdout, default=str)


if __name__ == "__main__":
    main(*sys.argv[1:3])
