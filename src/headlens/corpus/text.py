"""Plain text: one sentence per line; blank lines are not sentences (they are counted)."""

from __future__ import annotations

from collections.abc import Iterator

from .lines import Line, reject
from .types import Sentence, Skipped


def read_text(lines: Iterator[Line], path: str, on_error: str) -> Iterator[Sentence | Skipped | None]:
    """Yield a Sentence per non-blank line; ``None`` marks a blank line (for counting)."""
    index = 0
    for line in lines:
        if line.text is None:
            yield reject(path, line.number, on_error, index, line.reason, line.error or "")
            index += 1
            continue
        if not line.text.strip():
            yield None
            continue
        yield Sentence(index=index, text=line.text, source=f"{path}:{line.number}")
        index += 1
