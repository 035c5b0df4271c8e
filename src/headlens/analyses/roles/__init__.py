"""Head roles (Pande et al. 2021): sieve scores per sentence and head, then corrected tests of
H1 mean score > tau. See docs/roles.md."""

from ..base import Analysis, part
from .metrics import METRICS
from .options import RoleSettings, RolesOptions

ANALYSIS = Analysis(
    name="roles", summary="head roles (local, delimiter, block, syntactic) with corrected hypothesis tests",
    options=RolesOptions, metrics=METRICS, finalize=part(__name__, "stats", "finalize"),
    settings=RoleSettings, analyse=part(__name__, "stats", "head_roles"), save=part(__name__, "stats", "save_roles"),
    view=part(__name__, "view", "roles_view"), required=("heads",), figures=part(__name__, "figures", "draw_roles"),
    command=part(__name__, "cli", "add"), reference="Pande et al. 2021; docs/roles.md",
)
