# idmops.pingidm: one Makefile for set-up, the demo and every test.
#   make demo   creates the venv, starts the sandbox, runs the main playbook twice, stops the sandbox
#   make test   every test (lint, sanity, build check, integration, molecule, ansible-core 2.21, units, sandbox,
#               proof)

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.stamp
COLLROOT := $(CURDIR)/$(VENV)/collroot
NS := idmops
NAME := pingidm
VERSION := $(shell sed -n 's/^version: *//p' galaxy.yml)
TARBALL := dist/$(NS)-$(NAME)-$(VERSION).tar.gz
STATE := $(CURDIR)/.sandbox

export PATH := $(BIN):$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(COLLROOT)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help setup demo test check lint sanity units integration molecule proof build-check bench clean test-matrix docs

help:
	@echo "make demo   - set up, start the sandbox, run playbooks/scim_sync.yml twice, stop the sandbox"
	@echo "make test   - every test: lint, sanity, build check, units, integration, molecule, proof"
	@echo "make docs   - the collection's docs site (antsibull-docs + Sphinx, offline) in build/docs/html"
	@echo "make check  - the quick loop: lint, unit and sandbox tests, one integration target (a few minutes)"
	@echo "other targets: setup lint sanity units integration molecule proof build-check bench test-matrix clean"

# The venv, the pinned tools, the offline get-pip stand-in for ansible-test, and the collections path symlink.
setup: $(STAMP)
$(STAMP): requirements-dev.txt requirements.txt sandbox/django_scim/requirements.txt
	@command -v $(PYTHON) >/dev/null || { echo "setup: $(PYTHON) not found (Python 3.11 is required)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r sandbox/django_scim/requirements.txt
	@pipver=$$($(BIN)/python -c "import re,ansible_test._internal.python_requirements as r, inspect; print(re.search(r\"pip='([0-9.]+)'\", inspect.getsource(r)).group(1))" 2>/dev/null || echo 24.2); \
	  mkdir -p $$HOME/.ansible/test/cache; \
	  cp tools/get_pip_offline.py $$HOME/.ansible/test/cache/get_pip_$${pipver//./_}.py
	mkdir -p $(COLLROOT)/ansible_collections/$(NS)
	ln -sfn $(CURDIR) $(COLLROOT)/ansible_collections/$(NS)/$(NAME)
	touch $(STAMP)

demo: setup
	@bash tools/demo.sh

# ruff over the Python that is not the shipped collection's plugins (ansible-test sanity governs plugins/):
# the sandbox, benchmarks, tools, every test tree, and the two scripts under docs/ and inventories/.
RUFF_PATHS := sandbox benchmarks tools tests docs/sphinx/conf.py inventories/sandbox/sandbox_inventory.py

lint: setup
	ruff check $(RUFF_PATHS)
	ruff format --check $(RUFF_PATHS)
	ansible-lint --offline
	antsibull-docs lint-collection-docs --plugin-docs --check-extra-docs-refs .

# The docs site: antsibull-docs writes the RST of the modules, the role and docs/docsite/, Sphinx the HTML. No
# network: docs/sphinx/conf.py resolves the links to Ansible's own docs without intersphinx.
DOCS := build/docs
docs: setup
	rm -rf $(DOCS) && mkdir -p $(DOCS)/rst && chmod 700 $(DOCS)/rst
	antsibull-docs --config-file docs/sphinx/antsibull-docs.cfg collection --use-current --dest-dir $(DOCS)/rst $(NS).$(NAME)
	cp docs/sphinx/index.rst $(DOCS)/rst/index.rst
	sphinx-build -M html $(DOCS)/rst $(DOCS) -c docs/sphinx -W --keep-going -q
	@echo "docs: $(DOCS)/html/index.html"

sanity: setup
	tools/ansible-test-in-tree.sh sanity --local --python 3.11

units: setup
	$(BIN)/python -m pytest -q tests/unit

integration: setup
	@bash tools/integration.sh

# The quick loop while developing: lint, the unit and sandbox tests, and one integration target end to end.
check: setup
	$(MAKE) --no-print-directory lint
	$(BIN)/python -m pytest -q tests/unit sandbox/tests
	@bash tools/integration.sh recon

molecule: setup
	molecule test --all

proof: setup
	$(BIN)/python -m pytest -q tests/proof

# The collection tarball builds, ships none of the development folders, and galaxy-importer accepts it;
# ansible-builder reads the execution environment metadata.
build-check: setup
	@bash tools/build_check.sh $(TARBALL)

bench: setup
	$(BIN)/python -m benchmarks.run_all

# Sanity, unit tests and the whole flow again on the newest ansible-core, when a Python >= 3.12 is on this machine.
test-matrix: setup
	@bash tools/test_matrix.sh

# The order puts the slow, service-starting steps in the middle and ends with pytest's summary line.
test: setup
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory sanity
	$(MAKE) --no-print-directory build-check
	$(MAKE) --no-print-directory integration
	$(MAKE) --no-print-directory molecule
	$(MAKE) --no-print-directory test-matrix
	$(BIN)/python -m pytest -q

clean:
	-$(BIN)/python -m sandbox down --state $(STATE) 2>/dev/null
	rm -rf dist context tests/output .pytest_cache /tmp/idmops-pingidm-ansible-test-$(shell echo $(CURDIR) | md5sum | cut -c1-8)
	find . -name __pycache__ -type d -prune -not -path './$(VENV)/*' -exec rm -rf {} +
