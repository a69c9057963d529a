# Two entry points, each doing all set-up on a fresh machine:
#   make demo   build + validate the dataset, then a small offline evaluation
#   make test   the test suite
PYTHON ?= python3
VENV ?= .venv
# torch is pinned so a CPU machine never pulls a multi-GB CUDA build; override on a GPU box.
TORCH ?= torch==2.13.0
UPSTREAM ?= ../shared/upstream
RUNS ?= runs
BIN := $(VENV)/bin

.PHONY: setup demo test lint bench clean

# torch through pip (it sees pip's config: a local CPU wheel, a CUDA index), the rest through uv when it
# is on PATH or installable from the index, else pip; INSTALLER=pip forces pip (see scripts/install.py).
INSTALLER ?= auto

$(BIN)/medsafetybench: pyproject.toml scripts/install.py
	$(PYTHON) scripts/install.py --python $(PYTHON) --venv $(VENV) --torch "$(TORCH)" \
		--extras eval,train,capability,inspect,dev --installer $(INSTALLER)
	touch $@

setup: $(BIN)/medsafetybench

demo: setup
	bash scripts/demo.sh

test: setup
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: setup
	$(BIN)/python benchmarks/build_and_validate.py

clean:
	rm -rf $(RUNS) .pytest_cache
