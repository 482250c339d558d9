# The README's two commands: `make demo` and `make test`. Each installs what it needs.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint format bench bench-routing soak mutate conformance clean redis-server

$(STAMP): setup.cfg setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,fast]'
	touch $(STAMP)

install: $(STAMP)

# The Redis-backed middlewares are tested against a real redis-server.
redis-server:
	@command -v redis-server >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; }

demo: $(STAMP)
	$(PY) examples/run_all.py

test: $(STAMP) redis-server
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check --config .ci/ruff.toml llmpipe tests examples
	$(VENV)/bin/ruff format --config .ci/ruff.toml --check llmpipe tests examples
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff check --config .ci/ruff.toml --fix llmpipe tests examples
	$(VENV)/bin/ruff format --config .ci/ruff.toml llmpipe tests examples

# `make bench` (full run, about 10 minutes) or `make bench ARGS=--quick` (under 2).
# Its own venv holds what llmpipe must not depend on: openai, requests, py-spy.
# nginx comes from Debian; the benchmark starts and stops it itself.
BENCH_VENV  := .venv-bench
BENCH_PY    := $(BENCH_VENV)/bin/python
BENCH_STAMP := $(BENCH_VENV)/.installed
BENCH_DEPS  := 'openai[aiohttp]' requests py-spy
ARGS        ?=

bench:
	@command -v nginx >/dev/null || test -x /usr/sbin/nginx || { \
	  echo "bench: installing Debian's nginx"; \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$sudo apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq nginx >/dev/null; }
	@if [ ! -f $(BENCH_STAMP) ] || [ setup.cfg -nt $(BENCH_STAMP) ] || [ setup.py -nt $(BENCH_STAMP) ]; then \
	  echo "bench: installing $(BENCH_VENV)"; \
	  { test -x $(BENCH_PY) || $(PYTHON) -m venv $(BENCH_VENV); } && \
	  $(BENCH_PY) -m pip install --quiet --upgrade pip && \
	  $(BENCH_PY) -m pip install --quiet -e '.[fast]' $(BENCH_DEPS) && \
	  touch $(BENCH_STAMP); fi
	$(BENCH_PY) -m tests.benchmarks.run $(ARGS)
	$(MAKE) bench-routing ARGS="$(filter --quick,$(ARGS))"

# Issue 14's routing scenarios (a fleet of bundled servers in a process of their own);
# `make bench-routing ARGS=--quick` takes about a minute.
bench-routing: $(STAMP)
	$(PY) -m tests.benchmarks.routing $(ARGS)

soak: $(STAMP)
	$(PY) -m pytest -q -m slow -o addopts=

# Curated mutants of the critical modules (tests/mutation): each must fail its tests.
# `make mutate ARGS="--module retry"` runs one module's; not part of `make test`.
mutate: $(STAMP) redis-server
	$(PY) -m tests.mutation.run $(ARGS)

# llmpipe against real servers (llama.cpp's, a LiteLLM proxy): not part of `make test`.
# Needs them built once: bash $(REALSERVER)/realserver.sh build; bash $(REALSERVER)/litellm.sh build
REALSERVER ?= /work/shared/realserver

conformance: $(STAMP)
	REALSERVER=$(REALSERVER) PY=$(PY) bash tests/conformance/run.sh

clean:
	rm -rf $(VENV) $(BENCH_VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
