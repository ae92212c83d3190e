# tenfold: the commands the README names. `.ci/run` calls `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# uv manages the environments. If it is not installed, bootstrap a private copy.
UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.venv-tools/bin/uv)
export UV_PYTHON_DOWNLOADS ?= never
export UV_PYTHON ?= python3
DEMO_DIR ?= build/demo
PYTEST_ARGS ?= -n 2 --dist loadgroup

.PHONY: help install system-deps demo test lint format lock clean bench

help: ## List the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(CURDIR)/.venv-tools/bin/uv:
	python3 -m venv $(CURDIR)/.venv-tools
	$(CURDIR)/.venv-tools/bin/pip install --quiet uv

.venv/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked
	@touch $@

install: .venv/.installed ## Set up the template's environment (.venv)

# What `make test` runs beside Python: PostgreSQL, Redis, RabbitMQ, the generated service's
# topology (HAProxy, socat) and bench (wrk, h2load), Graphviz (the architecture picture).
SYSTEM_DEPS := tools servers topology bench diagram
system-deps: ## Install the missing system packages the tests use (Debian/Ubuntu; as root or with sudo)
	template/scripts/system-deps $(SYSTEM_DEPS)

# The demo serves first: copier alone renders (the `render` group), the service installs its
# runtime dependencies and is smoke-checked, no test suite runs (`make test` proves it).
# --vcs-ref HEAD renders this checkout, uncommitted edits included, even where tags exist.
# SYSTEM_UV: the service uses this uv, so one that make bootstrapped is not installed twice.
demo: export DEMO_STARTED_AT := $(shell date +%s.%N)
demo: | $(UV) ## Render a service with the default answers into build/demo and serve it (PORT=8000; Ctrl-C stops it)
	@test ! -e "$(DEMO_DIR)" || test -f "$(DEMO_DIR)/.copier-answers.yml" || { \
		echo "make demo: $(DEMO_DIR) is not a rendered service; not replacing it (choose DEMO_DIR=...)" >&2; exit 2; }
	rm -rf "$(DEMO_DIR)"
	$(UV) run --locked --only-group render copier copy --trust --defaults --quiet --vcs-ref HEAD "$(CURDIR)" "$(DEMO_DIR)"
	$(MAKE) --no-print-directory -C "$(DEMO_DIR)" demo SYSTEM_UV="$(UV)"

test: install ## Run the template's whole test suite
	$(UV) run pytest $(PYTEST_ARGS)

# Every shell script of the repository (tests/test_ci_files.py fails on one missing here).
SHELL_SCRIPTS := .ci/run scripts/lock-template template/scripts/deploy template/scripts/system-deps

lint: .venv/.installed ## Lint the template's own code
	$(UV) run ruff check tests pulumi scripts update release
	$(UV) run ruff format --check tests pulumi scripts update release
	$(UV) run mypy --strict pulumi/tenfold_infra update release
	$(UV) run shellcheck --severity=warning $(SHELL_SCRIPTS)

format: .venv/.installed ## Format the template's own code
	$(UV) run ruff format tests pulumi scripts update release
	$(UV) run ruff check --fix tests pulumi scripts update release

lock: .venv/.installed ## Refresh the generated service's lock (template/uv.lock.jinja)
	scripts/lock-template

.PHONY: docs docs-serve
# NO_MKDOCS_2_WARNING: mkdocs-material's end-of-life banner (May 2027), not a build warning.
docs: .venv/.installed ## Build the documentation site (mkdocs --strict) into build/site
	NO_MKDOCS_2_WARNING=1 $(UV) run mkdocs build --strict -d build/site

docs-serve: .venv/.installed ## Serve the documentation with live reload on http://127.0.0.1:8001
	NO_MKDOCS_2_WARNING=1 $(UV) run mkdocs serve --strict -a 127.0.0.1:8001

# Benchmarks: renders a service into build/bench, runs it on PostgreSQL (primary + replica),
# Redis and RabbitMQ, loads it with wrk and h2load, tears it all down. A full run writes
# docs/assets/benchmarks.{json,png} and benchmarks-table.md; BENCH_SMOKE=1 (CI) writes build/ only.
bench: .venv/.installed ## Benchmark a rendered service (BENCH_SMOKE=1: CI's short run, build/ only)
	$(UV) run python scripts/bench.py $(if $(filter 1 true yes,$(BENCH_SMOKE)),--smoke)

clean: ## Remove environments and build output
	rm -rf .venv .venv-tools build
