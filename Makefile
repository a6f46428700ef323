# genospec: `make search` runs the main job, `make test` the test suite; both install first.
PYTHON ?= python3
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
STAMP := .install.stamp

.PHONY: install search test test-malloc bench

$(STAMP): pyproject.toml
	@# cc builds genospec/nn/native's kernel on first use; without one the PyTorch path runs
	@command -v cc >/dev/null || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q gcc libc6-dev; }
	@command -v dot >/dev/null || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q graphviz; }
	@ls /usr/share/datasets/fashion-mnist/*.gz >/dev/null 2>&1 || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q dataset-fashion-mnist; }
	$(PYTHON) -m pip install -q -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

# A second `make search` continues the run (or, finished, reports it) instead of refusing the
# non-empty run directory.
search: install
	@if [ -f runs/quick-darts/recipe.gs ]; then \
		genospec search --resume runs/quick-darts; \
	else \
		genospec search specs/searches/darts.gs darts_first_order --quick --out runs/quick-darts; \
	fi
	genospec render runs/quick-darts/genotype.gs -o runs/quick-darts/genotype.svg

test: install
	$(PYTHON) -m pytest -q

# The suite once more at one thread under glibc's malloc checks: a write out of bounds (a custom
# kernel's, or a PyTorch kernel's as in tests/test_torch_reproducers.py) aborts the run instead of
# silently changing numbers. `.ci/run` runs it after `make test`.
test-malloc: install
	OMP_NUM_THREADS=1 MALLOC_CHECK_=3 MALLOC_PERTURB_=165 $(PYTHON) -X faulthandler -m pytest -q -p no:cacheprovider

bench: install
	$(PYTHON) benchmarks/run_all.py
