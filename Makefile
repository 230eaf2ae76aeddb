# DD2424 Assignment 1, reproduced: `make report` regenerates everything, `make test` tests it.
# `make help` lists the targets.

SHELL := /bin/bash
.DELETE_ON_ERROR:
.DEFAULT_GOAL := report

# Notebooks run in parallel, one per core by default (`make report JOBS=1`: one at a time).
JOBS ?= $(shell nproc 2>/dev/null || echo 1)
ifeq ($(MAKELEVEL),0)
MAKEFLAGS += -j$(JOBS)
endif

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.installed
KERNEL := dd2424-a1

SETTINGS ?= settings.csv
VARIANTS ?= variants.csv
DATA_DIR ?= data
RESULTS_DIR ?= results
FIGURES_DIR ?= figures
REPORT_DIR ?= report
BUILD_DIR ?= build
# Validation images, taken from the end of the training batches (the course split).
N_VAL ?= 5000
# A local copy of cifar-10-python.tar.gz to use instead of downloading (also read from the environment).
CIFAR10_ARCHIVE ?=
export CIFAR10_ARCHIVE
# The gradient check's search over the choices the original does not state: full, or small (for tests).
GRADCHECK_SEARCH ?= full
# Options for `make lab`, e.g. LAB_ARGS="--no-browser --port 8899".
LAB_ARGS ?=

DATA_STAMP := $(DATA_DIR)/cifar-10-batches-py/VERIFIED.json
# When this make started: the report's recipe records the build's wall time for `make profile`.
BUILD_START := $(shell date +%s)
NVAL_STAMP := $(BUILD_DIR)/n_val/$(N_VAL)
# Notebook runs: matplotlib without a display, BLAS on one thread when make runs several at once.
EXECUTE = MPLBACKEND=Agg $(BLAS_THREADS) $(PY) -m pipeline execute --all-parameters \
	$(if $(PROGRESS_LOG),--progress $(PROGRESS_LOG):$(PROGRESS_TOTAL):$(BUILD_START))
DATA_PARAMS := -p data_dir $(DATA_DIR) -p results_dir $(RESULTS_DIR) -p n_val $(N_VAL)
# Recursive (=): MAKEFLAGS shows -jN only when recipes are expanded, not while parsing.
BLAS_THREADS = $(if $(filter-out -j1,$(filter -j%,$(MAKEFLAGS))),OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1)
# A value that results depend on (N_VAL, a variant's row) is a stamp file named after the value, alone
# in its folder: a new value is a missing file, so its rule replaces the folder's old stamp and what
# depends on it is redone; an unchanged value is an old file. No rule runs every time, so `make -q`
# answers truly and a dry run (`make -n`) writes nothing.
new_stamp = rm -rf $(@D) && mkdir -p $(@D) && touch $@
# The same for the content of files (the helper modules a notebook imports; pipeline/deps.py names the stamp after
# their hash): touching them, a git stash and pop, or a branch switch and back changes nothing. A folder's first
# stamp takes the time of the newest of the files ($(1)), so results built before the stamp existed are judged as
# they were then, by the files' times.
content_stamp = if [ -d $(@D) ]; then $(new_stamp); else mkdir -p $(@D) && touch -r "$$(ls -t $(1) | head -n 1)" $@; fi

# Goals that need no rules of the runs.
NO_RUNS := help clean clean-venv venv test test-fast lab browser browser-ready readme bench profile mutation
CLEAN_GOALS := $(filter clean clean-venv,$(MAKECMDGOALS))
OTHER_GOALS := $(filter-out clean clean-venv,$(MAKECMDGOALS))

.PHONY: help report search readme pdf layout-check venv data results figures test test-fast browser browser-ready bench mutation profile lab clean clean-venv

# One build at a time in a checkout (pipeline/lock.py): a goal that writes what a build makes waits, saying so in
# one line, while another build of the same BUILD_DIR runs, before it reads or makes anything. The lock is a flock
# on $(BUILD_LOCK), held by a process that ends with this make, so a build that crashed leaves no lock behind.
# Not taken by a dry run or a question (-n, -q: they write nothing), by help, lab (exploring in JupyterLab stays
# allowed beside a build) or profile, on make's restart after remaking the rules, or by a make the build started.
# A PYTHON that cannot run the lock cannot make the rules either: the build then says what is wrong with it.
LOCK_FREE := help lab profile
BUILD_LOCK := $(abspath $(BUILD_DIR))/build.lock
ifeq ($(findstring n,$(firstword -$(MAKEFLAGS)))$(findstring q,$(firstword -$(MAKEFLAGS))),)
ifneq ($(filter-out $(LOCK_FREE),$(or $(MAKECMDGOALS),report)),)
ifeq ($(MAKE_RESTARTS)$(filter $(BUILD_LOCK),$(DD2424_BUILD_LOCK)),)
LOCKED := $(shell $(PYTHON) -m pipeline.lock $(BUILD_LOCK) $$PPID make $(or $(MAKECMDGOALS),report))
ifneq ($(findstring cannot take the build lock,$(LOCKED)),)
$(error $(LOCKED))
endif
ifeq ($(.SHELLSTATUS),130)
$(error interrupted while waiting)
endif
endif
export DD2424_BUILD_LOCK := $(BUILD_LOCK)
endif
endif

