# Two entry points: `make run` (install, then train on the embedded digits set) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench mnist clean mutants

$(STAMP): requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -r requirements-dev.txt
	$(BIN)/pip install -q -e .
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/mtjxbar train --out runs/digits --overwrite

test: $(STAMP)
	$(BIN)/ruff check src tests bench examples
	$(BIN)/pytest -q -n 2

lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples

# The planted bugs of issue 21 (tests/mutants/mutants.py), each in a temporary copy: all must be killed.
mutants: $(STAMP)
	$(BIN)/python tests/mutants/run.py

bench: $(STAMP)
	$(BIN)/python bench/train_throughput.py

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
