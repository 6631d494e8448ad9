# Optimizing Model Parameters: two commands on a fresh machine.
#   make lab    create .venv, install, open the series in JupyterLab
#   make test   create .venv, install, run the whole suite (unit tests + every notebook)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup lab test unit notebooks lint book bench data images clean

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

lab: setup                      ## open the series in JupyterLab
	$(BIN)/jupyter lab notebooks/00_start_here.ipynb

test: setup                     ## the whole suite: unit tests and every notebook, offline-safe
	$(BIN)/python -m pytest

unit: setup                     ## unit tests only (fast)
	$(BIN)/python -m pytest tests -p no:nbmake -o addopts=-ra

lint: setup
	$(BIN)/ruff check .

data: setup                     ## pre-download FashionMNIST into data/ (before a workshop)
	$(BIN)/python -m utils.data

images: setup                   ## regenerate the diagrams in images/
	$(BIN)/python images/make_images.py

book: setup                     ## execute every notebook into build/ and render HTML for reading
	$(BIN)/python scripts/build_book.py

bench: setup                    ## training-loop benchmark: tutorial loop vs utils.fit
	$(BIN)/python benchmarks/bench_training_loop.py
	$(BIN)/python benchmarks/bench_explorer.py

clean:
	rm -rf build .pytest_cache .ruff_cache
