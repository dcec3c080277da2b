"""Shared helpers for the benchmark suite: timing, memory, comm capture, result records, machine info."""

from __future__ import annotations

import contextlib
import gc
import json
import os
import platform
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

# ------------------------------------------------------------------------------------------ results


def check(
    what: str,
    ours: float | None,
    baseline: float | None,
    *,
    target: float | None,
    higher_is_better: bool = True,
    strict: bool = False,
    unit: str = "",
    note: str = "",
    miss: str = "",
    target_text: str | None = None,
) -> dict[str, Any]:
    """One comparison: ``ratio`` is how many times better tfwidget is (>1 means better).

    For "higher is better" metrics (throughput) the ratio is ``ours / baseline``; for "lower is better"
    metrics (messages, bytes, seconds) it is ``baseline / ours``. ``target`` is the ratio to reach
    (``strict``: strictly more than it); ``None`` means informational only. ``miss`` says what limits the
    result when the target is missed.
    """
    ratio: float | None = None
    if ours is not None and baseline is not None:
        if higher_is_better:
            ratio = ours / baseline if baseline else None
        else:
            ratio = baseline / ours if ours else float("inf")
    met: bool | None = None
    if target is not None and ratio is not None:
        met = ratio > target if strict else ratio >= target
    if target_text is None:
        target_text = "-" if target is None else f"{'>' if strict else '>='} {target:g}x"
    return {
        "what": what,
        "ours": ours,
        "baseline": baseline,
        "unit": unit,
        "ratio": ratio,
        "higher_is_better": higher_is_better,
        "target": target,
        "target_text": target_text,
        "met": met,
        "note": note,
        "miss": miss if met is False else "",
    }


def result(
    name: str,
    title: str,
    *,
    params: dict[str, Any],
    rows: list[dict[str, Any]],
    checks: list[dict[str, Any]],
    notes: list[str] | None = None,
    status: str = "ok",
) -> dict[str, Any]:
    """A benchmark's record as stored in results.json."""
    return {
        "name": name,
        "title": title,
        "status": status,
        "params": params,
        "rows": rows,
        "checks": checks,
        "notes": list(notes or []),
    }


