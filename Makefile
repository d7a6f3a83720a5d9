# bluegreen developer tasks. `make install` builds .venv; every other target uses it.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install demo test lint types pytest check bench clean

$(BIN)/bluegreen: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/bluegreen

# The unmodified AWS SDK for JavaScript v3, which tests/sandbox/test_js_sdk.py runs against the
# sandbox (npm ci installs exactly what tests/js/package-lock.json names).
JS_SDK := tests/js/node_modules/.package-lock.json

$(JS_SDK): tests/js/package.json tests/js/package-lock.json
	npm ci --prefix tests/js --no-audit --no-fund --loglevel=error
	touch $(JS_SDK)

install: $(BIN)/bluegreen $(JS_SDK)

# PORT: where the demo's sandbox listens (0, the default: any free port)
PORT ?= 0
demo: install
	$(BIN)/python examples/demo.py --port $(PORT)

lint: install
	$(BIN)/ruff check bluegreen tests bench examples
	$(BIN)/ruff format --check bluegreen tests bench examples

types: install
	$(BIN)/mypy

# WORKERS: pytest-xdist processes (each with its own sandbox); 0 runs the suite in one process
WORKERS ?= 2
pytest: install
	$(BIN)/pytest -q -n $(WORKERS)

check: lint types pytest

test: check

bench: install
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) build dist .mypy_cache .pytest_cache .ruff_cache tests/js/node_modules
