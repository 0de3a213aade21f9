# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test fuzz bench clean

$(VPY):
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip

$(STAMP): $(VPY) pyproject.toml
	$(VPY) -m pip install --quiet -e '.[all]'
	touch $(STAMP)

demo: $(STAMP)
	$(VPY) -m embcompress.demo
	$(VENV)/bin/embcompress evaluate embcompress/data/docstrings_minilm384_2k.parquet --column embedding \
		--queries 200 --report report/

test: $(STAMP)
	$(VPY) -m pytest -q

fuzz: $(STAMP)
	EMBCOMPRESS_FUZZ_EXAMPLES=20000 EMBCOMPRESS_FIT_FUZZ_EXAMPLES=300 $(VPY) -m pytest -q tests/core/test_fuzz.py \
		tests/core/test_hostile_artifacts.py -k fuzz

bench: $(STAMP)
	$(VPY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info