# Every setting checked against every variant it is trained in (n_batch against its training set) before any
# run, by the venv's Python: nothing of helpers/ runs before the venv exists (only the lock and the supervisor,
# standard library, which import no helpers). In a fresh clone the check waits for the venv: the rules need it,
# so make builds it first, restarts with the rules, and checks then, still before any run. A notice (no C
# compiler: the NumPy epoch will train) is kept and printed once, with the count of runs, when the first run
# starts: a build with nothing to train says nothing.
# Checked once: the supervised make of the same files (DD2424_CHECKED, exported) takes the notice from its parent.
ifneq ($(filter-out $(NO_RUNS),$(or $(MAKECMDGOALS),report)),)
ifneq ($(wildcard $(VENV_STAMP)),)
CHECK_KEY := $(abspath $(SETTINGS) $(VARIANTS)) $(N_VAL) $(abspath $(DATA_STAMP))
ifeq ($(DD2424_CHECKED),$(CHECK_KEY))
CHECK := $(DD2424_CHECK_NOTICE)
else
CHECK := $(shell $(PY) -m pipeline validate $(SETTINGS) $(VARIANTS) --n-val $(N_VAL) --data-folder $(dir $(DATA_STAMP)) 2>&1)
ifneq ($(.SHELLSTATUS),0)
$(error $(CHECK))
endif
export DD2424_CHECKED := $(CHECK_KEY)
export DD2424_CHECK_NOTICE := $(CHECK)
endif
endif
endif

# Stopped, a build says so in one line, whatever got the signal (the whole job, this make, one notebook run):
# the make a user starts takes the lock and checks the settings (above), then runs the build, a make of the same
# goals, under pipeline/supervise.py, which relays its messages but for the "interrupted" line of each stopped
# process and make's lines about stopped jobs, prints that line once, and ends this make silently. Not for a dry
# run or a question, nor for the goals that build nothing (tests, browser checks, JupyterLab: their own output).
SUPERVISE_FREE := help lab profile test test-fast browser browser-ready pdf layout-check bench \
	mutation readme clean clean-venv
ifeq ($(MAKELEVEL)$(findstring n,$(firstword -$(MAKEFLAGS)))$(findstring q,$(firstword -$(MAKEFLAGS))),0)
ifeq ($(filter $(SUPERVISE_FREE),$(or $(MAKECMDGOALS),report)),)
# (A PYTHON that cannot run it: the build runs as it is, and says what is wrong with that Python.)
ifeq ($(shell $(PYTHON) -m pipeline.supervise --check 2>/dev/null),ok)
SUPERVISED := $(or $(MAKECMDGOALS),report)
endif
endif
endif

ifdef SUPERVISED
# (No shell between make and the supervisor: it stops this make, its parent, when the build was stopped.)
$(firstword $(SUPERVISED)):
	+@$(PYTHON) -m pipeline.supervise --parent-is-make -- $(MAKE) --no-print-directory $(MAKECMDGOALS)
$(wordlist 2,$(words $(SUPERVISED)),$(SUPERVISED)):
	@:
else ifneq ($(and $(CLEAN_GOALS),$(OTHER_GOALS)),)
# `make clean report`, `make -j4 clean report`: clean first and alone, then a fresh make builds the
# other goals (it reads the settings again, after clean removed the generated rules).
$(firstword $(MAKECMDGOALS)):
	+@$(MAKE) --no-print-directory $(CLEAN_GOALS)
	+@$(MAKE) --no-print-directory $(OTHER_GOALS)
$(wordlist 2,$(words $(MAKECMDGOALS)),$(MAKECMDGOALS)):
	@:
