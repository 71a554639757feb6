# Two commands on a fresh Debian/Ubuntu machine: `make book` and `make test`.
# Both set up what is missing first (.venv, Python packages, system packages,
# front-end files) and are quick the second time. `make book` installs what the
# book needs (requirements.txt: bnlib[book,build]); `make test` adds the test tools
# (bnlib[test]). Versions come from constraints.txt, the one place they are pinned.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV   := .venv
PY     := $(VENV)/bin/python
JB     := $(VENV)/bin/jupyter-book
BOOK_STAMP := $(VENV)/.installed-book
TEST_STAMP := $(VENV)/.installed-test
DEV_STAMP  := $(VENV)/.installed-dev
PIP    := $(PY) -m pip install -q --disable-pip-version-check -c constraints.txt
PORT   ?= 8000
# One BLAS/OpenMP thread per process: notebooks run two at a time in `make test`,
# and the numbers they print must not depend on the thread count.
export OMP_NUM_THREADS := 1
export OPENBLAS_NUM_THREADS := 1
export MKL_NUM_THREADS := 1
# extra Debian packages to require (CI sets SYSTEM_EXTRA=chromium)
SYSTEM_EXTRA ?=

.PHONY: help setup setup-test system-packages frontend book book-strict test student assignments bench serve lab clean distclean

help:
	@echo "make book    set up, execute the notebooks and build the HTML into _build/html"
	@echo "make test    set up and run every test (library, notebooks, strict build, student notebooks, browser)"
	@echo "make student write student notebooks (solutions removed) to _build/student"
	@echo "make assignments  an nbgrader course in _build/nbgrader, otter-grader masters in _build/otter"
	@echo "make bench   benchmarks: speed, bandwidth, and the book's time and memory budgets"
	@echo "make serve   serve the built book on http://localhost:$(PORT)"
	@echo "make lab     JupyterLab on the notebooks"
	@echo "make clean   remove _build (keeps .venv)"

$(PY):
	python3 -m venv $(VENV)

$(BOOK_STAMP): $(PY) requirements.txt constraints.txt pyproject.toml
	$(PIP) -r requirements.txt
	@touch $@

$(TEST_STAMP): $(BOOK_STAMP)
	$(PIP) -e ".[book,build,test]"
	@touch $@

$(DEV_STAMP): $(BOOK_STAMP)
	$(PIP) -e ".[book,build,dev]"
	@touch $@

system-packages:
	@scripts/ensure_system_packages.sh $(SYSTEM_EXTRA)

frontend: $(BOOK_STAMP)
	@$(PY) scripts/fetch_frontend.py

# what the book needs; setup-test adds the test tools
setup: $(BOOK_STAMP) system-packages frontend

setup-test: setup $(TEST_STAMP)

book: setup
	$(JB) build . --keep-going
	@echo "The book: $(CURDIR)/_build/html/index.html  (or: make serve)"

# warnings are errors, every reference must resolve
book-strict: setup
	$(JB) build . -W -n --keep-going

test: setup-test
	$(PY) -m pytest -n 2 --dist loadfile --nbval-lax -m "not browser and not student" tests book
	$(MAKE) --no-print-directory book-strict
	$(MAKE) --no-print-directory student
	$(MAKE) --no-print-directory assignments
	$(PY) -m pytest -m "browser or student" tests

student: setup
	$(PY) scripts/make_student.py

assignments: setup
	$(PY) scripts/make_assignments.py

bench: setup-test
	$(PY) scripts/bench.py

serve:
	@test -f _build/html/index.html || { echo "No build yet: run make book"; exit 1; }
	$(PY) -m http.server --directory _build/html --bind 127.0.0.1 $(PORT)

lab: setup $(DEV_STAMP)
	$(VENV)/bin/jupyter lab book/

clean:
	rm -rf _build

distclean: clean
	rm -rf $(VENV) _static/vendor
