"""docs/design.md states contracts: check them against the code (tfwidget.contracts and the module tree)."""

from __future__ import annotations

import re
import typing
from pathlib import Path

from tfwidget import contracts

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")


def _table() -> dict[str, list[str]]:
    rows = {}
    for line in DOC.splitlines():
        m = re.match(r"^\| `(\w+)` \| (.+) \|$", line)
        if m:
            rows[m.group(1)] = re.findall(r"`([^`]+)`", m.group(2))
    return rows


def _literals() -> dict[str, tuple[str, ...]]:
    out = {}
    for name in dir(contracts):
        value = getattr(contracts, name)
        if typing.get_origin(value) is typing.Literal:
            out[name] = typing.get_args(value)
    return out


def test_the_status_and_kind_lists_match_the_contracts():
    table = _table()
    literals = _literals()
    assert table, "the contracts table is missing from docs/design.md"
    # every Literal of tfwidget.contracts is listed, with its values in order, and nothing else is
    assert sorted(table) == sorted(literals)
    for name, values in literals.items():
        assert tuple(table[name]) == values, name


def test_the_module_map_lists_every_module():
    block = DOC.split("## Modules", 1)[1].split("```", 2)[1]
    listed = set(re.findall(r"^  (\w+\.py)\b", block, flags=re.M))
    present = {p.name for p in (ROOT / "tfwidget").glob("*.py") if p.name != "__init__.py"}
    assert listed == present, "docs/design.md's module map: add or remove " + str(listed ^ present)


def test_the_view_keys_the_doc_names_exist():
    view_keys = set(contracts.View.__annotations__)
    # "the SetKey keys, and timeline ..., messages ..., tools ..., events"
    assert view_keys == {"rev", *contracts.SET_KEYS, "timeline", "messages", "tools", "events"}
    for word in (
        "`timeline`",
        "`messages`",
        "`tools`",
        "`events`",
        "`pauses`",
        "`PauseView`",
        "`MessageView`",
    ):
        assert word in DOC
    for cls in ("MessageView", "ToolView", "EventView", "PauseView", "Patch", "Intent", "Ack", "TurnActions"):
        assert hasattr(contracts, cls), cls
    intent_fields = re.search(r'\{"type": "intent", ([^}]*)\}', DOC)
    assert intent_fields is not None
    named = set(re.findall(r'"(\w+)"', intent_fields.group(1)))
    assert named == set(contracts.Intent.__annotations__) - {"type"}
    ack_fields = re.search(r'\{"type": "ack", ([^}]*)\}', DOC)
    assert ack_fields is not None
    assert set(re.findall(r'"(\w+)"', ack_fields.group(1))) == set(contracts.Ack.__annotations__) - {"type"}


def test_changes_fields_match():
    from tfwidget.state import Changes

    fields = set(Changes.__dataclass_fields__)
    para = DOC.split("`take_changes() -> Changes`", 1)[1].split("\n\n", 1)[0]
    named = set(re.findall(r"`(\w+)`", para))
    assert fields <= named, fields - named
