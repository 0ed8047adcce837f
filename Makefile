# Two commands do everything on a fresh machine (Python 3.11, no GPU needed):
#   make repro   set up .venv if needed, build the default corpus, run the DVC pipeline
#   make test    set up .venv if needed, lint, run the tests
PYTHON ?= python3
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
KERNEL := artifact-removal

export PATH := $(BIN):$(PATH)
export DVC_NO_ANALYTICS := 1

.PHONY: repro test venv lint format clean-venv

repro: venv
	$(BIN)/python -m artifact_removal corpus
	$(BIN)/dvc repro

test: lint
	$(BIN)/python -m pytest

venv: $(VENV)/.ready

# torch first (a CUDA build, served from a local disk on this project's machines), then the
# pinned rest, the package itself (editable) and a Jupyter kernel that papermill uses.
$(VENV)/.ready: requirements-torch.txt requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-torch.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps \
		--no-build-isolation -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL) \
		--display-name "Python ($(KERNEL))"
	touch $@

lint: venv
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

format:
	$(BIN)/ruff check --fix src tests benchmarks
	$(BIN)/ruff format src tests benchmarks

clean-venv:
	rm -rf $(VENV)
