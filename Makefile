# Every target sets itself up on a fresh machine: it creates .venv and installs what it needs.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.headlens-installed
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_VERBOSITY ?= error
export TOKENIZERS_PARALLELISM ?= false

.PHONY: install demo test bench clean

install: $(STAMP)

# CPU torch first: an unpinned torch on an empty venv resolves to a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[spacy,test]'
	touch $(STAMP)

demo: install
	$(VENV)/bin/headlens run --out runs/demo --overwrite

test: install
	$(PY) -m pytest -q

bench: install
	$(PY) benchmarks/bench.py

clean:
	rm -rf $(VENV) runs/demo .pytest_cache
