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

lint: install
	$(VENV)/bin/ruff check chs tests

clean:
	rm -rf $(VENV) demo .pytest_cache

bench: install
	$(PY) bench/run.py $(BENCH_ARGS)
