# DD2424 Assignment 1, reproduced: `make report` regenerates everything, `make test` tests it.
# `make help` lists the targets.

SHELL := /bin/bash
.DELETE_ON_ERROR:
.DEFAULT_GOAL := report

# Notebooks run in parallel, one per core by default (`make report JOBS=1`: one at a time).
JOBS ?= $(shell nproc 2>/dev/null || echo 1)
MAKEFLAGS += -j$(JOBS)

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.installed
KERNEL := dd2424-a1

SETTINGS ?= settings.csv
DATA_DIR ?= data
RESULTS_DIR ?= results
FIGURES_DIR ?= figures
REPORT_DIR ?= report
BUILD_DIR ?= build
# Validation images, taken from the end of the training batches.
N_VAL ?= 5000
# A local copy of cifar-10-python.tar.gz to use instead of downloading (also read from the environment).
CIFAR10_ARCHIVE ?=
export CIFAR10_ARCHIVE

DATA_STAMP := $(DATA_DIR)/cifar-10-batches-py/VERIFIED.json
HELPERS := $(wildcard helpers/*.py helpers/templates/*/*)
# Recursive (=): MAKEFLAGS shows -jN only when recipes are expanded, not while parsing.
EXECUTE = $(BLAS_THREADS) $(PY) -m helpers execute
DATA_PARAMS := -p data_dir $(DATA_DIR) -p results_dir $(RESULTS_DIR) -p figures_dir $(FIGURES_DIR) -p n_val $(N_VAL)

# Training and the gradient check always run BLAS on one thread (helpers/blas.py: bitwise
# reproducible numbers), the trainer using a second thread to gather mini-batches. With
# `make -jN` (N > 1) the other notebooks' BLAS gets one thread too.
BLAS_THREADS = $(if $(filter-out -j1,$(filter -j%,$(MAKEFLAGS))),OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1)

.PHONY: help report venv data results figures test browser browser-check bench lab clean clean-venv

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([^:]*):[^#]*## /  make \1\t/' | expand -t 22

# --- environment -------------------------------------------------------------------------

venv: $(VENV_STAMP) ## create .venv with the pinned packages and register the Jupyter kernel

$(VENV_STAMP): requirements.txt
	@echo "== creating $(VENV) with the pinned packages"
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -c "import pathlib, site; pathlib.Path(site.getsitepackages()[0], 'dd2424_project.pth').write_text('$(CURDIR)\n')"
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (dd2424-a1)" > /dev/null
	$(PY) -m helpers kernel-quiet $(KERNEL)
	@touch $@

# --- data --------------------------------------------------------------------------------

data: $(DATA_STAMP) ## get CIFAR-10 (download, or CIFAR10_ARCHIVE=path) and verify it

$(DATA_STAMP): | $(VENV_STAMP)
	$(PY) -m helpers data --data-dir $(DATA_DIR)

# --- runs, one target per row of $(SETTINGS) ---------------------------------------------

# The rules per setting and each notebook's helper dependencies (helpers/deps.py).
$(BUILD_DIR)/settings.mk: $(SETTINGS) $(HELPERS) $(wildcard notebooks/*.ipynb)
	@$(PYTHON) -m helpers rules $(SETTINGS) -o $@

ifeq ($(filter help clean clean-venv venv test lab browser bench,$(MAKECMDGOALS)),)
# N_VAL changes what every run computes: a stamp holding its value (rewritten only when it
# changes) is a prerequisite of the runs, so `make report N_VAL=...` redoes them.
NVAL_STAMP := $(BUILD_DIR)/n_val
$(shell mkdir -p $(BUILD_DIR) && { [ "$$(cat $(NVAL_STAMP) 2>/dev/null)" = "$(N_VAL)" ] || echo "$(N_VAL)" > $(NVAL_STAMP); })
include $(BUILD_DIR)/settings.mk
endif

$(RESULTS_DIR)/gradcheck.json: notebooks/gradient_check.ipynb $(GRADCHECK_DEPS) $(DATA_STAMP) $(NVAL_STAMP) | $(VENV_STAMP)
	@$(EXECUTE) notebooks/gradient_check.ipynb $(RESULTS_DIR)/executed/gradient_check.ipynb \
		--label "gradient check" -p data_dir $(DATA_DIR) -p output $(RESULTS_DIR)/gradcheck.json -p n_val $(N_VAL)

results: $(RUN_RESULTS) $(RESULTS_DIR)/gradcheck.json ## train every setting and run the gradient check
figures: $(RUN_FIGURES) ## Figures 1 and 2 for every setting (PNG files under figures/)

# --- report ------------------------------------------------------------------------------

$(REPORT_DIR)/index.html: notebooks/report.ipynb $(SETTINGS) $(RUN_RESULTS) $(RUN_FIGURES) \
		$(RESULTS_DIR)/gradcheck.json $(HELPERS) | $(VENV_STAMP)
	@$(EXECUTE) notebooks/report.ipynb $(RESULTS_DIR)/executed/report.ipynb --label report \
		-p settings_file $(SETTINGS) -p results_dir $(RESULTS_DIR) -p figures_dir $(FIGURES_DIR) \
		-p gradcheck_file $(RESULTS_DIR)/gradcheck.json
	@$(PY) -m helpers render $(RESULTS_DIR)/executed/report.ipynb $@

report: $(REPORT_DIR)/index.html ## regenerate every figure and table and render the HTML report
	@echo "Report: $(abspath $(REPORT_DIR)/index.html)"

# --- development -------------------------------------------------------------------------

test: $(VENV_STAMP) browser ## run the test suite (installs Chromium for the browser test if missing)
	$(PY) -m pytest -q tests

browser: ## install Debian's chromium for the headless-browser test (needs root or sudo)
	@command -v chromium > /dev/null || { \
		echo "== installing Debian's chromium for the browser test"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null; }

browser-check: $(REPORT_DIR)/index.html browser ## open the report in headless Chromium, offline; screenshot
	$(PY) tests/browser_check.py $(REPORT_DIR)/index.html $(REPORT_DIR)/screenshot.png

bench: $(VENV_STAMP) ## benchmark the trainer (see bench/README.md)
	$(PY) bench/bench.py

lab: $(VENV_STAMP) ## open JupyterLab on the notebooks
	$(VENV)/bin/jupyter lab notebooks

clean: ## remove generated files (results, figures, report, extracted data); keeps the archive
	rm -rf $(RESULTS_DIR) $(REPORT_DIR) $(BUILD_DIR) $(DATA_DIR)/cifar-10-batches-py $(DATA_DIR)/.tmp-*
	find $(FIGURES_DIR) -name '*.png' -delete 2>/dev/null || true

clean-venv: ## remove the virtual environment
	rm -rf $(VENV)
