"""How numbers print: the one formatting of p/q-values and of proportions (docs/conventions.md).

Every table headlens prints (the CLI, the figures) formats p- and q-values with :func:`format_p`
and proportions (accuracies, shares, masses) with :func:`format_fraction`; the report's
``report.js`` mirrors both (``fmtP``, ``fmtFraction``). A p-value below :data:`P_FLOOR`, an exact
0 included (a double underflows to 0 near 1e-308), prints as ``"< 1e-300"``: never as 0.
Proportions are fractions in [0, 1], never percentages.
"""

from __future__ import annotations

import math

P_FLOOR = 1e-300
TINY_P = "< 1e-300"


def format_p(p, digits: int = 2) -> str:
    """A p- or q-value: ``"n/a"`` when missing, ``"< 1e-300"`` below 1e-300 (0 included), else ``digits`` significant digits."""
    if p is None:
        return "n/a"
    p = float(p)
    if math.isnan(p):
        return "n/a"
    if p < P_FLOOR:
        return TINY_P
    return f"{p:.{digits}g}"


def format_fraction(x, digits: int = 3, signed: bool = False) -> str:
    """A proportion (or a difference of two) as a fraction with ``digits`` decimals; ``"n/a"`` when missing."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{float(x):{'+' if signed else ''}.{digits}f}"
