# The README's two commands: `make demo` and `make test`. Each installs what it needs.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint format bench soak clean

$(STAMP): setup.cfg setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,fast]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) examples/run_all.py

test: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check --config .ci/ruff.toml llmpipe tests examples
	$(VENV)/bin/ruff format --config .ci/ruff.toml --check llmpipe tests examples
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff check --config .ci/ruff.toml --fix llmpipe tests examples
	$(VENV)/bin/ruff format --config .ci/ruff.toml llmpipe tests examples

bench: $(STAMP)
	$(PY) -m pytest -q tests/benchmarks -p no:cacheprovider -o addopts= -s

soak: $(STAMP)
	$(PY) -m pytest -q -m slow -o addopts=

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
