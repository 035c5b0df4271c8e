"""Integers from text, ASCII digits only.

``str.isdigit()`` is true for '²', '٢' (Arabic-Indic) and '２' (fullwidth): ``int()`` then fails
on the first and silently accepts the others, and it refuses strings over 4300 digits. Every
index, ID or count that headlens reads from a file or a flag goes through ``ascii_int``.
"""

from __future__ import annotations

_MAX_DIGITS = (9, 18)


def ascii_int(text: str, max_digits: int = 18) -> int | None:
    """``int(text)`` when ``text`` is 1 to ``max_digits`` (9 or 18) ASCII digits, else None."""
    if max_digits not in _MAX_DIGITS:
        raise ValueError(f"max_digits must be one of {_MAX_DIGITS}, got {max_digits!r}")
    # an ASCII string's isdigit() is true for '0'-'9' only (the check that reads '²' or '٢' as digits is isascii's)
    return int(text) if len(text) <= max_digits and text.isascii() and text.isdigit() else None


def column_ref(value: str) -> int | str:
    """A TSV column given on the command line: a 0-based index (ASCII digits) or a header name."""
    index = ascii_int(value, 9)
    return value if index is None else index
