# One command to run, one to test. Everything installs into .venv from the repo alone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
export HOST PORT

.PHONY: run test test-notebook lint lock lock-upgrade plotly-js bench bench-api bench-scale \
	bench-page bench-cost bench-rooms \
	docker-smoke golden fuzz-torch clean

# Hashed lock files (pip-tools), one per set: what the app needs to run, what builds its wheel
# (setuptools), and the whole development set (run + build + tests and tools). `make` installs
# only from them, with --require-hashes, so two installs from the same commit are the same
# packages, byte for byte. `make lock` writes them from pyproject.toml (keeping every pin that
# still fits; `make lock-upgrade` takes the newest); tests/test_package.py fails when they and
# pyproject.toml disagree.
LOCK_RUN := requirements/run.txt
LOCK_BUILD := requirements/build.txt
LOCK_DEV := requirements/dev.txt
PIP_INSTALL := $(BIN)/python -m pip install --quiet --require-hashes
# --no-build-isolation: the project itself is built with the locked setuptools already there.
# setuptools prints a boxed notice on every editable install of a project with a package-dir
# mapping ("Editable installation ... be careful with folders ... with the same name as your
# package"); no folder here is named bptt_studio, so that one warning is silenced.
INSTALL_PROJECT := PYTHONWARNINGS="ignore:Editable installation" \
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# A stamp per install set, so a changed lock or pyproject.toml reinstalls and an unchanged one
# is instant.
$(VENV)/.installed-run: pyproject.toml $(LOCK_RUN) $(LOCK_BUILD) | $(BIN)/python
	@echo "make: installing the locked runtime set into $(VENV) ($(LOCK_RUN), $(LOCK_BUILD))"
	$(PIP_INSTALL) -r $(LOCK_RUN) -r $(LOCK_BUILD)
	$(INSTALL_PROJECT)
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(LOCK_DEV) | $(BIN)/python
	@echo "make: installing the locked development set into $(VENV) ($(LOCK_DEV); a minute or so the first time)"
	$(PIP_INSTALL) -r $(LOCK_DEV)
	$(INSTALL_PROJECT)
	touch $@ $(VENV)/.installed-run

# Each set resolved for Python 3.11 on Linux; the build and dev sets are constrained to the
# runtime pins, so every set shares the same versions. torch is never in a lock: the golden and
# fuzz scripts and the PyTorch export test run in their own interpreter (TORCH_PYTHON).
PIP_COMPILE := CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet --generate-hashes \
	--allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links --no-emit-trusted-host
lock: $(VENV)/.installed-dev
	$(PIP_COMPILE) $(LOCK_FLAGS) -o $(LOCK_RUN) pyproject.toml
	$(PIP_COMPILE) $(LOCK_FLAGS) --build-deps-for=wheel --only-build-deps -c $(LOCK_RUN) \
		-o $(LOCK_BUILD) pyproject.toml
	$(PIP_COMPILE) $(LOCK_FLAGS) --extra dev -c $(LOCK_RUN) -c $(LOCK_BUILD) -o $(LOCK_DEV) \
		pyproject.toml
	@! grep -n -i -E '^(torch|nvidia-)' $(LOCK_RUN) $(LOCK_BUILD) $(LOCK_DEV) \
		|| { echo "make lock: torch must stay out of the locks" >&2; exit 1; }

lock-upgrade:
	$(MAKE) lock LOCK_FLAGS=--upgrade

# plotly.js: the npm partial bundle with the traces the page draws (heatmap, scatter, bar),
# fetched again at the version and npm integrity recorded in vendor/plotly.js.json.
plotly-js:
	bash scripts/fetch_plotly_js.sh

run: $(VENV)/.installed-run
	@echo "BPTT Studio on http://$(HOST):$(PORT)/"
	$(BIN)/bptt-studio serve --host $(HOST) --port $(PORT)

# mypy reads the package as it is installed (app/ is bptt_studio, engine/ bptt_studio.engine):
# a tree of links in build/typecheck gives it that layout without an install. mypy has no
# setting that maps a folder to another package name (mypy_path, explicit_package_bases and
# files name modules after their folders: app/core/settings.py would be app.core.settings, and
# every `import bptt_studio...` unresolved; python/mypy#10564), and it does not run the
# editable install's import hook. One link per entry of app/, and engine/ inside it.
TYPECHECK := build/typecheck/bptt_studio
# The page's JavaScript: Biome (lint, and the format check at line width 100) from the committed
# lock (npm ci installs exactly package-lock.json; the app itself needs no Node). biome.json's
# formatter.includes lists the files formatted so far: drop that list to check every file.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

