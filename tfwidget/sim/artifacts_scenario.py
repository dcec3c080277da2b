"""The ``artifacts`` scenario: an input file, an image in content, sandbox artifacts, an offloaded result.

The agent reads an attached CSV, runs a tool whose large output is moved to a sandbox file (the tool
response carries a preview and the path), then answers with a chart (an ``image_url`` content part, a PNG
data URI) and a ``sandbox_artifacts`` block listing three files it wrote: a CSV, a PNG and a text file.
Every listed file (and the offloaded result) is served by the simulator's sandbox file endpoint.
"""

from __future__ import annotations

import base64
import struct
import zlib
from typing import Any

from .scenarios import Scenario, _Builder

__all__ = ["ARTIFACT_FILES", "SANDBOX_ID", "artifacts", "png"]

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


def artifacts(hostile: bool = False) -> Scenario:
    """The scenario; ``hostile=True`` adds refused links (``javascript:``, ``../``), a 1 GiB file, a
    non-image data URI and a remote image."""
    user_content: list[dict[str, Any]] = [
        {"type": "text", "text": "Chart the monthly revenue in this CSV and save a summary."},
        {"type": "file", "name": "revenue.csv", "data": data_uri("text/csv", INPUT_CSV.encode())},
        {"type": "file", "name": "logo.png", "data": data_uri("image/png", thumb_png())},
    ]
    b = _Builder([{"type": "user.message", "content": user_content}], seed=23)
    b.event({"type": "sandbox.created", "sandbox_id": SANDBOX_ID, "thread_id": None})
    b.message(
        "main",
        reasoning="Load the CSV in the sandbox and compute month-over-month changes.",
        content="Loading the CSV in the sandbox.",
        tool_calls=[
            {
                "id": "call_run_1",
                "name": "run_python",
                "tool_info": {"type": "truefoundry-system", "name": "run_python"},
                "arguments": '{"code": "import pandas as pd; df = pd.read_csv(\'revenue.csv\'); print(df.to_string())"}',
            }
        ],
    )
    preview = "".join(OFFLOADED_TEXT.splitlines(keepends=True)[:5])
    b.tool_response(
        "main",
        "call_run_1",
        f"The tool output was too large ({len(OFFLOADED_TEXT):,} bytes, about {len(OFFLOADED_TEXT) // 4:,} "
        f"tokens) and was saved to {OFFLOADED_PATH}\n\nPreview:\n{preview}...",
    )
    links = [
        "[Revenue summary (CSV)](/workspace/out/summary.csv)",
        "[Revenue chart](/workspace/out/chart.png)",
        "[Notes](/workspace/out/notes.txt)",
    ]
    files: dict[str, Any] = dict(ARTIFACT_FILES)
    images: list[dict[str, Any]] = [
        {"type": "image_url", "image_url": {"url": data_uri("image/png", chart_png())}}
    ]
    if hostile:
        from .sandbox import SandboxFile

        links += [
            "[Everything (1 GiB)](/workspace/out/huge.bin)",
            "[click me](javascript:alert(1))",
            "[secrets](../../etc/passwd)",
        ]
        files["/workspace/out/huge.bin"] = SandboxFile(size=1 << 30, content_type="application/octet-stream")
        images += [
            {
                "type": "image_url",
                "image_url": {"url": "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="},
            },
            {"type": "image_url", "image_url": {"url": "https://images.example.com/chart.png"}},
        ]
    text_before = "Revenue rose every month except March. Here is the chart:\n\n"
    text_after = "I saved these files:\n\n```sandbox_artifacts\n" + "\n".join(links) + "\n```\n"
    content = [{"type": "text", "text": text_before}, *images, {"type": "text", "text": text_after}]
    usage = {
        "input_tokens": 9800,
        "output_tokens": 96,
        "cache_read_tokens": 7824,
        "cache_write_tokens": 0,
        "input_tokens_breakdown": {
            "harness": 7824,
            "skills": 0,
            "instructions": 42,
            "tool_definitions": 400,
            "messages": 1534,
        },
    }
    final = b.event(
        {
            "type": "model.message",
            "thread_id": "main",
            "content": content,
            "finish_reason": "stop",
            "usage": usage,
        }
    )
    b.usages.append(usage)
    b.last_message = {k: v for k, v in final.items()}
    b.done()
    scenario = b.scenario(
        "artifacts",
        "an input file, an image in content, sandbox artifacts (CSV, PNG, text) and an offloaded tool result",
    )
    scenario.files = files
    return scenario
