"""The module graph: the fold imports neither plotting nor analysis, and no tfwidget modules form an import cycle."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "tfwidget"

# modules that must stay out of any import cycle: the fold and what it is made of
CORE = {"tfwidget.state", "tfwidget.events", "tfwidget.sse", "tfwidget.view"}


def _modules() -> dict[str, tuple[Path, bool]]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        if is_pkg:
            parts = parts[:-1]
        out[".".join(parts)] = (path, is_pkg)
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def import_graph() -> dict[str, set[str]]:
    """Module -> the tfwidget modules it imports at run time: at module level and inside functions
    (imports under ``if TYPE_CHECKING:`` never run and are left out)."""
    mods = _modules()

    def targets(mod: str, is_pkg: bool, node: ast.Import | ast.ImportFrom) -> list[str]:
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            if node.level:
                base = mod.split(".") if is_pkg else mod.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            # `from . import timing` names a module, `from .state import TurnState` a module's attribute
            names = [f"{prefix}.{a.name}" if f"{prefix}.{a.name}" in mods else prefix for a in node.names]
        out = []
        for name in names:
            while name and name not in mods:  # `import tfwidget.sim.server` -> the deepest known module
                name = name.rpartition(".")[0]
            if name and name != mod:
                out.append(name)
        return out

    graph: dict[str, set[str]] = {}
    for mod, (path, is_pkg) in mods.items():
        edges: set[str] = set()

        def visit(node: ast.AST, mod: str = mod, is_pkg: bool = is_pkg, edges: set[str] = edges) -> None:
            if isinstance(node, ast.If) and _is_type_checking(node.test):
                for child in node.orelse:
                    visit(child)
                return
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                edges.update(targets(mod, is_pkg, node))
            for child in ast.iter_child_nodes(node):
                visit(child)

        visit(ast.parse(path.read_text(encoding="utf-8")))
        graph[mod] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (each holds at least one cycle)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return found


def test_the_graph_sees_module_and_function_level_imports() -> None:
    g = import_graph()
    assert "tfwidget.events" in g["tfwidget.state"]  # module level
    assert "tfwidget.timetravel" in g["tfwidget.state"]  # inside at()
    assert "tfwidget.frames" in g["tfwidget._facade"]  # inside turn_frame()
    assert "tfwidget.state" not in g["tfwidget.frames"]  # only under TYPE_CHECKING there
    # the detector finds a cycle when there is one
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_through_the_fold() -> None:
    bad = [c for c in cycles(import_graph()) if CORE & set(c)]
    assert not bad, f"import cycles through {sorted(CORE)}: {bad}"


def test_no_import_cycle_anywhere_in_the_package() -> None:
    # the graph counts imports inside functions too: a function-level import that only dodges a cycle at
    # import time is still a cycle (two modules that need each other), and fails here
    bad = cycles(import_graph())
    assert not bad, f"import cycles among tfwidget modules (function-level imports included): {bad}"


def test_the_fold_imports_no_analysis_and_no_plotting() -> None:
    fixture = Path(__file__).parent / "fixtures" / "approval_pause.sse"
    code = f"""
import json, sys
import tfwidget.state
from tfwidget.recording import load
from tfwidget.state import TurnState
st = TurnState.from_items(load({str(fixture)!r}))
frames = [st.df, st.messages_df, st.tool_calls_df, st.usage_df, st.spans_df]
st.at(3)
print(json.dumps({{m: m in sys.modules for m in ("tfwidget.analysis", "matplotlib", "tfwidget.widget")}}))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    assert json.loads(out.strip().splitlines()[-1]) == {
        "tfwidget.analysis": False,
        "matplotlib": False,
        "tfwidget.widget": False,
    }
