# The README's two commands: `make demo` and `make test`. Each installs what it needs.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint format bench bench-venvs bench-instructions bench-routing soak mutate conformance clean redis-server

$(STAMP): setup.cfg setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,fast]'
	touch $(STAMP)

install: $(STAMP)
	@echo "$(CLI_HINT)"

# The Redis-backed middlewares are tested against a real redis-server.
# apt-get through sudo when not root and sudo exists (CI runs as root), as bench-venvs does.
redis-server:
	@command -v redis-server >/dev/null || { \
	  sudo=$$([ "$$(id -u)" = 0 ] || ! command -v sudo >/dev/null || echo sudo); \
	  $$sudo apt-get update -qq && \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; }

# README's Quick start shows the same two commands.
CLI_HINT := The llmpipe CLI is in the venv: .venv/bin/llmpipe --help (or: source .venv/bin/activate, then llmpipe --help)

demo: $(STAMP)
	$(PY) examples/run_all.py
	@echo "$(CLI_HINT)"

test: $(STAMP) redis-server
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check --config .ci/ruff.toml llmpipe tests examples
	$(VENV)/bin/ruff format --config .ci/ruff.toml --check llmpipe tests examples
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff check --config .ci/ruff.toml --fix llmpipe tests examples
	$(VENV)/bin/ruff format --config .ci/ruff.toml llmpipe tests examples

# `make bench` (full run, about 12 minutes) or `make bench ARGS=--quick` (under 3).
# llmpipe is measured as each install gives it, in a venv of its own:
#   .venv-bench       `pip install -e .` (stdlib json, stock asyncio), plus what llmpipe
#                     must not depend on: openai, requests, py-spy, the OpenTelemetry SDK
#                     (the OpenTelemetryMiddleware rows); every other client runs here
#   .venv-bench-fast  `pip install -e .[fast]` plus uvloop (and py-spy)
# nginx comes from Debian; the benchmark starts and stops it itself. BENCH_README=1
# also writes the tables into README.md's Performance section.
BENCH_VENV       := .venv-bench
BENCH_PY         := $(BENCH_VENV)/bin/python
BENCH_STAMP      := $(BENCH_VENV)/.installed
BENCH_DEPS       := 'openai[aiohttp]' requests py-spy opentelemetry-sdk
BENCH_FAST_VENV  := .venv-bench-fast
BENCH_FAST_PY    := $(BENCH_FAST_VENV)/bin/python
BENCH_FAST_STAMP := $(BENCH_FAST_VENV)/.installed
BENCH_FAST_DEPS  := uvloop py-spy
ARGS             ?=
BENCH_README     ?=

# A venv is rebuilt when setup.cfg or setup.py changed since it was made, or its
# list of packages did (the stamp keeps the list it was made with).
define bench_venv
	@if [ ! -f $(1)/.installed ] || [ setup.cfg -nt $(1)/.installed ] || [ setup.py -nt $(1)/.installed ] \
	  || [ "$$(cat $(1)/.installed)" != "$(2) $(3)" ]; then \
	  echo "bench: installing $(1)"; \
	  rm -rf $(1) && $(PYTHON) -m venv $(1) && \
	  $(1)/bin/python -m pip install --quiet --upgrade pip && \
	  $(1)/bin/python -m pip install --quiet -e $(2) $(3) && \
	  echo "$(2) $(3)" > $(1)/.installed; fi
endef

bench-venvs:
	@command -v nginx >/dev/null || test -x /usr/sbin/nginx || { \
	  echo "bench: installing Debian's nginx"; \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$sudo apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq nginx >/dev/null; }
	$(call bench_venv,$(BENCH_VENV),.,$(BENCH_DEPS))
	$(call bench_venv,$(BENCH_FAST_VENV),'.[fast]',$(BENCH_FAST_DEPS))
	@! $(BENCH_PY) -c 'import orjson' 2>/dev/null || { echo "bench: $(BENCH_VENV) must not have orjson"; exit 1; }

bench: bench-venvs
	$(BENCH_PY) -m tests.benchmarks.run --fast-python $(BENCH_FAST_PY) $(if $(BENCH_README),--readme) $(ARGS)
	$(MAKE) bench-routing ARGS="$(filter --quick,$(ARGS))"

# Issue 14's routing scenarios (a fleet of bundled servers in a process of their own);
# `make bench-routing ARGS=--quick` takes about a minute.
bench-routing: $(STAMP)
	$(PY) -m tests.benchmarks.routing $(ARGS)

# Instructions per call under valgrind: the same ratios, immune to a busy machine (slow).
bench-instructions: bench-venvs
	@command -v valgrind >/dev/null || { \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$sudo apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq valgrind >/dev/null; }
	$(BENCH_PY) -m tests.benchmarks.instructions --fast-python $(BENCH_FAST_PY) $(ARGS)

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
	rm -rf $(VENV) $(BENCH_VENV) $(BENCH_FAST_VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