else

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([^:]*):[^#]*## /  make \1\t/' | expand -t 22

# --- environment -------------------------------------------------------------------------

venv: $(VENV_STAMP) ## create .venv: pinned packages, the project itself (pip install -e .), the Jupyter kernel

# A failed build removes the half-made .venv, so that the next run starts afresh. (PYTHONWARNINGS: setuptools
# says on every editable install that a folder named like a package may shadow it; here the folder is it.)
$(VENV_STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
		echo "error: needs Python >= 3.11 (found $$($(PYTHON) -c 'import platform; print(platform.python_version())' 2>/dev/null || echo 'no $(PYTHON)')); run with PYTHON=/path/to/python3.11" >&2; exit 2; }
	@echo "== creating $(VENV) with the pinned packages"
	@{ $(PYTHON) -m venv $(VENV) \
		&& $(PY) -m pip install --quiet --upgrade pip \
		&& $(PY) -m pip install --quiet -r requirements.txt \
		&& PYTHONWARNINGS="ignore:Editable installation" $(PY) -m pip install --quiet --no-deps -e . \
		&& $(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (dd2424-a1)" > /dev/null \
		&& touch $@; } || { rm -rf $(VENV); echo "error: building $(VENV) failed; nothing was kept, run again once fixed" >&2; exit 1; }

# --- data --------------------------------------------------------------------------------

data: $(DATA_STAMP) ## get CIFAR-10 (download, or CIFAR10_ARCHIVE=path), verify it, keep the archive in data/

$(DATA_STAMP): | $(VENV_STAMP)
	@$(PY) -m pipeline data --data-dir $(DATA_DIR)

# --- runs: settings.csv x variants.csv, one target per setting and variant ---------------

# The rules of the runs and each notebook's helper dependencies (pipeline/rules.py), in a file named after
# the settings and variants files they come from: a call with other files never reuses them.
RULES_MK := $(BUILD_DIR)/rules/$(subst /,_,$(SETTINGS))+$(subst /,_,$(VARIANTS)).mk
$(RULES_MK): $(SETTINGS) $(VARIANTS) $(wildcard helpers/*.py helpers/*.c pipeline/*.py notebooks/*.ipynb) | $(VENV_STAMP)
	@$(PY) -m pipeline rules $(SETTINGS) $(VARIANTS) -o $@

ifneq ($(filter-out $(NO_RUNS),$(or $(MAKECMDGOALS),report)),)
ifneq ($(findstring n,$(firstword -$(MAKEFLAGS))),)
# A dry run (make -n) writes nothing: its rules are made in a temporary folder, read, and removed.
RULES_TMP := $(shell mktemp -d)
_ := $(if $(wildcard $(VENV_STAMP)),$(shell $(PY) -m pipeline rules $(SETTINGS) $(VARIANTS) -o $(RULES_TMP)/rules.mk))
-include $(RULES_TMP)/rules.mk
_ := $(shell rm -rf $(RULES_TMP))
else
include $(RULES_MK)
endif
endif

# Progress of the whole build: make counts the notebook runs it will execute (a dry run of the same goals,
# which writes nothing; COUNTING=1 keeps the search's sub-makes out of it), when the first run starts (after any
# restart to remake the rules), and each run,
# when done, says "k of N runs; about T left" (pipeline/progress.py). Not in a dry run (-n) or a question (-q).
ifeq ($(findstring n,$(firstword -$(MAKEFLAGS)))$(findstring q,$(firstword -$(MAKEFLAGS))),)
PROGRESS_LOG := $(BUILD_DIR)/progress/$(BUILD_START)-$(MAKELEVEL).log
PROGRESS_TOTAL ?= $(eval PROGRESS_TOTAL := $$(shell $(MAKE) --no-print-directory -n $(MAKECMDGOALS) $(MAKEOVERRIDES) PROGRESS_TOTAL=0 COUNTING=1 \
	2>/dev/null | grep -c -- '-m pipeline execute'))$(shell mkdir -p $(BUILD_DIR)/progress && \
	rm -f $(BUILD_DIR)/progress/*-$(MAKELEVEL).log)$(info == $(PROGRESS_TOTAL) notebook runs to do)$(if $(CHECK),$(info $(CHECK)))$(PROGRESS_TOTAL)
endif

# N_VAL changes what every run computes.
$(NVAL_STAMP):
	@$(new_stamp)

# The course's gradient check: 100 images, 20 dimensions, lambda 0 and 0.1, seed 2022 (the search varies them).
GRADCHECK_PARAMS := -p n_images 100 -p n_dims 20 -p lams '[0.0, 0.1]' -p seed 2022
$(RESULTS_DIR)/gradcheck.json: $(GRADCHECK_NB) $(GRADCHECK_DEPS) $(BASELINE_CACHE) $(NVAL_STAMP) | $(VENV_STAMP)
	@$(EXECUTE) notebooks/gradient_check.ipynb $(RESULTS_DIR)/executed/gradient_check.ipynb \
		--label "gradient check" -p data_dir $(DATA_DIR) -p output $(RESULTS_DIR)/gradcheck.json -p n_val $(N_VAL) \
		-p search $(GRADCHECK_SEARCH) $(GRADCHECK_PARAMS) --expect $@

results: $(RUN_GROUPS) $(RESULTS_DIR)/gradcheck.json ## train every setting in every variant; the gradient check
figures: $(RUN_FIGURES) ## Figures 1 and 2 for every setting (PNG files under figures/)

# --- report ------------------------------------------------------------------------------

# The deeper search's record (`make search`), when it exists; the report reads it from the results folder.
SEARCH_RECORD := $(RESULTS_DIR)/search.json

# The gradient check first: it runs beside the first training runs instead of after all of them.
$(REPORT_DIR)/index.html: $(REPORT_NB) $(SETTINGS) $(VARIANTS) $(RESULTS_DIR)/gradcheck.json $(REPORT_INPUTS) \
		$(REPORT_DEPS) $(wildcard $(SEARCH_RECORD) pipeline/templates/*/*) | $(VENV_STAMP)
	@$(EXECUTE) notebooks/report.ipynb $(RESULTS_DIR)/executed/report.ipynb --label report \
		-p settings_file $(SETTINGS) -p variants_file $(VARIANTS) -p results_dir $(RESULTS_DIR) \
		-p figures_dir $(FIGURES_DIR) -p gradcheck_file $(RESULTS_DIR)/gradcheck.json
	@$(PY) -m pipeline render-runs $(RESULTS_DIR) $(REPORT_DIR)/runs $(SETTINGS)
	@$(PY) -m pipeline render $(RESULTS_DIR)/executed/report.ipynb $@
	@mkdir -p $(BUILD_DIR) && echo '{"start": $(BUILD_START), "end": '"$$(date +%s)"', "jobs": "$(JOBS)"}' > $(BUILD_DIR)/report-wall.json

report: $(REPORT_DIR)/index.html ## regenerate every figure and table and render the HTML report
	@echo "Report: $(abspath $(REPORT_DIR)/index.html)"

# Where a single variant leaves a Table 1 number unexplained: screens each choice alone (a finer init_std, the
# further choices; the course's first two seeds), refines init_std and label smoothing around their best (round after
# round, until each best lies inside its range or at a bound, at most REFINE_ROUNDS), combines the choices
# that raise the score, confirms the winner
# with the course's other seeds (pipeline/search.py), through the same rules (generated from the search's own
# settings and variants files), then renders the report.
SEARCH_DIR := $(BUILD_DIR)/search
SEARCH = $(PY) -m pipeline search --settings $(SETTINGS) --variants $(VARIANTS) --results-dir $(RESULTS_DIR) \
	--out $(SEARCH_DIR) --gradcheck $(RESULTS_DIR)/gradcheck.json
search_results = if [ -z "$(COUNTING)" ] && [ -f $(SEARCH_DIR)/settings.csv ]; then $(MAKE) --no-print-directory results \
	SETTINGS=$(SEARCH_DIR)/settings.csv VARIANTS=$(SEARCH_DIR)/variants.csv; fi
# Refine rounds: each one a function of the results so far; a round that finds nothing new trains nothing. The
# loop needs make's jobserver (+), so a dry run (-n) would run it: DRY_RUN skips it there, like COUNTING.
REFINE_ROUNDS := 3
DRY_RUN := $(findstring n,$(firstword -$(MAKEFLAGS)))
search: results ## the deeper search of Table 1 for the numbers no single variant explains; then the report
	@$(SEARCH) plan
	+@$(search_results)
	+@[ -n "$(COUNTING)$(DRY_RUN)" ] || for round in $$(seq $(REFINE_ROUNDS)); do \
		$(SEARCH) refine --round $$round --rounds $(REFINE_ROUNDS) || exit $$?; $(search_results) || exit $$?; done
	@[ -n "$(COUNTING)" ] || $(SEARCH) combine
	+@$(search_results)
	@[ -n "$(COUNTING)" ] || $(SEARCH) confirm
	+@$(search_results)
	@$(PY) -m pipeline search record --out $(SEARCH_DIR) --record $(SEARCH_RECORD)
	+@[ -n "$(COUNTING)" ] || $(MAKE) --no-print-directory report

# --- development -------------------------------------------------------------------------

# Tests run on every core (pytest-xdist; TEST_WORKERS=0: one at a time, in pytest's own process). A test that uses a shared tiny build
# runs on the worker that made it (tests/conftest.py).
TEST_WORKERS ?= $(JOBS)
test: $(VENV_STAMP) ## run the test suite, every tier (browser tests run where Chromium is found, see README)
	$(PY) -m pytest -q -rfEs -n $(TEST_WORKERS) --dist loadgroup tests

# The unit tier: the tests marked with none of the tiers of pyproject.toml (make builds and notebook runs,
# Chromium, installs, the compiler matrix). `make test` runs those as well.
FAST_TIER := not e2e and not browser and not install and not compiler
test-fast: $(VENV_STAMP) ## the unit tier only, for the edit-test loop (under a minute; `make test` runs it all)
	$(PY) -m pytest -q -rfEs -n $(TEST_WORKERS) --dist loadgroup -m "$(FAST_TIER)" tests

browser: $(VENV_STAMP) ## Debian's chromium (root or sudo; apt-get) and Playwright (the browser extra) for the browser tests
	@command -v chromium > /dev/null || { \
		echo "== installing Debian's chromium for the browser test"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null; }
	@PYTHONWARNINGS="ignore:Editable installation" $(PY) -m pip install --quiet -e '.[browser]'

readme: $(VENV_STAMP) ## rewrite the README's opening paragraph from what the last build found (results/findings.json)
	@$(PY) -m pipeline readme README.md $(RESULTS_DIR)/findings.json

# What the PDF and the browser checks need, installed first (before a long report build) when missing: Debian's
# chromium and Playwright (`make browser`); where that cannot be done here, one line names the command to run.
browser-ready: $(VENV_STAMP)
	@$(PY) -c "import playwright; from pipeline.browser import find_chromium; find_chromium()" 2> /dev/null \
		|| $(MAKE) --no-print-directory browser || { \
		echo "error: needs Debian's chromium and Playwright, and installing them here failed (above); run \`sudo make browser\` (or \`make browser\` as root), then this command again" >&2; exit 1; }

# Each runs browser-ready before it makes anything (a recipe, not a prerequisite: make -j builds prerequisites at once).
pdf: browser-ready ## the report as an A4 PDF beside the original's (installs Chromium and Playwright first if missing)
	+@$(MAKE) --no-print-directory $(REPORT_DIR)/report.pdf

$(REPORT_DIR)/report.pdf: $(REPORT_DIR)/index.html pipeline/pdf.py
	@$(PY) -m pipeline.pdf $< $@

layout-check: browser-ready ## the report at 390, 800, 1024 and 1280 px, offline: anything too wide, links to nowhere, folds, requests, policy
	+@$(MAKE) --no-print-directory -s $(REPORT_DIR)/index.html
	$(PY) -m pipeline.layout_check $(REPORT_DIR)/index.html

profile: ## where the time of the last make report went: training, data, kernels, figures, rendering
	@$(PYTHON) -m bench.profile $(RESULTS_DIR) $(BUILD_DIR)/report-wall.json $(JOBS)

# The tool is the 'mutation' extra of pyproject.toml (pinned), installed here, not by `make venv`; its
# results are kept in mutants/ (a rerun only redoes what changed). Not part of CI's run.
mutation: $(VENV_STAMP) ## mutation run over the audit, model, gradient check, results and report check (mutmut)
	PYTHONWARNINGS="ignore:Editable installation" $(PY) -m pip install -q -e '.[mutation]'
	$(VENV)/bin/mutmut run --max-children $(JOBS)
	@$(PY) -m bench.mutation

bench: $(VENV_STAMP) ## benchmark the trainer (see bench/README.md)
	$(PY) -m bench.bench

lab: $(VENV_STAMP) ## open JupyterLab on the notebooks (options: LAB_ARGS="--no-browser --port 8899")
	$(VENV)/bin/jupyter lab notebooks $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

# build/ is emptied but for its lock: a build waiting for this one holds that file open, a new file would let a
# third one in beside this one.
clean: ## remove generated files (results, figures, report, extracted data, caches); keeps the archive
	rm -rf $(RESULTS_DIR) $(REPORT_DIR) $(DATA_DIR)/cifar-10-batches-py $(DATA_DIR)/cache $(DATA_DIR)/.tmp-* mutants
	find $(BUILD_DIR) -mindepth 1 -maxdepth 1 ! -name build.lock -exec rm -rf {} + 2>/dev/null || true
	find $(FIGURES_DIR) -name '*.png' -delete 2>/dev/null || true

clean-venv: ## remove the virtual environment
	rm -rf $(VENV)

endif
