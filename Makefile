VENV ?= .venv
PY := $(VENV)/bin/python
CHS := $(VENV)/bin/chs

.PHONY: install test demo lint bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

test: install
	$(VENV)/bin/pytest -n 2

# The main job on the embedded example: generate a company, backfill 9 weekly snapshots,
# explain the reddest account, write the weekly report.
DEMO_FROM ?= 2026-09-25
DEMO_TO ?= 2026-11-20
demo: install
	rm -rf demo
	$(CHS) init --example demo
	cd demo && ../$(CHS) score --from $(DEMO_FROM) --to $(DEMO_TO) --every 7d
	cd demo && ../$(CHS) explain "$$(../$(PY) -c "import polars as pl; print(pl.read_parquet('out/scores.parquet').drop_nulls('score').sort('score')['account_id'][0])")"
	cd demo && ../$(CHS) actions --status open | head -n 15
	cd demo && ../$(CHS) report
	@echo "outputs: demo/out (scores, drivers, actions, run.json) and demo/out/report.html"

lint: install
	$(VENV)/bin/ruff check chs tests

clean:
	rm -rf $(VENV) demo .pytest_cache

bench: install
	$(PY) bench/run.py $(BENCH_ARGS)
