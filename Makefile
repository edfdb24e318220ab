# The book's two commands (see README): `make book` builds the HTML, `make test` runs every
# test. Each sets up its own virtual environment (.venv) from requirements.txt on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Notebooks run with one thread, a fixed hash seed, no progress bars and pinned CPU numerics, in
# tests and refreshes alike: kernel.env holds the variables (tests/nbval_isolation.py reads it too).
include kernel.env
export $(shell sed -n 's/^\([A-Z_][A-Z0-9_]*\)=.*/\1/p' kernel.env)
NB ?= chapters/*.ipynb
# Test workers (pytest-xdist): one per core by default. Each notebook stays whole on one worker
# (--dist loadscope), and each runs on one thread, so two cores run two notebooks at once.
JOBS ?= auto
# `make refresh` executes this many notebooks at once (each on one thread).
REFRESH_JOBS ?= $(shell nproc 2>/dev/null || echo 1)

.PHONY: book test refresh pair student install graphviz browser clean colab-check

$(VENV)/installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=24" "setuptools>=77" wheel
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

# seqlib is installed as a package, built from the checkout (never imported from the source tree).
install: $(VENV)/installed
	$(BIN)/pip install --quiet --no-deps --no-build-isolation --force-reinstall .

# Debian packages the book needs beyond Python, installed here when missing (as root, or through
# sudo): Graphviz draws the diagrams at build time; the browser test opens the built site in
# headless Chromium.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
APT_INSTALL = $(SUDO) apt-get install -y -q $(1) >/dev/null 2>&1 || { \
	  $(SUDO) apt-get update -q >/dev/null && $(SUDO) apt-get install -y -q $(1) >/dev/null; }
graphviz:
	@command -v dot >/dev/null || { echo "Installing Debian's graphviz"; $(call APT_INSTALL,graphviz); }
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  echo "Installing Debian's chromium and chromium-driver"; $(call APT_INSTALL,chromium chromium-driver); }

book: install graphviz
	$(BIN)/jupyter-book build . --warningiserror --nitpick --keep-going
	@echo "The book is in _build/html/index.html"

test: install graphviz browser
	$(BIN)/pytest -n $(JOBS) --dist loadscope --durations=15

# Re-execute notebooks in place (one thread and the pinned numerics of kernel.env, as in the tests)
# to refresh their stored outputs and widget state after an edit: `make refresh` for all (one
# notebook per core at a time), `make refresh NB=chapters/01_*.ipynb` for one; then rewrite every
# chapter's text form (`make pair`), so that a source edited before the refresh reaches it too.
refresh: install
	@$(BIN)/python -c 'import sys, torch, seqlib.runtime as r; c = torch.backends.cpu.get_cpu_capability(); \
	  sys.exit(0 if r.numerics_pinned() else \
	  f"PyTorch runs its {c} kernels here, not the pinned numerics: this machine cannot make the outputs the book stores (see kernel.env)")'
	printf '%s\n' $(NB) | xargs -P $(REFRESH_JOBS) -I{} $(BIN)/jupyter execute --inplace --timeout=900 {}
	$(BIN)/python tests/pairing.py

# Rewrite every chapter notebook's text form (chapters/text/NN_title.py: jupytext's percent format,
# the cells' sources and tags without outputs), the file to review in a diff; tests/test_pairing.py
# fails while one is out of date. `make refresh` runs it too.
pair: $(VENV)/installed
	$(BIN)/python tests/pairing.py

# The student edition: every chapter with its solutions removed, plus what the book needs to build
# (`jupyter-book build _build/student` builds it; seqlib.checks grades the coding exercises).
student: install graphviz
	rm -rf _build/student && mkdir -p _build/student/chapters
	cp _config.yml _toc.yml references.bib _build/student/
	cp chapters/*.md _build/student/chapters/
	$(BIN)/python -m seqlib.student chapters/*.ipynb --out _build/student/chapters

# The check on other stacks (README, "Other stacks"): every chapter alone in an empty folder on
# Colab's package versions (STACK=colab) or the newest releases (STACK=newest), with no output
# comparison; tens of minutes and several GB of downloads, so not part of `make test`.
STACK ?= colab
STACK_PYTHON ?= python3.13
colab-check:
	$(PYTHON) tests/stacks/colab_check.py $(STACK) --python $(STACK_PYTHON)

clean:
	rm -rf $(VENV) _build
