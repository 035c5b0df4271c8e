"""The options of the layers analysis: how many words and sentences a run keeps (``headlens run``),
and how ``headlens layers RUN`` trains and tests its probes."""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import param_error
from ...options import BootstrapOptions, Options, option


@dataclass(frozen=True)
class LayersOptions(Options):
    """What ``headlens run --analyses layers`` keeps: whole sentences, drawn by a seeded hash of
    their id, until ``max_words`` words (every layer's word vectors, float16), and the pooled
    sentence vectors of at most ``max_sentences`` sentences."""

    max_words: int = option(20000, "layers: the most words whose vectors (every layer) the run keeps",
                            flag="--layers-max-words")
    max_sentences: int = option(5000, "layers: the most sentences whose pooled and [CLS] vectors the run keeps",
                                flag="--layers-max-sentences")
    seed: int = option(0, "layers: the seed of the sample (a hash of seed and sentence id)", flag="--layers-seed")

    def check(self) -> None:
        for field in ("max_words", "max_sentences"):
            if getattr(self, field) < 1:
                raise param_error(type(self).__name__, field, "an int >= 1", getattr(self, field))


@dataclass(frozen=True)
class LayersSettings(BootstrapOptions):
    """How ``headlens layers RUN`` probes each layer (``seed``: the split, the control labels, the
    bootstrap; ``ci``, ``n_boot``: the intervals over test sentences)."""

    test_share: float = option(0.2, "share of the sampled sentences held out for testing")
    rank: int = option(32, "rank of the structural probe's projection")
    epochs: int = option(30, "training epochs of the structural probe")
    compare_probes: bool = option(True, "layers compare: also the UPOS and relation probe accuracy deltas per layer, "
                                        "paired over the held-out sentences (--no-compare-probes: CKA only)")
    name: str = option("default", "output directory under RUN/layers/")

    def check(self) -> None:
        super().check()
        if not 0 < self.test_share < 1:
            raise param_error(type(self).__name__, "test_share", "a float in the range (0, 1)", self.test_share)
        for field in ("rank", "epochs"):
            if getattr(self, field) < 1:
                raise param_error(type(self).__name__, field, "an int >= 1", getattr(self, field))
