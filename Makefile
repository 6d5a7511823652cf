# ELSE appliance. Quick start: `make lab` (the local two-host lab) and `make test` (every test).
# Every target installs what it needs and is safe to run twice.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV   ?= .venv
PYTHON ?= python3
BIN    := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)

# Debian packages the test suite drives for real (PostgreSQL, Postfix, pflogsumm, a milter, Cyrus
# SASL's saslpasswd2, snmpd, Chromium).
TEST_APT_PACKAGES := postgresql postgresql-contrib postfix pflogsumm python3-milter sasl2-bin snmpd snmp sudo \
                     chromium chromium-driver ca-certificates procps

# Extra targets that `make test` runs after the Python suite (mk/*.mk append to it).
TEST_EXTRA :=

.PHONY: help venv deps-test lint pytest test clean

help:
	@echo "make lab       provision the local two-host lab (PFX + ELSE), send test mail, print the WUI address"
	@echo "make lab-down  remove every namespace, link, mount and process the lab made"
	@echo "make test      install what the tests need, then run every test"
	@echo "make venv      create .venv with elsectl and the pinned tools"
	@echo "make bench     run the benchmarks (prints figures)"

# The per-line hot path (else_core/compiled.py's MODULES) is compiled by mypyc when the
# package is installed (setup.py): that needs a C compiler and Python's headers, and a
# rebuild whenever one of those modules changes (until then Python runs their sources).
VENV_APT_PACKAGES := gcc python3-dev python3-venv
COMPILED_SOURCES := $(shell sed -n 's/^    "\(else_core[a-z_.]*\)",$$/\1/p' else_core/compiled.py \
                      | tr . / | sed 's/$$/.py/')

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml setup.py requirements.txt requirements-dev.txt \
                    else_core/compiled.py $(COMPILED_SOURCES)
	tools/apt-ensure $(VENV_APT_PACKAGES)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

deps-test:
	tools/apt-ensure $(TEST_APT_PACKAGES)

# Python scripts the roles install on managed hosts (no .py suffix: named explicitly).
AGENT_SCRIPTS := agents/snmpd/else-snmp-ctl agents/snmpd/else-postfix-ctl agents/snmpd/else-queue-list

lint: venv
	$(BIN)/ruff check else_core webui tests bench tools setup.py $(AGENT_SCRIPTS)
	$(BIN)/ruff format --check else_core webui tests bench setup.py $(AGENT_SCRIPTS)
	$(BIN)/mypy  # strict, on else_core and webui (pyproject.toml [tool.mypy])

pytest: venv deps-test
	$(BIN)/python -m pytest

test: lint pytest
	@for t in $(TEST_EXTRA); do $(MAKE) --no-print-directory $$t; done

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache *.so
	find else_core -name '*.so' -delete

-include mk/*.mk
