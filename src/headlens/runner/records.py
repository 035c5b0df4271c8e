"""The sentences-table row of a corpus item, as a run stores it (local and scaled-out runs alike)."""

from __future__ import annotations

from ..align.encode import Encoded
from ..corpus.types import Skipped


def sentence_record(item: list[Encoded] | Skipped) -> dict:
    """The sentences-table row of a skipped item, or of a sentence given as its window(s)."""
    if isinstance(item, Skipped):
        return {
            "sentence_id": item.index, "source": item.source, "sent_id": None, "text": item.text, "text_b": None,
            "label": None, "status": "skipped", "reason": f"{item.reason}: {item.detail}" if item.detail else item.reason,
            "n_tokens": None, "n_words": None, "words_without_tokens": None, "truncated": None, "windows": None,
        }
    s = item[0].origin or item[0].sentence
    n_words = sum(int((e.unit_word >= 0).sum()) for e in item)
    return {
        "sentence_id": s.index, "source": s.source, "sent_id": s.sent_id, "text": s.text, "text_b": s.text_b,
        "label": s.label, "status": "analysed", "reason": None, "n_tokens": sum(e.n_tokens for e in item),
        "n_words": n_words, "words_without_tokens": len(s.words or ()) - n_words,
        "truncated": item[0].truncated, "windows": len(item),
    }


def map_names(item: Encoded, names: set[str]) -> set[str]:
    """The names in ``names`` (sentence ids or sent_ids) that designate this sentence."""
    return names & {str(item.sentence.index), item.sentence.sent_id or str(item.sentence.index)}


def maps_to_keep(item: list[Encoded], rows, wanted: set[str]) -> tuple[list[int], set[str]]:
    """The rows of the batch ``item`` (among ``rows``) whose maps ``--store-maps`` asks for, and the names found."""
    keep = [i for i in rows if wanted and map_names(item[i], wanted)]
    return keep, {name for i in keep for name in map_names(item[i], wanted)}
