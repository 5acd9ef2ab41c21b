# Two commands do all the set-up on a fresh machine with Python 3.11 and make:
#   make test   - create .venv, install, lint and run the test suite
#   make test-cluster - the cluster test: a sweep on a one-node SLURM cluster (CI runs it too)
#   make test-browser - the explorer and a report in Debian's chromium (CI runs it too)
#   make demo   - create .venv, install, run the default sweep (see README)
#   make app    - the interactive explorer on http://127.0.0.1:8765 (PORT=... to change)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# solara's front-end files, served by the explorer itself (no CDN, works offline)
ASSETS := $(VENV)/solara-assets
PORT ?= 8765

.PHONY: install test test-cluster test-browser assets app lint format demo bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required (mesa 3.3 line); set PYTHON=/path/to/python3.11"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,analysis,app,browser]'
	@touch $(STAMP)

lint: install
	$(BIN)/ruff check sim tests experiments benchmarks
	$(BIN)/ruff format --check sim tests experiments benchmarks

format: install
	$(BIN)/ruff format sim tests experiments benchmarks
	$(BIN)/ruff check --fix sim tests experiments benchmarks

test: install lint
	$(BIN)/python -m pytest -n 2 -q

# the same sweep on a one-node SLURM cluster that the test starts on this machine (needs root:
# it installs Debian's slurm-wlm and munge when missing); skipped with a reason without root
test-cluster: install
	$(BIN)/python -m pytest -m cluster -q tests/jobs/test_cluster.py

# the explorer and a sweep's report in Debian's chromium (installed with apt when missing and
# root); skipped with a reason otherwise, a failure with EXCHANGE_REQUIRE_BROWSER=1 (.ci/run)
test-browser: assets
	$(BIN)/python -m pytest -m browser -q tests/present/test_browser.py tests/explorer/test_explorer_browser.py

# fetch solara's front-end files from the npm registry once (idempotent)
assets: install
	$(BIN)/python experiments/fetch_assets.py $(ASSETS)

app: assets
	$(BIN)/python experiments/explore.py --port $(PORT)

demo: install
	$(BIN)/python experiments/run.py -m +experiment=cohort_frequency

bench: install
	$(BIN)/python benchmarks/bench.py
	$(BIN)/python benchmarks/explorer.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
