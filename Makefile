# make run  : open the app on resnet18 (creates .venv on first use)
# make test : run the test suite headless, in Python development mode (-X dev)
# make bench: print the performance ratios and write bench/RESULTS.md
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test bench clean

$(STAMP): pyproject.toml setup.py inspector/core/_fused.c
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	# torch and torchvision must be a matching pair; pip resolves them from
	# this machine's wheel cache (see README, "Installing torch").
	$(PY) -m pip install -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m inspector gui

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -X dev -m pytest

bench: $(STAMP)
	$(PY) -m bench.run_all

clean:
	rm -rf $(VENV) build *.egg-info inspector/core/_fused*.so
