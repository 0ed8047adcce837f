# Two commands do everything on a fresh machine (Python 3.11, no GPU needed):
#   make repro   set up .venv if needed, build the corpus (data.corpus), record the pretrained weights
#                torchvision's cache holds (models/pretrained.yaml), run the DVC pipeline
#   make test    set up .venv if needed, lint, run the tests (installs Debian's chromium and
#                chromium-driver for the browser tests when they are missing), within 8 minutes on
#                2 cores; two sets are left to other targets:
#   make test-e2e   the end-to-end `make repro` on the tiny profile and the checks on its result
#                (tests marked `e2e`, about 10 min); CI runs it after `make test`
#   make test-all   every test, those marked `slow` included
#   make check-repro  after `make repro`: every metric beside the committed one, within the
#                tolerances of tolerances.yaml (a table; exit 1 when one is beyond)
#   make book    after `make repro`: the study as one offline static site (build/book/html,
#                build/book.zip), from the executed notebooks of reports/; `make handout`: the
#                same without the worked solutions (build/handout/html, build/handout.zip)
PYTHON ?= python3
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
KERNEL := artifact-removal

export PATH := $(BIN):$(PATH)
export DVC_NO_ANALYTICS := 1

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# pytest-xdist runs the test files on one worker per core, whole files at a time (a file's
# fixtures are built once), each worker on one thread: two workers of two OpenMP threads each
# on two cores ran 1.7 times slower than one process. Files go out in the order collected
# (tests/conftest.py puts the longest first), not xdist's order of most tests first.
PYTEST := OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n auto --dist loadfile --no-loadscope-reorder

.PHONY: repro test test-e2e test-all venv browser lint format clean-venv pipeline book handout check-repro

repro: venv
	$(BIN)/python -m artifact_removal corpus
	$(BIN)/python -m artifact_removal pretrained
	$(BIN)/dvc repro
	$(BIN)/python -m artifact_removal corpus --said

book: venv
	$(BIN)/python -m artifact_removal book

# The same book without the worked solutions, to hand out to a class (build/handout.zip)
handout: venv
	$(BIN)/python -m artifact_removal book --no-solutions

# After `make repro`: every metric beside the committed one, within tolerances.yaml
check-repro: venv
	$(BIN)/python -m artifact_removal.stages.check_repro

test: lint browser
	$(PYTEST) -m "not slow and not e2e"

test-e2e: browser venv
	$(PYTEST) -m "e2e and not slow"

test-all: lint browser
	$(PYTEST)

# Headless Chromium for the browser tests (tests/test_widgets.py, test_reports_offline.py,
# test_pipeline.py; set ARTIFACT_REMOVAL_SKIP_BROWSER=1 to skip them).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
		{ $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install \
		-y -qq --no-install-recommends chromium chromium-driver >/dev/null; } || \
		echo "warning: could not install chromium and chromium-driver; the browser test will fail"

venv: $(VENV)/.ready

# torch first (a CUDA build, served from a local disk on this project's machines), then the
# pinned rest (and Ray, the optional extra of `restore --ray`, for its test; Sphinx and MyST-NB
# for `make book`), the package itself (editable) and a Jupyter kernel that papermill uses.
$(VENV)/.ready: requirements-torch.txt requirements.txt requirements-ray.txt \
		requirements-book.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-torch.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-ray.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-book.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps \
		--no-build-isolation -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL) \
		--display-name "Python ($(KERNEL))"
	$(BIN)/python -m artifact_removal fetch-models --only niqe
	touch $@

# dvc.yaml from dvc.template.yaml and the method registry (a test fails when it is out of date)
pipeline: venv
	$(BIN)/python -m artifact_removal.stages.pipeline write

lint: venv
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

format:
	$(BIN)/ruff check --fix src tests benchmarks
	$(BIN)/ruff format src tests benchmarks

clean-venv:
	rm -rf $(VENV)
