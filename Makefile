# bws.secrets: `make demo` shows it working, `make test` runs the whole suite.
SHELL := /bin/bash
PY ?= 3.11
CORE ?= ansible-core>=2.19,<2.20
VENV ?= .venv
PYTHON := $(VENV)/bin/python

.PHONY: venv build test unit integration interop demo clean

venv: $(VENV)/.stamp

$(VENV)/.stamp: requirements.txt tests/requirements.txt scripts/bootstrap.sh
	scripts/bootstrap.sh $(VENV) $(PY) '$(CORE)'

build: venv
	$(PYTHON) scripts/collection.py build

test: venv
	$(PYTHON) -m pytest -p no:cacheprovider tests

unit: venv
	$(PYTHON) -m pytest -p no:cacheprovider tests/unit

integration: venv
	$(PYTHON) -m pytest -p no:cacheprovider tests/integration

interop: venv
	$(PYTHON) -m pytest -p no:cacheprovider tests/interop

demo: venv
	$(PYTHON) scripts/demo.py

clean:
	rm -rf .tmp $(VENV)
