# opendepin — the two commands a newcomer needs: `make up` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE_STAMP := tools/js/node_modules/.installed

.PHONY: up test lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# anvil (a real local EVM node) and OpenZeppelin's merkle-tree, used by the tests as independent references.
$(NODE_STAMP): tools/js/package.json
	cd tools/js && npm install --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

## Run a small local DePIN network end to end (embedded SQLite store and in-process EVM) and print its JSON summary.
up: $(STAMP)
	$(BIN)/depin up --epochs 3 --devices 60 --json --data-dir .depin/make-up --fresh

## Run the whole test suite (unit, property, end-to-end and real-server integration tests).
test: $(STAMP) $(NODE_STAMP)
	$(BIN)/python -m pytest -n 2 -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

bench: $(STAMP)
	for b in benchmarks/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .depin tools/js/node_modules
