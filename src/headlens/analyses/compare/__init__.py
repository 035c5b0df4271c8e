"""Before/after comparison of two runs of one corpus: paired tests of every shared metric per
head and per layer (e.g. a base model against its fine-tuned version)."""

from ..base import Analysis, part
from .options import ChangeSettings

ANALYSIS = Analysis(
    name="compare", summary="paired before/after tests of every metric two runs of one corpus share",
    settings=ChangeSettings, analyse=part(__name__, "stats", "compare_runs"),
    save=part(__name__, "stats", "save_compare"), view=part(__name__, "view", "compare_view"), required=("heads",),
    figures=part(__name__, "figures", "draw_compare"), command=part(__name__, "cli", "add"),
)
