"""Run the benchmark suite: ``python -m benchmarks [--quick] [--only NAME] [--out DIR]``.

Each benchmark runs in a fresh child process (so memory figures and imported libraries of one do not
leak into the next); inside it, the compared implementations run one after the other on the same input.
Prints a table of ratios against the baselines and writes ``results.json`` and ``RESULTS.md``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from benchmarks._common import machine_info, not_run
from benchmarks._report import console, markdown

HERE = Path(__file__).resolve().parent

# name -> (module, title used when the benchmark cannot produce its own record)
BENCHMARKS: dict[str, tuple[str, str]] = {
    "ingest": ("benchmarks.ingest", "Ingest: SSE bytes of a large turn -> folded state"),
    "network": (
        "benchmarks.network",
        "Network: GatewayClient.subscribe over loopback vs a bare httpx-sse loop",
    ),
    "fold": ("benchmarks.fold", "Fold: streamed tool-call arguments and TurnView.feed, per delta"),
    "widget_traffic": ("benchmarks.widget_traffic", "Widget traffic: comm messages, bytes and kernel CPU"),
    "browser": ("benchmarks.browser", "Browser: rendering one streamed turn in JupyterLab + chromium"),
    "frames": ("benchmarks.frames", "DataFrames: a 1,000,000-item turn to pandas"),
    "notebook_size": ("benchmarks.notebook_size", "Notebook size: saved .ipynb after one turn"),
    "concat": ("benchmarks.concat", "Collections: concat of 2,000 recorded turns, then df + usage_df"),
}


def _select(only: list[str] | None) -> list[str]:
    if not only:
        return list(BENCHMARKS)
    chosen = []
    for want in only:
        for part in want.split(","):
            part = part.strip()
            matches = [n for n in BENCHMARKS if n == part] or [n for n in BENCHMARKS if n.startswith(part)]
            if not matches:
                raise SystemExit(f"unknown benchmark {part!r}; choose from {', '.join(BENCHMARKS)}")
            chosen += [m for m in matches if m not in chosen]
    return [n for n in BENCHMARKS if n in chosen]


def run_one(name: str, quick: bool) -> dict[str, Any]:
    """Run one benchmark in this process and return its record (an "error" record if it raised)."""
    module, title = BENCHMARKS[name]
    t0 = time.perf_counter()
    try:
        rec = importlib.import_module(module).bench(quick=quick)
    except Exception as exc:
        text = f"{type(exc).__name__}: {exc}"
        text = text if len(text) <= 300 else text[:300] + " ..."
        rec = not_run(name, title, f"error: {text}")
        rec["status"] = "error"
        traceback.print_exc()
    rec["seconds_total"] = time.perf_counter() - t0
    return rec


def _run_child(name: str, quick: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="tfw-bench-") as tmp:
        out = Path(tmp, "result.json")
        cmd = [sys.executable, "-m", "benchmarks", "--child", name, "--child-out", str(out)]
        if quick:
            cmd.append("--quick")
        env = dict(os.environ)
        root = str(HERE.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
        proc = subprocess.run(cmd, env=env, cwd=root)
        if out.exists():
            return json.loads(out.read_text(encoding="utf-8"))
        rec = not_run(
            name, BENCHMARKS[name][1], f"error: the benchmark process exited with {proc.returncode}"
        )
        rec["status"] = "error"
        return rec


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (seconds, for smoke tests)")
    parser.add_argument("--only", action="append", metavar="NAME",
                        help=f"run only these (repeat or comma-separate): {', '.join(BENCHMARKS)}")  # fmt: skip
    parser.add_argument("--out", type=Path, default=HERE, help="where to write results.json and RESULTS.md")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:  # one benchmark in this (child) process
        rec = run_one(args.child, args.quick)
        args.child_out.write_text(json.dumps(rec, default=str), encoding="utf-8")
        return 0

    names = _select(args.only)
    machine = machine_info()
    t0 = time.perf_counter()
    results = []
    for name in names:
        print(f"[{name}] running ...", flush=True)
        rec = _run_child(name, args.quick)
        print(f"[{name}] {rec['status']} in {rec.get('seconds_total', 0):.1f} s", flush=True)
        results.append(rec)
    elapsed = time.perf_counter() - t0

    command = "python -m benchmarks" + (" --quick" if args.quick else "")
    command += "".join(f" --only {n}" for n in args.only or [])
    print()
    print(console(results))
    args.out.mkdir(parents=True, exist_ok=True)
    payload = {"command": command, "quick": args.quick, "elapsed_s": elapsed, "machine": machine,
               "benchmarks": {r["name"]: r for r in results}}  # fmt: skip
    (args.out / "results.json").write_text(
        json.dumps(payload, indent=1, default=str) + "\n", encoding="utf-8"
    )
    (args.out / "RESULTS.md").write_text(markdown(results, machine, command=command, elapsed_s=elapsed),
                                         encoding="utf-8")  # fmt: skip
    print(f"\nwrote {args.out / 'results.json'} and {args.out / 'RESULTS.md'}")
    return 0 if all(r["status"] != "error" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
