# tfwidget: two commands for a newcomer.
#   make demo   set up a small virtualenv (the package, JupyterLab, matplotlib), build the front-end bundle
#               and run `tfwidget demo`
#   make test   add the test tools (chromium included) and run every stage: lint, js, python, notebooks,
#               browser, wheel; each stage runs even when an earlier one failed, then all are reported
#   make check  the inner loop (under a minute): ruff, ruff format --check, mypy and the fast unit tests
# Everything lands in ./.venv and ./js/node_modules; nothing is installed globally except chromium.
# The OpenTelemetry test's Arize Phoenix server (~850 MB) gets its own ./.venv-phoenix (`make phoenix`).

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.tfwidget-demo
TEST_STAMP := $(VENV)/.tfwidget-test
STAGES := lint js python notebooks browser wheel
BUNDLE := tfwidget/static/widget.js
PYTEST_ARGS ?=
PHOENIX_VENV  ?= .venv-phoenix
PHOENIX_STAMP := $(PHOENIX_VENV)/.phoenix-installed
PHOENIX_PKG   ?= arize-phoenix==20.26.1

.PHONY: demo test check setup test-setup build chromium phoenix lint bench clean $(addprefix test-,$(STAGES)) contracts

demo: setup
	$(VENV)/bin/tfwidget demo $(DEMO_ARGS)

# Every stage runs; a summary line per stage, then `make test` fails if any stage failed.
test: test-setup chromium phoenix
	@failed=0; summary=""; \
	for stage in $(STAGES); do \
	  echo "=== stage $$stage"; \
	  if $(MAKE) --no-print-directory test-$$stage; then result=passed; else result=FAILED; failed=$$((failed + 1)); fi; \
	  summary="$$summary\n  $$stage: $$result"; \
	done; \
	printf "\n=== make test: stages$$summary\n"; \
	echo "stages: $$(( $(words $(STAGES)) - failed )) passed, $$failed failed"; \
	test $$failed -eq 0

test-lint:
	$(VENV)/bin/ruff check tfwidget tests benchmarks
	$(VENV)/bin/ruff format --check tfwidget tests benchmarks
	$(PY) -m mypy

# lint, types and the unit tests that need no browser, notebook, Phoenix or long run (marked `slow`):
# stops at the first failure
check: test-setup test-lint
	$(PY) -m pytest tests -q -x -m "not slow and not browser" --ignore=tests/browser --ignore=tests/wheel \
	  -p no:cacheprovider $(PYTEST_ARGS)

test-js:
	cd js && npm test

test-python:
	TFW_REQUIRE_PHOENIX=1 TFW_PHOENIX_PYTHON=$(PHOENIX_VENV)/bin/python $(PY) -m pytest tests --ignore=tests/browser --ignore=tests/wheel $(PYTEST_ARGS)

test-notebooks:
	$(PY) -m pytest notebooks --nbval-lax --nbval-current-env $(PYTEST_ARGS)

# the browser suite runs on its own: Playwright's sync API keeps an event loop running for its session
test-browser:
	TFW_REQUIRE_BROWSER=1 $(PY) -m pytest tests/browser $(PYTEST_ARGS)

# sdist + wheel from a clean clone, the wheel in a fresh venv without node, one JupyterLab test on it
test-wheel:
	TFW_REQUIRE_BROWSER=1 $(PY) -m pytest tests/wheel $(PYTEST_ARGS)

setup: $(STAMP) $(BUNDLE)

test-setup: $(TEST_STAMP) $(BUNDLE)

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# the demo's install: the package, JupyterLab and matplotlib (the `demo` extra)
$(STAMP): pyproject.toml | $(PY)
	$(PIP) install --quiet -e ".[demo]"
	touch $(STAMP)

# the test tools on top (pytest, playwright, pyarrow, build, ...)
$(TEST_STAMP): pyproject.toml $(STAMP)
	$(PIP) install --quiet -e ".[test,demo]"
	touch $(TEST_STAMP)

js/node_modules/.package-lock.json: js/package.json js/package-lock.json
	cd js && npm ci --no-audit --no-fund

$(BUNDLE): js/node_modules/.package-lock.json $(wildcard js/src/*) js/build.mjs
	cd js && npm run build

build: $(BUNDLE)

# the front end's copy of the contracts (statuses, text fields, usage keys, typedefs) from tfwidget/contracts.py;
# tests/test_contracts.py fails while the committed file is stale
contracts:
	$(PY) -W ignore -m tfwidget.contracts --js > js/src/contracts.gen.js

# a real Arize Phoenix for tests/test_otel_phoenix.py, kept out of the package's own environment
phoenix: $(PHOENIX_STAMP)

$(PHOENIX_STAMP):
	$(PYTHON) -m venv $(PHOENIX_VENV)
	$(PHOENIX_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(PHOENIX_VENV)/bin/python -m pip install --quiet "$(PHOENIX_PKG)"
	touch $(PHOENIX_STAMP)

chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing chromium from Debian's packages (needs root)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

lint: test-setup test-lint

bench: test-setup
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) $(PHOENIX_VENV) js/node_modules tfwidget/static/widget.js tfwidget/static/widget.css artifacts out dist build
