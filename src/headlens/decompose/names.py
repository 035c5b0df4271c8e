"""The names of the decomposition's maps, stages, token groups and pair types, without torch.

``terms.py`` and ``summary.py`` compute them (with torch); the tables, the analysis of a stored
run and the report read only these names (see docs/architecture.md).
"""

VECTOR_MAPS = ("Attn-N", "AttnRes-N", "ATB", "ATBFF", "ATBFFRES", "ATBFFRESLN")
MAPS = ("Attn-W", "AttnRes-W", *VECTOR_MAPS)
FF_MAPS = ("ATBFF", "ATBFFRES", "ATBFFRESLN")
ATTENTION_MAPS = tuple(m for m in MAPS if m not in FF_MAPS)  # the default (attention block) maps
STAGES = ("attention", "residual", "layernorm1", "ff_pre", "activation", "ff", "residual2", "layernorm2")
ATTENTION_STAGES = STAGES[:3]

TOKEN_GROUPS = ("all", "word", "punct", "cls", "sep")
PAIR_TYPES = ("subword", "entity", "adjacent", "other", "special")
