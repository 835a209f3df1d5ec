# Two commands set up everything on a fresh machine:  `make serve`  and  `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install models serve test test-fast bench lint clean

install: $(STAMP) models

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

models: $(STAMP)
	$(BIN)/visage models pull

serve: install
	$(BIN)/visage serve

test: install
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

# The peer library for benchmarks: face_recognition on the same dlib models.
$(VENV)/.peer: $(STAMP)
	$(BIN)/python -m pip install -q face-recognition-models==0.3.0
	$(BIN)/python -m pip install -q --no-deps face-recognition==1.3.0
	touch $@

bench: install $(VENV)/.peer
	$(BIN)/python bench/bench_pipeline.py

lint: $(STAMP)
	$(BIN)/ruff check src tests bench

clean:
	rm -rf $(VENV) .pytest_cache
