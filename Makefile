# One virtualenv per clone; every target installs what it needs first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run serve test lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

# Both are `python -m app serve` (--help), the one command line of every start: bare
# uvicorn would believe X-Forwarded-For from 127.0.0.1 whatever TRUSTED_PROXIES says.
# HOST and PORT come from the environment and .env, which `make run PORT=9000` sets
# too. `run` is one process, so memory:// rate limits count every request; `serve`
# starts WORKERS.
run: $(VENV)/.installed
	$(BIN)/python -m app serve --workers 1

serve: $(VENV)/.installed
	$(BIN)/python -m app serve

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check app tests bench
	$(BIN)/ruff format --check app tests bench
	$(BIN)/mypy

# The benchmark (docs/PERFORMANCE.md); BENCH_ARGS="--quick" for a short run.
bench: $(VENV)/.installed-dev
	$(BIN)/python -m pip install --quiet -r bench/requirements.txt
	$(BIN)/python -m bench $(BENCH_ARGS)

format: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix app tests bench
	$(BIN)/ruff format app tests bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
