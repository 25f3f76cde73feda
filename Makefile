# bws.secrets: `make demo` shows it working, `make test` runs every check (scripts/stages.py:
# pytest on ansible-core 2.16 / 2.19 / 2.21, ansible-test sanity, Python 3.9-3.13 imports,
# ansible-lint, the tarball, plugin docs, changelog and execution environment), 2 at a time.
SHELL := /bin/bash
PY ?= 3.11
CORE ?= ansible-core>=2.19,<2.20
VENV ?= .venv
PYTHON := $(VENV)/bin/python
JOBS ?= 2
TOOLS := .venv-tools/bin/python

.PHONY: venv tools build test pytest unit integration interop sanity docs changelog demo bench clean

venv: $(VENV)/.stamp

$(VENV)/.stamp: requirements.txt tests/requirements.txt scripts/bootstrap.sh
	scripts/bootstrap.sh $(VENV) $(PY) '$(CORE)'

tools:
	scripts/bootstrap.sh .venv-tools 3.11 -r scripts/requirements/tools.txt

build: venv
	$(PYTHON) scripts/collection.py build

# everything CI checks; one stage: `make test ONLY=sanity` (`$(PYTHON) scripts/stages.py --list`)
test: venv
	$(PYTHON) scripts/stages.py -j $(JOBS) $(if $(ONLY),--only $(ONLY))

# the main pytest suite alone, on .venv (ansible-core 2.19, Python 3.11)
pytest: venv
	$(PYTHON) -m pytest -p no:cacheprovider tests

unit: venv
	$(PYTHON) -m pytest -p no:cacheprovider tests/unit

integration: venv
	$(PYTHON) -m pytest -p no:cacheprovider tests/integration

interop: venv
	$(PYTHON) -m pytest -p no:cacheprovider tests/interop

sanity: venv
	$(PYTHON) scripts/stages.py --only sanity

# regenerate docs/plugins/ after changing a plugin's DOCUMENTATION, EXAMPLES or RETURN, and the
# lookups' ready-made option definitions (plugins/plugin_utils/_option_defs.py)
docs: tools
	$(TOOLS) scripts/plugin_docs.py generate
	$(TOOLS) scripts/option_defs.py generate

# fold new or edited changelogs/fragments/ into the current release and CHANGELOG.rst
changelog: tools
	$(TOOLS) scripts/changelog.py update

demo: venv
	$(PYTHON) scripts/demo.py

# the benchmark of issue 6 (not part of `make test`): writes docs/performance.md; `make bench ARGS=--quick`
bench: venv
	$(PYTHON) bench/run.py $(ARGS)

clean:
	rm -rf .tmp $(VENV) .venv-*
