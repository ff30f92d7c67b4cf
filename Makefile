# `make run` and `make test` do all the set-up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --quiet --disable-pip-version-check

DEMO    := var/demo
REPORTS := var/reports

.PHONY: run test lint typecheck pytest bench notebooks clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: pyproject.toml | $(BIN)/python
	$(PIP) install -e .
	touch $@

$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(PIP) install -e '.[dev,spark,notebooks]'
	touch $@ $(VENV)/.runtime $(VENV)/.notebooks

$(VENV)/.notebooks: pyproject.toml | $(BIN)/python
	$(PIP) install -e '.[notebooks]'
	touch $@ $(VENV)/.runtime

run: $(VENV)/.runtime
	$(BIN)/ownership demo

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.dev
	$(BIN)/mypy

# on every core (at most four), each test process with databases of its own
pytest: $(VENV)/.dev
	$(BIN)/python -m pytest -q --numprocesses auto --maxprocesses 4

test: lint typecheck pytest

# A small history, generated and scored only when `make run` has not left one; scored as of
# the generator's end of history, as `ownership demo` does.
$(DEMO)/scores/manifest.json: | $(VENV)/.notebooks
	$(BIN)/ownership synth --phones 2000 --seed 1 --out $(DEMO)/events > /dev/null
	$(BIN)/ownership score --events $(DEMO)/events --out $(DEMO)/scores --as-of 2026-11-01

# A simulated day of notifications over those scores, for the delivery funnel: made afresh
# whenever the scores change.
DAY_STORE := $(abspath $(DEMO)/day.db)
$(DAY_STORE): $(DEMO)/scores/manifest.json | $(VENV)/.notebooks
	rm -f $@ $@-wal $@-shm
	$(BIN)/ownership simulate-day --history $(DEMO)/events --scores $(DEMO)/scores \
		--store sqlite:///$@ --notifications 2000 --seed 1 > /dev/null

# The analysts' notebooks, executed over var/demo, as HTML reports with their plots.
notebooks: $(VENV)/.notebooks $(DEMO)/scores/manifest.json $(DAY_STORE)
	OWNERSHIP_SCORES_DIR=$(abspath $(DEMO)/scores) OWNERSHIP_HISTORY_DIR=$(abspath $(DEMO)/events) \
		OWNERSHIP_NOTIFICATIONS_URL=sqlite:///$(DAY_STORE) \
		$(BIN)/jupyter nbconvert --to html --execute --output-dir $(REPORTS) notebooks/*.ipynb

bench: $(VENV)/.dev
	$(BIN)/python bench/bench_score.py
	$(BIN)/python bench/bench_api.py
	$(BIN)/python bench/bench_notify.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache
