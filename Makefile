# Every target creates and uses the local virtualenv in .venv; nothing is installed system-wide
# except promtool, which the deployment tests need and only Debian packages.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/reconciler validate --desired desired/accounts.yaml

test: $(STAMP)
	$(BIN)/ruff check reconciler tests
	$(BIN)/mypy --strict reconciler
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check reconciler tests
	$(BIN)/ruff format --check reconciler tests
	$(BIN)/mypy --strict reconciler

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
