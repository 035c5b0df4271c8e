"""The analyses: one folder each (``headlens/analyses/<name>/``), listed in ``registry``.

Each folder holds all of one analysis: its metrics (or the engine metrics it reads), its
collector, its options, its statistics step over a stored run, its report view and figures, and
its subcommand. ``base.Analysis`` names the parts; docs/extending.md walks through adding one.
Importing this package imports no analysis: ``registry`` does, and only their light parts.
"""
