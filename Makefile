# Everything a person or CI needs: `make run` starts the system, `make test` checks it.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: all install run run-coordinator run-web run-edge run-cloud test format lint \
	bench-pipeline bench-policy bench-system bench-bus browser clean

all: lint test

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(PY) -m bus.launcher

run-coordinator: install
	$(PY) -m coordinator

run-web: install
	$(PY) -m web

run-edge: install
	$(PY) -m edge_node

run-cloud: install
	$(PY) -m cloud_node

# The page's tests drive Debian's chromium; install it when it is missing.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "installing chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

test: install browser
	$(PY) -m pytest

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

lint: install
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

bench-pipeline: install
	$(PY) -m bench.pipeline

bench-policy: install
	$(PY) -m bench.policy_pso
	$(PY) -m bench.policy_dqn

bench-system: install
	$(PY) -m bench.system

bench-bus: install
	$(PY) -m bench.bus_cost
	$(PY) -m bench.bus_cost --servers 3 --rate 120

clean:
	rm -rf $(VENV) data test-output .pytest_cache .ruff_cache *.egg-info
