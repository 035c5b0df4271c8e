"""The settings of the attention-based probes."""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import param_error
from ...options import BootstrapOptions, option

FEATURES = ("attn", "attn+vectors")


@dataclass(frozen=True)
class ProbeSettings(BootstrapOptions):
    """How ``headlens probe`` trains the probes (one epoch of Adam, one sentence per step) and
    compares them with right-branching (paired bootstrap over evaluation sentences)."""

    features: str = option("attn", "attn: one weight per head and direction; attn+vectors: weights from the model's "
                           "input embeddings", choices=FEATURES)
    lr: float = option(0.002, "Adam learning rate (one epoch, one sentence per step)")
    pairwise: bool = option(True, "run Coenen et al.'s pairwise probes (--no-pairwise: skip them)")

    def check(self) -> None:
        super().check()
        if not self.lr > 0:
            raise param_error(type(self).__name__, "lr", "a float > 0", self.lr)
