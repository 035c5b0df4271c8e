"""Head clustering (Clark et al. 2019, section 6): Jensen-Shannon distances between heads'
attention, a 2-D map by metric MDS, labelled by each head's surface behaviour."""

from ..base import Analysis, part
from .metrics import METRICS
from .options import ClusterSettings

ANALYSIS = Analysis(
    name="cluster", summary="2-D map of heads from JS distances (metric MDS), labelled by behaviour",
    metrics=METRICS, collect=part(__name__, "collect", "make"), scales_out=True,
    finalize=part(__name__, "stats", "finalize"),
    settings=ClusterSettings, analyse=part(__name__, "stats", "cluster_heads"),
    save=part(__name__, "stats", "save_cluster"), view=part(__name__, "view", "cluster_view"), required=("heads",),
    figures=part(__name__, "figures", "draw_cluster"), command=part(__name__, "cli", "add"),
    reference="Clark et al. 2019, section 6",
)
