"""Scaling a run out on a Ray cluster (``headlens run --engine ray``; docs/scale.md).

``cluster``: joining a cluster (or starting a local Ray instance), with clear errors when Ray is
missing or the address cannot be reached. ``actors``: Ray Data's offline batch inference over
blocks of corpus items, an actor pool holding one model per worker, results in block order, and
the blocks of lost workers scored again. Ray is an optional dependency (``pip install
'headlens[ray]'``), imported only when a run asks for it; this unit never imports torch.
"""
