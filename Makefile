# Every target creates and uses the local virtualenv in .venv; nothing is installed system-wide
# except what the deployment checks need from Debian (promtool) when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Strict typing everywhere; the tests are a package tree of their own, the bench a script dir.
MYPY = $(BIN)/mypy --strict reconciler bench && $(BIN)/mypy --strict --explicit-package-bases tests

.PHONY: run drift test lint bench mutate clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# The daemon with the built-in AWS simulator (the `sandbox` extra), for `make run`.
$(VENV)/.sandbox: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[sandbox]'
	touch $@

# Everything the tests and linters need.
$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# The AWS CLI, for the test that has it use generated profiles: in a virtualenv of its own,
# as awscli pins botocore exactly and would otherwise move the product's boto3.
AWSCLI := $(VENV)/tools/awscli/bin/aws
$(AWSCLI): | $(BIN)/python
	$(PYTHON) -m venv $(VENV)/tools/awscli
	$(VENV)/tools/awscli/bin/pip install --quiet 'awscli>=1.44,<2'

# The sandbox's simulation listens on this loopback port, so that `make drift` finds it.
SANDBOX_PORT ?= 4566

run: $(VENV)/.sandbox
	$(BIN)/reconciler sandbox --simulator-port $(SANDBOX_PORT)

# A change made by hand in the running sandbox (`make run` in another terminal), with the AWS
# change events it causes: the daemon corrects it within seconds and names who made it.
drift: $(VENV)/.sandbox
	$(BIN)/reconciler sandbox-drift --endpoint-url http://127.0.0.1:$(SANDBOX_PORT)

test: $(VENV)/.dev $(AWSCLI)
	$(BIN)/ruff check reconciler tests bench
	$(MYPY)
	$(BIN)/lint-imports
	$(BIN)/pytest

lint: $(VENV)/.dev
	$(BIN)/ruff check reconciler tests bench
	$(BIN)/ruff format --check reconciler tests bench
	$(MYPY)
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache mutants

# The scale benchmark (not part of `make test`): prints one table and the targets it checks.
bench: $(VENV)/.dev
	$(BIN)/python bench/bench.py

# Mutation testing (not part of `make test`: hours on two cores). Mutates the modules that decide
# what changes in AWS (pyproject.toml's [tool.mutmut]), runs the tests that reach each mutant,
# and prints every mutant left alive and the score per module. A stopped run resumes where it
# stopped; ONLY='reconciler.core.*' limits a run to the mutants whose names match.
mutate: $(VENV)/.dev
	$(BIN)/mutmut run $(ONLY)
	$(BIN)/mutmut results --all true | $(BIN)/python tests/mutation_score.py
