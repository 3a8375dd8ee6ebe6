# Both targets make their own virtualenv; nothing else needs installing by hand
# beyond Python 3.11+ and git (.ci/run installs the Debian packages the
# integration tests use).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint check clean

# editable_mode=compat: a plain path in a .pth file, not setuptools' import hook, which
# costs every `taskbot` command ~10 ms of start-up (bench/cli_speed.py)
$(BIN)/taskbot: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check \
		--config-settings editable_mode=compat -e '.[test,mcp,kubernetes]'
	touch $@

demo: $(BIN)/taskbot
	$(BIN)/taskbot demo

test: $(BIN)/taskbot
	$(BIN)/pytest -q -n 2  # two workers (pytest-xdist): 6 min → 3 min on 2 cores

lint: $(BIN)/taskbot
	$(BIN)/ruff check bot handlers tests bench
	$(BIN)/mypy --strict bot handlers tests/kit

check: lint test

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
