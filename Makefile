# Refuge — the two commands a new user needs are `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
ASYNCAPI_TOOLS := tools/asyncapi
NODE_STAMP     := $(ASYNCAPI_TOOLS)/node_modules/.installed

PACKAGES := -e libs/common -e devstack -e services/intake -e services/deadlines \
            -e services/notifications -e services/reporting -e ops

.PHONY: install run test test-unit test-integration bench lint typecheck schemas schemas-check clean \
        asyncapi asyncapi-check

install: $(STAMP) $(NODE_STAMP)

# The AsyncAPI parser (npm), pinned by package-lock.json; no install scripts are needed.
$(NODE_STAMP): $(ASYNCAPI_TOOLS)/package.json $(ASYNCAPI_TOOLS)/package-lock.json
	cd $(ASYNCAPI_TOOLS) && npm ci --no-audit --no-fund --ignore-scripts
	touch $@

$(STAMP): constraints.txt requirements-dev.txt libs/common/pyproject.toml devstack/pyproject.toml ops/pyproject.toml \
          services/*/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt $(PACKAGES) -r requirements-dev.txt
	touch $(STAMP)

run: install
	$(BIN)/refuge-dev run

test: lint schemas-check asyncapi-check
	$(BIN)/python -m pytest

test-unit: install
	$(BIN)/python -m pytest -m "not integration and not e2e"

bench: install
	$(BIN)/python -m bench

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy -p refuge_common -p refuge_devstack -p refuge_intake -p refuge_deadlines \
	            -p refuge_notifications -p refuge_reporting -p refuge_ops

schemas: install
	$(BIN)/python -m refuge_common.contract.schemas

schemas-check: install
	$(BIN)/python -m refuge_common.contract.schemas --check

# AsyncAPI 3.0 documents of every service (docs/asyncapi/), generated from the bootstraps.
asyncapi: install
	$(BIN)/python $(ASYNCAPI_TOOLS)/generate.py
	node $(ASYNCAPI_TOOLS)/validate.mjs docs/asyncapi/*.yaml

asyncapi-check: install
	$(BIN)/python $(ASYNCAPI_TOOLS)/generate.py --check
	node $(ASYNCAPI_TOOLS)/validate.mjs docs/asyncapi/*.yaml

clean:
	rm -rf $(VENV) .run
