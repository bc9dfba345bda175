# Two commands for a fresh machine (see README):
#   make demo  - create .venv, install chartcode and its dependencies, install the code sets from
#                $(CODESETS) and run chartcode on the bundled sample note
#   make test  - the test suite (what CI runs)
PYTHON ?= python3
VENV ?= .venv
CODESETS ?= ../shared/data
export CHARTCODE_KB ?= $(CURDIR)/.chartcode/kb.sqlite
BIN = $(VENV)/bin

.PHONY: demo test setup codesets lint bench

$(BIN)/chartcode: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/chartcode

setup: $(BIN)/chartcode

$(CHARTCODE_KB): | setup
	$(BIN)/chartcode codesets install --source $(CODESETS)

codesets: $(CHARTCODE_KB)

demo: setup codesets
	$(BIN)/chartcode codesets list
	$(BIN)/chartcode code examples/sample_note.txt --date 2026-03-02

test: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/pytest -q

bench: setup codesets
	$(BIN)/python benchmarks/run.py
