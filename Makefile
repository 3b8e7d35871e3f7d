# One command to run, one to test. Everything installs into .venv from the repo alone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
export HOST PORT

.PHONY: run test lint bench bench-api bench-scale bench-page docker-smoke golden fuzz-torch clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# A stamp per install set, so a changed pyproject.toml reinstalls and an unchanged one is instant.
$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed-run

run: $(VENV)/.installed-run
	@echo "BPTT Studio on http://$(HOST):$(PORT)/"
	$(BIN)/bptt-studio serve --host $(HOST) --port $(PORT)

# mypy reads the package as it is installed (app/ is bptt_studio, engine/ bptt_studio.engine):
# a tree of links in build/typecheck gives it that layout without an install.
TYPECHECK := build/typecheck/bptt_studio
# The page's JavaScript: Biome (lint, and the format check at line width 100) from the committed
# lock (npm ci installs exactly package-lock.json; the app itself needs no Node). biome.json's
# formatter.includes lists the files formatted so far: drop that list to check every file.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

lint: $(VENV)/.installed-dev node_modules/.installed
	npx --no-install biome ci static/js
	$(BIN)/ruff check app engine tests bench tools
	rm -rf $(TYPECHECK) && mkdir -p $(TYPECHECK)
	ln -s $(CURDIR)/app/*.py $(TYPECHECK)/ && ln -s $(CURDIR)/engine $(TYPECHECK)/engine
	MYPYPATH=build/typecheck $(BIN)/mypy -p bptt_studio

test: $(VENV)/.installed-dev lint
	$(BIN)/python -m pytest

# Engine speed against a minimal NumPy loop and, when BENCH_PYTHON has torch, PyTorch:
# BENCH_PYTHON=/work/torchvenv/bin/python make bench  (that venv needs numpy too)
BENCH_PYTHON ?= $(BIN)/python
bench: $(VENV)/.installed-dev
	$(BENCH_PYTHON) bench/bench_engine.py

bench-api: $(VENV)/.installed-dev
	$(BIN)/python bench/bench_api.py

# nginx (deploy/nginx/bptt-studio.conf) in front of three replicas on loopback, one killed
# mid-run; needs Debian's nginx (apt-get install -y nginx-light). About 40 s.
bench-scale: $(VENV)/.installed-dev
	$(BIN)/python bench/bench_scale.py

bench-page: $(VENV)/.installed-dev
	$(BIN)/python bench/bench_page.py

docker-smoke:
	bash scripts/docker_smoke.sh

# Regenerates tests/golden/*.json with PyTorch autograd (needs torch==2.13.0; the tests do not).
# Keep torch out of .venv: TORCH_PYTHON=/work/torchvenv/bin/python make golden
TORCH_PYTHON ?= $(BIN)/python
golden: $(VENV)/.installed-dev
	$(TORCH_PYTHON) tools/make_golden.py

# Random requests against the same PyTorch reference (needs torch too, like golden).
fuzz-torch:
	$(TORCH_PYTHON) tools/fuzz_against_torch.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache artifacts build node_modules
