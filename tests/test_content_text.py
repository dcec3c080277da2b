"""The one rule for the text of content (tfwidget._content.content_text) and its named options."""

from __future__ import annotations

from tfwidget import otel, resolution, view
from tfwidget._content import content_text
from tfwidget.events import ContentPart, ModelMessageEvent

PARTS = [
    {"type": "text", "text": "Hello"},
    {"type": "refusal", "refusal": "I can't share that"},
    {"type": "file", "name": "orders.csv", "file_id": "f1"},
    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
    {"type": "mystery", "payload": [1, 2]},
    {"type": "text", "text": "world"},
]


def test_none_and_strings() -> None:
    assert content_text(None) == ""
    assert content_text(None, "\n", refusals=True, files=True) == ""
    assert content_text("") == ""
    assert content_text("as is, ünïcode") == "as is, ünïcode"


def test_a_list_of_parts_takes_only_text_by_default() -> None:
    assert content_text(PARTS) == "Helloworld"
    assert content_text(PARTS, " ") == "Hello world"


def test_refusals_and_files_are_named_options() -> None:
    assert content_text(PARTS, "|", refusals=True) == "Hello|I can't share that|world"
    assert content_text(PARTS, "|", files=True) == "Hello|[file orders.csv]|world"
    assert content_text(PARTS, "|", refusals=True, files=True) == (
        "Hello|I can't share that|[file orders.csv]|world"
    )
    assert content_text([{"type": "file"}], files=True) == "[file]"
    assert content_text([{"type": "file", "name": ""}], files=True) == "[file]"


def test_dicts_models_objects_and_plain_strings_read_alike() -> None:
    models = [ContentPart.model_validate(p) for p in PARTS]
    assert content_text(models, " ", refusals=True) == content_text(PARTS, " ", refusals=True)
    assert (
        content_text(["a", {"type": "text", "text": "b"}, ContentPart(type="text", text="c")], "-") == "a-b-c"
    )


def test_empty_and_odd_parts_add_nothing_not_even_a_separator() -> None:
    odd = [
        {"type": "text", "text": ""},
        {"type": "text", "text": None},
        {"type": "text", "text": 5},  # not a string: no text
        {"type": "refusal", "refusal": {"nested": True}},
        {"text": "no type"},
        ["nested", "list"],
        {"no": "type or text"},
        None,
        7,
        "",
        {"type": "text", "text": "kept"},
    ]
    assert content_text(odd, "\n", refusals=True, files=True) == "no type\nkept"
    assert content_text([]) == ""


def test_other_values_are_json() -> None:
    assert content_text({"answer": 42, "city": "Zürich"}) == '{"answer": 42, "city": "Zürich"}'
    assert content_text(3) == "3"
    assert content_text(True) == "true"
    assert content_text({"when": {1, 2}.__class__}).startswith('{"when": "')  # not JSON-able: str() inside
    cur: dict[str, object] = {"k": []}
    for _ in range(100_000):
        cur = {"k": cur}
    assert isinstance(content_text(cur), str)  # nested deeper than Python recurses: no RecursionError


def test_the_readers_use_the_one_rule() -> None:
    # the one function is what the other modules name (no private copies left)
    assert resolution.content_text is content_text
    assert view.content_text is content_text
    assert otel.content_text is content_text
    for content in (None, "plain", [ContentPart.model_validate(p) for p in PARTS]):
        msg = ModelMessageEvent(type="model.message", id="m", content=content)
        assert msg.text == content_text(content)
