"""JSON Lines: one object per line with configurable field names.

Every line that is not a JSON object with the named string fields is a bad line (stop, or skip
and count with ``--on-error skip``): invalid JSON, NaN/Infinity (not JSON), a key given twice
in one object (Python would keep the last silently), nesting deeper
than the parser's recursion limit, an integer too long for Python to convert, and a text or
label holding a lone surrogate escape (``\\ud800``: not a character, it cannot be stored).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator

from ..errors import listing, shorten
from .columns import SAMPLE_ROWS, check_jsonl, held_back
from .lines import Line, reject
from .types import Sentence, Skipped

_JSON_TYPES = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "a boolean", type(None): "null"}
_SURROGATE = re.compile("[\ud800-\udfff]")


class _NotJson(ValueError):
    pass


def _no_constant(name: str):
    raise _NotJson(f"{name} is not valid JSON (write null or a string)")


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        key = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise _NotJson(f"duplicate key {shorten(key)}: which value is meant is not defined")
    return obj


# one decoder for all lines (json.loads with keywords builds one per call)
_DECODER = json.JSONDecoder(parse_constant=_no_constant, object_pairs_hook=_unique_keys)


def _parse(text: str) -> tuple[object, str | None]:
    """The line's value, or None and what is wrong with it."""
    try:
        return _DECODER.decode(text), None
    except json.JSONDecodeError as e:
        return None, f"not valid JSON ({e.msg} at column {e.colno})."
    except _NotJson as e:
        return None, f"{e}."
    except RecursionError:
        return None, f"JSON nested deeper than the parser allows (about {sys.getrecursionlimit()} levels)."
    except ValueError:  # int('9' * 5000): CPython refuses to convert over sys.get_int_max_str_digits() digits
        return None, (f"a JSON number has more than {sys.get_int_max_str_digits()} digits, more than Python "
                      "converts; write it as a string.")


def _check_fields(obj: object, fields: tuple[str | None, ...], label_field: str | None) -> str | None:
    """What is wrong with a parsed line's object and its named fields, or None."""
    if not isinstance(obj, dict):  # includes a bare `null`
        return f"expected a JSON object, got {_JSON_TYPES.get(type(obj), type(obj).__name__)}."
    for name in fields:
        if name is not None and not isinstance(obj.get(name), str):
            got = "missing" if name not in obj else type(obj[name]).__name__
            return (f"field {name!r} must be a string ({got}); the keys are {listing(sorted(obj))}. "
                    "Name the fields with --text-field / --text-b-field.")
    for name in (*fields, label_field):
        value = obj.get(name) if name is not None else None
        if isinstance(value, str) and not value.isascii() and (bad := _SURROGATE.search(value)):
            return (f"field {name!r} holds a lone surrogate escape ({ascii(bad.group())} at character {bad.start() + 1}), "
                    "which is not a character; fix the escape (a pair like \\ud83d\\ude00 is fine).")
    return None


def read_jsonl(
    lines: Iterator[Line],
    path: str,
    on_error: str,
    text_field: str,
    text_b_field: str | None,
    label_field: str | None,
) -> Iterator[Sentence | Skipped | None]:
    sample: list[tuple[int, dict]] = []  # the first objects read as sentences, for the field check
    fields = {"text": text_field} | ({"text_b": text_b_field} if text_b_field else {})

    def check() -> None:
        if sample:
            check_jsonl(path, sample[0][0], [o for _, o in sample], fields)

    items = _read_objects(lines, path, on_error, text_field, text_b_field, label_field, sample)
    return held_back(items, lambda: len(sample), check)


def _read_objects(
    lines: Iterator[Line],
    path: str,
    on_error: str,
    text_field: str,
    text_b_field: str | None,
    label_field: str | None,
    sample: list[tuple[int, dict]],
) -> Iterator[Sentence | Skipped | None]:
    index = 0
    for line in lines:
        if line.text is None:
            problem: tuple[str, str] | None = (line.reason, line.error or "")
        elif not line.text.strip():
            yield None
            continue
        else:
            obj, error = _parse(line.text)
            error = error or _check_fields(obj, (text_field, text_b_field), label_field)
            problem = ("malformed", error) if error else None
        if problem is not None:
            yield reject(path, line.number, on_error, index, *problem)
            index += 1
            continue
        assert isinstance(obj, dict)
        text = obj[text_field]
        text_b = obj[text_b_field] if text_b_field else None
        if not text.strip() or (text_b is not None and not text_b.strip()):
            yield Skipped(index, f"{path}:{line.number}", "empty_text", "the text field is empty", text=text)
        else:
            label = obj.get(label_field) if label_field else None
            if len(sample) < SAMPLE_ROWS:
                sample.append((line.number, obj))
            yield Sentence(
                index=index,
                text=text,
                text_b=text_b,
                label=None if label is None else str(label),
                source=f"{path}:{line.number}",
            )
        index += 1
