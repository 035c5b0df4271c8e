"""Head ablation on fine-tuned classifiers (Kovaleva et al. 2019): uniform, zero and mean ablation of
single heads and whole layers by hooks, swept over a dev set with paired tests (``api``; docs/ablation.md)."""

from ..base import Analysis, part
from .options import AblationStats

ANALYSIS = Analysis(
    name="ablation", summary="ablate heads / layers of a fine-tuned classifier, with paired tests",
    settings=AblationStats, analyse=part(__name__, "sweep", "ablate"),
    view=part(__name__, "view", "ablation_view"), figures=part(__name__, "figures", "draw_ablation"),
    command=part(__name__, "cli", "add"), reference="Kovaleva et al. 2019; docs/ablation.md",
)
