# Quietshelf: `make demo` and `make test` work on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-sqlite test-postgres lint bench venv clean system-test-deps

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/quietshelf demo

# The whole suite on SQLite, then on the PostgreSQL server at 127.0.0.1:5432.
test: $(STAMP)
	bash scripts/test.sh

test-sqlite: $(STAMP)
	bash scripts/test.sh sqlite

test-postgres: $(STAMP)
	bash scripts/test.sh postgres

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	# The layers of docs/dev/architecture.md (import-linter, pyproject.toml; #14).
	$(BIN)/lint-imports --no-cache --no-logo
	QUIETSHELF_HOME=$$(mktemp -d) $(BIN)/quietshelf makemigrations --check --dry-run

bench: $(STAMP)
	bash scripts/bench.sh

clean:
	rm -rf $(VENV) instance .pytest_cache
