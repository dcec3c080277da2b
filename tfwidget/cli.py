"""The ``tfwidget`` command.

Subcommands::

    tfwidget demo [--execute OUT.html]        JupyterLab on the quickstart notebook (or run it headless)
    tfwidget sim [...]                        a simulated gateway on 127.0.0.1 (see ``tfwidget sim --help``)
    tfwidget record SESSION TURN -o FILE      save a turn's events as a recording (.jsonl or .sse)
    tfwidget show FILE [--html OUT.html]      summarize a recording in the terminal (and as a static page)
    tfwidget bench [...]                      the benchmark suite (only in a source checkout)

Exit status: 0 success, 1 failure (gateway error, unreadable file, failed notebook), 2 usage or
configuration error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import html
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import webbrowser
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main"]

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

_PACKAGE_DIR = Path(__file__).resolve().parent
_CHECKOUT = _PACKAGE_DIR.parent


class UserError(Exception):
    """A problem the person running the command can fix; printed as one line, no traceback."""

    def __init__(self, message: str, code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.code = code


def _err(message: str) -> None:
    print(f"tfwidget: error: {message}", file=sys.stderr)


# ------------------------------------------------------------------------------------------------ demo

#: The notebook written by ``tfwidget demo`` when the package runs outside a source checkout.
_FALLBACK_CELLS = [
    (
        "markdown",
        "# tfwidget quickstart\n\nA simulated gateway runs inside this kernel; the widget follows "
        "one of its turns live, then the turn's events are a DataFrame.",
    ),
    (
        "code",
        "import tfwidget\nimport tfwidget.sim\n\n"
        'sim = tfwidget.sim.Simulator("sub_agents", speed=4)\nsim.start()',
    ),
    (
        "code",
        "w = tfwidget.watch(sim.session_id, sim.turn_id, base_url=sim.base_url, api_key=sim.api_key)\nw",
    ),
    ("code", 'await w.wait(timeout=60)\nw.df[["sequence_number", "type", "thread_id", "content"]].head(10)'),
    ("code", "tfwidget.plot_usage(w)"),
    ("code", "sim.stop()"),
]


def checkout_notebooks() -> Path | None:
    """The ``notebooks/`` folder of the source checkout this package runs from, if any."""
    nb = _CHECKOUT / "notebooks"
    if (nb / "quickstart.ipynb").is_file() and (_CHECKOUT / "pyproject.toml").is_file():
        return nb
    return None


def _write_fallback_notebook(folder: Path) -> Path:
    import nbformat

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "quickstart.ipynb"
    if path.exists():
        return path
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for kind, src in _FALLBACK_CELLS:
        nb.cells.append(
            nbformat.v4.new_markdown_cell(src) if kind == "markdown" else nbformat.v4.new_code_cell(src)
        )
    nbformat.write(nb, path)
    return path


def _quickstart(args: argparse.Namespace) -> Path:
    folder = checkout_notebooks()
    if folder is not None:
        return folder / "quickstart.ipynb"
    path = _write_fallback_notebook(Path(args.dir))
    print(f"no source checkout found: using the quickstart notebook in {path}", file=sys.stderr)
    return path


def _require(module: str, extra: str) -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise UserError(f"this needs {module}, which is not installed: pip install 'tfwidget[{extra}]'")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def execute_notebook(path: Path, out_html: Path, *, timeout: float = 600) -> tuple[int, float]:
    """Run a notebook headless (nbclient, this interpreter's kernel) and write it as HTML (nbconvert).

    Widget state is not stored, so the HTML shows each widget's static transcript and needs no JavaScript.
    Returns (code cells executed, seconds).
    """
    _require("nbclient", "demo")
    _require("nbconvert", "demo")
    import nbformat
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
    from nbconvert import HTMLExporter

    nb = nbformat.read(path, as_version=4)
    kernel_name = nb.metadata.get("kernelspec", {}).get("name", "python3")
    client = NotebookClient(
        nb,
        km=KernelManager(kernel_name=kernel_name, **_kernel_encryption()),
        timeout=timeout,
        kernel_name=kernel_name,
        resources={"metadata": {"path": str(path.parent)}},
        store_widget_state=False,
    )
    started = time.monotonic()
    try:
        client.execute()
    except CellExecutionError as exc:
        lines = [ln for ln in str(exc).strip().splitlines() if ln.strip()]
        raise UserError(f"{path.name} failed: {lines[-1] if lines else exc}") from None
    except (CellTimeoutError, DeadKernelError) as exc:
        raise UserError(f"{path.name} failed: {str(exc).splitlines()[0]}") from None
    elapsed = time.monotonic() - started
    body, _ = HTMLExporter().from_notebook_node(nb)
    out_html.parent.mkdir(parents=True, exist_ok=True)
    out_html.write_text(body, encoding="utf-8")
    return sum(1 for c in nb.cells if c.cell_type == "code"), elapsed


def _kernel_encryption() -> dict[str, str]:
    """Kernel-manager settings that encrypt the kernel's ZMQ sockets (CurveZMQ keys provisioned by the
    manager; a kernel would otherwise warn it is "running over TCP without encryption"). Empty where
    jupyter_client or libzmq cannot do it."""
    try:
        import zmq
        from jupyter_client.manager import KernelManager
    except ImportError:
        return {}
    if "transport_encryption" not in KernelManager.class_trait_names() or not zmq.has("curve"):
        return {}
    return {"transport_encryption": "auto"}


def _trust(notebook: Path) -> None:
    """Sign the quickstart notebook (as ``jupyter trust`` does): its saved outputs are this package's own,
    and the server would otherwise warn that it is not trusted and sanitize them."""
    import nbformat
    from nbformat.sign import NotebookNotary

    try:
        nb = nbformat.read(notebook, as_version=4)
        notary = NotebookNotary()
        if not notary.check_signature(nb):
            notary.sign(nb)
    except Exception as exc:  # never block the demo on the signature store
        print(f"note: could not mark {notebook.name} as trusted ({exc})", file=sys.stderr)


def _wait_for_server(proc: subprocess.Popen[bytes], port: int, token: str, timeout: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise UserError(
                f"JupyterLab exited with status {proc.returncode} before it was ready (see above)"
            )
        try:
            r = httpx.get(f"http://127.0.0.1:{port}/api/status", params={"token": token}, timeout=2)
            if r.status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise UserError(f"JupyterLab did not answer on 127.0.0.1:{port} within {timeout:.0f} s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _raise_interrupt(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def cmd_demo(args: argparse.Namespace) -> int:
    notebook = _quickstart(args)
    if args.execute:
        out = Path(args.execute)
        print(f"running {notebook.name} headless...", file=sys.stderr, flush=True)
        cells, seconds = execute_notebook(notebook, out, timeout=args.timeout)
        print(f"wrote {out} ({cells} code cells executed in {seconds:.1f} s)")
        return EXIT_OK

    _require("jupyterlab", "demo")
    _trust(notebook)
    port = args.port or _free_port()
    token = secrets.token_hex(16)
    cmd = [
        sys.executable, "-m", "jupyterlab",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={notebook.parent}",
        "--ServerApp.open_browser=False", "--ServerApp.log_level=WARN", "--LabApp.log_level=WARN",
        *(f"--KernelManager.{k}={v}" for k, v in _kernel_encryption().items()),
    ]  # fmt: skip
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    # JupyterLab runs in its own session: Ctrl-C reaches this process only, which then stops it cleanly
    # (JupyterLab itself would ask for a confirmation). SIGTERM is handled the same way.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, _raise_interrupt)
    proc = subprocess.Popen(cmd, cwd=notebook.parent, start_new_session=True)
    try:
        _wait_for_server(proc, port, token, timeout=args.startup_timeout)
        url = f"http://127.0.0.1:{port}/lab/tree/{notebook.name}?token={token}"
        print(f"\nJupyterLab is running on the quickstart notebook:\n\n    {url}\n", flush=True)
        print("Run all cells (Run > Run All Cells). Press Ctrl-C here to stop.", flush=True)
        if not args.no_browser:
            try:
                webbrowser.open(url)
            except Exception:
                pass
        return proc.wait() or EXIT_OK
    except KeyboardInterrupt:
        print("\nstopping JupyterLab...", file=sys.stderr)
        return EXIT_OK
    finally:
        _stop(proc)


# ------------------------------------------------------------------------------------------------ record


def _progress_line(events: int, messages: int, elapsed: float, note: str = "") -> str:
    return f"events {events:,} · messages {messages:,} · {elapsed:.1f} s" + (f" · {note}" if note else "")


def cmd_record(args: argparse.Namespace) -> int:
    from .client import GatewayClient
    from .errors import ConfigurationError, GatewayError
    from .recording import save

    out = Path(args.output)
    if out.suffix not in (".jsonl", ".sse"):
        raise UserError(
            f"-o/--output must end in .jsonl (recording) or .sse (raw capture): {out}", EXIT_USAGE
        )
    if args.after is not None and args.after < 0:
        raise UserError("--after must be >= 0", EXIT_USAGE)
    try:
        client = GatewayClient()
    except ConfigurationError as exc:
        raise UserError(str(exc), EXIT_USAGE) from None

    tty = sys.stderr.isatty()
    items: list[Any] = []
    message_ids: set[str] = set()
    note = ""
    started = time.monotonic()
    last_draw = 0.0

    def draw(final: bool = False) -> None:
        nonlocal last_draw
        now = time.monotonic()
        if not final and (not tty or now - last_draw < 0.1):
            return
        last_draw = now
        line = _progress_line(len(items), len(message_ids), now - started, note)
        if tty:
            sys.stderr.write("\r\x1b[2K" + line + ("\n" if final else ""))
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def on_reconnect(info: Any) -> None:
        nonlocal note
        note = f"reconnecting (attempt {info.attempt}: {info.reason})"
        draw()

    code = EXIT_OK
    try:
        with client:
            sub = client.subscribe(
                args.session, args.turn, after_sequence_number=args.after, on_reconnect=on_reconnect
            )
            for item in sub:
                items.append(item)
                ev = item.event
                if ev.type in ("model.message", "model.message.delta"):
                    message_ids.add(ev.id)
                if note:
                    note = ""
                draw()
    except KeyboardInterrupt:
        note, code = "interrupted", EXIT_INTERRUPTED
    except GatewayError as exc:
        if items:
            draw(final=True)
        _err(str(exc))
        code = EXIT_FAILURE
    else:
        draw(final=True)
    if code == EXIT_INTERRUPTED:
        draw(final=True)
    if items:
        from .state import TurnState

        status = TurnState.from_items(items).status
        save(items, out)
        what = "" if code == EXIT_OK else " (partial: the turn had not finished)"
        print(f"wrote {out}: {len(items)} events, turn status {status}{what}")
    elif code == EXIT_OK:
        save(items, out)
        print(f"wrote {out}: no events after sequence number {args.after}")
    else:
        print("nothing received: no file written", file=sys.stderr)
    return code


# ------------------------------------------------------------------------------------------------ show


def _short(text: str | None, width: int) -> str:
    if not text:
        return ""
    one = " ".join(str(text).split())
    return one if len(one) <= width else one[: max(1, width - 1)] + "…"


def _input_text(item: Any) -> str:
    from ._content import content_text

    d = item if isinstance(item, dict) else getattr(item, "model_dump", lambda **_: {})(exclude_none=True)
    if d.get("type") == "user.message":
        return content_text(d.get("content"), " ")
    return f"({d.get('type', 'input')})"


def summarize(state: Any, *, name: str | None = None, width: int = 100) -> str:
    """A plain-text summary of a turn (what ``tfwidget show`` prints)."""
    lines: list[str] = []
    reason = f" ({state.status_reason})" if state.status_reason else ""
    lines.append(f"turn {state.turn_id or '?'}: {state.status}{reason}")
    if name:
        lines.append(f"  source: {name}")
    lines.append(
        f"  {len(state.items)} events · {len(state.message_ids())} messages · "
        f"{len(state.tool_calls)} tool calls · {len(state.threads)} thread{'s' if len(state.threads) != 1 else ''}"
    )
    inputs = list(state.input or [])
    if inputs:
        lines.append("input:")
        for it in inputs:
            lines.append("  " + _short(_input_text(it), width))
    msgs = state.merged_messages()
    if msgs:
        lines.append("messages:")
        for m in msgs:
            text = state.message_text(m.id)[0]
            calls = [
                c.function.name for c in (m.tool_calls or []) if c is not None and c.function is not None
            ]
            tail = f" → {', '.join(n for n in calls if n)}" if calls else ""
            body = _short(text, width) if text else "(no text)"
            lines.append(f"  [{m.thread_id or 'main'}] {body}{tail}")
    if state.tool_calls:
        lines.append("tools:")
        for t in state.tool_calls.values():
            where = f" [{t.thread_id}]" if t.thread_id and t.thread_id != "main" else ""
            server = f" ({t.server_name})" if t.server_name else ""
            lines.append(f"  {t.name or '?'}{server}{where}: {t.status}")
    lines.append("threads:")
    for th in state.threads.values():
        parent = f", parent {th.parent_thread_id}" if th.parent_thread_id else ""
        model = f", {th.model}" if th.model else ""
        label = th.agent_name or th.title or th.id
        err = f": {th.error}" if th.error else ""
        lines.append(
            f"  {th.id} {label if label != th.id else ''}".rstrip() + f" ({th.status}{parent}{model}){err}"
        )
    pauses = state.required_actions
    if pauses:
        lines.append("waiting for:")
        for p in pauses:
            if p.type == "mcp.auth_required":
                servers = ", ".join(sv.name or sv.id or "?" for sv in p.mcp_servers)
                lines.append(f"  sign-in to MCP server(s): {servers}")
                continue
            what = "approval of" if p.type == "tool.approval_required" else "a response to"
            for pc in p.tool_calls:
                info = state.tool_calls.get(pc.id)
                lines.append(f"  {what} {info.name if info and info.name else 'tool'} ({pc.id})")
    t = state.totals()
    cost = f" · cost ${t['cost_usd']:.4f}" if t["cost_usd"] is not None else ""
    names = {"metrics": "turn.done metrics", "usage": "sum of calls' usage"}
    if t["source"] in names:
        src = f"from {names[t['source']]}"
    else:  # metrics lack some fields: say where each came from
        by: dict[str, list[str]] = {}
        labels = {"input_tokens": "in", "output_tokens": "out", "cache_read_tokens": "cache read",
                  "cache_write_tokens": "cache write", "total_tokens": "total"}  # fmt: skip
        for k, label in labels.items():
            by.setdefault(names.get(t["sources"][k], "both"), []).append(label)
        src = "; ".join(f"{', '.join(v)} from {k}" for k, v in by.items())
    lines.append(
        f"usage: {t['input_tokens']:,} in · {t['output_tokens']:,} out · {t['cache_read_tokens']:,} cache read · "
        f"{t['cache_write_tokens']:,} cache write · {t['total_tokens']:,} total{cost} ({src})"
    )
    timing = _timing_line(state)
    if timing:
        lines.append(timing)
    lines.append(f"anomalies: {len(state.anomalies)}")
    for a in state.anomalies[:5]:
        lines.append("  " + _short(f"{getattr(a, 'kind', '')}: {getattr(a, 'message', a)}", width))
    return "\n".join(lines)


def _timing_line(state: Any) -> str | None:
    """``time: 4.05 s · 4 model calls, time to first token median 0.03 s · slowest: create_sub_agent 2.83 s``
    (receive times, or the events' created_at, said so)."""
    from .timing import spans

    out = spans(state)
    turn = next((s for s in out if s.kind == "turn"), None)
    if turn is None or turn.started_at is None:
        return None
    bits = [f"time: {turn.duration_s:.2f} s" if turn.duration_s is not None else "time: running"]
    calls = [s for s in out if s.kind == "model_call"]
    ttfts = sorted(s.ttft_s for s in calls if s.ttft_s is not None)
    if calls:
        text = f"{len(calls)} model call{'s' * (len(calls) != 1)}"
        if ttfts:
            text += f", time to first token median {ttfts[len(ttfts) // 2]:.2f} s"
        bits.append(text)
    steps = [s for s in out if s.kind in ("model_call", "tool_call") and s.duration_s is not None]
    if steps:
        slow = max(steps, key=lambda s: s.duration_s or 0.0)
        bits.append(f"slowest: {slow.name} {slow.duration_s:.2f} s")
    if turn.time_source == "created_at":
        bits.append("(from the events' created_at)")
    return " · ".join(bits)


def cmd_show(args: argparse.Namespace) -> int:
    import warnings

    from .recording import load
    from .sse import MalformedFrameWarning
    from .state import TurnState

    path = Path(args.file)
    if not path.exists():
        raise UserError(f"no such file or folder: {path}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", MalformedFrameWarning)
        try:
            loaded = load(path)
        except (ValueError, FileNotFoundError, OSError) as exc:
            raise UserError(str(exc)) from None
    turns = loaded if isinstance(loaded, dict) else {path.name: loaded}
    width = args.width or max(40, shutil.get_terminal_size((110, 20)).columns - 20)
    blocks = []
    for name, items in turns.items():
        state = TurnState.from_items(items)
        blocks.append(summarize(state, name=name if isinstance(loaded, dict) else str(path), width=width))
    print("\n\n".join(blocks))
    if args.html:
        out = Path(args.html)
        page = static_turns_page(turns, title=path.name)
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(page, encoding="utf-8")
        except OSError as exc:
            raise UserError(f"cannot write {out}: {exc}") from None
        print(f"wrote {out} ({len(page):,} bytes)", file=sys.stderr)
    bad = [w for w in caught if issubclass(w.category, MalformedFrameWarning)]
    if bad:
        print(f"note: {len(bad)} malformed frame(s) skipped", file=sys.stderr)
    return EXIT_OK


def static_turns_page(turns: dict[str, Sequence[Any]], *, title: str) -> str:
    """One self-contained HTML page (no scripts, nothing loaded from outside) of recorded turns."""
    from .state import TurnState
    from .static_html import render_turn_html, static_page
    from .view import build_view

    sections = []
    for name, items in turns.items():
        view = build_view(TurnState.from_items(items))
        heading = f'<h2 style="font:600 14px sans-serif;margin:16px 0 6px">{html.escape(name)}</h2>'
        sections.append(heading + render_turn_html(view))
    return static_page("".join(sections), title=f"{title} · tfwidget")


# ------------------------------------------------------------------------------------------------ bench


def cmd_bench(args: argparse.Namespace) -> int:
    suite = _CHECKOUT / "benchmarks"
    if not (suite / "__main__.py").is_file():
        raise UserError(
            "the benchmark suite lives in the source checkout (benchmarks/): clone the repository and run "
            "`make bench` (or `tfwidget bench` from that checkout)"
        )
    return subprocess.call([sys.executable, "-m", "benchmarks", *args.args], cwd=_CHECKOUT)


# ------------------------------------------------------------------------------------------------ parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tfwidget",
        description="Watch, record and analyse TrueFoundry Agent Harness turns.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=textwrap.dedent(
            """\
            gateway settings (record): TFY_GATEWAY_URL (or GATEWAY_BASE_URL) and TFY_API_KEY.
            exit status: 0 ok, 1 failure, 2 usage or configuration error, 130 interrupted.
            """
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser(
        "demo",
        help="open the quickstart notebook in JupyterLab (or run it headless with --execute)",
        description=(
            "Start JupyterLab on notebooks/quickstart.ipynb (the notebook starts its own simulated gateway) "
            "and print its URL; runs until Ctrl-C and stops JupyterLab. Outside a source checkout the "
            "quickstart notebook is written to --dir first. With --execute, run the notebook headless "
            "and write it, executed, as HTML."
        ),
    )
    demo.add_argument("--execute", metavar="OUT.html", help="run the notebook headless and write it as HTML")
    demo.add_argument(
        "--port", type=int, default=0, help="JupyterLab port on 127.0.0.1 (default: a free one)"
    )
    demo.add_argument("--no-browser", action="store_true", help="do not open a web browser")
    demo.add_argument(
        "--dir",
        default="tfwidget-demo",
        help="where to write the notebook outside a checkout (default: %(default)s)",
    )
    demo.add_argument("--timeout", type=float, default=600, help="--execute: seconds per cell (default: 600)")
    demo.add_argument("--startup-timeout", type=float, default=120, help=argparse.SUPPRESS)
    demo.set_defaults(func=cmd_demo)

    sub.add_parser(
        "sim",
        help="run a simulated gateway on 127.0.0.1 (tfwidget sim --help)",
        add_help=False,
        description="Run a simulated gateway: see `tfwidget sim --help`.",
    )

    record = sub.add_parser(
        "record",
        help="save a turn's events to a recording (.jsonl or .sse)",
        description=(
            "Follow a turn on the gateway (TFY_GATEWAY_URL, TFY_API_KEY) until turn.done and save its events: "
            ".jsonl keeps receive times (replayable at the original pace), .sse is the raw stream. Progress "
            "goes to stderr; Ctrl-C saves what was received so far."
        ),
    )
    record.add_argument("session", metavar="SESSION", help="session id")
    record.add_argument("turn", metavar="TURN", help="turn id")
    record.add_argument("-o", "--output", required=True, metavar="FILE", help="FILE.jsonl or FILE.sse")
    record.add_argument("--after", type=int, default=None, metavar="N", help="start after sequence number N")
    record.set_defaults(func=cmd_record)

    show = sub.add_parser(
        "show",
        help="summarize a recording (or a folder of recordings)",
        description="Print a turn's status, messages, tools, threads, token usage and cost.",
    )
    show.add_argument("file", metavar="FILE", help=".jsonl or .sse recording, or a folder of them")
    show.add_argument("--width", type=int, default=None, help="truncate texts to this many characters")
    show.add_argument(
        "--html",
        metavar="OUT.html",
        default=None,
        help="also write the transcript as a static HTML page (no scripts, nothing loaded from outside)",
    )
    show.set_defaults(func=cmd_show)

    if not (_CHECKOUT / "benchmarks" / "__main__.py").is_file():
        return parser  # installed from a wheel or sdist: the benchmark suite is not part of the package
    bench = sub.add_parser(
        "bench",
        help="run the benchmark suite (source checkout only)",
        description="Run `python -m benchmarks` in the source checkout; extra arguments are passed on.",
    )
    bench.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the suite")
    bench.set_defaults(func=cmd_bench)
    return parser


def _version() -> str:
    from . import __version__

    return __version__


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tfwidget`` command; returns the exit status."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] == "sim":
        from .sim import main as sim_main

        try:
            return int(sim_main(args_list[1:]) or 0)
        except KeyboardInterrupt:
            return EXIT_INTERRUPTED
    parser = build_parser()
    args = parser.parse_args(args_list)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        _err(str(exc))
        return exc.code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
