# Optimizing Model Parameters: two commands on a fresh machine.
#   make lab    create .venv, install, open the series in JupyterLab
#   make test   create .venv, install, run the whole suite (unit tests + every notebook)
# PYTHON: another interpreter, e.g. make PYTHON=python3.12 lab
# CONSTRAINTS: the tested versions; install without them with make CONSTRAINTS= setup
# TORCH=cpu: CPU-only torch wheels from download.pytorch.org (a smaller download), e.g. make TORCH=cpu setup
PYTHON ?= python3
VENV   ?= .venv
CONSTRAINTS ?= constraints.txt
TORCH  ?=
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PIP_C  := $(if $(CONSTRAINTS),-c $(CONSTRAINTS))
CPU_INDEX := https://download.pytorch.org/whl/cpu
PYTHON_GUARD = $(PYTHON) -c 'import sys; sys.exit("make: this series needs Python 3.10 or newer; $(PYTHON) is " \
	+ sys.version.split()[0] + ". Pick another one, e.g.: make PYTHON=python3.12 lab") if sys.version_info < (3, 10) else None'
# make lab: Jupyter refuses root without --allow-root; with no display (a server, a container) it cannot open a browser
LAB_FLAGS := $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root) \
	$(if $(or $(DISPLAY),$(WAYLAND_DISPLAY),$(filter Darwin,$(shell uname -s 2>/dev/null))),,--no-browser)

.PHONY: setup python-check lab notebook test unit notebooks lint book browser-test bench robustness robustness-ci data images clean

setup: $(STAMP)

python-check:                   ## stop at once on a Python older than 3.10
	@$(PYTHON_GUARD)

$(STAMP): requirements.txt pyproject.toml $(CONSTRAINTS)
	@$(PYTHON_GUARD)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(if $(filter cpu,$(TORCH)),$(BIN)/python -m pip install --quiet torch torchvision --index-url $(CPU_INDEX) $(PIP_C))
	$(BIN)/python -m pip install --quiet -r requirements.txt $(PIP_C)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

lab: setup                      ## open the series in JupyterLab
	@$(if $(findstring --no-browser,$(LAB_FLAGS)),echo "No display here: open the http://127.0.0.1:8888/lab?token=... address Jupyter prints below in your browser.")
	$(BIN)/jupyter lab $(strip $(LAB_FLAGS)) notebooks/00_start_here.ipynb

notebook: setup                 ## open the series in Jupyter Notebook 7 instead
	$(BIN)/jupyter notebook $(strip $(LAB_FLAGS)) notebooks/00_start_here.ipynb

# the tests never download: FashionMNIST if it is on disk, else the bundled digits (as CI runs them)
test unit: export OPTIM_OFFLINE ?= 1

test: setup                     ## the whole suite: unit tests and every notebook, offline (OPTIM_OFFLINE=1), on every core (pytest-xdist)
	$(BIN)/python -m pytest -n auto --dist worksteal

unit: setup                     ## unit tests only, without the slow ones (processes, rendering, benchmarks, time limits)
	$(BIN)/python -m pytest tests -p no:nbmake -o addopts=-ra -m "not slow" -n auto --dist worksteal

lint: setup                     ## the hooks of .pre-commit-config.yaml (ruff, nbstripout) on every file, offline
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/pre-commit run --all-files --show-diff-on-failure

data: setup                     ## pre-download FashionMNIST into data/ (before a workshop)
	$(BIN)/python -m utils.data

images: setup                   ## regenerate the diagrams in images/ and embed them in the notebooks (scripts/stamp_notebooks.py)
	$(BIN)/python images/make_images.py
	$(BIN)/python scripts/stamp_notebooks.py

book: setup                     ## the reading copy (Jupyter Book 1.x, book/): every notebook executed into build/book/, search, Colab/Binder launch buttons, MathJax shipped (reads offline)
	$(BIN)/python scripts/build_book.py

browser-test: setup             ## tests in a headless chromium (tests/browser): installs Debian's chromium (unless OPTIM_CHROMIUM names a browser) and playwright if missing
	@test -x "$${OPTIM_CHROMIUM:-/usr/bin/chromium}" || { echo "installing Debian's chromium (needs root)"; \
		apt-get update && apt-get install -y chromium; }
	$(BIN)/python -c "import playwright" 2>/dev/null || $(BIN)/python -m pip install --quiet playwright
	OPTIM_BROWSER_REQUIRED=1 $(BIN)/python -m pytest tests/browser -p no:nbmake -o addopts=-ra

bench: setup                    ## training-loop benchmark: tutorial loop vs utils.fit
	$(BIN)/python benchmarks/bench_training_loop.py
	$(BIN)/python benchmarks/bench_explorer.py

robustness: setup               ## every notebook over 10 seed shifts (digits), 3 (stand-in), 3 CPU kernel variants: docs/robustness.md
	$(BIN)/python benchmarks/robustness.py

robustness-ci: setup            ## CI's slice of it: the notebooks' edited copies (tests marked variant), 2 seed shifts on the digits + AVX2 kernels (build/robustness-ci.md)
	$(BIN)/python -m pytest tests -p no:nbmake -o addopts=-ra -m variant -n auto
	$(BIN)/python benchmarks/robustness.py --slice ci

clean:
	rm -rf build .pytest_cache .ruff_cache
