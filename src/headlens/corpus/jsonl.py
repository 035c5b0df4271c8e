"""JSON Lines: one object per line with configurable field names."""

from __future__ import annotations

import json
from collections.abc import Iterator

from ..errors import CorpusError
from .lines import Line
from .types import Sentence, Skipped


_JSON_TYPES = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "a boolean", type(None): "null"}


def read_jsonl(
    lines: Iterator[Line],
    path: str,
    on_error: str,
    text_field: str,
    text_b_field: str | None,
    label_field: str | None,
) -> Iterator[Sentence | Skipped | None]:
    index = 0
    for line in lines:
        problem = None
        if line.text is None:
            problem = ("invalid_utf8", (line.error or "") + "; fix the encoding or pass --on-error skip.")
        elif not line.text.strip():
            yield None
            continue
        else:
            try:
                obj = json.loads(line.text)
                parsed = True
            except json.JSONDecodeError as e:
                obj, parsed = None, False
                problem = ("malformed", f"not valid JSON ({e.msg} at column {e.colno}).")
            if parsed and not isinstance(obj, dict):  # includes a bare `null`
                problem = ("malformed", f"expected a JSON object, got {_JSON_TYPES.get(type(obj), type(obj).__name__)}.")
            elif parsed:
                for name in (text_field, text_b_field):
                    if name is not None and not isinstance(obj.get(name), str):
                        got = "missing" if name not in obj else type(obj[name]).__name__
                        problem = (
                            "malformed",
                            f"field {name!r} must be a string ({got}); the keys are {sorted(obj)}. "
                            "Name the fields with --text-field / --text-b-field.",
                        )
                        break
        if problem is not None:
            if on_error != "skip":
                raise CorpusError(problem[1], path=path, line=line.number)
            yield Skipped(index, f"{path}:{line.number}", problem[0], problem[1])
            index += 1
            continue
        text = obj[text_field]
        text_b = obj[text_b_field] if text_b_field else None
        if not text.strip() or (text_b is not None and not text_b.strip()):
            yield Skipped(index, f"{path}:{line.number}", "empty_text", "the text field is empty", text=text)
        else:
            label = obj.get(label_field) if label_field else None
            yield Sentence(
                index=index,
                text=text,
                text_b=text_b,
                label=None if label is None else str(label),
                source=f"{path}:{line.number}",
            )
        index += 1
