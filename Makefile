# lienthong: two commands from a fresh clone -- `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench mutation install clean

$(STAMP): pyproject.toml constraints.txt examples/lienthong-sftp/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	# the example third-party adapter, found through its entry point (docs/adapters.md)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e examples/lienthong-sftp
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/lienthong demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

# Mutation testing of the validators against the unit tests ([tool.mutmut], docs/testing.md).
# mutmut is installed on demand, not a project dependency; the tests run from mutants/ with
# the project's own corpus. Long: about an hour on 2 CPUs.
MUTATION_JOBS ?= 2
mutation: $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt mutmut
	$(BIN)/mutmut run --max-children $(MUTATION_JOBS) $(MUTANTS)
	$(BIN)/mutmut results

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache mutants
	test ! -L shared || rm shared
