"""The data of the ``artifacts`` scenario: an input file, an image in content, sandbox artifacts, an offloaded result.

The agent reads an attached CSV, runs a tool whose large output is moved to a sandbox file (the tool
response carries a preview and the path), then answers with a chart (an ``image_url`` content part, a PNG
data URI) and a ``sandbox_artifacts`` block listing three files it wrote: a CSV, a PNG and a text file.
Every listed file (and the offloaded result) is served by the simulator's sandbox file endpoint.

This module holds the files and images (standard library only, no import of the scenarios); the timeline
is :meth:`tfwidget.sim.scenarios.Scenario.artifacts`, next to the other generated scenarios.
"""

from __future__ import annotations

import base64
import struct
import zlib
from typing import Any

__all__ = [
    "ARTIFACT_FILES",
    "INPUT_CSV",
    "OFFLOADED_PATH",
    "OFFLOADED_TEXT",
    "SANDBOX_ID",
    "chart_png",
    "data_uri",
    "png",
]

SANDBOX_ID = "sbx-art-7"
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun"]
REVENUE = [120, 135, 128, 160, 171, 190]
OFFLOADED_PATH = "/workspace/.tool_results/call_run_1.txt"


def png(width: int, height: int, pixel: Any) -> bytes:
    """A truecolor PNG from ``pixel(x, y) -> (r, g, b)`` (standard library only)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    rows = b"".join(b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(width)) for y in range(height))
    head = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", head)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def chart_png(values: list[int] = REVENUE, width: int = 180, height: int = 110) -> bytes:
    """A small bar chart of ``values``."""
    top = max(values)
    bar = width // len(values)

    def pixel(x: int, y: int) -> tuple[int, int, int]:
        i = min(x // bar, len(values) - 1)
        h = int(values[i] / top * (height - 12))
        if x % bar < 4 or x % bar > bar - 4:
            return (255, 255, 255)
        return (47, 111, 222) if height - y <= h else (245, 247, 250)

    return png(width, height, pixel)


def thumb_png() -> bytes:
    """A 24x24 gradient (the attached photo)."""
    return png(24, 24, lambda x, y: (10 * x, 200, 10 * y))


def data_uri(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


INPUT_CSV = "month,revenue\n" + "".join(f"{m},{v}\n" for m, v in zip(MONTHS, REVENUE, strict=True))
SUMMARY_CSV = "month,revenue,change_pct\n" + "".join(
    f"{m},{v},{0 if i == 0 else round((v / REVENUE[i - 1] - 1) * 100, 1)}\n"
    for i, (m, v) in enumerate(zip(MONTHS, REVENUE, strict=True))
)
NOTES_TXT = "Revenue grew 58% from January to June.\nThe only dip was in March (-5.2%).\n"
OFFLOADED_TEXT = "".join(
    f"row {i}: month={MONTHS[i % 6]} revenue={REVENUE[i % 6] + i % 7}\n" for i in range(1500)
)

ARTIFACT_FILES: dict[str, bytes] = {
    "/workspace/out/summary.csv": SUMMARY_CSV.encode(),
    "/workspace/out/chart.png": chart_png(),
    "/workspace/out/notes.txt": NOTES_TXT.encode(),
    OFFLOADED_PATH: OFFLOADED_TEXT.encode(),
}
