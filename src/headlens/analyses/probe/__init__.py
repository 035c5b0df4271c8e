"""Attention-based probes: Clark et al.'s parser probe and Coenen et al.'s pairwise probes,
trained on one gold CoNLL-U file and scored on another (``run.probe``)."""

from ..base import Analysis, part
from .options import ProbeSettings

ANALYSIS = Analysis(
    name="probe", summary="Clark et al.'s attention-based parser probe and Coenen et al.'s pairwise probes",
    settings=ProbeSettings, analyse=part(__name__, "run", "probe"), save=part(__name__, "results", "save_probe"),
    view=part(__name__, "view", "probe_view"), required=("uas",),
    command=part(__name__, "cli", "add"), reference="Clark et al. 2019, section 5; Coenen et al. 2019",
)
