# make run  : open the app on resnet18 (creates .venv on first use)
# make test : run the test suite headless, in Python development mode (-X dev)
# make lint : ruff, mypy (inspector.core strict) and the import contracts (pyproject.toml)
# make bench: print the performance ratios and write bench/RESULTS.md
# make install-desktop: add Model Inspector (this checkout's .venv) to the desktop's application menu
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean install-desktop

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

# Every tool runs even when an earlier one finds something, so one run shows all.
lint: $(STAMP)
	@status=0; \
	echo "ruff check"; $(VENV)/bin/ruff check . || status=1; \
	echo "mypy"; $(VENV)/bin/mypy || status=1; \
	echo "lint-imports"; $(VENV)/bin/lint-imports || status=1; \
	exit $$status

bench: $(STAMP)
	$(PY) -m bench.run_all

XDG_DATA_HOME ?= $(HOME)/.local/share

install-desktop: $(STAMP)
	install -d $(XDG_DATA_HOME)/applications $(XDG_DATA_HOME)/icons/hicolor/scalable/apps
	sed 's|^Exec=model-inspector|Exec=$(abspath $(VENV))/bin/model-inspector|; s|^TryExec=model-inspector|TryExec=$(abspath $(VENV))/bin/model-inspector|' \
		resources/model-inspector.desktop > $(XDG_DATA_HOME)/applications/model-inspector.desktop
	install -m 644 inspector/resources/icon-app.svg $(XDG_DATA_HOME)/icons/hicolor/scalable/apps/model-inspector.svg
	@echo "Model Inspector is in the application menu (Exec=$(abspath $(VENV))/bin/model-inspector)"

clean:
	rm -rf $(VENV) build *.egg-info inspector/core/_fused*.so .mypy_cache .ruff_cache
