# tfwidget: two commands for a newcomer.
#   make demo   set everything up (virtualenv, package, front-end bundle) and run `tfwidget demo`
#   make test   set up what the tests need (chromium included) and run every test
# Everything lands in ./.venv and ./js/node_modules; nothing is installed globally except chromium.
# The OpenTelemetry test's Arize Phoenix server (~850 MB) gets its own ./.venv-phoenix (`make phoenix`).

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.tfwidget-installed
BUNDLE := tfwidget/static/widget.js
PYTEST_ARGS ?=
PHOENIX_VENV  ?= .venv-phoenix
PHOENIX_STAMP := $(PHOENIX_VENV)/.phoenix-installed
PHOENIX_PKG   ?= arize-phoenix==20.26.1

.PHONY: demo test setup build chromium phoenix lint bench clean

demo: setup
	$(VENV)/bin/tfwidget demo $(DEMO_ARGS)

test: setup chromium phoenix
	cd js && npm test
	$(VENV)/bin/ruff check tfwidget tests benchmarks
	TFW_REQUIRE_PHOENIX=1 TFW_PHOENIX_PYTHON=$(PHOENIX_VENV)/bin/python $(PY) -m pytest tests notebooks --ignore=tests/browser --nbval-lax --nbval-current-env $(PYTEST_ARGS)
	# the browser suite runs on its own: Playwright's sync API keeps an event loop running for its session
	TFW_REQUIRE_BROWSER=1 $(PY) -m pytest tests/browser $(PYTEST_ARGS)

setup: $(STAMP) $(BUNDLE)

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PIP) install --quiet -e ".[test,demo]"
	touch $(STAMP)

js/node_modules/.package-lock.json: js/package.json js/package-lock.json
	cd js && npm ci --no-audit --no-fund

$(BUNDLE): js/node_modules/.package-lock.json $(wildcard js/src/*) js/build.mjs
	cd js && npm run build

build: $(BUNDLE)

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

lint: setup
	$(VENV)/bin/ruff check tfwidget tests benchmarks
	$(VENV)/bin/ruff format --check tfwidget tests benchmarks

bench: setup
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) $(PHOENIX_VENV) js/node_modules tfwidget/static/widget.js tfwidget/static/widget.css artifacts
