# Two commands do everything on a fresh machine:
#   make run    install (first time) and open the chat on http://127.0.0.1:7860
#   make test   install (first time, with test extras and chromium) and run every test
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test index bench install

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch is pinned to the local CPU build; pinning it in the same command keeps pip from CUDA builds.
	$(BIN)/pip install -q "torch==2.13.0" -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	HF_HUB_OFFLINE=1 GRADIO_ANALYTICS_ENABLED=False $(BIN)/python ui.py

index: $(STAMP)
	$(BIN)/qa index

test: $(STAMP)
	bash scripts/ensure-chromium.sh
	HF_HUB_OFFLINE=1 GRADIO_ANALYTICS_ENABLED=False $(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_core.py
