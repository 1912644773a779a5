# opendepin — the two commands a newcomer needs: `make up` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE_STAMP := tools/js/node_modules/.installed

# radCAD is the economics benchmark's baseline; it pins numpy<1.26.4 but runs on numpy 2, so it is installed
# without its pins (never through the project's dependencies).
BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet --no-deps radcad pathos multiprocess dill ppft pox fn-py py pandas python-dateutil pytz tzdata
	touch $(BENCH_STAMP)

.PHONY: up test lint bench clean explorer-assets

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# anvil (a real local EVM node) and OpenZeppelin's merkle-tree, used by the tests as independent references;
# the JavaScript device client's packages (clients/js: @noble/curves, @noble/hashes), run by the tests.
$(NODE_STAMP): tools/js/package.json clients/js/package.json
	cd tools/js && npm install --no-audit --no-fund --loglevel=error
	cd clients/js && npm install --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

# Debian's headless Chromium, driven by the explorer's browser tests through Playwright (Playwright's own
# browser download cannot work offline); installed from Debian when missing (as root, or through sudo).
CHROMIUM := /usr/bin/chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium

## Run a small local DePIN network end to end (embedded SQLite store and in-process EVM) and print its JSON summary.
up: $(STAMP)
	$(BIN)/depin up --epochs 3 --devices 60 --json --data-dir .depin/make-up --fresh

## Run the whole test suite (unit, property, end-to-end and real-server integration tests).
test: $(STAMP) $(NODE_STAMP) $(BENCH_STAMP) $(CHROMIUM)
	$(BIN)/python -m pytest -n 2 -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

## Run every benchmark (each prints its figure and the ratio to a baseline measured in the same run).
bench: $(STAMP) $(NODE_STAMP) $(BENCH_STAMP)
	for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

## Rebuild the explorer's vendored front-end libraries from npm (exact versions; the output is committed).
explorer-assets:
	rm -rf build/explorer-assets && mkdir -p build && cp -r src/opendepin/explorer/assets build/explorer-assets
	cd build/explorer-assets && npm ci --no-audit --no-fund --loglevel=error && node build.mjs $(CURDIR)/src/opendepin/explorer/static/vendor

clean:
	rm -rf $(VENV) .depin tools/js/node_modules clients/js/node_modules
