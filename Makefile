# term2id — two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
# torch is pinned to the CPU build first: a bare "torch" requirement would pull a CUDA build of several GB.
TORCH  ?= torch==2.13.0

.PHONY: run test lint install-app install-test clean demo

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# Installs are stamped with pyproject.toml, so a second `make test` does not reinstall.
# The application maps with the semantic source by default: it needs torch, the CPU build.
# (Makefile too: an environment installed before the semantic extra joined gets it.)
$(VENV)/.app-installed: pyproject.toml Makefile | $(PY)
	$(PY) -c "import torch" 2>/dev/null || $(PIP) install --quiet $(TORCH)
	$(PIP) install --quiet -e '.[gui,llm,semantic]'
	touch $@

$(VENV)/.test-installed: pyproject.toml Makefile | $(PY)
	$(PY) -c "import torch" 2>/dev/null || $(PIP) install --quiet $(TORCH)
	$(PIP) install --quiet -e '.[dev,gui,llm,train,semantic,bench,scale]'
	# bitsandbytes (4-bit QLoRA) only where a CUDA GPU is present, so its test runs there.
	if nvidia-smi >/dev/null 2>&1; then $(PIP) install --quiet -e '.[gpu]'; fi
	touch $@ $(VENV)/.app-installed

install-app: $(VENV)/.app-installed
install-test: $(VENV)/.test-installed

# `make run` opens the curation window (`make demo`: the command-line demo, no display needed).
run: install-app
	$(VENV)/bin/term2id gui

demo: install-app
	$(VENV)/bin/term2id demo

lint: install-test
	$(VENV)/bin/ruff check term2id tests benchmarks
	$(VENV)/bin/ruff format --check term2id tests benchmarks docs
	$(VENV)/bin/lint-imports

test: lint
	QT_QPA_PLATFORM=offscreen $(VENV)/bin/pytest -q

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
