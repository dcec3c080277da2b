# tfwidget: two commands for a newcomer.
#   make demo   set everything up (virtualenv, package, front-end bundle) and run `tfwidget demo`
#   make test   set up what the tests need (chromium included) and run every test
# Everything lands in ./.venv and ./js/node_modules; nothing is installed globally except chromium.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.tfwidget-installed
BUNDLE := tfwidget/static/widget.js
PYTEST_ARGS ?=

.PHONY: demo test setup build chromium lint bench clean

demo: setup
	$(VENV)/bin/tfwidget demo $(DEMO_ARGS)

test: setup chromium
	cd js && npm test
	$(VENV)/bin/ruff check tfwidget tests benchmarks
	$(PY) -m pytest tests notebooks --ignore=tests/browser --nbval-lax --nbval-current-env $(PYTEST_ARGS)
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
	rm -rf $(VENV) js/node_modules tfwidget/static/widget.js tfwidget/static/widget.css artifacts