def not_run(name: str, title: str, reason: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """The record of a benchmark that could not run here (no numbers, the reason instead)."""
    return result(name, title, params=params or {}, rows=[], checks=[], notes=[reason], status="not run")


# ------------------------------------------------------------------------------------------ timing


def median_time(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median wall seconds of ``repeat`` calls (after a collection each); returns it with the last value."""
    times = []
    value = None
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), value


def traced_peak_mib(fn: Callable[[], Any]) -> float:
    """Peak Python heap allocated while ``fn`` runs (tracemalloc, MiB); the result is dropped after."""
    gc.collect()
    tracemalloc.start()
    try:
        value = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del value
    return peak / 2**20


# ------------------------------------------------------------------------------------------ comm capture


def _json_default(obj: Any) -> Any:
    from jupyter_client.jsonutil import json_default

    return json_default(obj)


def wire_size(data: Any) -> int:
    """Bytes of a comm message payload as the kernel serialises it (jupyter_client's JSON packer).

    The serialisation is real work a kernel does for every message, so it is left inside the CPU time
    the widget benchmarks measure.
    """
    return len(json.dumps(data, default=_json_default, ensure_ascii=False, allow_nan=False).encode())


@dataclass
class CommRecorder:
    """Counts what every comm created while installed publishes to the (absent) front end."""

    messages: int = 0
    bytes: int = 0
    by_type: dict[str, int] = field(default_factory=dict)
    by_comm: dict[str, list[int]] = field(default_factory=dict)  # comm_id -> [messages, bytes]

    def record(self, comm_id: str, msg_type: str, content: dict[str, Any], buffers: list[Any] | None) -> None:
        size = wire_size(content) + sum(len(memoryview(b).cast("B")) for b in buffers or [])
        self.messages += 1
        self.bytes += size
        self.by_type[msg_type] = self.by_type.get(msg_type, 0) + 1
        per = self.by_comm.setdefault(comm_id, [0, 0])
        per[0] += 1
        per[1] += size

    def reset(self) -> None:
        self.messages = 0
        self.bytes = 0
        self.by_type.clear()
        self.by_comm.clear()


@contextlib.contextmanager
def recording_comms() -> Iterator[CommRecorder]:
    """Install a comm implementation that records every published message (the kernel-to-front-end channel).

    ``comm.create_comm`` is what ipywidgets and anywidget use to open their comm; pyviz_comms (Panel)
    hard-codes ``ipykernel.comm.Comm``, so that name is pointed at the same recording class while
    installed. The ``comm`` message content (``comm_id``, ``data``, plus ``target_name`` on open) is
    measured as the kernel would JSON-encode it; the per-message Jupyter envelope (header, parent header,
    signature: a few hundred bytes) is not included.
    """
    import comm
    from comm.base_comm import BaseComm, CommManager

    recorder = CommRecorder()
    manager = CommManager()

    class RecordingComm(BaseComm):
        kernel = True  # ipywidgets only sends when the comm has a kernel

        def publish_msg(
            self,
            msg_type: str,
            data: dict[str, Any] | None = None,
            metadata: dict[str, Any] | None = None,
            buffers: list[Any] | None = None,
            **keys: Any,
        ) -> None:
            content = {"data": {} if data is None else data, "comm_id": self.comm_id, **keys}
            recorder.record(self.comm_id, msg_type, content, buffers)

        def close(
            self,
            data: dict[str, Any] | None = None,
            metadata: dict[str, Any] | None = None,
            buffers: list[Any] | None = None,
            deleting: bool = False,
        ) -> None:
            if self._closed:
                return
            self._closed = True
            self.publish_msg("comm_close", data=self._close_data if data is None else data,
                             metadata=metadata, buffers=buffers)  # fmt: skip
            manager.comms.pop(self.comm_id, None)

    def create_comm(*args: Any, **kwargs: Any) -> BaseComm:
        return RecordingComm(*args, **kwargs)

    saved = (comm.create_comm, comm.get_comm_manager)
    comm.create_comm = create_comm
    comm.get_comm_manager = lambda: manager
    ipy_saved = None
    try:
        import ipykernel.comm as ipy_comm

        ipy_saved = ipy_comm.Comm
        ipy_comm.Comm = RecordingComm  # type: ignore[misc]
    except ImportError:
        ipy_comm = None  # type: ignore[assignment]
    try:
        yield recorder
    finally:
        comm.create_comm, comm.get_comm_manager = saved
        if ipy_comm is not None:
            ipy_comm.Comm = ipy_saved  # type: ignore[misc]


# ------------------------------------------------------------------------------------------ machine


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gib() -> float | None:
    try:
        import psutil

        return psutil.virtual_memory().total / 2**30
    except ImportError:
        try:
            return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        except (ValueError, OSError, AttributeError):
            return None


_PACKAGES = (
    "tfwidget", "anywidget", "ipywidgets", "comm", "ipykernel", "httpx", "httpx-sse", "pydantic",
    "pydantic-core", "pandas", "pyarrow", "truefoundry-gateway-sdk", "panel", "bokeh", "jupyterlab",
    "playwright",
)  # fmt: skip


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        if dist == "tfwidget":
            try:
                import tfwidget

                return getattr(tfwidget, "__version__", None)
            except ImportError:
                return None
        return None


def machine_info() -> dict[str, Any]:
    """CPU model, cores, RAM, OS, Python and the versions of the packages the benchmarks touch."""
    ram = _ram_gib()
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": None if ram is None else round(ram, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {sys.version.split()[0]}",
        "packages": {name: _version(name) for name in _PACKAGES},
    }
