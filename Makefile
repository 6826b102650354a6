# Qiao: `make run` (demo site), `make test`, `make bench`, `make lint`.
# PostgreSQL and Redis come from DATABASE_URL / REDIS_URL, or are embedded when unset
# (see platform/config/devservices.py).

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.install-stamp
DEVSERVICES := $(VPY) -m config.devservices
PYTEST_ARGS ?=
BENCH_ARGS ?=
# Only for loading the settings while compiling translations (nothing is connected to).
SETTINGS_ONLY_ENV := DATABASE_URL="$${DATABASE_URL:-postgres://unused@127.0.0.1:1/unused}" \
	REDIS_URL="$${REDIS_URL:-redis://127.0.0.1:1/0}"

.PHONY: install run test bench lint chromium translations

install: $(STAMP) translations

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { \
	  echo "error: $(PYTHON) not found; Qiao needs Python >= 3.11 (make PYTHON=python3.12 ...)" >&2; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || { \
	  echo "error: $(PYTHON) is Python $$($(PYTHON) -c 'import sys; print(sys.version.split()[0])'); Qiao needs >= 3.11 (make PYTHON=python3.12 ...)" >&2; exit 1; }
	@if [ ! -x $(VPY) ]; then echo "creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); fi
	$(VPY) -m pip install --quiet -e ".[dev,embedded]"
	@touch $@

# compile_translations is optional: skipped (and retried next time) while the command does
# not exist; rerun when a .po file changes.
translations: $(VENV)/.translations-stamp
$(VENV)/.translations-stamp: $(STAMP) $(shell find . -name '*.po' -not -path './.venv/*' -not -path './.data/*' 2>/dev/null)
	@if $(SETTINGS_ONLY_ENV) $(VPY) manage.py help --commands 2>/dev/null | grep -qx compile_translations; then \
	  echo "$(VPY) manage.py compile_translations"; \
	  $(SETTINGS_ONLY_ENV) $(VPY) manage.py compile_translations && touch $@; \
	else \
	  echo "note: manage.py compile_translations does not exist yet; skipped"; \
	fi

run: install
	$(DEVSERVICES) run

# Browser tests drive Debian's Chromium; without it they skip themselves.
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium fonts-noto-cjk) \
	      || echo "warning: could not install chromium; browser tests will be skipped" >&2; \
	  else \
	    echo "note: /usr/bin/chromium is missing (needs root and apt-get); browser tests will be skipped" >&2; \
	  fi; \
	fi

test: install chromium
	$(DEVSERVICES) exec -- $(VENV)/bin/pytest --ds=config.settings.test $(PYTEST_ARGS)

bench: install
	$(DEVSERVICES) exec -- $(VPY) tests/perf/run_all.py $(BENCH_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
