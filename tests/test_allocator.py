"""headlens.runner.allocator: freed memory is reused, not faulted in again (glibc only)."""

import json
import subprocess
import sys

import pytest

from headlens.runner.allocator import _mallopt

pytestmark = pytest.mark.skipif(_mallopt() is None, reason="glibc's mallopt is not available here")

# Four 24 MiB blocks, filled and freed together, six times: the minor page faults of each round.
# Without the setting glibc trims the freed heap top and every round faults the pages in again.
PATTERN = """
import json, resource, sys
import numpy as np
from headlens.runner.allocator import keep_freed_memory
applied = keep_freed_memory() if sys.argv[1] == "keep" else None
faults = []
for _ in range(6):
    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    blocks = [np.ones(24 << 17) for _ in range(4)]
    del blocks
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
print(json.dumps({"applied": applied, "faults": faults}))
"""


def _faults(mode: str) -> dict:
    done = subprocess.run([sys.executable, "-c", PATTERN, mode], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def test_kept_memory_is_reused_without_page_faults():
    default, kept = _faults("default"), _faults("keep")
    assert kept["applied"] is True
    first = kept["faults"][0]  # 96 MiB touched for the first time: thousands of faults either way
    assert first > 1000
    assert max(kept["faults"][1:]) < first / 20  # later rounds reuse the freed blocks
    assert min(default["faults"][1:]) > first / 2  # the contrast: glibc's default faults them in every round


def test_runs_record_the_setting(tiny_bert_dir, tmp_path):
    import headlens

    run = headlens.run(model=tiny_bert_dir, out=str(tmp_path / "r"), progress=False, keep_freed_memory=False)
    assert run.manifest["config"]["keep_freed_memory"] is False