lint: $(VENV)/.installed-dev node_modules/.installed
	npx --no-install biome ci static/js tests/static
	$(BIN)/ruff check app engine tests bench tools
	rm -rf $(TYPECHECK) && mkdir -p $(TYPECHECK)
	ln -s $(CURDIR)/app/* $(TYPECHECK)/ && ln -s $(CURDIR)/engine $(TYPECHECK)/engine
	MYPYPATH=build/typecheck $(BIN)/mypy -p bptt_studio

# Two runs of pytest at once: the real-browser tests in one process of their own (Playwright's
# sync API holds an event loop that the async tests of the other run would meet), and beside it
# the tests without a browser on both cores (pytest-xdist; TEST_WORKERS=1 for one process) at a
# lower priority (nice 10). Alone, the browser run used about 0.7 of a core for 20 min 39 s
# (434 tests, after the others' 4 min 57 s on both cores): what it leaves idle now runs the
# others, and at nice 10 they yield the CPU to the pages whose timers its tests count on (two
# browsers at once were no faster, 19 min against 20, and made a timer test fail). Measured on
# a fresh clone on a quiet machine: about 20 min for make test (18 min 33 s of browser tests).
# The browser run's output and its 25 slowest steps go to $(BROWSER_LOG), printed when both
# are done; make exits with the first failure's status.
TEST_WORKERS ?= 2
BROWSER_LOG ?= build/test-browser.log
test: $(VENV)/.installed-dev lint
	@mkdir -p $(dir $(BROWSER_LOG))
	@echo "make: the browser tests run beside the others (-m browser > $(BROWSER_LOG), printed at the end)"
	@$(BIN)/python -m pytest -m browser --durations=25 > $(BROWSER_LOG) 2>&1 & browser=$$!; \
	nice -n 10 $(BIN)/python -m pytest -m "not browser" -n $(TEST_WORKERS); others=$$?; \
	echo "make: the tests without a browser are done (exit $$others); waiting for the browser tests"; \
	wait $$browser; status=$$?; \
	echo "---- the browser tests ($(BROWSER_LOG)) ----"; cat $(BROWSER_LOG); \
	if [ $$others -ne 0 ]; then exit $$others; fi; exit $$status

# The notebook widget alone (part of `make test` too): its kernel side, then a real JupyterLab
# (the dev set's) in headless Chromium runs a notebook, steps the widget, reads it back. ~2 min.
test-notebook: $(VENV)/.installed-dev
	$(BIN)/python -m pytest tests/test_notebook.py tests/test_notebook_lab.py

# Engine speed against a minimal NumPy loop and, when BENCH_PYTHON has torch, PyTorch; then the
# cost model's estimates against the CPU seconds and memory of every corner (bench/bench_cost.py):
# BENCH_PYTHON=/work/torchvenv/bin/python make bench  (that venv needs numpy too)
BENCH_PYTHON ?= $(BIN)/python
bench: $(VENV)/.installed-dev
	$(BENCH_PYTHON) bench/bench_engine.py
	$(BENCH_PYTHON) bench/bench_batch.py
	$(BENCH_PYTHON) bench/bench_layers.py
	$(BIN)/python bench/bench_cost.py

bench-api: $(VENV)/.installed-dev
	$(BIN)/python bench/bench_api.py

# A randomized search for requests the cost model prices under their cost (each measured in a
# fresh process at the edge of the default budget); MISS when one costs more than its estimate.
bench-cost: $(VENV)/.installed-dev
	$(BIN)/python bench/search_cost.py

# nginx (deploy/nginx/bptt-studio.conf) in front of three replicas on loopback, one killed
# mid-run; needs Debian's nginx (apt-get install -y nginx-light). About 40 s. Then a classroom
# across three replicas sharing a Redis (redis-server), one killed: its students reconnect.
bench-scale: $(VENV)/.installed-dev
	$(BIN)/python bench/bench_scale.py
	$(BIN)/python bench/bench_rooms_scale.py

# Classrooms on one worker: one teacher and 300 students, then 30 rooms of 100, students as
# real event-stream clients on loopback; the delay to the last student, memory per room.
bench-rooms: $(VENV)/.installed-dev
	$(BIN)/python bench/bench_rooms.py

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
