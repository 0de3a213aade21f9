# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# A second environment on Spark's 3.5 LTS line, installed the way a managed runtime has it:
# pyspark first, then our `spark` extra, which must leave that pyspark in place.
VENV35 := .venv-spark35
VPY35 := $(VENV35)/bin/python
STAMP35 := $(VENV35)/.installed
PYSPARK_LTS ?= pyspark==3.5.*

# The core alone, installed from the built package next to the newest pyarrow (no Spark, Beam,
# matplotlib or tqdm): a CLI- or library-only user's environment.
VENVCORE := .venv-core

.PHONY: demo test test-core test-connect test-spark35 test-core-install lint fuzz mutants bench clean

$(VPY):
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip

$(STAMP): $(VPY) pyproject.toml
	$(VPY) -m pip install --quiet -e '.[all]'
	touch $(STAMP)

$(STAMP35): pyproject.toml
	$(PYTHON) -m venv $(VENV35)
	$(VPY35) -m pip install --quiet --upgrade pip
	$(VPY35) -m pip install --quiet '$(PYSPARK_LTS)'
	$(VPY35) -m pip install --quiet -e '.[spark,test]'
	touch $(STAMP35)

demo: $(STAMP)
	$(VPY) -m embcompress._demo
	$(VENV)/bin/embcompress evaluate embcompress/data/docstrings_minilm384_2k.parquet --column embedding \
		--queries 200 --report report/

# The whole suite on classic Spark (newest pyspark), then the Spark suite (and the nightly job's
# Spark engine) on Spark Connect and on classic pyspark 3.5.
SPARK_SUITE := tests/spark tests/nightly -k spark
test: lint test-core-install test-core test-connect test-spark35

lint: $(STAMP)
	$(VENV)/bin/ruff check embcompress spark_udfs beam_transforms tests benchmarks examples
	$(VENV)/bin/mypy

test-core-install:
	rm -rf $(VENVCORE)
	$(PYTHON) -m venv $(VENVCORE)
	$(VENVCORE)/bin/python -m pip install --quiet --upgrade pip
	$(VENVCORE)/bin/python -m pip install --quiet 'pyarrow>=26' .
	cd /tmp && $(CURDIR)/$(VENVCORE)/bin/python $(CURDIR)/.ci/core_only_smoke.py

test-core: $(STAMP)
	$(VPY) -m pytest -q

test-connect: $(STAMP)
	EMBCOMPRESS_SPARK=connect $(VPY) -m pytest -q $(SPARK_SUITE)

test-spark35: $(STAMP35)
	EMBCOMPRESS_EXPECT_PYSPARK=3.5 $(VPY35) -m pytest -q $(SPARK_SUITE)

fuzz: $(STAMP)
	EMBCOMPRESS_FUZZ_EXAMPLES=20000 EMBCOMPRESS_FIT_FUZZ_EXAMPLES=300 $(VPY) -m pytest -q tests/core/test_fuzz.py \
		tests/core/test_hostile_artifacts.py -k fuzz

# Planted bugs, one at a time, each of which must turn its tests red (docs/testing.md).
mutants: $(STAMP)
	$(VPY) .ci/mutants.py

# Every benchmark with quick settings; writes docs/benchmarks.md, a generated file never edited by
# hand (docs/benchmark_methods.md says how it measures).
bench: $(STAMP)
	$(VPY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) $(VENV35) $(VENVCORE) build *.egg-info
