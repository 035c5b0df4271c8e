"""Attention pattern types (Kovaleva et al. 2019, section 4): vertical, diagonal, block,
heterogeneous, vertical + diagonal, from per-map features and thresholds."""

from ..base import Analysis, part
from .metrics import METRICS

ANALYSIS = Analysis(
    name="patterns", summary="pattern types (vertical, diagonal, ...) per layer",
    metrics=METRICS, finalize=part(__name__, "stats", "save_patterns"), analyse=part(__name__, "stats", "pattern_tables"),
    figures=part(__name__, "figures", "draw_patterns"), command=part(__name__, "cli", "add"),
    reference="Kovaleva et al. 2019, section 4",
)
# the report draws the pattern types from the run's head means (heads.parquet), not from saved tables
HEAD_MEANS_VIEW = part(__name__, "view", "patterns_view")
