# Two commands: `make run` (set up and run the flagship scenario), `make test` (set up and run the tests).
# Both create a local virtual environment in .venv from PyPI; nothing else is needed but Python 3.11+.
PYTHON ?= python3
# the suite in parallel processes, a test file to each (its module's caches computed once); on CI's 2 cores, 2
PYTEST_WORKERS ?= -n auto --maxprocesses 4 --dist loadfile
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-slow test-browser lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]' --config-settings editable_mode=compat
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/diplosim $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_WORKERS) $(PYTEST_ARGS)

test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow $(PYTEST_WORKERS) $(PYTEST_ARGS)

# the dashboard in headless Chromium; needs Debian's browser first: apt-get install chromium chromium-driver
$(VENV)/.installed-browser: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,viz,browser]' --config-settings editable_mode=compat
	touch $@

test-browser: $(VENV)/.installed-browser
	$(BIN)/python -m pytest -m browser $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/python -m pip install --quiet ruff
	$(BIN)/ruff check src tests

clean:
	rm -rf $(VENV) build src/*.egg-info
