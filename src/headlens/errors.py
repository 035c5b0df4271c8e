"""Errors headlens raises on bad input or bad state.

Every message says what happened, where (file and line when there is one) and how to fix it.
The CLI prints ``Type: message`` and exits non-zero; it never shows a traceback for these.
"""

from __future__ import annotations


class HeadlensError(Exception):
    """Base class of every error headlens raises on purpose."""


class ConfigError(HeadlensError, ValueError):
    """A parameter has a value outside its documented range."""


class CorpusError(HeadlensError):
    """The corpus cannot be read: missing file, bad encoding, malformed line."""

    def __init__(self, message: str, path: str | None = None, line: int | None = None):
        self.path = path
        self.line = line
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(where + message)


class ModelError(HeadlensError):
    """The model cannot be loaded or does not give what an analysis needs."""


class AnnotationError(HeadlensError):
    """The annotator is missing or failed."""


class RunStoreError(HeadlensError):
    """The run directory cannot be written or read."""


def param_error(owner: str, name: str, expected: str, got: object) -> ConfigError:
    """A ConfigError in one shape for every parameter check."""
    return ConfigError(f"The {name!r} parameter of {owner} must be {expected}. Got {got!r} instead.")


def shorten(value: object, limit: int = 60) -> str:
    """``repr(value)``, cut to about ``limit`` characters with the full length said: an error
    quotes what it found, never a whole line or file."""
    r = repr(value)
    if len(r) <= limit:
        return r
    size = f"{len(value):,} characters" if isinstance(value, str) else f"{len(r):,} characters as text"
    return f"{r[:limit]}... ({size})"


def listing(values, limit: int = 8, width: int = 40) -> str:
    """At most ``limit`` values, each shortened, then how many there are in all."""
    values = list(values)
    shown = ", ".join(shorten(v, width) for v in values[:limit])
    return shown if len(values) <= limit else f"{shown}, ... ({len(values):,} in all)"
