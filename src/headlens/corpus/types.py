"""The records that flow from the readers through annotation to the runner."""

from __future__ import annotations

from dataclasses import dataclass, field

ROOT = -1
"""Head index of the root word."""


@dataclass(frozen=True, slots=True)
class Word:
    """One word of a sentence, with its character span in the text of its segment.

    ``head`` indexes the sentence's ``words`` tuple (both segments together), ``ROOT`` for the
    root, ``None`` when the annotation has no syntax.
    """

    form: str
    start: int
    end: int
    segment: int = 0
    upos: str | None = None
    xpos: str | None = None
    head: int | None = None
    deprel: str | None = None
    entity: str | None = None
    lemma: str | None = None  # the gold LEMMA of a CoNLL-U corpus (None elsewhere)


@dataclass(frozen=True, slots=True)
class Sentence:
    """One input item: a sentence, or a sentence pair when ``text_b`` is set.

    ``index`` is the 0-based position in the corpus stream and is the ``sentence_id`` of every
    stored score. ``words`` is filled by the reader for gold corpora (CoNLL-U) and by an
    annotator otherwise; ``scheme`` names the dependency scheme of ``words``.
    """

    index: int
    text: str
    source: str
    text_b: str | None = None
    sent_id: str | None = None
    label: str | None = None
    words: tuple[Word, ...] | None = None
    scheme: str | None = None

    @property
    def texts(self) -> tuple[str, ...]:
        return (self.text,) if self.text_b is None else (self.text, self.text_b)


@dataclass(frozen=True, slots=True)
class Skipped:
    """An input item that was read but not analysed, with the reason."""

    index: int
    source: str
    reason: str
    detail: str = ""
    text: str | None = field(default=None)
