# Every target sets itself up on a fresh machine: it creates .venv and installs what it needs.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.headlens-installed
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_VERBOSITY ?= error
export TOKENIZERS_PARALLELISM ?= false

CHROMIUM ?= /usr/bin/chromium

.PHONY: install browser demo test test-fast bench clean

install: $(STAMP)

# CPU torch first: an unpinned torch on an empty venv resolves to a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[spacy,test]'
	touch $(STAMP)

# every analysis the embedded corpus and model allow, the report, and the findings (README, "The demo")
demo: install
	$(VENV)/bin/headlens demo --out runs/demo

# The report's browser tests drive Debian's chromium: installed here when it is missing and we are root
# (as in CI); otherwise those tests skip with the reason (and fail under HEADLENS_CI=1).
browser:
	@if [ ! -x $(CHROMIUM) ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's chromium for the report's browser tests"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null) \
			|| echo "could not install chromium: the browser tests will skip (and fail under HEADLENS_CI=1)"; \
	fi

# the tests run in TEST_WORKERS processes (pytest-xdist; CI's machine has 2 cores); --dist loadfile keeps each
# test module in one process: its module fixtures are built once, and tests/test_ray.py starts one Ray instance
# (loadgroup's xdist_group does nothing under pytest 9.2, docs/testing.md). TEST_WORKERS=0: in this one process.
# `make test-fast` leaves out the integration tests (docs/testing.md).
TEST_WORKERS ?= 2
PYTEST := $(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile

test: install browser
	$(PYTEST)

test-fast: install
	$(PYTEST) -m "not integration"

# intra-op threads of torch, OpenMP and BLAS for every figure of make bench (make bench BENCH_THREADS=1)
BENCH_THREADS ?= 2
bench: install
	@echo "make bench: $(BENCH_THREADS) intra-op threads (torch, OpenMP, BLAS), pinned; BENCH_THREADS=N to change"
	$(PY) benchmarks/bench.py --threads $(BENCH_THREADS)

clean:
	rm -rf $(VENV) runs/demo .pytest_cache reports/screenshots
