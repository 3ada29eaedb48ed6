# Two entry points: `make run` (install, then train on the embedded digits set) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench mnist clean

$(STAMP): requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -r requirements-dev.txt
	$(BIN)/pip install -q -e .
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/mtjxbar train --out runs/digits --overwrite

test: $(STAMP)
	$(BIN)/ruff check src tests bench examples
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples

bench: $(STAMP)
	$(BIN)/python bench/train_throughput.py

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
