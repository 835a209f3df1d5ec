# Two commands set up everything on a fresh machine:  `make serve`  and  `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install models bytecode browser serve test test-fast bench lint clean

install: $(STAMP) models

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

models: $(STAMP)
	$(BIN)/visage models pull

# Bytecode for visage's own (editable) sources, as pip writes it for installed packages: without it a
# process that may not write __pycache__ (PYTHONDONTWRITEBYTECODE) compiles every module at each start
# (0.3 s of a 1.9 s cold start here). Up-to-date files are skipped.
bytecode: $(STAMP)
	@$(BIN)/python -m compileall -q src >/dev/null

serve: install bytecode
	$(BIN)/visage serve

test: install browser
	$(BIN)/python -m pytest -q

# The console's browser tests (tests/integration/test_console.py) drive Debian's Chromium through its
# chromedriver. Installed with apt-get only when absent (CI runs as root on a bare machine). When the
# install is impossible (not root, no apt), say so loudly; those tests then skip and name the reason.
CHROMIUM_BINS := /usr/bin/chromium /usr/bin/chromedriver
browser:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then \
	  echo "browser: $$(/usr/bin/chromium --version 2>/dev/null | head -1) and chromedriver present"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "browser: installing Debian's chromium and chromium-driver"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
	    chromium chromium-driver fonts-dejavu-core || echo "WARNING: apt-get could not install chromium; the console's browser tests will skip"; \
	else \
	  echo "WARNING: $(CHROMIUM_BINS) missing and apt-get is unavailable or not root:" \
	    "install chromium and chromium-driver, or the console's browser tests will skip"; \
	fi

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

# The peer library for benchmarks: face_recognition on the same dlib models.
$(VENV)/.peer: $(STAMP)
	$(BIN)/python -m pip install -q face-recognition-models==0.3.0
	$(BIN)/python -m pip install -q --no-deps face-recognition==1.3.0
	touch $@

# Every figure is printed with its peer or reference from the same run (face_recognition; exact search).
bench: install $(VENV)/.peer
	$(BIN)/python bench/bench_pipeline.py
	$(BIN)/python bench/bench_detect.py --wider-step 2 --json bench/results/bench_detect.json
	$(BIN)/python bench/bench_quality.py
	$(BIN)/python -W ignore bench/bench_store.py --sizes 100000,1000000
	$(BIN)/python bench/bench_server.py --seconds 60 --requests 10000

lint: $(STAMP)
	$(BIN)/ruff check src tests bench

clean:
	rm -rf $(VENV) .pytest_cache
