"""``headlens.layers(run, ...)``: the statistics step of the layers analysis from Python."""

from __future__ import annotations


def layers(run, settings=None, *, save: bool = False, **fields):
    """Layer-wise probes of a run made with ``analyses=("layers",)``: per layer, the UPOS and
    dependency-relation probes with their control tasks (selectivity, Hewitt & Liang 2019), the
    structural probe (Hewitt & Manning 2019) and context sensitivity (Ethayarajh 2019), with
    bootstrap intervals over held-out sentences. ``settings``/``fields``: ``LayersSettings``.
    Returns a ``LayersResult`` (``.tables``, ``.summary``); ``save=True`` also writes RUN/layers/<name>/."""
    from ..api import _run, _settings
    from .stats import analyse, save as save_result

    r = _run(run)
    result = analyse(r, _settings("layers", settings, fields))
    if save:
        save_result(r, result)
    return result
