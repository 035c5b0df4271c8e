"""Syntactic heads (Clark et al. 2019, section 4): dependency-head accuracy per relation and
head against the best fixed-offset baseline, with corrected tests. See docs/syntax.md."""

from ..base import Analysis, part
from .metrics import METRICS
from .options import SyntaxOptions, SyntaxSettings

ANALYSIS = Analysis(
    name="syntax", summary="dependency-head accuracy per relation vs the best offset baseline, with tests",
    options=SyntaxOptions, metrics=METRICS, collect=part(__name__, "collect", "make"), scales_out=True,
    finalize=part(__name__, "stats", "finalize"),
    settings=SyntaxSettings, analyse=part(__name__, "stats", "dependency_accuracy"),
    save=part(__name__, "stats", "save_syntax"), view=part(__name__, "view", "syntax_view"), required=("best",),
    figures=part(__name__, "figures", "draw_syntax"), command=part(__name__, "cli", "add"),
    reference="Clark et al. 2019, section 4",
)
