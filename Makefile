VENV ?= .venv
PY := $(VENV)/bin/python
CHS := $(VENV)/bin/chs

.PHONY: install test demo lint bench bench-backtest clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,spark]'
	touch $@

test: install
	$(VENV)/bin/pytest -n 2

# The main job on the embedded example: generate a company, backfill 9 weekly snapshots,
# explain the reddest account, write the weekly report, backtest the score against churn.
DEMO_FROM ?= 2026-09-25
DEMO_TO ?= 2026-11-20
# Does the score predict churn? Weekly snapshots recomputed in a scratch database over the
# months whose 30- and 90-day outcomes are known (the example's data ends 2026-11-20).
BACKTEST_FROM ?= 2026-01-02
BACKTEST_TO ?= 2026-08-21
demo: install
	rm -rf demo
	$(CHS) init demo --example telecom
	cd demo && ../$(CHS) score --from $(DEMO_FROM) --to $(DEMO_TO) --every 7d
	cd demo && ../$(CHS) explain "$$(../$(PY) -c "import polars as pl; print(pl.read_parquet('out/scores.parquet').drop_nulls('score').sort('score')['account_id'][0])")"
	cd demo && ../$(CHS) actions --status open --format table | head -n 15
	cd demo && ../$(CHS) report
	cd demo && ../$(CHS) backtest --rescore --from $(BACKTEST_FROM) --to $(BACKTEST_TO) --every 7d -o out/backtest.html
	@echo "outputs: demo/out (scores, drivers, actions, run.json), demo/out/report.html and demo/out/backtest.html"

lint: install
	$(VENV)/bin/ruff check chs tests

clean:
	rm -rf $(VENV) demo .pytest_cache

# chs score end to end vs a tuned hand-written DuckDB query on the same files, plus explain and
# report on the history: `make bench` (100k accounts / 10M events) or `make bench SCALE=large` (1M / 100M).
SCALE ?= medium
bench: install
	$(PY) bench/run.py --scale $(SCALE) $(BENCH_ARGS)

# Run times and peak memory of backtest and calibrate at 100k accounts x 26 weekly snapshots.
bench-backtest: install
	$(PY) bench/backtest.py $(BENCH_ARGS)
