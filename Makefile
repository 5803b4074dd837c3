# Two entry points for a fresh machine (see README):
#   make run    set up .venv, then `star run` on the embedded default
#   make test   set up .venv, make sure PostgreSQL is up and Chromium installed, then check the import
#               layers and run every test: the fast lane, then the slow one (real Ray, vLLM, TRL),
#               each on two processes
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test setup bench

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/setup_venv.sh
	bash scripts/setup_venv.sh $(VENV)
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/star run

test: $(STAMP)
	bash scripts/ensure_postgres.sh
	bash scripts/ensure_chromium.sh
	$(VENV)/bin/lint-imports
	$(VENV)/bin/pytest -m "not slow" -n 2
	$(VENV)/bin/pytest -m slow -n 2 --dist loadfile --no-loadscope-reorder --durations=50

bench: $(STAMP)
	$(PY) bench/generation.py
	$(PY) bench/checker.py
	$(PY) bench/store.py
	$(PY) bench/training.py
	$(PY) bench/evaluation.py
	$(PY) bench/round.py
